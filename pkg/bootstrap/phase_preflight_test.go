package bootstrap

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kubectl-kbs/kbs/pkg/remote/remotetest"
)

// answer scripts one command on one host, ahead of the healthy script.
type answer struct {
	host, pattern, out string
	err                error
}

// checkCmd is the pattern of the preflight check called name's command.
func checkCmd(name string) string {
	for _, c := range preflightChecks {
		if c.name == name {
			return "^" + regexp.QuoteMeta(c.cmd) + "$"
		}
	}
	panic("no preflight check " + name)
}

// passingChecks are what each check's command prints on a host that is
// ready for kbs (for examples/k8s.yaml's Kubernetes version).
var passingChecks = map[string]string{
	"os":                "Linux x86_64",
	"systemd":           "running",
	"swap":              "0",
	"kernel-modules":    "",
	"sysctls":           "net.ipv4.ip_forward=1\nnet.bridge.bridge-nf-call-iptables=1",
	"container-runtime": "/run/containerd/containerd.sock",
	"kube-binaries":     "kubeadm v1.37.2\nkubelet v1.37.2\nkubectl v1.37.2",
	"time-sync":         "yes",
	"ports":             "",
}

var probeListRE = regexp.MustCompile(`for w in (.+?); do grep`)

// scriptPreflight makes every host pass every check and every cross-host
// probe, except where overrides say otherwise. Any command it does not
// know fails, so a check added to preflight fails these tests until they
// script it.
func scriptPreflight(f *fakeInit, overrides []answer) {
	// A Conn's first matching rule wins: the overrides go in first.
	for _, a := range overrides {
		f.conn(a.host).On(a.pattern, a.out, a.err)
	}
	f.ssh.Configure(func(c *remotetest.Conn) {
		c.SetDefault("", remotetest.Exit(127, "not scripted"))
		for _, chk := range preflightChecks {
			c.On(checkCmd(chk.name), passingChecks[chk.name]+"\n", nil)
		}
		c.On(`^command -v socat$`, "/usr/bin/socat\n", nil)
		c.On(`^pkill -f `, "", nil) // stale probes of a killed run
		c.On(`^ip -d link show type vxlan `, "0\n", nil)
		c.On(`^rm -f /tmp/kbs-udp-\d+; setsid nohup timeout 60 socat `, "4242\n", nil)
		c.On(`^socat -u /dev/null 'TCP:[0-9.]+:\d+,connect-timeout=3'$`, "", nil)
		c.On(`^echo 'kbs-probe-from-\S+' \| socat -u - 'UDP-SENDTO:`, "", nil)
		// Every datagram arrived: the receiver's file holds each sender.
		c.OnFunc(`^f=/tmp/kbs-udp-8472; `, func(cmd string, _ []byte) ([]byte, error) {
			m := probeListRE.FindStringSubmatch(cmd)
			if m == nil {
				return nil, remotetest.Exit(1, "no probe list")
			}
			return []byte(strings.ReplaceAll(strings.ReplaceAll(m[1], "'", ""), " ", "\n") + "\n"), nil
		})
		c.On(`^kill 4242( 4242)* 2>/dev/null; rm -f /tmp/kbs-udp-\*; true$`, "", nil)
	})
}

var failedChecksRE = regexp.MustCompile(`checks failed: (.*) \(fix them`)

// reportRow matches the preflight table's row for host's check.
func reportRow(host, check, status, detail string) *regexp.Regexp {
	return regexp.MustCompile(`(?m)^\[preflight\] ` + regexp.QuoteMeta(host) + ` +` + regexp.QuoteMeta(check) + ` +` + regexp.QuoteMeta(status) + ` +` + regexp.QuoteMeta(detail))
}

// Preflight, for real against scripted hosts: every check passes on ready
// hosts; one failing check stops init and is named host/check in the
// error; warnings and ignored checks do not stop it.
func TestPreflightPhase(t *testing.T) {
	swapOn := answer{host: "worker-1", pattern: checkCmd("swap"), out: "1\n"}
	for _, tc := range []struct {
		name    string
		ignore  []string
		answers []answer
		down    string // a host SSH cannot reach
		// failed is the host/check list the error names; nil: init goes on.
		failed []string
		// wantErr is an error that is not a failed check.
		wantErr string
		// rows are report rows that must be printed.
		rows  []*regexp.Regexp
		check func(*testing.T, *fakeInit)
	}{
		{
			name: "ready hosts pass every check and probe",
			rows: []*regexp.Regexp{
				reportRow("etcd-0", "ports", "ok", "required ports free"),
				reportRow("master-0", "kube-binaries", "ok", "kubeadm, kubelet, kubectl v1.37.2"),
				reportRow("master-0", "reachability", "ok", "→ etcd-0:2379/tcp (API server to etcd) open"),
				reportRow("worker-1", "reachability", "ok", "→ worker-0:8472/udp (flannel VXLAN) datagram arrived"),
			},
			check: func(t *testing.T, f *fakeInit) {
				// 4 checks on the etcd host, 9 on each of 3 nodes; 1 path
				// to etcd, 2 to the API server, 6 VXLAN pairs.
				if n := len(regexp.MustCompile(`(?m)^\[preflight\] \S+ +\S+ +ok `).FindAllString(f.output(), -1)); n != 4+3*9+1+2+6 {
					t.Errorf("%d rows ok, want 40:\n%s", n, f.output())
				}
				// A listener per endpoint nothing serves yet, cleaned up.
				for _, ran := range []struct{ host, pattern string }{
					{"etcd-0", `TCP-LISTEN:2379,`}, {"master-0", `TCP-LISTEN:6443,`}, {"worker-0", `UDP-RECV:8472,`}, {"etcd-0", `^kill 4242 `},
				} {
					if !f.conn(ran.host).Ran(ran.pattern) {
						t.Errorf("%s: nothing ran matching %q", ran.host, ran.pattern)
					}
				}
			},
		},
		{name: "swap on a worker", answers: []answer{swapOn}, failed: []string{"worker-1/swap"},
			rows: []*regexp.Regexp{reportRow("worker-1", "swap", "FAILED", "active swap devices: 1 (kubelet wants none)")}},
		{name: "swap ignored by name", ignore: []string{"swap"}, answers: []answer{swapOn},
			rows: []*regexp.Regexp{reportRow("worker-1", "swap", "ignored", "active swap devices: 1")}},
		{name: "another architecture", answers: []answer{{host: "etcd-0", pattern: checkCmd("os"), out: "Linux armv7l\n"}}, failed: []string{"etcd-0/os"}},
		{name: "a kubelet of another version", answers: []answer{{host: "master-0", pattern: checkCmd("kube-binaries"), out: "kubeadm v1.37.2\nkubelet v1.36.1\nkubectl v1.37.2\n"}},
			failed: []string{"master-0/kube-binaries"},
			rows:   []*regexp.Regexp{reportRow("master-0", "kube-binaries", "FAILED", "want v1.37.2, found kubelet v1.36.1")}},
		{name: "kube binaries not installed yet only warn", answers: []answer{{host: "worker-0", pattern: checkCmd("kube-binaries"), out: "kubeadm missing\nkubelet missing\nkubectl missing\n"}},
			rows: []*regexp.Regexp{reportRow("worker-0", "kube-binaries", "warn", "not installed: kubeadm, kubelet, kubectl")}},
		{name: "the API server port held by another process", answers: []answer{{host: "master-0", pattern: checkCmd("ports"), out: `LISTEN 0 4096 0.0.0.0:6443 0.0.0.0:* users:(("haproxy",pid=812,fd=7))` + "\n"}},
			failed: []string{"master-0/ports"},
			rows:   []*regexp.Regexp{reportRow("master-0", "ports", "FAILED", `ports in use: 6443 (held by "haproxy")`)}},
		{name: "etcd's own ports on a re-run", answers: []answer{{host: "etcd-0", pattern: checkCmd("ports"), out: `LISTEN 0 4096 10.10.0.10:2379 0.0.0.0:* users:(("etcd",pid=901,fd=9))` + "\n"}},
			rows: []*regexp.Regexp{reportRow("etcd-0", "ports", "ok", "required ports free")},
			check: func(t *testing.T, f *fakeInit) {
				// etcd itself answers the probe: no listener in its way.
				if f.conn("etcd-0").Ran(`TCP-LISTEN:2379,`) {
					t.Error("a listener was started on 2379, where etcd listens")
				}
			}},
		{name: "a check that cannot run", answers: []answer{{host: "etcd-0", pattern: checkCmd("time-sync"), err: remotetest.Exit(255, "timedatectl: Failed to connect to bus")}},
			failed: []string{"etcd-0/time-sync"},
			rows:   []*regexp.Regexp{reportRow("etcd-0", "time-sync", "FAILED", "could not check: ")}},
		{name: "kernel modules not loaded yet only warn", answers: []answer{{host: "master-0", pattern: checkCmd("kernel-modules"), out: "br_netfilter\n"}},
			rows: []*regexp.Regexp{reportRow("master-0", "kernel-modules", "warn", "not loaded: br_netfilter")}},
		{name: "the API server unreachable from a worker", answers: []answer{{host: "worker-0", pattern: `^socat -u /dev/null 'TCP:10\.10\.0\.20:6443,`, err: remotetest.Exit(1, "Connection refused")}},
			failed: []string{"worker-0/reachability"},
			rows:   []*regexp.Regexp{reportRow("worker-0", "reachability", "FAILED", "→ master-0:6443/tcp (kubelet to API server) no connection")}},
		{name: "VXLAN datagrams to a node lost", answers: []answer{{host: "master-0", pattern: `^f=/tmp/kbs-udp-8472; `, out: "kbs-probe-from-worker-1\n"}},
			failed: []string{"worker-0/reachability"},
			rows:   []*regexp.Regexp{reportRow("worker-0", "reachability", "FAILED", "→ master-0:8472/udp (flannel VXLAN) datagram lost")}},
		{name: "no socat on a host: paths not checked", answers: []answer{{host: "etcd-0", pattern: `^command -v socat$`, err: remotetest.Exit(1, "")}},
			rows: []*regexp.Regexp{reportRow("(all)", "reachability", "warn", "socat is not installed on etcd-0: cross-host paths not checked")},
			check: func(t *testing.T, f *fakeInit) {
				for _, h := range f.Cluster().Spec.Hosts {
					if f.conn(h.Name).Ran(`socat (TCP-LISTEN|-u UDP-RECV)`) {
						t.Errorf("%s: a listener was started though reachability is not checked", h.Name)
					}
				}
			}},
		{name: "a host SSH cannot reach", down: "worker-1", wantErr: "connecting to worker-1 (10.10.0.31)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFakeInit(t, loadExample(t, "k8s"), false)
			f.Ignore = tc.ignore
			if tc.down != "" {
				f.ssh.Down(tc.down, nil)
			}
			scriptPreflight(f, tc.answers)
			err := f.run(context.Background(), "preflight")
			switch {
			case tc.wantErr != "":
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want one saying %q", err, tc.wantErr)
				}
			case tc.failed == nil:
				if err != nil {
					t.Fatalf("preflight failed: %v\n%s", err, f.output())
				}
			default:
				m := failedChecksRE.FindStringSubmatch(errString(err))
				if m == nil || !slices.Equal(strings.Split(m[1], ", "), tc.failed) {
					t.Fatalf("error %v, want one naming exactly %v\n%s", err, tc.failed, f.output())
				}
			}
			for _, row := range tc.rows {
				if !row.MatchString(f.output()) {
					t.Errorf("no report row matching %s in\n%s", row, f.output())
				}
			}
			for _, h := range f.Cluster().Spec.Hosts {
				c := f.conn(h.Name)
				if len(c.Writes()) != 0 {
					t.Errorf("%s: preflight wrote %v", h.Name, c.Writes())
				}
				if u := c.Unmatched(); len(u) != 0 {
					t.Errorf("%s: preflight ran commands this test does not know: %q", h.Name, u)
				}
			}
			if tc.down == "" && !slices.Equal(f.dialed(), names(f.Cluster().Spec.Hosts)) {
				t.Errorf("dialed %v, want every host", f.dialed())
			}
			if tc.check != nil {
				tc.check(t, f)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

// A dry run plans each check on the hosts of its roles, and no probe.
func TestPreflightDryRunPlan(t *testing.T) {
	f := newFakeInit(t, loadExample(t, "k8s"), true)
	if err := f.run(context.Background(), "preflight"); err != nil {
		t.Fatal(err)
	}
	out := f.output()
	for _, tc := range []struct {
		host, check string
		planned     bool
	}{
		{"etcd-0", "os", true}, {"etcd-0", "ports", true}, {"etcd-0", "swap", false}, {"etcd-0", "kube-binaries", false},
		{"master-0", "swap", true}, {"worker-1", "kube-binaries", true}, {"worker-1", "time-sync", true},
	} {
		if got := strings.Contains(out, "[plan] "+tc.host+": would check "+tc.check+": "); got != tc.planned {
			t.Errorf("%s %s planned: %v, want %v", tc.host, tc.check, got, tc.planned)
		}
	}
	if strings.Contains(out, "socat") || len(f.ssh.Dials()) != 0 {
		t.Errorf("a dry run probes nothing and dials nothing: dials %v\n%s", f.ssh.Dials(), out)
	}
}
