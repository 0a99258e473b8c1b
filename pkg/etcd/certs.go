package etcd

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/etcdhost"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/pki"
)

// CertRow is one etcd certificate wherever it was found: kbs's state, a
// host's file, or what a member presents in a handshake. Stable JSON names.
type CertRow struct {
	Where     string    `json:"where"` // "state", a host name, or "<member> (presented)"
	Name      string    `json:"name"`  // a file path, or server/peer
	Subject   string    `json:"subject"`
	Serial    string    `json:"serial"`
	NotAfter  time.Time `json:"notAfter"`
	Remaining string    `json:"remaining"`
	IsCA      bool      `json:"isCA"`
	Expiring  bool      `json:"expiring"`
	// Current is false for a host's file or a presented certificate that is
	// not the one kbs's state holds for it (a rotation that did not reach
	// it, or a hand-made certificate).
	Current bool `json:"current"`
}

// Hosts' etcd certificate files.
var (
	etcdHostFiles = []string{etcdhost.PKIDir + "/ca.crt", etcdhost.PKIDir + "/server.crt", etcdhost.PKIDir + "/peer.crt"}
	cpHostFiles   = []string{host.KubeEtcdCA, host.KubeEtcdClientCert}
)

// CheckCerts lists the etcd CA and every leaf certificate: in the state
// directory, on the hosts (read over SSH, certificates only), and as each
// member presents them now, each with its expiry against warn.
func CheckCerts(ctx context.Context, e *Env, warn time.Duration) ([]CertRow, error) {
	now := time.Now()
	p, err := e.PKI()
	if err != nil {
		return nil, err
	}
	want := expected(e.Spec, p)
	row := func(where, name string, c *x509.Certificate, current bool) CertRow {
		return CertRow{Where: where, Name: name, Subject: c.Subject.String(), Serial: c.SerialNumber.String(), NotAfter: c.NotAfter,
			Remaining: pki.Remaining(c.NotAfter, now), IsCA: c.IsCA, Expiring: pki.ExpiresWithin(c, now, warn), Current: current}
	}
	var rows []CertRow
	for _, f := range stateCertFiles(e) {
		if c, err := readCert(f); err == nil {
			rows = append(rows, row("state", filepath.Base(f), c, true))
		}
	}
	hostRows, err := hostCerts(ctx, e, warn, now)
	for _, r := range hostRows {
		rows = append(rows, CertRow{Where: r.Host, Name: r.File, Subject: r.Subject, Serial: r.Serial, NotAfter: r.NotAfter, Remaining: r.Remaining, IsCA: r.IsCA, Expiring: r.Expiring, Current: want[r.Host+":"+r.File] == r.Serial})
	}
	tc, terr := TLSConfig(p)
	if terr == nil {
		for _, m := range Members(e.Spec) {
			for _, l := range []struct{ name, url string }{{"server", m.Endpoint}, {"peer", m.PeerURL}} {
				if c := presentedCert(ctx, tc, l.url); c != nil {
					rows = append(rows, row(m.Host.Name+" (presented)", l.name, c, want[m.Host.Name+":"+l.name] == c.SerialNumber.String()))
				}
			}
		}
	}
	return rows, err
}

// expected maps "host:file" (and "member:server|peer") to the serial of
// the certificate kbs's state holds for it.
func expected(c *cluster.Cluster, p *etcdhost.PKI) map[string]string {
	serial := func(kp *pki.KeyPair) string { return kp.Cert.SerialNumber.String() }
	out := map[string]string{}
	for _, h := range c.HostsWithRole(cluster.RoleEtcd) {
		out[h.Name+":"+etcdhost.PKIDir+"/ca.crt"] = p.CA.Cert.SerialNumber.String()
		if kp := p.Server[h.Name]; kp != nil {
			out[h.Name+":"+etcdhost.PKIDir+"/server.crt"], out[h.Name+":server"] = serial(kp), serial(kp)
		}
		if kp := p.Peer[h.Name]; kp != nil {
			out[h.Name+":"+etcdhost.PKIDir+"/peer.crt"], out[h.Name+":peer"] = serial(kp), serial(kp)
		}
	}
	for _, h := range c.HostsWithRole(cluster.RoleControlPlane) {
		out[h.Name+":"+host.KubeEtcdCA] = p.CA.Cert.SerialNumber.String()
		out[h.Name+":"+host.KubeEtcdClientCert] = serial(p.Client)
	}
	return out
}

func stateCertFiles(e *Env) []string {
	files, _ := filepath.Glob(filepath.Join(e.State.Dir, "pki", "etcd", "*.crt"))
	sort.Strings(files)
	return files
}

func readCert(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return pki.ParseCertPEM(b)
}

func hostCerts(ctx context.Context, e *Env, warn time.Duration, now time.Time) ([]host.NodeCert, error) {
	if e.Session == nil {
		return nil, nil
	}
	var hosts []host.HostTarget
	for _, h := range e.Spec.Spec.Hosts {
		files := map[string][]string{cluster.RoleEtcd: etcdHostFiles, cluster.RoleControlPlane: cpHostFiles}[h.Role]
		if files != nil {
			hosts = append(hosts, host.HostTarget{Name: h.Name, Target: host.TargetFor(e.Spec, h), Files: files})
		}
	}
	certs, err := host.ReadNodeCerts(ctx, e.Session.SSH, hosts, e.Session.Parallel, warn, now)
	if err != nil {
		return certs, fmt.Errorf("reading the hosts' etcd certificates: %w", err)
	}
	return certs, nil
}
