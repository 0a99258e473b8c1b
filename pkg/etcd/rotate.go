package etcd

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/etcdhost"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/pki"
)

// RotateLeafCerts gives every etcd member new server and peer
// certificates, one member at a time, and then the API servers a new etcd
// client certificate, all from the same etcd CA, without restarting
// anything: etcd (and the API server's etcd client) read their
// certificate files again for every new connection, so once a pair is in
// place the next handshake uses it, while connections already open stay
// valid (the old certificates are still good until they expire). Each
// step is verified before the next: the member presents the new
// certificates on both ports and the whole cluster is healthy.
func RotateLeafCerts(ctx context.Context, e *Env) error {
	rows, err := Status(ctx, e)
	if err != nil {
		return err
	}
	if n := healthyCount(rows); n != len(rows) {
		return fmt.Errorf("etcd is not healthy (%s): rotate once every member is", summary(rows))
	}
	if err := allInSpec(rows); err != nil {
		return err
	}
	for _, h := range e.Spec.HostsWithRole(cluster.RoleEtcd) {
		if err := rotateMember(ctx, e, h, len(rows)); err != nil {
			return fmt.Errorf("rotating %s: %w (members before it are rotated; run rotate again to continue)", h.Name, err)
		}
	}
	return rotateAPIServerClient(ctx, e)
}

// allInSpec refuses to rotate an etcd with members the spec lacks: they
// would keep certificates (or a trust) that the rest no longer share.
func allInSpec(rows []MemberStatus) error {
	for _, r := range rows {
		if !r.InSpec {
			return fmt.Errorf("etcd member %s is not in the spec: add it to the spec, or kubectl kbs etcd member remove it, before rotating", r.Name)
		}
	}
	return nil
}

func rotateMember(ctx context.Context, e *Env, h cluster.Host, members int) error {
	p, _, err := etcdhost.LoadPKI(e.Spec, e.State, []string{etcdhost.ServerCertName(h.Name), etcdhost.PeerCertName(h.Name)})
	if err != nil {
		return err
	}
	server, peer := p.Server[h.Name], p.Peer[h.Name]
	err = e.Session.OnHosts(ctx, []cluster.Host{h}, func(ctx context.Context, hh *host.Host) error {
		return swapPairs(ctx, hh, etcdhost.PKIDir, map[string]*pki.KeyPair{"server": server, "peer": peer})
	})
	if err != nil {
		return err
	}
	tc, err := TLSConfig(p)
	if err != nil {
		return err
	}
	m := Member{Host: h, Endpoint: etcdhost.ClientURL(h), PeerURL: etcdhost.PeerURL(h)}
	for _, l := range []struct {
		url string
		kp  *pki.KeyPair
	}{{m.Endpoint, server}, {m.PeerURL, peer}} {
		if err := waitPresented(ctx, tc, l.url, l.kp); err != nil {
			return err
		}
	}
	if err := waitHealthy(ctx, e, members, time.Minute); err != nil {
		return err
	}
	e.Session.Log("etcd", h.Name, "presents its new server and peer certificates (serials %s, %s; valid until %s); cluster healthy",
		short(server), short(peer), server.Cert.NotAfter.Format(time.RFC3339))
	return nil
}

// rotateAPIServerClient renews the API servers' etcd client certificate
// (which kbs uses too), and checks that every member accepts it and every
// API server is still ready.
func rotateAPIServerClient(ctx context.Context, e *Env) error {
	p, _, err := etcdhost.LoadPKI(e.Spec, e.State, []string{etcdhost.APIServerEtcdClientName})
	if err != nil {
		return err
	}
	err = e.Session.OnHosts(ctx, e.Spec.HostsWithRole(cluster.RoleControlPlane), func(ctx context.Context, h *host.Host) error {
		if err := swapPairs(ctx, h, host.KubePKIDir, map[string]*pki.KeyPair{"apiserver-etcd-client": p.Client}); err != nil {
			return err
		}
		return host.APIServerReadyOn(ctx, e.State.AdminKubeconfig(), h, time.Minute)
	})
	if err != nil {
		return fmt.Errorf("rotating the API servers' etcd client certificate: %w", err)
	}
	// Status dials with the new certificate from the state directory: a
	// healthy answer from every member is the proof they accept it.
	if err := waitHealthy(ctx, e, len(Members(e.Spec)), time.Minute); err != nil {
		return err
	}
	e.Session.Log("etcd", "", "API servers' etcd client certificate renewed (serial %s, valid until %s) and accepted by every member",
		short(p.Client), p.Client.Cert.NotAfter.Format(time.RFC3339))
	return nil
}

// swapPairs uploads each NAME.crt/NAME.key beside its final place and
// then renames all of them in one command, so that a reader of the files
// sees a mismatched certificate and key for microseconds at most.
func swapPairs(ctx context.Context, h *host.Host, dir string, pairs map[string]*pki.KeyPair) error {
	var moves []string
	for name, kp := range pairs {
		for _, f := range []host.File{
			{Path: dir + "/." + name + ".key.new", Data: kp.KeyPEM, Mode: 0o600, Secret: true},
			{Path: dir + "/." + name + ".crt.new", Data: kp.CertPEM, Mode: 0o644},
		} {
			if _, err := h.EnsureFile(ctx, f); err != nil {
				return err
			}
		}
		moves = append(moves, fmt.Sprintf("mv -f %[1]s/.%[2]s.key.new %[1]s/%[2]s.key && mv -f %[1]s/.%[2]s.crt.new %[1]s/%[2]s.crt", dir, name))
	}
	return h.Exec(ctx, "put the new certificates in place", strings.Join(moves, " && "))
}

// waitPresented waits until a fresh handshake with url shows kp's
// certificate.
func waitPresented(ctx context.Context, tc *tls.Config, url string, kp *pki.KeyPair) error {
	err := wait.PollUntilContextTimeout(ctx, 250*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		c := presentedCert(ctx, tc, url)
		return c != nil && c.Equal(kp.Cert), nil
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("%s still presents another certificate than the new one after 30s", url)
	}
	return err
}

func short(kp *pki.KeyPair) string {
	s := kp.Cert.SerialNumber.Text(16)
	if len(s) > 12 {
		s = s[:12]
	}
	return s
}
