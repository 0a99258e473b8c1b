package host

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/pki"
	"github.com/kubectl-kbs/kbs/pkg/remote"
	"github.com/kubectl-kbs/kbs/pkg/shell"
)

// nodeCertScript prints, for each certificate file and kubeconfig on a
// host, a header line and only its CERTIFICATE blocks: keys never leave the
// host, even where a file holds both (kubelet-client-current.pem).
const nodeCertScript = `for f in /etc/kubernetes/pki/*.crt /etc/kubernetes/pki/etcd/*.crt /etc/etcd/pki/*.crt /var/lib/kubelet/pki/kubelet-client-current.pem; do
  [ -f "$f" ] || continue
  echo "==kbs== $f"
  sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' "$f"
done
for f in /etc/kubernetes/admin.conf /etc/kubernetes/super-admin.conf /etc/kubernetes/controller-manager.conf /etc/kubernetes/scheduler.conf /etc/kubernetes/kubelet.conf; do
  [ -f "$f" ] || continue
  d=$(sed -n 's/^ *client-certificate-data: *//p' "$f" | head -1)
  [ -n "$d" ] || continue
  echo "==kbs== $f"
  echo "$d" | base64 -d
done`

// NodeCert is a certificate found on a host, shaped like `kubeadm certs
// check-expiration`.
type NodeCert struct {
	Host      string    `json:"host"`
	File      string    `json:"file"`
	Subject   string    `json:"subject"`
	Issuer    string    `json:"issuer"`
	Serial    string    `json:"serial"`
	NotAfter  time.Time `json:"notAfter"`
	Remaining string    `json:"remaining"`
	IsCA      bool      `json:"isCA"`
	Expiring  bool      `json:"expiring"`
}

// HostTarget is a host to read certificates from.
type HostTarget struct {
	Name   string
	Target remote.Target
	// Files, when set, are the only certificate files read (else the
	// kubeadm PKI, kbs's etcd PKI and the kubeconfigs' client certs).
	Files []string
}

// fileCertScript prints the CERTIFICATE blocks of the given files, each
// after a header line, like nodeCertScript.
func fileCertScript(files []string) string {
	var b strings.Builder
	b.WriteString("for f in")
	for _, f := range files {
		b.WriteString(" " + shell.Quote(f))
	}
	b.WriteString(`; do
  [ -f "$f" ] || continue
  echo "==kbs== $f"
  sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' "$f"
done`)
	return b.String()
}

// ReadNodeCerts reads the kubeadm PKI (and kbs's etcd PKI) of every host
// over SSH, in parallel.
func ReadNodeCerts(ctx context.Context, d Dialer, hosts []HostTarget, parallel int, warn time.Duration, now time.Time) ([]NodeCert, error) {
	var mu sync.Mutex
	var out []NodeCert
	err := remote.ForEach(ctx, hosts, parallel, func(ctx context.Context, h HostTarget) error {
		conn, err := d.Dial(ctx, h.Target)
		if err != nil {
			return err
		}
		script := nodeCertScript
		if len(h.Files) > 0 {
			script = fileCertScript(h.Files)
		}
		b, err := conn.Run(ctx, script, remote.Privileged())
		if err != nil {
			return fmt.Errorf("%s: reading certificates: %w", h.Name, err)
		}
		certs := parseNodeCerts(h.Name, string(b), warn, now)
		mu.Lock()
		out = append(out, certs...)
		mu.Unlock()
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Host+out[i].File < out[j].Host+out[j].File })
	return out, err
}

func parseNodeCerts(host, text string, warn time.Duration, now time.Time) []NodeCert {
	var out []NodeCert
	for _, section := range strings.Split(text, "==kbs== ")[1:] {
		file, body, _ := strings.Cut(section, "\n")
		certs, err := pki.ParseCertsPEM([]byte(body))
		if err != nil || len(certs) == 0 {
			continue
		}
		c := certs[0]
		out = append(out, NodeCert{Host: host, File: strings.TrimSpace(file), Subject: c.Subject.String(), Issuer: c.Issuer.String(),
			Serial: c.SerialNumber.String(), NotAfter: c.NotAfter, Remaining: pki.Remaining(c.NotAfter, now), IsCA: c.IsCA, Expiring: pki.ExpiresWithin(c, now, warn)})
	}
	return out
}
