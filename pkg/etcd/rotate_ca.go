package etcd

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/etcdhost"
	"github.com/kubectl-kbs/kbs/pkg/fsutil"
	"github.com/kubectl-kbs/kbs/pkg/host"
)

// The steps of a CA rotation; pki/etcd/ca-rotation holds the next one, so
// an interrupted rotation resumes where it stopped.
const (
	stepTrust  = "trust"  // every member and API server trusts old and new CA
	stepLeaves = "leaves" // every certificate reissued by the new CA
	stepFinish = "finish" // the old CA trusted no more
)

// RotateCA replaces the etcd CA without a moment in which two parties
// disagree about whom to trust: a new CA is made beside the old one;
// every member and API server is restarted (one at a time) trusting a
// bundle of both; every leaf is reissued by the new CA (no restart); and
// finally the bundle is replaced by the new CA alone, with a second round
// of restarts. etcd and the API server read the trusted CA only at
// start-up, so with a single member or a single control plane each
// restart is a short outage.
func RotateCA(ctx context.Context, e *Env) error {
	rows, err := Status(ctx, e)
	if err != nil {
		return err
	}
	if healthyCount(rows) != len(rows) {
		return fmt.Errorf("etcd is not healthy (%s): rotate the CA once every member is", summary(rows))
	}
	if err := allInSpec(rows); err != nil {
		return err
	}
	marker := e.State.EtcdPKIFile("ca-rotation")
	step := stepTrust
	if b, err := os.ReadFile(marker); err == nil {
		step = strings.TrimSpace(string(b))
		e.Session.Log("etcd", "", "resuming the CA rotation at step %q", step)
	} else if _, _, err := e.State.CA("etcd", "ca-new", "etcd-ca"); err != nil {
		return err
	}
	for step != "" {
		next, err := rotateStep(ctx, e, step)
		if err != nil {
			return fmt.Errorf("CA rotation, step %s: %w (run the rotation again to resume)", step, err)
		}
		if next == "" {
			return os.Remove(marker)
		}
		if err := fsutil.WriteFileAtomic(marker, []byte(next+"\n"), 0o600); err != nil {
			return err
		}
		step = next
	}
	return nil
}

func rotateStep(ctx context.Context, e *Env, step string) (string, error) {
	switch step {
	case stepTrust:
		oldCA, err1 := os.ReadFile(e.State.EtcdPKIFile("ca.crt"))
		newCA, err2 := os.ReadFile(e.State.EtcdPKIFile("ca-new.crt"))
		if err := errors.Join(err1, err2); err != nil {
			return "", err
		}
		e.Session.Log("etcd", "", "step 1/3: trusting the old and the new CA everywhere")
		return stepLeaves, distributeCA(ctx, e, append(append([]byte{}, oldCA...), newCA...))
	case stepLeaves:
		if err := promoteNewCA(e); err != nil {
			return "", err
		}
		e.Session.Log("etcd", "", "step 2/3: every certificate reissued by the new CA")
		return stepFinish, RotateLeafCerts(ctx, e)
	case stepFinish:
		p, err := e.PKI()
		if err != nil {
			return "", err
		}
		e.Session.Log("etcd", "", "step 3/3: trusting the new CA alone")
		if err := distributeCA(ctx, e, p.CA.CertPEM); err != nil {
			return "", err
		}
		for _, ext := range []string{".crt", ".key"} {
			if err := os.Remove(e.State.EtcdPKIFile("ca-old" + ext)); err != nil && !os.IsNotExist(err) {
				return "", err
			}
		}
		return "", nil
	}
	return "", fmt.Errorf("unknown step %q in %s: delete the file to start over", step, e.State.EtcdPKIFile("ca-rotation"))
}

// promoteNewCA makes ca-new the CA and keeps the old one as ca-old (which
// kbs keeps trusting until the rotation ends). Done once: a resumed step
// finds ca-new gone.
func promoteNewCA(e *Env) error {
	f := e.State.EtcdPKIFile
	if _, err := os.Stat(f("ca-new.crt")); os.IsNotExist(err) {
		return nil
	}
	for _, ext := range []string{".crt", ".key"} {
		if err := os.Rename(f("ca"+ext), f("ca-old"+ext)); err != nil {
			return err
		}
	}
	for _, ext := range []string{".crt", ".key"} {
		if err := os.Rename(f("ca-new"+ext), f("ca"+ext)); err != nil {
			return err
		}
	}
	return nil
}

// distributeCA writes the trusted CA file on every etcd host and control
// plane, then restarts the etcd members one at a time (each waited for
// until the whole cluster is healthy) and then the API servers.
func distributeCA(ctx context.Context, e *Env, pem []byte) error {
	s := e.Session
	members := len(Members(e.Spec))
	for _, h := range e.Spec.HostsWithRole(cluster.RoleEtcd) {
		err := s.OnHosts(ctx, []cluster.Host{h}, func(ctx context.Context, hh *host.Host) error {
			if _, err := hh.EnsureFile(ctx, host.File{Path: etcdhost.PKIDir + "/ca.crt", Data: pem, Mode: 0o644}); err != nil {
				return err
			}
			return hh.Exec(ctx, "restart etcd", "systemctl restart etcd.service")
		})
		if err != nil {
			return err
		}
		if err := waitHealthy(ctx, e, members, 2*time.Minute); err != nil {
			return err
		}
		s.Log("etcd", h.Name, "restarted with the new trust; cluster healthy")
	}
	for _, h := range e.Spec.HostsWithRole(cluster.RoleControlPlane) {
		err := s.OnHosts(ctx, []cluster.Host{h}, func(ctx context.Context, hh *host.Host) error {
			if _, err := hh.EnsureFile(ctx, host.File{Path: host.KubeEtcdCA, Data: pem, Mode: 0o644}); err != nil {
				return err
			}
			return host.RestartStaticPod(ctx, e.State.AdminKubeconfig(), hh, "kube-apiserver")
		})
		if err != nil {
			return err
		}
		s.Log("etcd", h.Name, "kube-apiserver restarted with the new trust and ready")
	}
	return nil
}
