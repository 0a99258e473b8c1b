package bootstrap

import (
	"bytes"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/shell"
)

// Files of the kbs-managed control-plane endpoint on each control plane.
const (
	HAProxyConfig    = "/etc/haproxy/haproxy.cfg"
	KeepalivedConfig = "/etc/keepalived/keepalived.conf" // 0600: it holds the VRRP password
	// HAProxySocket is haproxy's admin socket: diag reads the backends'
	// states from it.
	HAProxySocket = "/run/haproxy/admin.sock"
)

// lbMember is one control plane as the load balancer sees it: the interface
// that carries the VIP there and its own address on it.
type lbMember struct {
	Host      cluster.Host
	Interface string
	Source    string
}

// Timings that settle failover (the goal: the API answers through
// the endpoint again within 10 s of losing the VIP's holder):
//   - VRRP advertisements every second: a backup takes the VIP after three
//     missed ones plus its skew, about 3.6 s (measured 2.7–3.6 s here);
//   - haproxy checks /readyz every second and marks a backend down after two
//     failures, up after two successes: a dead API server leaves the
//     rotation within about 2 s, a booting one joins only once it serves;
//   - a connect that gets no answer (a powered-off host) is abandoned after
//     1 s and redispatched to another backend, so a client rarely sees the
//     dead one even before its checks fail.
const (
	vrrpAdvertInterval = 1
	checkInterval      = "1s"
	connectTimeout     = "1s"
)

// RenderHAProxy is haproxy's configuration on a control plane: TCP on the
// load balancer's port (all addresses, so it runs before the VIP arrives
// and on hosts that do not hold it), round robin over the backends' API
// servers, each checked with GET /readyz over TLS. The check does not
// verify the serving certificate (the check is about health; clients still
// verify it end to end through the TCP passthrough).
func RenderHAProxy(c *cluster.Cluster, backends []cluster.Host) []byte {
	lb := c.Spec.LoadBalancer
	var b bytes.Buffer
	fmt.Fprintf(&b, `# Written by kbs for cluster %s: the control-plane endpoint %s.
# `+"`kubectl kbs init`"+` rewrites it; join and reset of a control plane change the servers.
global
    log /dev/log local0 info
    # API clients are few: 4000 connections need about 8000 descriptors,
    # within a container's or a default service's limit.
    maxconn 4000
    user haproxy
    group haproxy
    stats socket %s mode 600 level admin
    stats timeout 30s

defaults
    mode tcp
    log global
    option tcplog
    option dontlognull
    option redispatch
    retries 2
    timeout connect %s
    timeout check 2s
    # API watches stay open for long: do not cut them every few minutes.
    timeout client 4h
    timeout server 4h

frontend kube-apiserver
    bind :%d
    default_backend kube-apiserver

backend kube-apiserver
    balance roundrobin
    option httpchk
    http-check connect ssl
    http-check send meth GET uri /readyz
    http-check expect status 200
    default-server check verify none inter %s fall 2 rise 2 on-marked-down shutdown-sessions
`, c.Metadata.Name, c.Spec.ControlPlaneEndpoint, HAProxySocket, connectTimeout, lb.Port, checkInterval)
	for _, h := range backends {
		fmt.Fprintf(&b, "    server %s %s\n", h.Name, net.JoinHostPort(h.Address, cluster.APIServerPort))
	}
	return b.Bytes()
}

// RenderKeepalived is keepalived's configuration on member self: one VRRP
// instance over unicast to the other control planes (no multicast needed
// on the network), every member a BACKUP with nopreempt so that a returning
// host does not take the VIP back and cut connections a second time; the
// first control plane has the highest priority for the first election. The
// instance tracks haproxy's unit: a host whose haproxy is down gives the VIP up.
func RenderKeepalived(c *cluster.Cluster, self lbMember, members []lbMember, password string) []byte {
	lb := c.Spec.LoadBalancer
	priority := 150
	var peers []string
	for i, m := range members {
		if m.Host.Name == self.Host.Name {
			priority = 150 - i
			continue
		}
		peers = append(peers, "        "+m.Source)
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, `# Written by kbs for cluster %[1]s: holds the control-plane endpoint's VIP %[2]s.
# `+"`kubectl kbs init`"+` rewrites it.
global_defs {
    router_id kbs-%[1]s-%[3]s
    enable_script_security
    script_user root
}

# haproxy's unit, not its process: process tracking needs the kernel's
# proc connector, which containers and some kernels do not offer.
vrrp_script haproxy {
    script "/bin/systemctl is-active -q haproxy.service"
    interval 1
    fall 2
    rise 2
}

vrrp_instance kbs_%[4]s {
    state BACKUP
    nopreempt
    interface %[5]s
    virtual_router_id %[6]d
    priority %[7]d
    advert_int %[8]d
    unicast_src_ip %[9]s
    unicast_peer {
%[10]s
    }
    authentication {
        auth_type PASS
        auth_pass %[11]s
    }
    virtual_ipaddress {
        %[2]s/32 dev %[5]s
    }
    track_script {
        haproxy
    }
}
`, c.Metadata.Name, lb.VIP, self.Host.Name, strings.ReplaceAll(c.Metadata.Name, "-", "_"), self.Interface,
		lb.VirtualRouterID, priority, vrrpAdvertInterval, self.Source, strings.Join(peers, "\n"), password)
	return b.Bytes()
}

// lbAddrQuery finds, on a control plane, the interface that carries the
// VIP (the spec's, the one holding it already, or the route to it) and the
// host's own address there; it also says whether the host holds the VIP.
func lbAddrQuery(vip, iface string) string {
	return fmt.Sprintf(`vip=%s dev=%s
held=$(ip -o -4 addr show to "$vip/32" | awk '{print $2; exit}')
[ -n "$dev" ] || dev=$held
if [ -z "$dev" ]; then ip -o -4 route get "$vip"
else
src=$(ip -o -4 addr show dev "$dev" scope global | awk -v v="$vip" '{split($4,a,"/"); if (a[1]!=v) {print a[1]; exit}}')
echo "dev $dev src $src held ${held:-none}"
fi`, shell.Quote(vip), shell.Quote(iface))
}

// parseLBAddr reads lbAddrQuery's answer: `ip -o -4 route get VIP`, or
// "dev D src S held H". A VIP behind a gateway is on another network, where
// keepalived cannot hold it.
func parseLBAddr(out string) (iface, src string, held bool, err error) {
	f := strings.Fields(out)
	if len(f) > 0 && f[0] == "local" {
		return "", "", false, fmt.Errorf("the VIP is an address of this host outside keepalived's control")
	}
	for i := 0; i+1 < len(f); i++ {
		switch f[i] {
		case "via":
			return "", "", false, fmt.Errorf("the VIP is routed via %s, not on this host's own network", f[i+1])
		case "dev":
			iface = f[i+1]
		case "src":
			src = f[i+1]
		case "held":
			held = f[i+1] != "none"
		}
	}
	if a, perr := netip.ParseAddr(src); iface == "" || perr != nil || !a.Is4() {
		return "", "", false, fmt.Errorf("no address to reach the VIP from (ip said %q)", strings.TrimSpace(out))
	}
	return iface, src, held, nil
}

// lbPortString is the load balancer's port, for commands.
func lbPortString(c *cluster.Cluster) string { return strconv.Itoa(c.Spec.LoadBalancer.Port) }
