package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/etcdhost"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/shell"
	"github.com/kubectl-kbs/kbs/pkg/state"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

// ResetOptions choose what `kubectl kbs reset` removes.
type ResetOptions struct {
	// Hosts to reset; empty means every host of the spec.
	Hosts []string
	// EtcdData also deletes etcd's data directory on etcd hosts: the
	// cluster's state is gone for good.
	EtcdData bool
}

// ResetPlan lists the hosts a reset touches, in spec order, after checking
// that every named host is in the spec.
func ResetPlan(c *cluster.Cluster, o ResetOptions) ([]cluster.Host, error) {
	if len(o.Hosts) == 0 {
		return c.Spec.Hosts, nil
	}
	var out []cluster.Host
	for _, name := range o.Hosts {
		if !slices.ContainsFunc(c.Spec.Hosts, func(h cluster.Host) bool { return h.Name == name }) {
			return nil, fmt.Errorf("host %q is not in the spec of cluster %s: hosts are %s", name, c.Metadata.Name, hostNames(c.Spec.Hosts))
		}
	}
	for _, h := range c.Spec.Hosts {
		if slices.Contains(o.Hosts, h.Name) {
			out = append(out, h)
		}
	}
	return out, nil
}

// cleanNodeScript undoes what kubeadm reset leaves behind: the pod network's
// config, interfaces, routes and state, and the iptables rules and ipsets
// of kube-proxy, flannel, calico and the CNI plugins (only theirs: the
// host's own rules stay). Calico's routes carry felix's protocol number
// (80); its pod interfaces are cali*, its tunnel vxlan.calico.
const cleanNodeScript = `rm -rf /etc/cni/net.d/* /var/lib/cni /run/flannel /var/lib/calico /run/calico /var/log/calico
for l in cni0 flannel.1 kube-ipvs0 vxlan.calico $(ip -o link show 2>/dev/null | awk -F': ' '$2 ~ /^cali/ {sub(/@.*/, "", $2); print $2}'); do ip link delete "$l" 2>/dev/null || true; done
ip route flush proto 80 2>/dev/null || true
for t in iptables ip6tables; do
  command -v $t-save >/dev/null || continue
  $t-save | grep -vE 'KUBE-|FLANNEL|CNI-|cali-|cali:' | $t-restore || true
done
command -v ipset >/dev/null && for s in $(ipset list -n 2>/dev/null | grep '^cali'); do ipset destroy "$s" 2>/dev/null || true; done
command -v ipvsadm >/dev/null && ipvsadm --clear || true`

// Reset returns hosts to the state before init, keeping the installed
// runtime so they can be initialized or joined again. Nodes are deleted
// from the API first, while it still answers. It runs as an operation of
// the workflow engine ("reset HOST,…" in the journal).
func Reset(ctx context.Context, d *Init, o ResetOptions) error {
	hosts, err := ResetPlan(d.Cluster(), o)
	if err != nil {
		return err
	}
	remaining := remainingControlPlanes(d.Cluster(), hosts)
	err = host.RunOperation(ctx, d.Session, InitData(d), "reset "+scopeNames(hosts),
		workflow.Phase[InitData]{Name: "delete-nodes", Short: "delete the hosts' Node objects while the API answers",
			Run: func(ctx context.Context, d InitData) error { deleteNodes(ctx, d, hosts); return nil }},
		workflow.Phase[InitData]{Name: "load-balancer", Short: "take the control planes being reset out of haproxy's servers on the others",
			Run: func(ctx context.Context, d InitData) error {
				if !d.Cluster().ManagedLoadBalancer() || len(remaining) == 0 || len(remaining) == len(d.Cluster().HostsWithRole(cluster.RoleControlPlane)) {
					return nil
				}
				return setHAProxyBackends(ctx, d, remaining, remaining)
			}},
		workflow.Phase[InitData]{Name: "reset-hosts", Short: "kubeadm reset, the pod network's configuration, interfaces and iptables rules, etcd",
			Run: func(ctx context.Context, d InitData) error {
				return d.OnHosts(ctx, hosts, func(ctx context.Context, h *host.Host) error { return resetHost(ctx, d, h, o) })
			}},
		workflow.Phase[InitData]{Name: "endpoint", Short: "the remaining control planes hold the VIP and serve through the endpoint",
			Run: func(ctx context.Context, d InitData) error {
				if len(remaining) == 0 || d.DryRun() || len(remaining) == len(d.Cluster().HostsWithRole(cluster.RoleControlPlane)) {
					return nil
				}
				return endpointServes(ctx, d, remaining)
			}},
	)
	if err != nil || d.DryRun() {
		return err
	}
	return forgetStale(d.State(), hosts, len(remaining) > 0)
}

// remainingControlPlanes are the spec's control planes not being reset.
func remainingControlPlanes(c *cluster.Cluster, reset []cluster.Host) []cluster.Host {
	var out []cluster.Host
	for _, h := range c.HostsWithRole(cluster.RoleControlPlane) {
		if !slices.ContainsFunc(reset, func(r cluster.Host) bool { return r.Name == h.Name }) {
			out = append(out, h)
		}
	}
	return out
}

// forgetStale drops what no longer describes the cluster once a control
// plane or etcd host is reset: the journal (the next init must run every
// phase) and, when no control plane is left serving, admin.conf. The CAs
// stay, so certificates issued from them stay valid.
func forgetStale(s *state.State, hosts []cluster.Host, serving bool) error {
	var stale []string
	for _, h := range hosts {
		switch h.Role {
		case cluster.RoleControlPlane:
			stale = append(stale, workflow.JournalFile)
			if !serving {
				stale = append(stale, "admin.conf")
			}
		case cluster.RoleEtcd:
			stale = append(stale, workflow.JournalFile)
		}
	}
	for _, f := range stale {
		if err := os.Remove(s.Path(f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return nil
}

func deleteNodes(ctx context.Context, d InitData, hosts []cluster.Host) {
	var names []string
	for _, h := range hosts {
		if h.Role != cluster.RoleEtcd {
			names = append(names, h.Name)
		}
	}
	if len(names) == 0 {
		return
	}
	if d.DryRun() {
		d.Log("plan", "", "would delete nodes %v from the API", names)
		return
	}
	cs, _, err := adminClient(d)
	if err != nil {
		d.Log("reset", "", "not deleting nodes from the API: %v", err)
		return
	}
	for _, n := range names {
		err := cs.CoreV1().Nodes().Delete(ctx, n, metav1.DeleteOptions{})
		switch {
		case err == nil:
			d.Log("reset", n, "node deleted from the API")
		case !apierrors.IsNotFound(err):
			d.Log("reset", n, "could not delete the node from the API (%v); the API server may be down already", err)
		}
	}
}

func resetHost(ctx context.Context, d InitData, h *host.Host, o ResetOptions) error {
	if h.Spec.Role == cluster.RoleEtcd {
		cmd := "systemctl disable --now etcd.service 2>/dev/null || true"
		what := "stop etcd (data kept)"
		if o.EtcdData {
			cmd += "; rm -rf " + shell.Quote(d.Cluster().Spec.Etcd.DataDir) + " " + etcdhost.InitialEnvPath
			what = "stop etcd and delete its data"
		}
		if err := h.Exec(ctx, what, cmd); err != nil {
			return err
		}
		if !h.DryRun() {
			d.Log("reset", h.Spec.Name, "%s", what)
		}
		return nil
	}
	if h.Spec.Role == cluster.RoleControlPlane && d.Cluster().ManagedLoadBalancer() {
		if err := leaveLoadBalancer(ctx, d, h); err != nil {
			return err
		}
	}
	if _, ok, _ := h.Query(ctx, "command -v kubeadm"); ok || h.DryRun() {
		if err := runKubeadm(ctx, h, "kubeadm reset", "reset -f --cri-socket "+ContainerdSocket, "/var/log/kbs-kubeadm-reset.log"); err != nil {
			return err
		}
	}
	if err := h.Exec(ctx, "remove CNI config, interfaces and iptables rules", cleanNodeScript); err != nil {
		return err
	}
	if err := h.Exec(ctx, "remove kbs's kubeadm files", "rm -f "+KubeadmConfigPath+" "+KubeadmInitPath+" "+KubeadmJoinPath); err != nil {
		return err
	}
	if !h.DryRun() {
		d.Log("reset", h.Spec.Name, "kubeadm reset, CNI and iptables state removed (runtime kept)")
	}
	return nil
}
