package inspect

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/pki"
)

// Cert is one certificate the cluster depends on. Stable JSON names.
type Cert struct {
	Name      string       `json:"name"`   // what it is
	Source    string       `json:"source"` // where it was read
	Info      pki.CertInfo `json:"info"`
	Remaining string       `json:"remaining"`
	Expiring  bool         `json:"expiring"` // within the warning window
}

// ReadCerts gathers the API server's serving chain (from the TLS handshake),
// the client CAs it trusts, and the client certificate of the kubeconfig in
// use, each with its expiry against warn.
func ReadCerts(ctx context.Context, cs kubernetes.Interface, cfg *rest.Config, warn time.Duration, now time.Time) ([]Cert, error) {
	var out []Cert
	add := func(name, source string, c *x509.Certificate) {
		out = append(out, Cert{Name: name, Source: source, Info: pki.Describe(c),
			Remaining: pki.Remaining(c.NotAfter, now), Expiring: pki.ExpiresWithin(c, now, warn)})
	}
	chain, err := servingChain(ctx, cfg)
	if err != nil {
		return nil, err
	}
	for i, c := range chain {
		name := "apiserver serving"
		if i > 0 {
			name = "apiserver serving chain"
		}
		add(name, "TLS handshake with "+cfg.Host, c)
	}
	cm, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "extension-apiserver-authentication", metav1.GetOptions{})
	if err == nil {
		if cas, err := pki.ParseCertsPEM([]byte(cm.Data["client-ca-file"])); err == nil {
			for _, c := range cas {
				add("client CA", "kube-system/extension-apiserver-authentication", c)
			}
		}
	}
	if client, err := clientCert(cfg); err == nil && client != nil {
		add("kubeconfig client", "current kubeconfig user", client)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Info.NotAfter.Before(out[j].Info.NotAfter) })
	return out, nil
}

// servingChain reads the certificates the API server presents. It trusts
// nothing: only the chain is wanted here, and the client's own TLS config
// still verifies every real request.
func servingChain(ctx context.Context, cfg *rest.Config) ([]*x509.Certificate, error) {
	u, err := url.Parse(cfg.Host)
	if err != nil {
		return nil, fmt.Errorf("API server address %q: %w", cfg.Host, err)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "443")
	}
	d := tls.Dialer{NetDialer: &net.Dialer{Timeout: 5 * time.Second}, Config: &tls.Config{
		InsecureSkipVerify: true, // reading the presented chain, not trusting it
		ServerName:         u.Hostname(),
	}}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("reading the API server's certificate: %w", err)
	}
	defer conn.Close()
	return conn.(*tls.Conn).ConnectionState().PeerCertificates, nil
}

func clientCert(cfg *rest.Config) (*x509.Certificate, error) {
	data := cfg.CertData
	if len(data) == 0 && cfg.CertFile != "" {
		var err error
		if data, err = os.ReadFile(cfg.CertFile); err != nil {
			return nil, err
		}
	}
	if len(data) == 0 {
		return nil, nil // token or exec credentials: no certificate
	}
	return pki.ParseCertPEM(data)
}

// ParseWindow reads a warning window: a Go duration, or whole days ("30d").
func ParseWindow(s string) (time.Duration, error) {
	if days, ok := strings.CutSuffix(s, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("--warn-within %q: want days such as 30d, or a duration such as 720h", s)
		}
		return time.Duration(n) * 24 * time.Hour, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("--warn-within %q: want days such as 30d, or a duration such as 720h", s)
	}
	return d, nil
}

// NodeCerts reads the kubeadm PKI, kbs's etcd PKI and the kubeconfigs'
// client certificates of every host of the spec over SSH, in parallel,
// like kubeadm certs check-expiration on each; only certificates leave a
// host, never keys.
func NodeCerts(ctx context.Context, d host.Dialer, spec *cluster.Cluster, parallel int, warn time.Duration, now time.Time) ([]host.NodeCert, error) {
	var hosts []host.HostTarget
	for _, h := range spec.Spec.Hosts {
		hosts = append(hosts, host.HostTarget{Name: h.Name, Target: host.TargetFor(spec, h)})
	}
	return host.ReadNodeCerts(ctx, d, hosts, parallel, warn, now)
}

// Expiring counts the certificates that expire within the window they
// were read with.
func Expiring(certs []Cert, nodes []host.NodeCert) int {
	n := 0
	for _, c := range certs {
		if c.Expiring {
			n++
		}
	}
	for _, c := range nodes {
		if c.Expiring {
			n++
		}
	}
	return n
}
