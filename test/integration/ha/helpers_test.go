//go:build integration

package ha

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-kbs/kbs/test/kbsrun"
	"github.com/kubectl-kbs/kbs/test/localcluster"
)

// paths of the HA cluster on the operator's side; the spec starts one
// release back (the test ends with an upgrade) and target is the spec of
// the current release, the operator's next edit.
type paths struct{ spec, state, kubeconfig, target string }

func newPaths(t *testing.T) paths {
	t.Helper()
	dir := t.TempDir()
	p := paths{spec: filepath.Join(dir, "cluster.yaml"), state: filepath.Join(dir, "state"), kubeconfig: filepath.Join(dir, "kubeconfig")}
	s, err := localcluster.HASpec(cluster, "hak8s")
	if err != nil {
		t.Fatal(err)
	}
	p.target = s
	previous, err := localcluster.Previous(s)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p.spec, []byte(previous), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// kbs runs `kubectl kbs CMD… -f spec …` in this process and fails the test
// on error.
func (p paths) kbs(t *testing.T, cmd ...string) (string, string) {
	t.Helper()
	out, progress, err := p.run(cmd...)
	if err != nil {
		t.Fatalf("kubectl kbs %s: %v\n%s", strings.Join(cmd, " "), err, progress)
	}
	return out, progress
}

// run runs `kubectl kbs CMD… -f spec …` in this process.
func (p paths) run(cmd ...string) (string, string, error) {
	// An upgrade of every host takes longest: six hosts, one at a time.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	args := append(cmd, "-f", p.spec, "--state-dir", p.state, "--known-hosts", cluster.KnownHosts, "--kubeconfig", p.kubeconfig)
	return kbsrun.Run(ctx, args...)
}

// runInterrupted runs `kubectl kbs CMD…`; once its progress shows marker,
// interrupt is called with the cancellation of the run (Ctrl-C). It returns
// the progress and the run's error.
func (p paths) runInterrupted(marker string, interrupt func(cancel func()), cmd ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	w := &watchWriter{marker: marker, hit: func() { wg.Go(func() { interrupt(cancel) }) }}
	args := append(cmd, "-f", p.spec, "--state-dir", p.state, "--known-hosts", cluster.KnownHosts, "--kubeconfig", p.kubeconfig)
	err := kbsrun.To(ctx, io.Discard, w, args...)
	wg.Wait() // the fault is injected in full before the test goes on
	return w.String(), err
}

// watchWriter keeps what is written and calls hit once marker appears.
type watchWriter struct {
	mu     sync.Mutex
	b      strings.Builder
	marker string
	hit    func()
	fired  bool
}

func (w *watchWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.b.Write(p)
	if !w.fired && strings.Contains(w.b.String(), w.marker) {
		w.fired = true
		w.hit()
	}
	return len(p), nil
}

func (w *watchWriter) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.b.String()
}

func (p paths) restConfig(t *testing.T) *rest.Config {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", p.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func clientFor(t *testing.T, cfg *rest.Config) kubernetes.Interface {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// readyz asks the API server at hostport (the endpoint or one control
// plane) for /readyz, with a short timeout.
func readyz(ctx context.Context, cfg *rest.Config, hostport string) error {
	c := rest.CopyConfig(cfg)
	c.Host, c.Timeout = "https://"+hostport, 2*time.Second
	cs, err := kubernetes.NewForConfig(c)
	if err != nil {
		return err
	}
	_, err = cs.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
	return err
}

// onNode runs a command inside a node through the harness (not kbs).
func onNode(t *testing.T, name string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := cluster.Node(name).Exec(ctx, args...)
	if err != nil {
		t.Fatalf("%s: %s: %v: %s", name, strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// vipHolders are the control planes that have the VIP on an interface.
func vipHolders(t *testing.T, names ...string) []string {
	t.Helper()
	var out []string
	for _, n := range names {
		if onNode(t, n, "ip", "-o", "-4", "addr", "show", "to", localcluster.VIP(cluster)+"/32") != "" {
			out = append(out, n)
		}
	}
	return out
}

// readyNodes are the names of the Ready nodes, sorted.
func readyNodes(ctx context.Context, cs kubernetes.Interface) ([]string, error) {
	list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	var ready []string
	for _, n := range list.Items {
		for _, c := range n.Status.Conditions {
			if c.Type == corev1.NodeReady && c.Status == corev1.ConditionTrue {
				ready = append(ready, n.Name)
			}
		}
	}
	sort.Strings(ready)
	return ready, nil
}

// waitReadyNodes waits until exactly want are the Ready nodes. It reports
// the last list it got and the last error apart: the final poll's List is
// often cut off by the deadline, and that is not the answer to report.
func waitReadyNodes(t *testing.T, cs kubernetes.Interface, want string, timeout time.Duration) {
	t.Helper()
	var got []string
	var last error
	err := wait.PollUntilContextTimeout(context.Background(), time.Second, timeout, true, func(ctx context.Context) (bool, error) {
		ready, err := readyNodes(ctx, cs)
		if err != nil {
			last = err
			return false, nil
		}
		got = ready
		return strings.Join(got, ",") == want, nil
	})
	if err != nil {
		t.Fatalf("Ready nodes %v after %s, want %s (last error listing nodes: %v)", got, timeout, want, last)
	}
}

// etcdHealthy asks one etcd member for /health with the API server's client
// certificate from the state directory.
func etcdHealthy(p paths, name string) error {
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(filepath.Join(p.state, "pki", "etcd", "ca.crt"))
	if err != nil {
		return err
	}
	pool.AppendCertsFromPEM(ca)
	pair, err := tls.LoadX509KeyPair(filepath.Join(p.state, "pki", "etcd", "apiserver-etcd-client.crt"), filepath.Join(p.state, "pki", "etcd", "apiserver-etcd-client.key"))
	if err != nil {
		return err
	}
	hc := &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}}}}
	resp, err := hc.Get(fmt.Sprintf("https://%s:2379/health", cluster.Node(name).IP))
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || !strings.Contains(string(body), `"health":"true"`) {
		return fmt.Errorf("HTTP %d %s", resp.StatusCode, body)
	}
	return nil
}
