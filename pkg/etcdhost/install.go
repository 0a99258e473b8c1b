package etcdhost

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/pki"
	"github.com/kubectl-kbs/kbs/pkg/shell"
)

// InstallFiles places etcd's binaries, certificates and unit on h, and
// the initial-cluster environment: initial when given (a member joining an
// existing cluster), else the spec's new cluster unless the member already
// has data. It returns the paths it changed.
func InstallFiles(ctx context.Context, c *cluster.Cluster, h *host.Host, p *PKI, initial []byte) ([]string, error) {
	changed, err := installBinaries(ctx, c, h)
	if err != nil {
		return nil, err
	}
	unit, err := RenderUnit(c, h.Spec)
	if err != nil {
		return nil, err
	}
	pkiFile := func(name string, data []byte, secret bool) host.File {
		mode := os.FileMode(0o644)
		if secret {
			mode = 0o600
		}
		return host.File{Path: PKIDir + "/" + name, Data: data, Mode: mode, Secret: secret, Summary: CertSummary(data, secret)}
	}
	files := []host.File{
		pkiFile("ca.crt", p.CA.CertPEM, false),
		pkiFile("server.crt", p.Server[h.Spec.Name].CertPEM, false),
		pkiFile("server.key", p.Server[h.Spec.Name].KeyPEM, true),
		pkiFile("peer.crt", p.Peer[h.Spec.Name].CertPEM, false),
		pkiFile("peer.key", p.Peer[h.Spec.Name].KeyPEM, true),
		{Path: UnitPath, Data: unit, Mode: 0o644},
	}
	if err := h.Exec(ctx, "create directories", fmt.Sprintf("install -d -m 0700 %s %s", shell.Quote(PKIDir), shell.Quote(c.Spec.Etcd.DataDir))); err != nil {
		return nil, err
	}
	// A member that has data is past its first start: how it joined (maybe
	// by `kbs etcd member add`) stays as it was.
	if initial == nil {
		if _, member, _ := h.Query(ctx, fmt.Sprintf("test -d %s/member && test -f %s", shell.Quote(c.Spec.Etcd.DataDir), InitialEnvPath)); !member {
			initial = RenderInitialEnv(SpecInitialMembers(c), "new", ClusterToken(c))
		}
	}
	if initial != nil {
		files = append(files, host.File{Path: InitialEnvPath, Data: initial, Mode: 0o644})
	}
	for _, f := range files {
		ch, err := h.EnsureFile(ctx, f)
		if err != nil {
			return nil, err
		}
		if ch {
			changed = append(changed, f.Path)
		}
	}
	return changed, nil
}

// installBinaries uploads spec.etcd.binary (and etcdctl and etcdutl
// beside it), or checks that the host already runs the spec's etcd version.
func installBinaries(ctx context.Context, c *cluster.Cluster, h *host.Host) ([]string, error) {
	e := c.Spec.Etcd
	if e.Binary == "" {
		out, ok, _ := h.Query(ctx, Binary+" --version")
		if h.DryRun() || (ok && strings.Contains(out, "etcd Version: "+strings.TrimPrefix(e.Version, "v"))) {
			return nil, nil
		}
		return nil, fmt.Errorf("etcd %s is not installed at %s, and kbs does not download releases yet: set spec.etcd.binary to a local etcd binary (with etcdctl beside it) for kbs to upload", e.Version, Binary)
	}
	var changed []string
	dir := filepath.Dir(e.Binary)
	for _, b := range [][2]string{{e.Binary, Binary}, {filepath.Join(dir, "etcdctl"), Ctl}, {filepath.Join(dir, "etcdutl"), Utl}} {
		local, remotePath := b[0], b[1]
		if _, err := os.Stat(local); err != nil {
			if remotePath != Binary {
				continue // etcdctl is a convenience; etcdutl is checked by restore
			}
			return nil, fmt.Errorf("spec.etcd.binary: %w", err)
		}
		ch, err := h.EnsureLocalFile(ctx, local, remotePath, 0o755)
		if err != nil {
			return nil, err
		}
		if ch {
			changed = append(changed, remotePath)
		}
	}
	return changed, nil
}

// CertSummary describes a PEM certificate for a plan.
func CertSummary(data []byte, secret bool) string {
	if secret {
		return ""
	}
	cert, err := pki.ParseCertPEM(data)
	if err != nil {
		return ""
	}
	i := pki.Describe(cert)
	sans := append(append([]string{}, i.DNSNames...), i.IPAddresses...)
	return fmt.Sprintf("certificate CN=%s, issuer %s, SANs %v, usages %v, valid until %s", i.CommonName, i.Issuer, sans, i.ExtKeyUsages, i.NotAfter.Format(time.RFC3339))
}
