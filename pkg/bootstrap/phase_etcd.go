package bootstrap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/etcdhost"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

func etcdPhase() workflow.Phase[InitData] {
	return workflow.Phase[InitData]{
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
	err = d.OnHosts(ctx, d.Cluster().HostsWithRole(cluster.RoleEtcd), func(ctx context.Context, h *host.Host) error {
		return installEtcd(ctx, d, h, p)
	})
	if err != nil || d.DryRun() {
		return err
	}
	// Waiting for etcd to come up is etcd's time, not kbs's.
	defer d.Trace("etcd startup", time.Now())
	return etcdHealthy(ctx, d, 2*time.Minute)
}

func installEtcd(ctx context.Context, d InitData, h *host.Host, p *etcdhost.PKI) error {
	changed, err := etcdhost.InstallFiles(ctx, d.Cluster(), h, p, nil)
	if err != nil {
		return err
	}
	return startEtcd(ctx, d, h, changed)
}

// startEtcd restarts etcd only when one of its files changed, so a re-run of
// an unchanged spec never interrupts it. --no-block: members of a new
// cluster wait for each other, and a blocking start on one would hang.
func startEtcd(ctx context.Context, d InitData, h *host.Host, changed []string) error {
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
	for _, ep := range etcdhost.Endpoints(d.Cluster()) {
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

func etcdHTTPClient(p *etcdhost.PKI) (*http.Client, error) {
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
