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
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/pki"
	"github.com/kubectl-kbs/kbs/pkg/shell"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

// The CA rotation's journal scope and phases, in order.
const (
	rotationScope = "etcd-ca-rotation"
	stepNewCA     = "new-ca"     // a new CA beside the old one, in the state directory
	stepTrust     = "trust-both" // every member and API server trusts old and new CA
	stepLeaves    = "reissue"    // every certificate reissued by the new CA
	stepFinish    = "trust-new"  // the old CA trusted no more
)

// RotateCA replaces the etcd CA without a moment in which two parties
// disagree about whom to trust: a new CA is made beside the old one;
// every member and API server is restarted (one at a time) trusting a
// bundle of both; every leaf is reissued by the new CA (no restart); and
// finally the bundle is replaced by the new CA alone, with a second round
// of restarts. etcd and the API server read the trusted CA only at
// start-up, so with a single member or a single control plane each
// restart is a short outage. The steps are phases of one operation: an
// interrupted rotation resumes at the step where it stopped.
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
	if err := adoptRotationMarker(e); err != nil {
		return err
	}
	// Each step's Verify reads the state directory (and for the trust
	// bundle, the hosts), so a rotation resumes where it stopped even when
	// the journal no longer vouches for it (a spec changed in between).
	err = host.RunOperation(ctx, e.Session, e, rotationScope,
		workflow.Phase[*Env]{Name: stepNewCA, Short: "a new etcd CA beside the old one (local)", Run: newRotationCA, Verify: newCAMade},
		workflow.Phase[*Env]{Name: stepTrust, Short: "every member and API server restarted trusting the old and the new CA", Run: trustBoth, Verify: bothTrusted},
		workflow.Phase[*Env]{Name: stepLeaves, Short: "every certificate reissued by the new CA (no restarts)", Run: reissueLeaves, Verify: leavesReissued},
		workflow.Phase[*Env]{Name: stepFinish, Short: "every member and API server restarted trusting the new CA alone", Run: trustNew},
	)
	if err != nil {
		return fmt.Errorf("CA rotation: %w (run the rotation again to resume)", err)
	}
	return nil
}

func newRotationCA(_ context.Context, e *Env) error {
	if _, err := os.Stat(e.State.EtcdPKIFile("ca-old.crt")); err == nil {
		return nil // the new CA is already the CA: a resumed rotation
	}
	_, _, err := e.State.CA("etcd", "ca-new", "etcd-ca")
	return err
}

func trustBoth(ctx context.Context, e *Env) error {
	bundle, err := trustBundle(e)
	if err != nil {
		return err
	}
	e.Session.Log("etcd", "", "step 1/3: trusting the old and the new CA everywhere")
	return distributeCA(ctx, e, bundle)
}

// trustBundle is the old and the new CA, before the new one is promoted
// (ca + ca-new) or after (ca-old + ca).
func trustBundle(e *Env) ([]byte, error) {
	older, newer := "ca.crt", "ca-new.crt"
	if promoted(e) {
		older, newer = "ca-old.crt", "ca.crt"
	}
	oldCA, err1 := os.ReadFile(e.State.EtcdPKIFile(older))
	newCA, err2 := os.ReadFile(e.State.EtcdPKIFile(newer))
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	return append(append([]byte{}, oldCA...), newCA...), nil
}

// promoted says the new CA is the CA already, the old one kept as ca-old.
func promoted(e *Env) bool {
	_, err := os.Stat(e.State.EtcdPKIFile("ca-old.crt"))
	return err == nil
}

func newCAMade(_ context.Context, e *Env) error {
	if _, err := os.Stat(e.State.EtcdPKIFile("ca-new.crt")); err != nil && !promoted(e) {
		return fmt.Errorf("no new CA in the state directory")
	}
	return nil
}

// bothTrusted checks that every member and control plane trusts the bundle
// of both CAs (or that the rotation is past that step).
func bothTrusted(ctx context.Context, e *Env) error {
	if promoted(e) {
		return nil
	}
	bundle, err := trustBundle(e)
	if err != nil {
		return err
	}
	want := strings.TrimSpace(string(bundle))
	check := func(path string) func(context.Context, *host.Host) error {
		return func(ctx context.Context, h *host.Host) error {
			got, _, err := h.Query(ctx, "cat "+shell.Quote(path))
			if err != nil || got != want {
				return fmt.Errorf("%s does not trust both CAs yet", path)
			}
			return nil
		}
	}
	if err := e.Session.OnHosts(ctx, e.Spec.HostsWithRole(cluster.RoleEtcd), check(etcdhost.PKIDir+"/ca.crt")); err != nil {
		return err
	}
	return e.Session.OnHosts(ctx, e.Spec.HostsWithRole(cluster.RoleControlPlane), check(host.KubeEtcdCA))
}

// leavesReissued checks that the new CA is the CA and signed every leaf
// the state directory holds.
func leavesReissued(_ context.Context, e *Env) error {
	if !promoted(e) {
		return fmt.Errorf("the new CA is not the CA yet")
	}
	p, err := e.PKI()
	if err != nil {
		return err
	}
	leaves := []*pki.KeyPair{p.Client}
	for _, kp := range p.Server {
		leaves = append(leaves, kp)
	}
	for _, kp := range p.Peer {
		leaves = append(leaves, kp)
	}
	for _, kp := range leaves {
		if kp == nil || kp.Cert.CheckSignatureFrom(p.CA.Cert) != nil {
			return fmt.Errorf("a certificate in the state directory is not from the new CA yet")
		}
	}
	return nil
}

func reissueLeaves(ctx context.Context, e *Env) error {
	if err := promoteNewCA(e); err != nil {
		return err
	}
	e.Session.Log("etcd", "", "step 2/3: every certificate reissued by the new CA")
	return RotateLeafCerts(ctx, e)
}

func trustNew(ctx context.Context, e *Env) error {
	p, err := e.PKI()
	if err != nil {
		return err
	}
	e.Session.Log("etcd", "", "step 3/3: trusting the new CA alone")
	if err := distributeCA(ctx, e, p.CA.CertPEM); err != nil {
		return err
	}
	for _, ext := range []string{".crt", ".key"} {
		if err := os.Remove(e.State.EtcdPKIFile("ca-old" + ext)); err != nil && !os.IsNotExist(err) {
			return err
		}
	}
	return nil
}

// adoptRotationMarker carries a rotation that an earlier kbs interrupted
// into the journal: it kept the next step in pki/etcd/ca-rotation.
func adoptRotationMarker(e *Env) error {
	marker := e.State.EtcdPKIFile("ca-rotation")
	b, err := os.ReadFile(marker)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return err
	}
	done := map[string][]string{"trust": {stepNewCA}, "leaves": {stepNewCA, stepTrust}, "finish": {stepNewCA, stepTrust, stepLeaves}}[strings.TrimSpace(string(b))]
	if done == nil {
		return fmt.Errorf("unknown step %q in %s: delete the file to start over", b, marker)
	}
	j, err := host.OperationJournal(e.Session, rotationScope)
	if err != nil {
		return err
	}
	for _, step := range done {
		if err := j.Record(step); err != nil {
			return err
		}
	}
	return os.Remove(marker)
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
