package bootstrap

import (
	"bytes"
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"strings"

	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/shell"
)

// The files kubeadm join writes before the kubelet has registered the node:
// a join that stopped there (the host lost power, kbs was interrupted) leaves
// them, and the next kubeadm join refuses them in its preflight.
const (
	joinCAFile           = host.KubePKIDir + "/ca.crt"
	bootstrapKubeletConf = "/etc/kubernetes/bootstrap-kubelet.conf"
	kubeletConf          = "/etc/kubernetes/kubelet.conf"
)

// workerJoinFiles are what a worker's half-way join leaves; a control plane
// gets ca.crt from kbs before its join, so only its kubeconfigs tell.
var (
	workerJoinFiles       = []string{joinCAFile, bootstrapKubeletConf, kubeletConf}
	controlPlaneJoinFiles = []string{bootstrapKubeletConf, kubeletConf}
)

// trustScript prints, for each of files that exists, a "== path" line and
// what names the CA the file trusts: a certificate whole (it is public), a
// kubeconfig's certificate-authority lines only — never its token or key.
func trustScript(files []string) string {
	return "for f in " + shell.Join(files...) + `; do test -e "$f" || continue; echo "== $f"; ` +
		`case "$f" in *.crt) cat "$f";; *) grep -E '^[[:space:]]*certificate-authority(-data)?:' "$f" || true;; esac; done`
}

// halfJoined reports which of files a join that stopped half-way left on h,
// when they trust ca: what kubeadm reset may then undo. A file that trusts
// another CA is an error that leaves the host untouched: it belongs to
// another cluster. A file that names no CA (a kubeconfig cut short when the
// host lost power) counts as this cluster's only when another file there
// trusts ca; with no file trusting ca at all the host is refused too.
func halfJoined(ctx context.Context, h *host.Host, ca *x509.Certificate, files []string) ([]string, error) {
	out, ok, err := h.Query(ctx, trustScript(files))
	if !ok {
		if err != nil && !h.DryRun() {
			return nil, fmt.Errorf("%s: reading what an earlier join left: %w", h.Spec.Name, err)
		}
		return nil, nil
	}
	refuse := func(path string, err error) error {
		return fmt.Errorf("%s has %s from another cluster or an unknown one (%w): run `kubectl kbs reset -f SPEC %s` to wipe it, then join again", h.Spec.Name, path, err, h.Spec.Name)
	}
	sections := splitSections(out)
	var left, unnamed []string
	for _, s := range sections {
		left = append(left, s.path)
		cas, err := trustedCAs(ctx, h, s, sections)
		if err != nil {
			return nil, refuse(s.path, err)
		}
		if len(cas) == 0 {
			unnamed = append(unnamed, s.path)
		}
		for _, c := range cas {
			if !c.Equal(ca) {
				return nil, refuse(s.path, fmt.Errorf("it trusts the CA %q, not this cluster's", c.Subject.CommonName))
			}
		}
	}
	if len(unnamed) > 0 && len(unnamed) == len(left) {
		return nil, refuse(unnamed[0], fmt.Errorf("it names no certificate authority"))
	}
	return left, nil
}

// section is one file's part of trustScript's output.
type section struct {
	path string
	body string
}

func splitSections(out string) []section {
	var ss []section
	for _, line := range strings.Split(out, "\n") {
		if p, ok := strings.CutPrefix(line, "== "); ok {
			ss = append(ss, section{path: strings.TrimSpace(p)})
			continue
		}
		if len(ss) > 0 {
			ss[len(ss)-1].body += line + "\n"
		}
	}
	return ss
}

// trustedCAs are the certificates a section names as its authority: the
// certificate itself, inline data, or a file named by path (read from the
// same output when it was printed, from the host otherwise).
func trustedCAs(ctx context.Context, h *host.Host, s section, all []section) ([]*x509.Certificate, error) {
	if strings.HasSuffix(s.path, ".crt") {
		return parseCerts([]byte(s.body))
	}
	var cas []*x509.Certificate
	for _, line := range strings.Split(s.body, "\n") {
		key, value, ok := strings.Cut(strings.TrimSpace(line), ":")
		if !ok {
			continue
		}
		value = strings.Trim(strings.TrimSpace(value), `"'`)
		var data []byte
		switch key {
		case "certificate-authority-data":
			b, err := base64.StdEncoding.DecodeString(value)
			if err != nil {
				return nil, fmt.Errorf("its certificate-authority-data is not base64: %w", err)
			}
			data = b
		case "certificate-authority":
			b, err := caFile(ctx, h, value, all)
			if err != nil {
				return nil, err
			}
			data = b
		default:
			continue
		}
		certs, err := parseCerts(data)
		if err != nil {
			return nil, err
		}
		cas = append(cas, certs...)
	}
	return cas, nil
}

func caFile(ctx context.Context, h *host.Host, path string, all []section) ([]byte, error) {
	for _, s := range all {
		if s.path == path {
			return []byte(s.body), nil
		}
	}
	var b bytes.Buffer
	if err := h.ReadFile(ctx, path, &b); err != nil {
		return nil, fmt.Errorf("reading its certificate authority %s: %w", path, err)
	}
	return b.Bytes(), nil
}

// parseCerts reads every PEM certificate in data.
func parseCerts(data []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing its certificate authority: %w", err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("no certificate in it")
	}
	return certs, nil
}

// undoHalfJoin runs kubeadm reset on a host a join left half-way (it stops
// the kubelet, which may be retrying with the old bootstrap kubeconfig, and
// removes kubeadm's files) and deletes its Node in case the kubelet
// registered it meanwhile.
func undoHalfJoin(ctx context.Context, d InitData, h *host.Host, phase string, left []string) error {
	d.Log(phase, h.Spec.Name, "an earlier join stopped half-way (left %s, trusting this cluster's CA): kubeadm reset there, then join again", strings.Join(left, ", "))
	if err := runKubeadm(ctx, h, "kubeadm reset", "reset -f --cri-socket "+ContainerdSocket, "/var/log/kbs-kubeadm-reset.log"); err != nil {
		return err
	}
	return deleteNode(ctx, d, h.Spec.Name)
}
