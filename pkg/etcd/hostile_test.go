package etcd

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/kubectl-kbs/kbs/internal/goldenfile"
	"github.com/kubectl-kbs/kbs/internal/hostile"
	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/etcdhost"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/pki"
	"github.com/kubectl-kbs/kbs/pkg/remote/remotetest"
	"github.com/kubectl-kbs/kbs/pkg/state"
)

// The day-2 verbs have no dry run of their own (they act on what etcd
// answers), so their host steps run here on the recording fake: member
// add's start of a joining member, member remove's stop, restore's
// per-member restore and its stop of the API servers, the certificate
// swap of rotate, and the --etcd-servers change of the API servers. With
// each hostile value in every string field the validator accepts, and in
// the API server's manifest the fake hands back, every command they send
// carries it only quoted.
func TestHostileValuesInEtcdDayTwoCommands(t *testing.T) {
	base := goldenfile.Example(t, "ha/prod")
	hostile.Fill(base)
	ctx := context.Background()
	for _, v := range hostile.Values {
		spec, _ := hostile.Spec(t, base, v)
		e, d := hostileEnv(t, spec, v)
		etcds, cps := spec.HostsWithRole(cluster.RoleEtcd), spec.HostsWithRole(cluster.RoleControlPlane)
		p, _, err := etcdhost.LoadPKI(spec, e.State, nil)
		if err != nil {
			t.Fatal(err)
		}
		snapshot := filepath.Join(t.TempDir(), v, "snapshot.db")
		must(t, os.MkdirAll(filepath.Dir(snapshot), 0o700))
		must(t, os.WriteFile(snapshot, []byte("snapshot"), 0o600))
		members := etcdhost.SpecInitialMembers(spec)
		must(t, e.Session.OnHosts(ctx, etcds, func(ctx context.Context, h *host.Host) error {
			env := etcdhost.RenderInitialEnv(members, "existing", etcdhost.ClusterToken(spec))
			if err := startJoining(ctx, e, h, env); err != nil {
				return err
			}
			if err := restoreMember(ctx, e, h, snapshot, members, etcdhost.ClusterToken(spec)+"-restore", "20261203T000000Z"); err != nil {
				return err
			}
			return swapPairs(ctx, h, etcdhost.PKIDir, map[string]*pki.KeyPair{"server": p.Server[h.Spec.Name], "peer": p.Peer[h.Spec.Name]})
		}))
		must(t, stopRemoved(ctx, e, etcds[0].Name))
		must(t, stopAPIServers(ctx, e))
		err = e.Session.OnHosts(ctx, cps, func(ctx context.Context, h *host.Host) error {
			return setManifestEndpoints(ctx, e.Session, h, []string{"https://10.10.0.10:2379"})
		})
		// The last step waits for /readyz with admin credentials the
		// test has not: every command came before it.
		if err == nil || !strings.Contains(err.Error(), "no admin credentials") {
			t.Fatalf("changing --etcd-servers: %v", err)
		}
		var cmds []string
		for _, h := range spec.Spec.Hosts {
			cmds = append(cmds, d.Conn(h.Name).Commands()...)
		}
		if len(cmds) < 40 {
			t.Fatalf("only %d commands: %q", len(cmds), cmds)
		}
		// The value did travel: the API server's manifest came back with
		// it, as a file (data, not shell).
		if w, _ := d.Conn(cps[0].Name).File(host.PausedDir + "/kube-apiserver.yaml"); !strings.Contains(string(w), v) {
			t.Fatalf("the parked manifest lost %q:\n%s", v, w)
		}
		for _, c := range hostile.Unquoted(cmds, v) {
			t.Errorf("%q reaches a shell unquoted: %s", v, c)
		}
	}
}

// hostileEnv is an Env on the recording fake, with a kube-apiserver
// manifest that carries v in an argument, and a kube-apiserver process
// that stops when its manifest is parked and runs again when it is back.
func hostileEnv(t *testing.T, spec *cluster.Cluster, v string) (*Env, *remotetest.Dialer) {
	local, err := state.Open(t.TempDir(), false)
	if err != nil {
		t.Fatal(err)
	}
	manifest := "spec:\n  containers:\n  - command:\n    - kube-apiserver\n    - --etcd-servers=https://10.10.0.10:2379,https://10.10.0.11:2379\n    - --kbs-hostile=" + v + "\n"
	d := new(remotetest.Dialer)
	d.Configure(func(c *remotetest.Conn) {
		var mu sync.Mutex
		running := true
		set := func(r bool) remotetest.Handler {
			return func(string, []byte) ([]byte, error) { mu.Lock(); running = r; mu.Unlock(); return nil, nil }
		}
		c.On(`^cat /etc/kubernetes/manifests/kube-apiserver.yaml$`, manifest, nil)
		c.On(` --version$`, "etcd Version: "+strings.TrimPrefix(spec.Spec.Etcd.Version, "v")+"\n", nil)
		c.OnFunc(`^install -d -m 0700 \S*paused`, set(false))
		c.OnFunc(`^if \[ -f \S*paused`, set(true))
		c.OnFunc(`^pgrep `, func(string, []byte) ([]byte, error) {
			mu.Lock()
			defer mu.Unlock()
			if running {
				return []byte("4242\n"), nil
			}
			return nil, remotetest.Exit(1, "")
		})
	})
	s := &host.Session{Spec: spec, Local: local, SSH: d, Parallel: 1, Out: new(bytes.Buffer)}
	return &Env{Spec: spec, State: local, Session: s}, d
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
