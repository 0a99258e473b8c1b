package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
)

// planNormalizers replace what differs from one dry run to the next: a dry
// run mints its CAs and certificates in memory, so their hashes, sizes (an
// ECDSA signature's length varies) and dates are new every time. Files kbs
// renders (units, configurations) keep their sizes and sums: those are
// part of what the plan promises.
var planNormalizers = []struct {
	re   *regexp.Regexp
	repl string
}{
	// SPKI hashes of the etcd and cluster CAs (the join hash).
	{regexp.MustCompile(`sha256:[0-9a-f]{64}`), "sha256:<spki>"},
	// A certificate's size and content sum.
	{regexp.MustCompile(`\(mode (\d{4}), \d+ bytes, sha256 [0-9a-f]{12}\): certificate `), "(mode $1, <n> bytes, sha256 <sum>): certificate "},
	{regexp.MustCompile(`valid until \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ`), "valid until <date>"},
}

// normalizePlan makes a dry run's output comparable across runs: the
// random values above, and the test's temp paths.
func normalizePlan(f *fakeInit, plan string) string {
	plan = strings.ReplaceAll(plan, f.stateDir, "<state>")
	plan = strings.ReplaceAll(plan, f.Kubeconfig, "<kubeconfig>")
	for _, n := range planNormalizers {
		plan = n.re.ReplaceAllString(plan, n.repl)
	}
	return plan
}

// `kubectl kbs init --dry-run -f examples/k8s.yaml --parallel 1`, through
// the recording fake: the whole plan, compared with the golden file. A dry
// run connects to nothing and writes nothing locally either.
func TestInitDryRunPlanGolden(t *testing.T) {
	for name, example := range map[string]string{"k8s": "k8s", "ha": "ha/prod"} {
		t.Run(name, func(t *testing.T) { initDryRunPlanGolden(t, name, example) })
	}
}

func initDryRunPlanGolden(t *testing.T, name, example string) {
	spec := loadExample(t, example)
	// The example names no spec.etcd.binary: the plan expects etcd to be
	// installed on the etcd hosts and uploads nothing.
	if spec.Spec.Etcd.Binary != "" {
		t.Fatalf("examples/k8s.yaml now sets spec.etcd.binary %q: point it at a temp file here so the golden plan does not depend on this machine", spec.Spec.Etcd.Binary)
	}
	var plans []string
	// Twice: a normalization that misses something random fails here
	// every time, not only when the golden file is compared.
	for range 2 {
		f := newFakeInit(t, spec, true)
		if err := f.run(context.Background()); err != nil {
			t.Fatalf("dry run: %v\n%s", err, f.output())
		}
		if dials := f.ssh.Dials(); len(dials) != 0 {
			t.Errorf("a dry run dialed %v", dials)
		}
		for _, p := range []string{f.stateDir, f.Kubeconfig} {
			if _, err := os.Stat(p); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("a dry run created %s (%v)", p, err)
			}
		}
		plans = append(plans, normalizePlan(f, f.output()))
	}
	if plans[0] != plans[1] {
		t.Fatalf("two dry runs differ after normalization: %s", firstDiff(plans[0], plans[1]))
	}
	golden(t, name+"-init-dry-run.txt", []byte(plans[0]))
	// Every phase shows up in the plan, in order.
	last := -1
	for _, name := range InitWorkflow().Names() {
		i := strings.Index(plans[0], "\n["+name+"] ")
		if name == "preflight" {
			i = strings.Index(plans[0], "["+name+"] ")
		}
		if i <= last {
			t.Errorf("phase %s is missing from the plan or out of order", name)
		}
		last = i
	}
}

// realPhase runs one phase for real on the fake hosts. Phases whose end
// needs a live cluster (etcd's health wait) run their host work only.
type realPhase func(ctx context.Context, f *fakeInit) error

// etcdInstallOnly is the etcd phase without its wait for a healthy etcd:
// what it does to each etcd host.
func etcdInstallOnly(ctx context.Context, f *fakeInit) error {
	p, _, err := loadEtcdPKI(f)
	if err != nil {
		return err
	}
	return f.onHosts(ctx, cluster.RoleEtcd, func(ctx context.Context, h *host.Host) error {
		return installEtcd(ctx, f, h, p)
	})
}

// What a phase's dry-run plan says it would write is what it writes in a
// real run on fresh hosts: the same paths on the same hosts.
func TestDryRunPlanWritesWhatARealRunWrites(t *testing.T) {
	k8s := func(t *testing.T) *cluster.Cluster { return loadExample(t, "k8s") }
	for _, tc := range []struct {
		name  string
		spec  func(*testing.T) *cluster.Cluster
		phase string
		// real runs the phase for real; nil runs it through the workflow.
		real realPhase
		// setup scripts the fake hosts beyond freshNode.
		setup func(*testing.T, *fakeInit)
		// hosts are those that get files: an empty plan matching an empty
		// run would prove nothing.
		hosts []string
	}{
		{name: "preflight writes nothing", spec: k8s, phase: "preflight", setup: func(t *testing.T, f *fakeInit) { scriptPreflight(f, nil) }},
		{name: "etcd-pki is local", spec: k8s, phase: "etcd-pki"},
		{name: "runtime from packages", spec: k8s, phase: "runtime", hosts: []string{"master-0"}},
		{name: "runtime-workers from packages", spec: k8s, phase: "runtime-workers", hosts: []string{"worker-0", "worker-1"}},
		{name: "runtime from a bundle", spec: bundleSpec, phase: "runtime", hosts: []string{"master-0"}},
		{name: "runtime-workers from a bundle", spec: bundleSpec, phase: "runtime-workers", hosts: []string{"worker-0", "worker-1"}},
		{name: "etcd installed on the host", spec: k8s, phase: "etcd", real: etcdInstallOnly, hosts: []string{"etcd-0"}},
		{name: "etcd uploaded from spec.etcd.binary", spec: etcdBinarySpec, phase: "etcd", real: etcdInstallOnly, hosts: []string{"etcd-0"}},
		{name: "etcd-client-certs", spec: k8s, phase: "etcd-client-certs", hosts: []string{"master-0"}},
		{name: "kubeadm-config", spec: k8s, phase: "kubeadm-config", hosts: []string{"master-0"}},
		{name: "control-plane", spec: k8s, phase: "control-plane", setup: func(t *testing.T, f *fakeInit) { kubeadmWritesAdminConf(t, f.conn("master-0")) }, hosts: []string{"master-0"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			spec := tc.spec(t)
			plan := newFakeInit(t, spec, true)
			if err := plan.run(ctx, tc.phase); err != nil {
				t.Fatalf("dry run: %v", err)
			}
			real := newFakeInit(t, spec, false)
			if tc.setup != nil {
				tc.setup(t, real)
			}
			real.ssh.Configure(freshNode(spec, nodeOptions{}))
			run := tc.real
			if run == nil {
				run = func(ctx context.Context, f *fakeInit) error { return f.run(ctx, tc.phase) }
			}
			if err := run(ctx, real); err != nil {
				t.Fatalf("real run: %v\n%s", err, real.output())
			}
			planned, written := plannedPaths(plan.output()), real.writtenPaths()
			if !reflect.DeepEqual(planned, written) {
				t.Errorf("the plan's files differ from those written:\nplanned %v\nwritten %v\nplan:\n%s", planned, written, plan.output())
			}
			if got := slices.Sorted(maps.Keys(written)); !slices.Equal(got, tc.hosts) {
				t.Errorf("files written on %v, want on %v", got, tc.hosts)
			}
		})
	}
}

// firstDiff shows the first line where a and b differ.
func firstDiff(a, b string) string {
	la, lb := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range max(len(la), len(lb)) {
		var x, y string
		if i < len(la) {
			x = la[i]
		}
		if i < len(lb) {
			y = lb[i]
		}
		if x != y {
			return fmt.Sprintf("line %d:\n  %q\n  %q", i+1, x, y)
		}
	}
	return "no difference"
}
