package diag

import (
	"bytes"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// analyzer is one analyzer's identity: what it reports and what to try.
type analyzer struct {
	id, severity, title, fix string
}

// The analyzers. Each has an id (stable, for scripts), a severity and the
// fix an operator would try first.
var analyzers = []analyzer{
	{"cni-missing", Critical, "no pod network: the kubelet reports the CNI as not initialized", "install the pod network (kubectl kbs init phase cni -f SPEC, or apply your CNI's manifest) and check /etc/cni/net.d on the node holds its config"},
	{"kubelet-down", Critical, "the kubelet is not running", "journalctl -u kubelet -n 50 on the node for why; systemctl enable --now kubelet"},
	{"kubelet-crashloop", Critical, "the kubelet is crash-looping (systemd keeps restarting it)", "read the last error before each exit in journal/kubelet.log; common causes: no container runtime, a missing /var/lib/kubelet/config.yaml (the node never joined), swap on, a bad flag"},
	{"runtime-down", Critical, "the container runtime is down or unreachable", "systemctl status containerd; journalctl -u containerd; check the socket /run/containerd/containerd.sock and the kubelet's --container-runtime-endpoint"},
	{"swap-on", Warning, "swap is on", "swapoff -a and comment the swap line out of /etc/fstab, or configure the kubelet's memorySwap and failSwapOn=false deliberately"},
	{"cert-expired", Critical, "a certificate has expired", "kubeadm certs check-expiration on the control plane; kubeadm certs renew all, then restart the static pods; for kubelet client certs enable rotation or rejoin the node"},
	{"cert-expiring", Warning, "a certificate expires within 30 days", "renew before it expires: kubeadm certs renew (control plane), kubectl kbs inspect certs -f SPEC to see them all"},
	{"resource-pressure", Critical, "the node reports memory, disk or PID pressure", "free disk (images: crictl rmi --prune; logs: journalctl --vacuum-size), memory or processes on the node; the kubelet evicts pods until the pressure is gone"},
	{"disk-full", Warning, "a filesystem is almost full (space or inodes ≥ 90%)", "free space on the filesystem named in the evidence; /var/lib/containerd and /var/log are the usual suspects"},
	{"clock-skew", Warning, "the node's clock differs from the others", "enable time synchronization (systemd-timesyncd or chrony) on every node; certificates and etcd leases need agreeing clocks"},
	{"ntp-unsynced", Warning, "the clock is not synchronized with NTP", "timedatectl set-ntp true, or configure chrony/systemd-timesyncd with a reachable server"},
	{"ports-closed", Warning, "ports this role needs are not listening", "check the component that owns each port (see the evidence) is running: static pods on control planes (crictl ps -a), etcd.service, the kubelet"},
	{"version-skew", Critical, "kubelet and API server versions are outside the supported skew", "the kubelet may be up to three minor versions older than the API server and never newer: upgrade or downgrade the kubelet (kubeadm upgrade node, then the kubelet package)"},
	{"never-joined", Critical, "a host of the spec is not a node of the cluster", "kubectl kbs join -f SPEC HOST (the operator's ik8s case); if it joined before, kubectl kbs reset -f SPEC HOST first"},
	{"apiserver-unreachable", Critical, "the node cannot reach the API server", "from the node: curl -k https://API:6443/healthz; check the API server runs (crictl ps on the control plane), the address in /etc/kubernetes/kubelet.conf, firewalls and routes"},
	{"node-notready", Critical, "the node is NotReady", "the condition's message says why; kubectl describe node and the kubelet journal in this bundle"},
	{"vip-split", Critical, "the control-plane endpoint's VIP is held by more than one control plane", "VRRP between the control planes is blocked (a firewall dropping IP protocol 112 or the unicast peers) or another cluster uses the same virtual_router_id: fix it, then systemctl restart keepalived on all but one of them"},
	{"vip-none", Critical, "no control plane holds the control-plane endpoint's VIP", "keepalived gives the VIP up when haproxy is down (its track script): systemctl status keepalived haproxy on the control planes; journal/keepalived.log says which state each entered and why"},
	{"lb-unit-down", Critical, "keepalived or haproxy is not running on a control plane", "systemctl enable --now keepalived haproxy; journalctl -u haproxy (a configuration error, a port taken) or -u keepalived"},
	{"lb-backend-down", Warning, "haproxy counts an API server as down", "that control plane's API server fails /readyz or is unreachable on 6443: crictl ps -a and the kube-apiserver log there"},
	{"calico-node-down", Critical, "calico-node is not running on a node of a calico cluster", "kubectl -n kube-system get pods -l k8s-app=calico-node -o wide; files/calico-node.log in this bundle says why (the datastore unreachable, an IP pool it cannot create, felix failing its health checks)"},
	{"calico-vxlan-missing", Critical, "calico-node runs but the node has no vxlan.calico interface: pods on other nodes are unreachable", "felix creates the tunnel once the node has a VXLAN tunnel address: check the IP pool has vxlanMode Always or CrossSubnet (kubectl get ippools -o yaml) and files/calico-node.log for VXLAN errors"},
	{"calico-pool-outside", Critical, "a calico IP pool lies outside the cluster's pod subnet", "pods get addresses kube-proxy and the controllers do not treat as pods: recreate the pool inside networking.podSubnet (kubectl get ippools -o yaml), or set CALICO_IPV4POOL_CIDR to the pod subnet before calico first starts"},
	{"transport-fallback", Warning, "the preferred transport failed; another one served the node", "the evidence names the failure: an SSH daemon that is down or refuses kbs is worth fixing before the kubelet is needed to reach the node"},
	{"collection-failed", Critical, "the node could not be read", "the error says which transport failed; check the host is up and sshd runs, or use --via api|pod"},
}

var rulesByID = func() map[string]analyzer {
	m := map[string]analyzer{}
	for _, r := range analyzers {
		m[r.id] = r
	}
	return m
}()

// RuleIDs lists every analyzer.
func RuleIDs() []string {
	out := make([]string, len(analyzers))
	for i, r := range analyzers {
		out[i] = r.id
	}
	return out
}

// lineRule matches single log lines.
type lineRule struct {
	id    string
	files []string // relative paths (prefix match)
	re    *regexp.Regexp
	// hints: the regexp runs only on lines holding one of these, so a
	// gigabyte of ordinary lines costs a few substring searches each.
	hints [][]byte
}

func (l *lineRule) hinted(line []byte) bool {
	for _, h := range l.hints {
		if bytes.Contains(line, h) {
			return true
		}
	}
	return false
}

// klogInfo says whether a line is a klog Info line ("I1125 04:34:…", bare
// or after journald's "unit[pid]: " prefix). The log conditions the rules
// look for are logged as errors or warnings, so Info lines — nearly all of a
// busy kubelet's log — skip the rules entirely.
func klogInfo(line []byte) bool {
	if i := bytes.Index(line, []byte("]: ")); i >= 0 && i < 120 {
		line = line[i+3:]
	}
	return len(line) > 5 && line[0] == 'I' && isDigit(line[1]) && isDigit(line[2]) && isDigit(line[3]) && isDigit(line[4])
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func hints(s ...string) [][]byte {
	out := make([][]byte, len(s))
	for i, x := range s {
		out[i] = []byte(x)
	}
	return out
}

func (l lineRule) applies(rel string) bool {
	for _, f := range l.files {
		if strings.HasPrefix(rel, f) {
			return true
		}
	}
	return false
}

func (l lineRule) match(line string) bool { return l.re.MatchString(line) }

var kubeletLogs = []string{"journal/kubelet.log", "files/kubelet.log"}

var lineRules = []lineRule{
	{"cni-missing", kubeletLogs, regexp.MustCompile(`(?i)cni (plugin not initialized|config uninitialized)|network plugin is not ready|NetworkPluginNotReady`), hints("cni", "CNI", "etwork plugin", "NetworkPluginNotReady")},
	{"runtime-down", kubeletLogs, regexp.MustCompile(`containerd\.sock.*(no such file or directory|connection refused)|container runtime is down|ContainerRuntimeNotReady|failed to get runtime version`), hints("containerd.sock", "runtime")},
	{"swap-on", kubeletLogs, regexp.MustCompile(`(?i)running with swap on is not supported`), hints("swap")},
	{"cert-expired", append(kubeletLogs, "journal/etcd.log", "files/"), regexp.MustCompile(`x509: certificate has expired`), hints("x509")},
	{"apiserver-unreachable", kubeletLogs, regexp.MustCompile(`dial tcp [^ ]+:6443: (connect: (connection refused|no route to host)|i/o timeout)`), hints(":6443")},
}

// lineState carries per-file parsing for sources with structure: unit
// status blocks, the swap section, df output, timedatectl, ports, certs.
type lineState struct {
	f       file
	unit    string // current systemctl unit block
	swap    bool   // inside "== swap"
	ports   map[int]bool
	restart map[string]int
	exited  int // "Main process exited" lines in the kubelet journal
	exitEv  []Evidence
}

// wants says whether this file needs line-by-line structure parsing (small
// state files do; logs do not, beyond the kubelet journal's exits).
func (s *lineState) wants(raw []byte) bool {
	switch s.f.rel {
	case "journal/kubelet.log":
		return bytes.Contains(raw, []byte("kubelet.service: "))
	case "systemctl-status.txt", "resources.txt", "timedatectl.txt", "listening-ports.txt", "certificates.txt", "cni.txt", "loadbalancer.txt", "calico.txt", "network.txt":
		return true
	}
	return false
}

func newLineState(f file) *lineState {
	return &lineState{f: f, ports: map[int]bool{}, restart: map[string]int{}}
}

var (
	dfUse     = regexp.MustCompile(`\s(\d+)%\s+(/\S*)$`)
	portRE    = regexp.MustCompile(`[\s:\]](\d+)\s+\S+:\*`)
	notAfter  = regexp.MustCompile(`^(\S+) notAfter=(.+)$`)
	unitStart = regexp.MustCompile(`^[●○×↻*]?\s*(kubelet|containerd|etcd)\.service`)
)

func (s *lineState) line(st *scanState, ev Evidence) {
	l := ev.Text
	switch s.f.rel {
	case "systemctl-status.txt":
		if m := unitStart.FindStringSubmatch(l); m != nil {
			s.unit = m[1]
		}
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "Active:") && s.unit != "" {
			st.fact(s.f.node, s.unit+"-active", Evidence{ev.Path, ev.Line, t})
		}
		if strings.HasPrefix(t, "Unit ") && strings.Contains(t, "could not be found") {
			for _, u := range []string{"kubelet", "containerd", "etcd"} {
				if strings.Contains(t, u+".service") {
					st.fact(s.f.node, u+"-missing", ev)
				}
			}
		}
	case "journal/kubelet.log":
		if strings.Contains(l, "kubelet.service: Main process exited") || strings.Contains(l, "kubelet.service: Failed with result") {
			s.exited++
			if len(s.exitEv) < maxEvidence {
				s.exitEv = append(s.exitEv, ev)
			}
		}
	case "resources.txt":
		if l == "== swap" {
			s.swap = true
			return
		}
		if s.swap && strings.TrimSpace(l) != "" {
			st.report("swap-on", s.f.node, ev)
		}
		if m := dfUse.FindStringSubmatch(l); m != nil {
			if pct, _ := strconv.Atoi(m[1]); pct >= 90 {
				st.report("disk-full", s.f.node, ev)
			}
		}
	case "timedatectl.txt":
		if strings.Contains(l, "synchronized: no") {
			st.report("ntp-unsynced", s.f.node, ev)
		}
	case "listening-ports.txt":
		if m := portRE.FindStringSubmatch(l); m != nil {
			p, _ := strconv.Atoi(m[1])
			s.ports[p] = true
		}
	case "certificates.txt":
		if m := notAfter.FindStringSubmatch(l); m != nil {
			if t, err := time.Parse("Jan _2 15:04:05 2006 MST", strings.TrimSpace(m[2])); err == nil {
				created := st.manifest.Created
				if created.IsZero() {
					created = time.Now()
				}
				switch {
				case t.Before(created):
					st.report("cert-expired", s.f.node, ev)
				case t.Before(created.Add(30 * 24 * time.Hour)):
					st.report("cert-expiring", s.f.node, ev)
				}
			}
		}
	case "loadbalancer.txt":
		switch f := strings.Fields(l); {
		case len(f) == 3 && f[0] == "unit" && f[2] != "active":
			st.report("lb-unit-down", s.f.node, ev)
		case len(f) == 3 && f[0] == "vip":
			st.fact(s.f.node, "vip-"+f[2], ev)
		case len(f) == 4 && f[0] == "backend" && f[3] != "up":
			st.report("lb-backend-down", s.f.node, ev)
		}
	case "calico.txt":
		switch f := strings.Fields(l); {
		case len(f) == 2 && f[0] == "calico-node" && f[1] != "CONTAINER_RUNNING":
			st.report("calico-node-down", s.f.node, ev)
		case len(f) == 2 && f[0] == "calico-node":
			st.fact(s.f.node, "calico-running", ev)
		case len(f) == 2 && f[0] == "vxlan" && f[1] == "missing":
			st.fact(s.f.node, "calico-vxlan-missing", ev)
		}
	case "network.txt":
		switch f := strings.Fields(l); {
		case len(f) == 2 && f[0] == "podSubnet":
			st.fact(s.f.node, "pod-subnet", ev)
		case len(f) == 3 && f[0] == "ippool":
			st.fact(s.f.node, "ippool", ev)
		}
	case "cni.txt":
		if strings.HasPrefix(l, "== ") {
			st.fact(s.f.node, "cni-config", ev)
		}
		if strings.Contains(l, "No such file or directory") {
			st.fact(s.f.node, "cni-dir-missing", ev)
		}
	}
}

func (s *lineState) end(st *scanState) {
	switch s.f.rel {
	case "journal/kubelet.log":
		if s.exited >= 3 {
			for _, ev := range s.exitEv {
				st.report("kubelet-crashloop", s.f.node, ev)
			}
		}
	case "listening-ports.txt":
		var list []string
		for p := range s.ports {
			list = append(list, strconv.Itoa(p))
		}
		sort.Strings(list)
		st.fact(s.f.node, "ports", Evidence{Path: s.f.path, Text: strings.Join(list, " ")})
	}
}
