package etcd

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/etcdhost"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/shell"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

// RestoreOptions say what to restore and how carefully.
type RestoreOptions struct {
	From string
	// Force restores over a healthy cluster.
	Force bool
}

// restoreUpload is where the snapshot waits on an etcd host; it is
// removed when the restore ends.
const restoreUpload = "/var/lib/kbs/restore.db"

// RevisionBump moves the restored store's revision past anything a client
// saw before the restore, and marks the old range compacted: watchers
// (the API server's cache, every informer) then relist instead of
// trusting resource versions that went back in time.
const RevisionBump = 1_000_000_000

// RestorePlan checks the snapshot and the cluster's health and says, step
// by step, what Restore would do. A healthy cluster is refused unless
// forced: a restore replaces everything written since the snapshot.
func RestorePlan(ctx context.Context, e *Env, o RestoreOptions) ([]string, error) {
	if o.From == "" {
		return nil, fmt.Errorf("--from is required: the snapshot file to restore (kubectl kbs etcd snapshot save makes them)")
	}
	if err := VerifyFile(o.From); err != nil {
		return nil, err
	}
	rows, err := Status(ctx, e)
	if err != nil {
		return nil, err
	}
	if healthyCount(rows) == len(rows) && !o.Force {
		return nil, fmt.Errorf("etcd is healthy (%d of %d members): a restore would replace everything written since the snapshot; add --force if that is what you want", len(rows), len(rows))
	}
	fi, _ := os.Stat(o.From)
	var plan []string
	cps := hostNames(e.Spec.HostsWithRole(cluster.RoleControlPlane))
	ets := hostNames(e.Spec.HostsWithRole(cluster.RoleEtcd))
	plan = append(plan,
		fmt.Sprintf("stop kube-apiserver on %s (its static pod manifest is parked in %s)", cps, host.PausedDir),
		fmt.Sprintf("upload %s (%d bytes) to %s on %s", o.From, fi.Size(), restoreUpload, ets),
		fmt.Sprintf("on %s: stop etcd, move %s aside to %s.before-restore-<time> (kept), etcdutl snapshot restore with a new cluster token and the revision bumped by %d", ets, e.Spec.Spec.Etcd.DataDir, e.Spec.Spec.Etcd.DataDir, RevisionBump),
		fmt.Sprintf("start etcd on %s and wait until every member is healthy", ets),
		fmt.Sprintf("start kube-apiserver on %s and wait for /readyz", cps),
	)
	return plan, nil
}

// Restore replaces the data of every etcd member with the snapshot and
// brings the API servers back. The old data directories are kept beside
// the new ones; nothing is deleted.
//
// It is an operation of the workflow engine, journaled per snapshot file:
// a restore interrupted after the members were restored resumes with the
// API servers, and does not restore (and move aside) the data again.
func Restore(ctx context.Context, e *Env, o RestoreOptions) error {
	return host.RunOperation(ctx, e.Session, e, "etcd-restore "+filepath.Base(o.From),
		workflow.Phase[*Env]{Name: "stop-apiservers", Short: "kube-apiserver stopped on every control plane (manifest parked)", Run: stopAPIServers},
		workflow.Phase[*Env]{Name: "restore-members", Short: "every member's data restored from the snapshot under a new cluster token",
			Run: func(ctx context.Context, e *Env) error { return restoreMembers(ctx, e, o.From) }},
		workflow.Phase[*Env]{Name: "start-apiservers", Short: "kube-apiserver started on every control plane and ready", Run: startAPIServers},
	)
}

func stopAPIServers(ctx context.Context, e *Env) error {
	e.Session.Log("restore", "", "stopping the API servers")
	if err := e.Session.OnHosts(ctx, e.Spec.HostsWithRole(cluster.RoleControlPlane), func(ctx context.Context, h *host.Host) error {
		return host.PauseStaticPod(ctx, h, "kube-apiserver")
	}); err != nil {
		return fmt.Errorf("stopping the API servers: %w (kubectl kbs etcd restore again resumes; the parked manifests are in %s)", err, host.PausedDir)
	}
	return nil
}

func restoreMembers(ctx context.Context, e *Env, from string) error {
	stamp := time.Now().UTC().Format("20060102T150405Z")
	token := fmt.Sprintf("%s-restore-%s", etcdhost.ClusterToken(e.Spec), stamp)
	members := etcdhost.SpecInitialMembers(e.Spec)
	err := e.Session.OnHosts(ctx, e.Spec.HostsWithRole(cluster.RoleEtcd), func(ctx context.Context, h *host.Host) error {
		return restoreMember(ctx, e, h, from, members, token, stamp)
	})
	if err != nil {
		return fmt.Errorf("restoring the etcd members: %w (the API servers stay stopped; fix the cause and run the restore again)", err)
	}
	if err := waitHealthy(ctx, e, len(members), 2*time.Minute); err != nil {
		return err
	}
	e.Session.Log("restore", "", "etcd restored on every member; starting the API servers")
	return nil
}

func startAPIServers(ctx context.Context, e *Env) error {
	s := e.Session
	return s.OnHosts(ctx, e.Spec.HostsWithRole(cluster.RoleControlPlane), func(ctx context.Context, h *host.Host) error {
		if err := host.ResumeStaticPod(ctx, h, "kube-apiserver"); err != nil {
			return err
		}
		if err := host.APIServerReadyOn(ctx, s.State().AdminKubeconfig(), h, 3*time.Minute); err != nil {
			return err
		}
		s.Log("restore", h.Spec.Name, "kube-apiserver ready")
		return nil
	})
}

func restoreMember(ctx context.Context, e *Env, h *host.Host, from string, members []etcdhost.InitialMember, token, stamp string) error {
	data := e.Spec.Spec.Etcd.DataDir
	if _, ok, _ := h.Query(ctx, "test -x "+etcdhost.Utl); !ok {
		if err := uploadEtcdutl(ctx, e, h); err != nil {
			return err
		}
	}
	if err := h.Exec(ctx, "prepare the upload directory", "install -d -m 0700 /var/lib/kbs"); err != nil {
		return err
	}
	if _, err := h.EnsureLocalFile(ctx, from, restoreUpload, 0o600); err != nil {
		return fmt.Errorf("uploading the snapshot: %w", err)
	}
	defer h.Exec(context.WithoutCancel(ctx), "remove the uploaded snapshot", "rm -f "+restoreUpload)
	var initial []string
	for _, m := range members {
		initial = append(initial, m.Name+"="+m.PeerURL)
	}
	q := shell.Quote
	script := strings.Join([]string{
		"set -e",
		"systemctl stop etcd.service",
		fmt.Sprintf("if [ -e %s ]; then mv %s %s; fi", q(data), q(data), q(data+".before-restore-"+stamp)),
		fmt.Sprintf("%s snapshot restore %s --name %s --initial-cluster %s --initial-cluster-token %s --initial-advertise-peer-urls %s --data-dir %s --bump-revision %d --mark-compacted >/var/lib/kbs/restore.log 2>&1 || { tail -20 /var/lib/kbs/restore.log >&2; exit 1; }",
			etcdhost.Utl, restoreUpload, q(h.Spec.Name), q(strings.Join(initial, ",")), q(token), q(etcdhost.PeerURL(h.Spec)), q(data), RevisionBump),
		"chmod 0700 " + q(data),
	}, "\n")
	if err := h.Exec(ctx, "restore the snapshot into "+data, script); err != nil {
		return err
	}
	env := etcdhost.RenderInitialEnv(members, "new", token)
	if _, err := h.EnsureFile(ctx, host.File{Path: etcdhost.InitialEnvPath, Data: env, Mode: 0o644}); err != nil {
		return err
	}
	e.Session.Log("restore", h.Spec.Name, "data restored (the previous data is in %s.before-restore-%s); starting etcd", data, stamp)
	return h.Exec(ctx, "start etcd", "systemctl start --no-block etcd.service")
}

// uploadEtcdutl brings etcdutl from beside spec.etcd.binary.
func uploadEtcdutl(ctx context.Context, e *Env, h *host.Host) error {
	bin := e.Spec.Spec.Etcd.Binary
	if bin == "" {
		return fmt.Errorf("etcdutl is not on %s and spec.etcd.binary is not set: install etcdutl %s at %s", h.Spec.Name, e.Spec.Spec.Etcd.Version, etcdhost.Utl)
	}
	local := filepath.Join(filepath.Dir(bin), "etcdutl")
	if _, err := os.Stat(local); err != nil {
		return fmt.Errorf("etcdutl is not on %s, nor beside spec.etcd.binary (%w): put etcdutl there", h.Spec.Name, err)
	}
	_, err := h.EnsureLocalFile(ctx, local, etcdhost.Utl, 0o755)
	return err
}

// waitHealthy waits until want members are healthy.
func waitHealthy(ctx context.Context, e *Env, want int, timeout time.Duration) error {
	return waitStatus(ctx, e, timeout, func(rows []MemberStatus) bool { return healthyCount(rows) >= want })
}

// waitStatus polls Status every second until ok holds for its rows.
func waitStatus(ctx context.Context, e *Env, timeout time.Duration, ok func([]MemberStatus) bool) error {
	var rows []MemberStatus
	err := wait.PollUntilContextTimeout(ctx, time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		var err error
		rows, err = Status(ctx, e)
		return err == nil && ok(rows), nil
	})
	if err != nil {
		return fmt.Errorf("etcd not healthy within %s: %s (on the hosts: journalctl -u etcd)", timeout, summary(rows))
	}
	return nil
}

func healthyCount(rows []MemberStatus) int {
	n := 0
	for _, r := range rows {
		if r.Healthy {
			n++
		}
	}
	return n
}

func summary(rows []MemberStatus) string {
	var parts []string
	for _, r := range rows {
		st := "healthy"
		if !r.Healthy {
			st = r.Error
		}
		parts = append(parts, r.Name+": "+st)
	}
	return strings.Join(parts, "; ")
}

func hostNames(hs []cluster.Host) string {
	var n []string
	for _, h := range hs {
		n = append(n, h.Name)
	}
	return strings.Join(n, ", ")
}
