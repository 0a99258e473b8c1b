// Package smoke runs the upstream conformance suite (e2e.test) against a
// cluster kbs built. Run is the smoke subset the e2e tests of every cluster
// shape call — one helper, not copies: the [Conformance] specs that
// exercise what kbs configures (the pod network across nodes, Services and
// kube-proxy, DNS, hostPort, container lifecycle and probes, the downward
// API, ConfigMaps and Secrets as volumes). Suite runs any selection; `make
// conformance` runs them all.
package smoke

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kevinburke/ssh_config"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/remote"
	"github.com/kubectl-kbs/kbs/test/env"
)

// Focus names the smoke specs, [Conformance] specs none of which is
// [Serial] or [Disruptive] (they run beside other tests).
var Focus = []string{
	`Networking Granular Checks: Pods should function for intra-pod communication: http`,
	`Networking Granular Checks: Pods should function for node-pod communication: http`,
	`Services should serve a basic endpoint from pods`,
	`Services should be able to create a functioning NodePort service`,
	`Services should have session affinity work for service with type clusterIP`,
	`DNS should provide DNS for services`,
	`DNS should provide DNS for pods for Hostname`,
	`HostPort validates that there is no conflict between pods with same hostPort but different hostIP and protocol`,
	`Container Lifecycle Hook when create a pod with lifecycle hook should execute poststart http hook properly`,
	`Probing container should be restarted with a /healthz http liveness probe`,
	`Downward API volume should provide container's cpu limit`,
	`ConfigMap should be consumable from pods in volume with mappings`,
	`Secrets should be consumable from pods in volume with defaultMode set`,
}

// FocusRegexp is ginkgo's --focus for names: the [Conformance] specs
// named exactly so (the name ends where the spec's tags begin: "with
// mappings" is not "with mappings and Item mode set").
func FocusRegexp(names []string) string {
	q := make([]string, len(names))
	for i, f := range names {
		q[i] = regexp.QuoteMeta(f)
	}
	return `(` + strings.Join(q, "|") + `) \[(.*\[)?Conformance\]`
}

// Run imports the conformance images on the spec's nodes, runs the smoke
// specs against the cluster of kubeconfig and fails t unless every one of
// them ran and passed.
func Run(t *testing.T, specPath, knownHosts, kubeconfig string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 25*time.Minute)
	defer cancel()
	if err := Import(ctx, specPath, knownHosts); err != nil {
		t.Fatal(err)
	}
	var log strings.Builder
	start := time.Now()
	res, err := Suite(ctx, kubeconfig, FocusRegexp(Focus), `\[Serial\]|\[Disruptive\]`, Procs, t.TempDir(), &log)
	t.Logf("conformance smoke: %s in %s", res.Summary, time.Since(start).Round(time.Second))
	if err != nil {
		t.Fatalf("e2e.test: %v\n%s", err, tail(log.String(), 200))
	}
	if res.Ran != len(Focus) {
		t.Fatalf("the smoke run ran %d specs, not the %d it names (a spec renamed upstream?)\n%s", res.Ran, len(Focus), tail(log.String(), 60))
	}
}

// Result is what ginkgo's summary says.
type Result struct {
	Summary string
	Ran     int
}

var ranRE = regexp.MustCompile(`Ran (\d+) of \d+ Specs`)

// Procs is how many ginkgo processes run the smoke specs side by side: they
// spend their time waiting for pods, not on this machine's two cores.
const Procs = 4

// Suite runs e2e.test with focus and skip against kubeconfig, in procs
// parallel processes through the ginkgo CLI (one process: e2e.test alone),
// its output to out and its JUnit report into reportDir, every image named
// through the test environment's repo list.
func Suite(ctx context.Context, kubeconfig, focus, skip string, procs int, reportDir string, out io.Writer) (Result, error) {
	dir, err := env.OutputDir()
	if err != nil {
		return Result{}, err
	}
	e2e := filepath.Join(dir, "bin", "e2e.test")
	suite := []string{"--kubeconfig", kubeconfig, "--provider", "skeleton", "--report-dir", reportDir}
	ginkgo := []string{"--focus", focus, "--no-color", "--timeout", "24h"}
	if skip != "" {
		ginkgo = append(ginkgo, "--skip", skip)
	}
	var cmd *exec.Cmd
	if procs > 1 {
		args := append(append([]string{"--procs", fmt.Sprint(procs)}, ginkgo...), e2e, "--")
		cmd = exec.CommandContext(ctx, filepath.Join(dir, "bin", "ginkgo"), append(args, suite...)...)
	} else {
		for _, g := range ginkgo {
			if strings.HasPrefix(g, "--") {
				g = "--ginkgo." + g[2:]
			}
			suite = append(suite, g)
		}
		cmd = exec.CommandContext(ctx, e2e, suite...)
	}
	cmd.Env = append(os.Environ(), "KUBE_TEST_REPO_LIST="+filepath.Join(dir, "conformance", "repo-list.yaml"))
	var log strings.Builder
	cmd.Stdout = io.MultiWriter(out, &log)
	cmd.Stderr = cmd.Stdout
	err = cmd.Run()
	var res Result
	for _, l := range strings.Split(log.String(), "\n") {
		if m := ranRE.FindStringSubmatch(l); m != nil {
			fmt.Sscan(m[1], &res.Ran)
			res.Summary = strings.TrimSpace(l)
		}
		if strings.Contains(l, "Passed |") {
			res.Summary += "; " + strings.TrimSpace(l)
		}
	}
	return res, err
}

// Import loads the conformance images into containerd on every node of the
// spec that runs a kubelet, over SSH as kbs reaches them, side by side.
func Import(ctx context.Context, specPath, knownHosts string) error {
	dir, err := env.OutputDir()
	if err != nil {
		return err
	}
	images := filepath.Join(dir, "conformance", "images.tar")
	spec, err := cluster.LoadOne(specPath, "")
	if err != nil {
		return err
	}
	cfg, err := ssh_config.Decode(strings.NewReader(""))
	if err != nil {
		return err
	}
	d := &remote.Dialer{HostKeys: &remote.HostKeys{Files: []string{knownHosts}}, SSHConfig: cfg}
	defer d.Close()
	var wg sync.WaitGroup
	errs := make(chan error, len(spec.Spec.Hosts))
	for _, h := range spec.Spec.Hosts {
		if h.Role == cluster.RoleEtcd {
			continue
		}
		wg.Go(func() {
			if err := importOn(ctx, d, spec, h, images); err != nil {
				errs <- fmt.Errorf("%s: %w", h.Name, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	return <-errs
}

func importOn(ctx context.Context, d *remote.Dialer, spec *cluster.Cluster, h cluster.Host, images string) error {
	const inNode = "/var/lib/kbs/conformance-images.tar"
	f, err := os.Open(images)
	if err != nil {
		return fmt.Errorf("%w (make test-env builds it)", err)
	}
	defer f.Close()
	conn, err := d.Dial(ctx, host.TargetFor(spec, h))
	if err != nil {
		return err
	}
	if err := conn.WriteFile(ctx, inNode, f, 0o600, "root:root"); err != nil {
		return err
	}
	// Pinned, as the kubelet's sandbox image is: its image GC never takes
	// an image a spec has yet to run.
	_, err = conn.Run(ctx, "ctr -n k8s.io images import "+inNode+" >/dev/null && "+
		"for r in $(ctr -n k8s.io images ls -q | grep -E '^kbs\\.local/(e2e-test-images/|etcd:)'); do ctr -n k8s.io images label \"$r\" io.cri-containerd.pinned=pinned >/dev/null; done", remote.Privileged())
	return err
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
