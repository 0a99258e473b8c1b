package upgrade

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-kbs/kbs/internal/hostile"
	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/remote/remotetest"
	"github.com/kubectl-kbs/kbs/pkg/state"
)

// The dry-run plan of an upgrade of the HA example — etcd members, the
// first control plane, the others, the workers — from a bundle and from
// the distribution's packages, with each hostile value in every string
// field the validator accepts, and the reads of its upgrade plan: each
// reaches a command only quoted.
func TestHostileValuesInTheUpgradePlan(t *testing.T) {
	for _, source := range []string{cluster.RuntimeSourceBundle, cluster.RuntimeSourcePackages} {
		base := withTarget(loadSpec(t, "ha/prod"), "v1.37.2", "")
		bundle, etcd := bundleOf(t, "v1.37.2"), fakeEtcd(t, "etcd Version: 3.7.3\nGit SHA: 0000000\n")
		base.Spec.Runtime.Source, base.Spec.Etcd.Binary = source, etcd
		hostile.Fill(base)
		for _, v := range hostile.Values {
			// The local files too sit at paths with v in them.
			dir := filepath.Join(t.TempDir(), v)
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			base.Spec.Etcd.Binary = filepath.Join(dir, "etcd")
			if err := os.Symlink(etcd, base.Spec.Etcd.Binary); err != nil {
				t.Fatal(err)
			}
			if source == cluster.RuntimeSourceBundle {
				base.Spec.Runtime.Bundle = filepath.Join(dir, "bundle")
				if err := os.Symlink(bundle, base.Spec.Runtime.Bundle); err != nil {
					t.Fatal(err)
				}
			}
			spec, _ := hostile.Spec(t, base, v, "spec.etcd.binary", "spec.runtime.bundle")
			local, err := state.Open(t.TempDir(), true)
			if err != nil {
				t.Fatal(err)
			}
			var out bytes.Buffer
			s := &host.Session{Spec: spec, Local: local, SSH: new(remotetest.Dialer), Plan: true, Parallel: 1, Out: &out}
			if err := Apply(context.Background(), s, fake.NewClientset(), ApplyOptions{MaxUnavailable: 1, DrainTimeout: time.Minute, NodeTimeout: time.Minute}); err != nil {
				t.Fatalf("%s: %v\n%s", source, err, out.String())
			}
			cmds := hostile.PlanCommands(out.String())
			if len(cmds) < 8 {
				t.Fatalf("%s: only %d commands in the plan:\n%s", source, len(cmds), out.String())
			}
			// The plan's reads, which a dry run does not show: on the
			// recording fake, every host's commands.
			d := new(remotetest.Dialer)
			read := &host.Session{Spec: spec, Local: local, SSH: d, Parallel: 1, Out: new(bytes.Buffer)}
			if _, err := MakePlan(context.Background(), read, fake.NewClientset(), opts); err != nil {
				t.Fatalf("%s: upgrade plan: %v", source, err)
			}
			n := len(cmds)
			for _, h := range spec.Spec.Hosts {
				cmds = append(cmds, d.Conn(h.Name).Commands()...)
			}
			if len(cmds)-n < len(spec.Spec.Hosts) {
				t.Fatalf("%s: the plan sent only %d commands", source, len(cmds)-n)
			}
			for _, c := range hostile.Unquoted(cmds, v) {
				t.Errorf("%s: %q reaches a shell unquoted: %s", source, v, c)
			}
		}
	}
}
