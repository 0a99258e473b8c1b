package bootstrap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

func etcdPhase() Phase[InitData] {
	return Phase[InitData]{
		Name:   "etcd",
		Short:  "install etcd on the etcd hosts as etcd.service with client- and peer-certificate auth, and wait until healthy",
		Run:    runEtcd,
		Verify: func(ctx context.Context, d InitData) error { return etcdHealthy(ctx, d, 5*time.Second) },
	}
}

func runEtcd(ctx context.Context, d InitData) error {
	p, _, err := loadEtcdPKI(d)
	if err != nil {
		return err
	}
	err = d.OnHosts(ctx, d.Cluster().HostsWithRole(cluster.RoleEtcd), func(ctx context.Context, h *Host) error {
		return installEtcd(ctx, d, h, p)
	})
	if err != nil || d.DryRun() {
		return err
	}
	// Waiting for etcd to come up is etcd's time, not kbs's.
	defer d.Trace("etcd startup", time.Now())
	return etcdHealthy(ctx, d, 2*time.Minute)
}

func installEtcd(ctx context.Context, d InitData, h *Host, p *EtcdPKI) error {
	changed, err := InstallEtcdFiles(ctx, d.Cluster(), h, p, nil)
	if err != nil {
		return err
	}
	return startEtcd(ctx, d, h, changed)
}

// InstallEtcdFiles places etcd's binaries, certificates and unit on h, and
// the initial-cluster environment: initial when given (a member joining an
// existing cluster), else the spec's new cluster unless the member already
// has data. It returns the paths it changed.
func InstallEtcdFiles(ctx context.Context, c *cluster.Cluster, h *Host, p *EtcdPKI, initial []byte) ([]string, error) {
	changed, err := installEtcdBinaries(ctx, c, h)
	if err != nil {
		return nil, err
	}
	unit, err := RenderEtcdUnit(c, h.Spec)
	if err != nil {
		return nil, err
	}
	pkiFile := func(name string, data []byte, secret bool) File {
		mode := os.FileMode(0o644)
		if secret {
			mode = 0o600
		}
		return File{Path: EtcdPKIDir + "/" + name, Data: data, Mode: mode, Secret: secret, Summary: certSummary(data, secret)}
	}
	files := []File{
		pkiFile("ca.crt", p.CA.CertPEM, false),
		pkiFile("server.crt", p.Server[h.Spec.Name].CertPEM, false),
		pkiFile("server.key", p.Server[h.Spec.Name].KeyPEM, true),
		pkiFile("peer.crt", p.Peer[h.Spec.Name].CertPEM, false),
		pkiFile("peer.key", p.Peer[h.Spec.Name].KeyPEM, true),
		{Path: EtcdUnitPath, Data: unit, Mode: 0o644},
	}
	if err := h.Exec(ctx, "create directories", fmt.Sprintf("install -d -m 0700 %s %s", quote(EtcdPKIDir), quote(c.Spec.Etcd.DataDir))); err != nil {
		return nil, err
	}
	// A member that has data is past its first start: how it joined (maybe
	// by `kbs etcd member add`) stays as it was.
	if initial == nil {
		if _, member, _ := h.Query(ctx, fmt.Sprintf("test -d %s/member && test -f %s", quote(c.Spec.Etcd.DataDir), EtcdInitialEnvPath)); !member {
			initial = RenderEtcdInitialEnv(SpecInitialMembers(c), "new", ClusterToken(c))
		}
	}
	if initial != nil {
		files = append(files, File{Path: EtcdInitialEnvPath, Data: initial, Mode: 0o644})
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

// installEtcdBinaries uploads spec.etcd.binary (and etcdctl and etcdutl
// beside it), or checks that the host already runs the spec's etcd version.
func installEtcdBinaries(ctx context.Context, c *cluster.Cluster, h *Host) ([]string, error) {
	e := c.Spec.Etcd
	if e.Binary == "" {
		out, ok, _ := h.Query(ctx, EtcdBinary+" --version")
		if h.DryRun() || (ok && strings.Contains(out, "etcd Version: "+strings.TrimPrefix(e.Version, "v"))) {
			return nil, nil
		}
		return nil, fmt.Errorf("etcd %s is not installed at %s, and kbs does not download releases yet: set spec.etcd.binary to a local etcd binary (with etcdctl beside it) for kbs to upload", e.Version, EtcdBinary)
	}
	var changed []string
	dir := filepath.Dir(e.Binary)
	for _, b := range [][2]string{{e.Binary, EtcdBinary}, {filepath.Join(dir, "etcdctl"), EtcdCtl}, {filepath.Join(dir, "etcdutl"), EtcdUtl}} {
		local, remotePath := b[0], b[1]
		if _, err := os.Stat(local); err != nil {
			if remotePath != EtcdBinary {
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

// startEtcd restarts etcd only when one of its files changed, so a re-run of
// an unchanged spec never interrupts it. --no-block: members of a new
// cluster wait for each other, and a blocking start on one would hang.
func startEtcd(ctx context.Context, d InitData, h *Host, changed []string) error {
	if len(changed) == 0 {
		d.Log("etcd", h.Spec.Name, "unchanged; making sure etcd.service is enabled and started")
		return h.Exec(ctx, "start etcd", "systemctl enable --quiet etcd.service && systemctl start --no-block etcd.service")
	}
	d.Log("etcd", h.Spec.Name, "changed %s; (re)starting etcd.service", strings.Join(changed, ", "))
	return h.Exec(ctx, "restart etcd", "systemctl daemon-reload && systemctl enable --quiet etcd.service && systemctl restart --no-block etcd.service")
}

// etcdHealthy waits until every member answers /health over mutual TLS
// from this machine, with the API server's client certificate.
func etcdHealthy(ctx context.Context, d InitData, timeout time.Duration) error {
	p, _, err := loadEtcdPKI(d)
	if err != nil {
		return err
	}
	client, err := etcdHTTPClient(p)
	if err != nil {
		return err
	}
	for _, ep := range EtcdEndpoints(d.Cluster()) {
		var last error
		err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, timeout, true, func(ctx context.Context) (bool, error) {
			last = etcdHealth(ctx, client, ep)
			return last == nil, nil
		})
		if err != nil {
			return fmt.Errorf("etcd at %s not healthy: %v (on the host: journalctl -u etcd.service)", ep, last)
		}
		d.Log("etcd", "", "%s healthy over mutual TLS", ep)
	}
	return nil
}

func etcdHTTPClient(p *EtcdPKI) (*http.Client, error) {
	pair, err := tls.X509KeyPair(p.Client.CertPEM, p.Client.KeyPEM)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(p.CA.Cert)
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12},
	}}, nil
}

func etcdHealth(ctx context.Context, client *http.Client, endpoint string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, endpoint+"/health", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var body [256]byte
	n, _ := resp.Body.Read(body[:])
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body[:n]), `"health":"true"`) {
		return fmt.Errorf("HTTP %d %s", resp.StatusCode, strings.TrimSpace(string(body[:n])))
	}
	return nil
}
