//go:build integration

package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-kbs/kbs/pkg/etcd"
	"github.com/kubectl-kbs/kbs/test/localcluster"
)

// withSpec is p with another spec file (the same state and kubeconfig):
// the operator edits the spec as the cluster grows.
func withSpec(t *testing.T, p paths, name string, etcdSpares ...string) paths {
	t.Helper()
	s, err := localcluster.Spec(cluster, "k8s", etcdSpares...)
	if err != nil {
		t.Fatal(err)
	}
	q := p
	q.spec = filepath.Join(filepath.Dir(p.spec), name)
	if err := os.WriteFile(q.spec, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
	return q
}

func etcdStatus(t *testing.T, p paths) []etcd.MemberStatus {
	t.Helper()
	out, progress, err := kbs(context.Background(), nil, append(p.args("etcd", "status"), "-o", "json")...)
	var v struct{ Members []etcd.MemberStatus }
	if jerr := json.Unmarshal([]byte(out), &v); jerr != nil {
		t.Fatalf("etcd status -o json: %v (%v)\n%s\n%s", jerr, err, out, progress)
	}
	return v.Members
}

func healthyMembers(rows []etcd.MemberStatus) []string {
	var out []string
	for _, r := range rows {
		if r.Healthy && !r.Learner {
			out = append(out, r.Name)
		}
	}
	return out
}

// apiPoller asks the API server for a namespace every 100 ms, each try with
// a 2 s timeout, and records the longest stretch without a successful
// answer: what a client of the cluster would notice.
type apiPoller struct {
	stop     chan struct{}
	done     sync.WaitGroup
	longest  time.Duration
	failures int
	requests int
}

func pollAPI(t *testing.T, p paths) *apiPoller {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", p.kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	// A slow answer is an answer: under make test's load a GET can take
	// seconds, and only a failed request is unavailability. The gaps
	// still show slowness.
	cfg.Timeout = 10 * time.Second
	cfg.QPS, cfg.Burst = 100, 100
	cs := kubernetes.NewForConfigOrDie(cfg)
	a := &apiPoller{stop: make(chan struct{})}
	a.done.Add(1)
	go func() {
		defer a.done.Done()
		lastOK := time.Now()
		for {
			select {
			case <-a.stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			_, err := cs.CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{})
			a.requests++
			if err != nil {
				a.failures++
				continue
			}
			if gap := time.Since(lastOK); gap > a.longest {
				a.longest = gap
			}
			lastOK = time.Now()
		}
	}()
	return a
}

// Stop ends polling; the longest gap counts from one good answer to the
// next (so a healthy poller reports about its interval).
func (a *apiPoller) Stop() (time.Duration, int, int) {
	close(a.stop)
	a.done.Wait()
	return a.longest, a.failures, a.requests
}

func testEtcdDay2(t *testing.T, p paths) {
	cs := client(t, p)

	t.Run("status", func(t *testing.T) {
		rows := etcdStatus(t, p)
		if len(rows) != 1 || !rows[0].Healthy || !rows[0].Leader || rows[0].DBSize == 0 || rows[0].ServerCert == nil || rows[0].PeerCert == nil {
			t.Fatalf("want etcd0 alone, healthy, leading, with a database and both certificates: %+v", rows)
		}
		out, _ := mustKbs(t, p.args("etcd", "status")...)
		for _, want := range []string{"etcd0", "healthy", "leader", "3.7.3"} {
			if !strings.Contains(out, want) {
				t.Errorf("status table lacks %q:\n%s", want, out)
			}
		}
	})

	t.Run("snapshot while workloads run, delete a namespace, restore", func(t *testing.T) {
		ctx := context.Background()
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "restore-me"}}
		if _, err := cs.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		cm := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "precious"}, Data: map[string]string{"k": "v"}}
		if _, err := cs.CoreV1().ConfigMaps("restore-me").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(t.TempDir(), "snapshots")
		os.MkdirAll(dir, 0o700)
		var snap string
		for range 3 { // three saves with --keep 2: the oldest goes
			out, progress := mustKbs(t, append(p.args("etcd", "snapshot", "save"), "--output", dir, "--keep", "2")...)
			snap = strings.TrimSpace(out)
			t.Logf("%s", strings.TrimSpace(progress))
		}
		if left, _ := filepath.Glob(filepath.Join(dir, "k8s-*.db")); len(left) != 2 {
			t.Fatalf("--keep 2 left %v", left)
		}
		if fi, err := os.Stat(snap); err != nil || fi.Mode().Perm() != 0o600 {
			t.Fatalf("snapshot %s: %v %v", snap, fi, err)
		}
		if err := cs.CoreV1().Namespaces().Delete(ctx, "restore-me", metav1.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		waitGone(t, cs, "restore-me")
		if _, progress, err := kbs(ctx, nil, append(p.args("etcd", "restore"), "--from", snap, "--yes")...); err == nil || !strings.Contains(progress, "--force") {
			t.Fatalf("a restore over a healthy etcd without --force was not refused: %v\n%s", err, progress)
		}
		_, progress := mustKbs(t, append(p.args("etcd", "restore"), "--from", snap, "--force", "--yes")...)
		t.Logf("restore:\n%s", progress)
		got, err := cs.CoreV1().ConfigMaps("restore-me").Get(ctx, "precious", metav1.GetOptions{})
		if err != nil || got.Data["k"] != "v" {
			t.Fatalf("the namespace's ConfigMap is not back after the restore: %v %v", got, err)
		}
		waitNodesReady(t, cs, 3)
		if kept := onNode(t, "etcd0", "sh", "-c", "ls -d /var/lib/etcd.before-restore-* | wc -l"); kept != "1" {
			t.Errorf("the data before the restore was not kept aside: %s", kept)
		}
	})

	t.Run("etcd grows from 1 to 3 members and back while the API serves", func(t *testing.T) {
		// The operator lists both new hosts (an even etcd count is refused
		// by the spec), then adds them one by one.
		p3 := withSpec(t, p, "cluster-3.yaml", "etcd1", "etcd2")
		poll := pollAPI(t, p)
		mustKbs(t, p3.args("etcd", "member", "add", "etcd1")...)
		mustKbs(t, p3.args("etcd", "member", "add", "etcd2")...)
		rows := etcdStatus(t, p3)
		if got := healthyMembers(rows); strings.Join(got, ",") != "etcd0,etcd1,etcd2" {
			t.Fatalf("after two adds the healthy voting members are %v: %+v", got, rows)
		}
		manifest := onNode(t, "master-0", "cat", "/etc/kubernetes/manifests/kube-apiserver.yaml")
		want := fmt.Sprintf("--etcd-servers=https://%s:2379,https://%s:2379,https://%s:2379", node("etcd0").IP, node("etcd1").IP, node("etcd2").IP)
		if !strings.Contains(manifest, want) {
			t.Fatalf("kube-apiserver does not use all three members (%s)", want)
		}
		cm, err := cs.CoreV1().ConfigMaps("kube-system").Get(context.Background(), "kubeadm-config", metav1.GetOptions{})
		if err != nil || !strings.Contains(cm.Data["ClusterConfiguration"], node("etcd2").IP.String()) {
			t.Fatalf("kubeadm-config does not list etcd2: %v", err)
		}
		mustKbs(t, p3.args("etcd", "member", "remove", "etcd2")...)
		mustKbs(t, p3.args("etcd", "member", "remove", "etcd1")...)
		longest, failures, requests := poll.Stop()
		t.Logf("API availability while etcd grew to 3 and shrank to 1: longest gap between good answers %s, %d of %d requests failed", longest.Round(10*time.Millisecond), failures, requests)
		// Four restarts of the only API server (two adds, two removes),
		// each ~5-8 s alone and up to 15 s under make test's load.
		if longest > time.Minute {
			t.Errorf("the API was unavailable for %s", longest)
		}
		if got := healthyMembers(etcdStatus(t, p)); strings.Join(got, ",") != "etcd0" {
			t.Fatalf("after two removes: %v", got)
		}
		if active := onNode(t, "etcd2", "sh", "-c", "systemctl is-active etcd.service || true"); active != "inactive" {
			t.Errorf("etcd still %s on the removed etcd2", active)
		}
		manifest = onNode(t, "master-0", "cat", "/etc/kubernetes/manifests/kube-apiserver.yaml")
		if want := fmt.Sprintf("--etcd-servers=https://%s:2379\n", node("etcd0").IP); !strings.Contains(manifest, want) {
			t.Fatalf("kube-apiserver is not back on etcd0 alone")
		}
		waitNodesReady(t, cs, 3)
	})

	t.Run("with --skip-apiservers etcd grows and shrinks with no failed API request", func(t *testing.T) {
		// The membership changes alone cost the API nothing; what costs
		// the seconds above is restarting the only API server.
		p3 := withSpec(t, p, "cluster-3.yaml", "etcd1", "etcd2")
		poll := pollAPI(t, p)
		for _, step := range [][]string{{"add", "etcd1"}, {"add", "etcd2"}, {"remove", "etcd2"}, {"remove", "etcd1"}} {
			mustKbs(t, append(p3.args("etcd", "member", step[0], step[1]), "--skip-apiservers")...)
		}
		longest, failures, requests := poll.Stop()
		t.Logf("API availability with --skip-apiservers: longest gap %s, %d of %d requests failed", longest.Round(10*time.Millisecond), failures, requests)
		if failures > 0 || longest > 3*time.Second {
			t.Errorf("the API noticed the membership changes: %d failed requests, longest gap %s", failures, longest)
		}
		if got := healthyMembers(etcdStatus(t, p)); strings.Join(got, ",") != "etcd0" {
			t.Fatalf("after adding and removing two members: %v", got)
		}
	})

	t.Run("etcd leaf certificates rotate without an API gap", func(t *testing.T) {
		before := presentedSerials(t, p)
		poll := pollAPI(t, p)
		_, progress := mustKbs(t, append(p.args("etcd", "certs", "rotate"), "--yes")...)
		longest, failures, requests := poll.Stop()
		t.Logf("rotation:\n%s", progress)
		t.Logf("API availability during the rotation: longest gap %s, %d of %d requests failed", longest.Round(10*time.Millisecond), failures, requests)
		if failures > 0 || longest > 3*time.Second {
			t.Errorf("the API noticed the rotation: %d failed requests, longest gap %s", failures, longest)
		}
		after := presentedSerials(t, p)
		if len(after) != 2 || after["server"] == before["server"] || after["peer"] == before["peer"] {
			t.Fatalf("etcd0 presents the same certificates after the rotation: before %v, after %v", before, after)
		}
		if pid := onNode(t, "etcd0", "systemctl", "show", "-p", "NRestarts", "--value", "etcd.service"); pid != "0" {
			t.Errorf("etcd restarted during the rotation: NRestarts=%s", pid)
		}
		mustKbs(t, p.args("etcd", "certs", "check")...)
	})

	t.Run("certificates about to expire fail check", func(t *testing.T) {
		short := withSpec(t, p, "cluster-short.yaml")
		b, _ := os.ReadFile(short.spec)
		os.WriteFile(short.spec, []byte(strings.Replace(string(b), "  etcd:\n", "  etcd:\n    certValidity: 1h\n", 1)), 0o600)
		mustKbs(t, append(short.args("etcd", "certs", "rotate"), "--yes")...)
		// Back to the spec's five years, whatever happens here.
		t.Cleanup(func() {
			if _, progress, err := kbs(context.Background(), nil, append(p.args("etcd", "certs", "rotate"), "--yes")...); err != nil {
				t.Errorf("rotating back to five-year certificates: %v\n%s", err, progress)
			}
		})
		out, progress, err := kbs(context.Background(), nil, append(short.args("etcd", "certs", "check"), "--warn-within", "2h")...)
		if err == nil || !strings.Contains(progress, "expire within 2h") {
			t.Fatalf("one-hour certificates passed check --warn-within 2h: %v\n%s\n%s", err, out, progress)
		}
		if !strings.Contains(out, "<- within 2h") || !strings.Contains(out, "(presented)") {
			t.Errorf("check does not mark them:\n%s", out)
		}
		mustKbs(t, append(short.args("etcd", "certs", "check"), "--warn-within", "30m")...)
	})

	t.Run("the etcd CA rotates through a trust bundle", func(t *testing.T) {
		caSerial := func() string {
			out, _ := mustKbs(t, append(p.args("etcd", "certs", "check"), "-o", "json")...)
			var v struct{ Certificates []etcd.CertRow }
			if err := json.Unmarshal([]byte(out), &v); err != nil {
				t.Fatal(err)
			}
			for _, r := range v.Certificates {
				if r.Where == "state" && r.Name == "ca.crt" {
					return r.Serial
				}
			}
			t.Fatalf("no CA in etcd certs check:\n%s", out)
			return ""
		}
		before := caSerial()
		poll := pollAPI(t, p)
		_, progress := mustKbs(t, append(p.args("etcd", "certs", "rotate", "--ca"), "--yes")...)
		longest, failures, requests := poll.Stop()
		t.Logf("CA rotation:\n%s", progress)
		t.Logf("API availability during the CA rotation (one etcd member, one API server, each restarted twice): longest gap %s, %d of %d requests failed", longest.Round(10*time.Millisecond), failures, requests)
		if after := caSerial(); after == before {
			t.Fatal("the CA in the state directory did not change")
		}
		if n := onNode(t, "etcd0", "grep", "-c", "BEGIN CERTIFICATE", "/etc/etcd/pki/ca.crt"); n != "1" {
			t.Fatalf("etcd0 trusts %s CAs after the rotation, want only the new one", n)
		}
		if _, err := os.Stat(filepath.Join(p.state, "pki", "etcd", "ca-old.crt")); !os.IsNotExist(err) {
			t.Fatalf("the old CA is still in the state directory: %v", err)
		}
		if err := etcdGet(p, true); err != nil {
			t.Fatalf("etcd with the new CA and client certificate: %v", err)
		}
		waitNodesReady(t, cs, 3)
	})

	t.Run("kubeadm certificates checked and renewed on the control plane", func(t *testing.T) {
		out, _ := mustKbs(t, p.args("certs", "check")...)
		for _, want := range []string{"master-0", "/etc/kubernetes/pki/apiserver.crt", "worker-0"} {
			if !strings.Contains(out, want) {
				t.Errorf("certs check lacks %q:\n%s", want, out)
			}
		}
		serial := func() string {
			return onNode(t, "master-0", "sh", "-c", "openssl x509 -noout -serial -in /etc/kubernetes/pki/apiserver.crt 2>/dev/null || sha256sum /etc/kubernetes/pki/apiserver.crt")
		}
		before := serial()
		_, progress := mustKbs(t, append(p.args("certs", "renew"), "--yes")...)
		t.Logf("renew:\n%s", progress)
		if serial() == before {
			t.Fatal("apiserver.crt did not change")
		}
		if _, err := client(t, p).CoreV1().Namespaces().Get(context.Background(), "default", metav1.GetOptions{}); err != nil {
			t.Fatalf("the merged admin credentials do not work after renew: %v", err)
		}
		waitNodesReady(t, cs, 3)
	})
}

// presentedSerials are the serials etcd0 presents now, by listener
// (server, peer), as etcd certs check reports them.
func presentedSerials(t *testing.T, p paths) map[string]string {
	t.Helper()
	out, _ := mustKbs(t, append(p.args("etcd", "certs", "check"), "-o", "json")...)
	var v struct{ Certificates []etcd.CertRow }
	if err := json.Unmarshal([]byte(out), &v); err != nil {
		t.Fatalf("etcd certs check -o json: %v\n%s", err, out)
	}
	got := map[string]string{}
	for _, r := range v.Certificates {
		if r.Where == "etcd0 (presented)" {
			got[r.Name] = r.Serial
		}
	}
	return got
}

func waitGone(t *testing.T, cs kubernetes.Interface, ns string) {
	t.Helper()
	err := wait.PollUntilContextTimeout(context.Background(), 500*time.Millisecond, 2*time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := cs.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		return err != nil, nil
	})
	if err != nil {
		t.Fatalf("namespace %s not gone: %v", ns, err)
	}
}

func waitNodesReady(t *testing.T, cs kubernetes.Interface, want int) {
	t.Helper()
	var last string
	err := wait.PollUntilContextTimeout(context.Background(), time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		list, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
		if err != nil {
			last = err.Error()
			return false, nil
		}
		ready := 0
		var states []string
		for _, n := range list.Items {
			for _, c := range n.Status.Conditions {
				if c.Type == corev1.NodeReady {
					states = append(states, n.Name+"="+string(c.Status))
					if c.Status == corev1.ConditionTrue {
						ready++
					}
				}
			}
		}
		last = strings.Join(states, " ")
		return ready == want, nil
	})
	if err != nil {
		t.Fatalf("want %d nodes Ready: %s", want, last)
	}
}
