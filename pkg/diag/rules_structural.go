package diag

import (
	"fmt"
	"maps"
	"net/netip"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// requiredPorts are what each role's components listen on.
var requiredPorts = map[string]map[int]string{
	"control-plane": {6443: "kube-apiserver", 10257: "kube-controller-manager", 10259: "kube-scheduler", 10250: "kubelet"},
	"worker":        {10250: "kubelet"},
	"etcd":          {2379: "etcd client", 2380: "etcd peer"},
}

// structural runs the analyzers that combine several sources.
func (st *scanState) structural() {
	for name, info := range st.manifest.Nodes {
		if info.Error != "" {
			st.report("collection-failed", name, Evidence{Path: "manifest.json", Text: info.Error})
		}
		if info.Fallback != "" {
			st.report("transport-fallback", name, Evidence{Path: "manifest.json", Text: info.Fallback})
		}
		facts := st.facts[name]
		if facts["calico-running"] != nil && facts["calico-vxlan-missing"] != nil {
			st.report("calico-vxlan-missing", name, facts["calico-vxlan-missing"][0])
		}
		st.units(name, facts)
		st.ports(name, info.Role, facts)
		if isKubelet(info.Role) && facts["cni-config"] == nil && info.Error == "" && facts["ports"] != nil {
			if ev := facts["cni-dir-missing"]; ev != nil {
				st.report("cni-missing", name, ev[0])
			} else {
				st.report("cni-missing", name, Evidence{Path: name + "/cni.txt", Text: "no configuration in /etc/cni/net.d"})
			}
		}
	}
	for name, n := range st.nodes {
		st.conditions(name, n)
		st.skew(name, n)
	}
	st.neverJoined()
	st.clocks()
	st.vip()
	st.calicoPools()
}

// calicoPools reports calico IP pools outside the pod subnet kubeadm was
// given (both read from the API into _cluster/network.txt).
func (st *scanState) calicoPools() {
	facts := st.facts[ClusterDir]
	if len(facts["pod-subnet"]) == 0 {
		return
	}
	subnet, err := netip.ParsePrefix(strings.Fields(facts["pod-subnet"][0].Text)[1])
	if err != nil {
		return
	}
	for _, ev := range facts["ippool"] {
		pool, err := netip.ParsePrefix(strings.Fields(ev.Text)[2])
		if err != nil || !subnet.Contains(pool.Addr()) || pool.Bits() < subnet.Bits() {
			st.report("calico-pool-outside", ClusterDir, ev)
		}
	}
}

// everyControlPlaneRead says whether no control plane's collection failed:
// one that could not be read may be the VIP's holder.
func (st *scanState) everyControlPlaneRead() bool {
	for _, info := range st.manifest.Nodes {
		if info.Role == "control-plane" && info.Error != "" {
			return false
		}
	}
	return true
}

// vip compares the control planes' views of the VIP: exactly one of those
// that were read must hold it.
func (st *scanState) vip() {
	var notHeld []Evidence
	var holders []string
	for _, node := range slices.Sorted(maps.Keys(st.facts)) {
		notHeld = append(notHeld, st.facts[node]["vip-not-held"]...)
		if len(st.facts[node]["vip-held"]) > 0 {
			holders = append(holders, node)
		}
	}
	switch {
	case len(holders) > 1:
		for _, n := range holders {
			st.report("vip-split", n, st.facts[n]["vip-held"][0])
		}
	case len(holders) == 0 && len(notHeld) > 0 && st.everyControlPlaneRead():
		for _, ev := range notHeld {
			st.report("vip-none", splitPath(ev.Path).node, ev)
		}
	}
}

func isKubelet(role string) bool { return role == "control-plane" || role == "worker" }

func (st *scanState) units(node string, facts map[string][]Evidence) {
	role := st.roleOf(node)
	check := func(unit, id string) {
		if ev := facts[unit+"-missing"]; ev != nil {
			st.report(id, node, ev[0])
			return
		}
		for _, ev := range facts[unit+"-active"] {
			if !strings.Contains(ev.Text, "active (running)") {
				if unit == "kubelet" && strings.Contains(ev.Text, "auto-restart") {
					st.report("kubelet-crashloop", node, ev)
					continue
				}
				st.report(id, node, ev)
			}
		}
	}
	if isKubelet(role) {
		check("kubelet", "kubelet-down")
		check("containerd", "runtime-down")
	}
}

func (st *scanState) ports(node, role string, facts map[string][]Evidence) {
	evs := facts["ports"]
	if len(evs) == 0 {
		return
	}
	have := map[string]bool{}
	for _, p := range strings.Fields(evs[0].Text) {
		have[p] = true
	}
	var missing []string
	for p, what := range requiredPorts[role] {
		if !have[strconv.Itoa(p)] {
			missing = append(missing, fmt.Sprintf("%d (%s)", p, what))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		st.report("ports-closed", node, Evidence{Path: evs[0].Path, Text: "not listening: " + strings.Join(missing, ", ")})
	}
}

func (st *scanState) conditions(name string, n *corev1.Node) {
	path := name + "/api/node.json"
	for _, c := range n.Status.Conditions {
		text := fmt.Sprintf("%s=%s %s: %s", c.Type, c.Status, c.Reason, c.Message)
		switch c.Type {
		case corev1.NodeReady:
			if c.Status != corev1.ConditionTrue {
				st.report("node-notready", name, Evidence{Path: path, Text: text})
				if strings.Contains(strings.ToLower(c.Message), "cni") {
					st.report("cni-missing", name, Evidence{Path: path, Text: text})
				}
			}
		case corev1.NodeMemoryPressure, corev1.NodeDiskPressure, corev1.NodePIDPressure:
			if c.Status == corev1.ConditionTrue {
				st.report("resource-pressure", name, Evidence{Path: path, Text: text})
			}
		}
	}
}

func minor(v string) (int, int, bool) {
	m := regexp.MustCompile(`^v(\d+)\.(\d+)`).FindStringSubmatch(v)
	if m == nil {
		return 0, 0, false
	}
	a, _ := strconv.Atoi(m[1])
	b, _ := strconv.Atoi(m[2])
	return a, b, true
}

func (st *scanState) skew(name string, n *corev1.Node) {
	if st.version == nil {
		return
	}
	kv := n.Status.NodeInfo.KubeletVersion
	am, an, ok1 := minor(st.version.GitVersion)
	km, kn, ok2 := minor(kv)
	if !ok1 || !ok2 {
		return
	}
	if km != am || kn > an || an-kn > 3 {
		st.report("version-skew", name, Evidence{Path: name + "/api/node.json", Text: fmt.Sprintf("kubelet %s, API server %s", kv, st.version.GitVersion)})
	}
}

func (st *scanState) neverJoined() {
	if st.list == nil {
		return
	}
	in := map[string]bool{}
	for _, n := range st.list.Items {
		in[n.Name] = true
	}
	for name, info := range st.manifest.Nodes {
		if isKubelet(info.Role) && !in[name] {
			st.report("never-joined", name, Evidence{Path: ClusterDir + "/nodes.json", Text: fmt.Sprintf("%s (%s, %s) is not among the cluster's %d nodes", name, info.Role, info.Address, len(st.list.Items))})
		}
	}
}

// maxSkew is the clock difference between nodes worth a warning.
const maxSkew = 2 * time.Second

func (st *scanState) clocks() {
	var offs []float64
	for _, info := range st.manifest.Nodes {
		if info.ClockOffsetSeconds != nil {
			offs = append(offs, *info.ClockOffsetSeconds)
		}
	}
	if len(offs) == 0 {
		return
	}
	sort.Float64s(offs)
	median := offs[len(offs)/2]
	for name, info := range st.manifest.Nodes {
		if info.ClockOffsetSeconds == nil {
			continue
		}
		d := *info.ClockOffsetSeconds - median
		if time.Duration(absf(d)*float64(time.Second)) > maxSkew {
			st.report("clock-skew", name, Evidence{Path: "manifest.json", Text: fmt.Sprintf("clock %+.1fs from the other nodes' median (%+.3fs from the collector)", d, *info.ClockOffsetSeconds)})
		}
	}
}

func absf(f float64) float64 {
	if f < 0 {
		return -f
	}
	return f
}
