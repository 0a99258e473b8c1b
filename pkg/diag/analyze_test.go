package diag

import (
	"cmp"
	"encoding/json"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// fixture lines, as the real sources print them (captured from nodes and
// kubelets; clock skew and swap cannot be produced in a container).
var fixture = map[string]map[string]string{
	"master-0": {
		"journal/kubelet.log":  "2026-11-25T04:34:16.100000+00:00 master-0 kubelet[312]: E1125 04:34:16.100000 312 kubelet.go:3117] \"Container runtime network not ready\" networkReady=\"NetworkReady=false reason:NetworkPluginNotReady message:Network plugin returns error: cni plugin not initialized\"\n",
		"systemctl-status.txt": "● kubelet.service - kubelet\n     Loaded: loaded\n     Active: active (running) since Wed\n● containerd.service - containerd\n     Active: active (running) since Wed\n",
		"listening-ports.txt":  "tcp   LISTEN 0 4096 *:6443 *:* users:((\"kube-apiserver\",pid=1,fd=3))\ntcp   LISTEN 0 4096 127.0.0.1:10257 0.0.0.0:* users:((\"kcm\",pid=2,fd=3))\ntcp   LISTEN 0 4096 *:10250 *:*\n",
		"timedatectl.txt":      "System clock synchronized: no\n              NTP service: inactive\n",
		"resources.txt":        "Filesystem Size Used Avail Use% Mounted on\n/dev/sda1 100G 95G 5G 95% /\n\n== swap\n/swapfile file 2G 0B -2\n",
		"cni.txt":              "ls: cannot access '/etc/cni/net.d': No such file or directory\n",
		"certificates.txt":     "/etc/kubernetes/pki/apiserver.crt notAfter=Jan  1 00:00:00 2020 GMT\n/etc/kubernetes/pki/ca.crt notAfter=Dec  5 00:00:00 2026 GMT\n",
	},
	"worker-0": {
		"journal/kubelet.log": strings.Repeat("2026-11-25T04:40:00.000000+00:00 worker-0 systemd[1]: kubelet.service: Main process exited, code=exited, status=1/FAILURE\n", 4) +
			"2026-11-25T04:40:01.000000+00:00 worker-0 kubelet[9]: E1125 04:40:01.000000 9 run.go:72] \"command failed\" err=\"failed to run Kubelet: validate service connection: validate CRI v1 runtime API for endpoint \\\"unix:///run/containerd/containerd.sock\\\": rpc error: code = Unavailable desc = connection error: desc = \\\"transport: Error while dialing: dial unix /run/containerd/containerd.sock: connect: no such file or directory\\\"\"\n" +
			"2026-11-25T04:40:02.000000+00:00 worker-0 kubelet[9]: E1125 04:40:02.000000 9 reflector.go:1] dial tcp 10.0.0.20:6443: connect: connection refused\n",
		"systemctl-status.txt": "● kubelet.service - kubelet\n     Active: activating (auto-restart) (Result: exit-code) since Wed\nUnit containerd.service could not be found.\n",
		"listening-ports.txt":  "tcp LISTEN 0 128 0.0.0.0:22 0.0.0.0:*\n",
		"cni.txt":              "total 8\n== /etc/cni/net.d/10-flannel.conflist\n{}\n",
	},
}

func writeFixture(t *testing.T, offsets map[string]float64, nodesJSON, versionJSON, nodeJSON string) string {
	t.Helper()
	return writeFixtureWith(t, nil, offsets, nodesJSON, versionJSON, nodeJSON)
}

// writeFixtureWith writes the fixture bundle with an analyzer (if any)
// watching it being written.
func writeFixtureWith(t *testing.T, an *Analyzer, offsets map[string]float64, nodesJSON, versionJSON, nodeJSON string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "b.tar.gz")
	b, err := NewBundle(path, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if an != nil {
		b.Analyze(an)
	}
	roles := map[string]string{"master-0": "control-plane", "worker-0": "worker", "worker-1": "worker", "etcd0": "etcd"}
	for node, files := range fixture {
		for name, content := range files {
			b.Add(node, name, "ssh", strings.NewReader(content))
		}
	}
	for node, role := range roles {
		info := NodeInfo{Role: role, Address: "10.0.0.1", Transport: "ssh"}
		if o, ok := offsets[node]; ok {
			info.ClockOffsetSeconds = &o
		}
		if node == "etcd0" {
			info.Error = "ssh: dial tcp 10.0.0.10:22: connect: connection refused"
		}
		b.SetNode(node, info)
	}
	b.Add(ClusterDir, "nodes.json", "api", strings.NewReader(nodesJSON))
	b.Add(ClusterDir, "version.json", "api", strings.NewReader(versionJSON))
	b.Add("worker-0", "api/node.json", "api", strings.NewReader(nodeJSON))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// Analyzing a bundle while it is written finds what reading it back finds.
func TestStreamingAnalysisMatchesReadBack(t *testing.T) {
	an := NewAnalyzer()
	path := writeFixtureWith(t, an, map[string]float64{"worker-0": 7.5},
		`{"items":[{"metadata":{"name":"master-0"}},{"metadata":{"name":"worker-0"}}]}`, `{"gitVersion":"v1.37.2"}`,
		`{"metadata":{"name":"worker-0"},"status":{"nodeInfo":{"kubeletVersion":"v1.33.1"}}}`)
	back, err := Analyze(path)
	if err != nil {
		t.Fatal(err)
	}
	streamed, err := an.Finish(back.Manifest)
	if err != nil {
		t.Fatal(err)
	}
	if len(back.Findings) < 10 || !reflect.DeepEqual(streamed.Findings, back.Findings) {
		t.Errorf("findings differ:\n streamed %+v\n read back %+v", streamed.Findings, back.Findings)
	}
	byTime := func(evs []Event) []Event {
		evs = slices.Clone(evs)
		slices.SortFunc(evs, func(a, b Event) int {
			return cmp.Or(a.Time.Compare(b.Time), strings.Compare(a.Path, b.Path), cmp.Compare(a.Line, b.Line))
		})
		return evs
	}
	if len(back.Timeline) == 0 || !reflect.DeepEqual(byTime(streamed.Timeline), byTime(back.Timeline)) {
		t.Errorf("timelines differ: %d streamed, %d read back", len(streamed.Timeline), len(back.Timeline))
	}
}

func TestAnalyzersOnFixtures(t *testing.T) {
	nodeJSON := `{"metadata":{"name":"worker-0"},"status":{"nodeInfo":{"kubeletVersion":"v1.33.1"},"conditions":[
		{"type":"Ready","status":"False","reason":"KubeletNotReady","message":"container runtime network not ready: cni plugin not initialized"},
		{"type":"DiskPressure","status":"True","reason":"KubeletHasDiskPressure","message":"kubelet has disk pressure"}]}}`
	path := writeFixture(t, map[string]float64{"master-0": 0.01, "worker-0": 7.5, "worker-1": 0.02},
		`{"items":[{"metadata":{"name":"master-0"}},{"metadata":{"name":"worker-0"}}]}`,
		`{"gitVersion":"v1.37.2"}`, nodeJSON)
	a, err := Analyze(path)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]Finding{}
	for _, f := range a.Findings {
		got[f.ID+"@"+f.Node] = f
	}
	want := []string{
		"cni-missing@master-0", "ntp-unsynced@master-0", "disk-full@master-0", "swap-on@master-0",
		"cert-expired@master-0", "cert-expiring@master-0", "ports-closed@master-0",
		"kubelet-crashloop@worker-0", "runtime-down@worker-0", "apiserver-unreachable@worker-0",
		"node-notready@worker-0", "resource-pressure@worker-0", "version-skew@worker-0", "clock-skew@worker-0",
		"never-joined@worker-1", "collection-failed@etcd0", "ports-closed@worker-0", "cni-missing@worker-0",
	}
	for _, w := range want {
		f, ok := got[w]
		if !ok {
			t.Errorf("missing finding %s", w)
			continue
		}
		if f.Fix == "" || f.Severity == "" || len(f.Evidence) == 0 || f.Evidence[0].Path == "" {
			t.Errorf("%s lacks fix, severity or evidence: %+v", w, f)
		}
	}
	if f := got["ports-closed@master-0"]; !strings.Contains(f.Evidence[0].Text, "10259 (kube-scheduler)") || strings.Contains(f.Evidence[0].Text, "6443") {
		t.Errorf("ports: %+v", f.Evidence)
	}
	if ev := got["cni-missing@master-0"].Evidence[0]; ev.Line != 1 || !strings.HasSuffix(ev.Path, "journal/kubelet.log") {
		t.Errorf("evidence should name file and line: %+v", ev)
	}
	// Healthy facts do not produce findings.
	for _, bad := range []string{"kubelet-down@master-0", "runtime-down@master-0", "clock-skew@master-0", "never-joined@master-0", "swap-on@worker-0"} {
		if _, ok := got[bad]; ok {
			t.Errorf("false finding %s", bad)
		}
	}
	if len(RuleIDs()) < 10 {
		t.Fatalf("only %d analyzers", len(RuleIDs()))
	}
}

// The timeline merges nodes in UTC and corrects each node's clock.
func TestTimelineCorrectsClocks(t *testing.T) {
	path := writeFixture(t, map[string]float64{"master-0": 0, "worker-0": 600}, `{"items":[]}`, `{"gitVersion":"v1.37.2"}`, `{}`)
	a, err := Analyze(path)
	if err != nil {
		t.Fatal(err)
	}
	var master, worker time.Time
	for _, e := range a.Timeline {
		if e.Node == "master-0" && master.IsZero() {
			master = e.Time
		}
		if e.Node == "worker-0" && strings.Contains(e.Text, "connection refused") && !strings.Contains(e.Text, "containerd") {
			worker = e.Time
		}
	}
	// worker-0 logged 04:40:02 on a clock 10 minutes fast: really 04:30:02,
	// before master-0's 04:34:16.
	if want := time.Date(2026, 11, 25, 4, 30, 2, 0, time.UTC); !worker.Equal(want) {
		t.Fatalf("worker event at %v, want %v (corrected)", worker, want)
	}
	if !worker.Before(master) {
		t.Fatal("the corrected timeline is out of order")
	}
	for i := 1; i < len(a.Timeline); i++ {
		if a.Timeline[i].Time.Before(a.Timeline[i-1].Time) {
			t.Fatal("timeline not sorted")
		}
	}
	b, _ := json.Marshal(a)
	if strings.Contains(string(b), "PRIVATE KEY") {
		t.Fatal("key material")
	}
}

// A condition the kubelet logged while bootstrapping and that then cleared
// is history, not a finding.
func TestStaleLogConditionsIgnored(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.tar.gz")
	b, err := NewBundle(path, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	b.Add("master-0", "journal/kubelet.log", "ssh", strings.NewReader(
		"2026-11-25T04:00:00.000000+00:00 master-0 kubelet[1]: E1125 04:00:00.000000 1 reflector.go:1] dial tcp 10.0.0.20:6443: connect: connection refused\n"+
			"2026-11-25T04:00:01.000000+00:00 master-0 kubelet[1]: E1125 04:00:01.000000 1 kubelet.go:1] \"Container runtime network not ready\" err=\"cni plugin not initialized\"\n"+
			"2026-11-25T04:10:00.000000+00:00 master-0 kubelet[1]: I1125 04:10:00.000000 1 kubelet.go:2] \"Node became ready\"\n"))
	b.SetNode("master-0", NodeInfo{Role: "control-plane"})
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	a, err := Analyze(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range a.Findings {
		if f.ID == "apiserver-unreachable" || (f.ID == "cni-missing" && strings.Contains(f.Evidence[0].Path, "kubelet")) {
			t.Errorf("stale condition reported: %+v", f)
		}
	}
}
