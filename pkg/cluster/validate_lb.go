package cluster

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// ifaceRE is a Linux interface name: at most 15 bytes, no slash or space.
var ifaceRE = regexp.MustCompile(`^[A-Za-z0-9_.:-]{1,15}$`)

// reservedPorts are the ports a control plane already uses: haproxy must
// not take one of them on the same host.
var reservedPorts = map[int]string{
	6443: "the API server's", 2379: "etcd's client", 2380: "etcd's peer", 10250: "the kubelet's",
	10257: "the controller manager's", 10259: "the scheduler's", 10256: "kube-proxy's health", 22: "SSH's",
	10248: "the kubelet's health", 10249: "kube-proxy's metrics",
}

func validateLoadBalancer(p *field.Path, c *Cluster) field.ErrorList {
	lb := c.Spec.LoadBalancer
	if lb == nil {
		return nil
	}
	var errs field.ErrorList
	vip, err := netip.ParseAddr(lb.VIP)
	switch {
	case lb.VIP == "":
		errs = append(errs, field.Required(p.Child("vip"), "the virtual IPv4 address keepalived moves between the control planes"))
	case err != nil || !vip.Is4() || vip.Zone() != "":
		errs = append(errs, field.Invalid(p.Child("vip"), lb.VIP, "must be an IPv4 address (keepalived's VIP), such as 10.0.0.50"))
	case vip.IsLoopback() || vip.IsMulticast() || vip.IsUnspecified() || vip.IsLinkLocalUnicast():
		errs = append(errs, field.Invalid(p.Child("vip"), lb.VIP, "must be a unicast address on the control planes' network"))
	default:
		errs = append(errs, vipPlacement(p.Child("vip"), vip, c)...)
	}
	if why, taken := reservedPorts[lb.Port]; taken {
		errs = append(errs, field.Invalid(p.Child("port"), lb.Port, fmt.Sprintf("is %s port on the control-plane hosts, where haproxy listens: use another (default %d)", why, DefaultLoadBalancerPort)))
	} else if lb.Port >= 30000 && lb.Port <= 32767 {
		errs = append(errs, field.Invalid(p.Child("port"), lb.Port, "is in the NodePort range 30000-32767, which kube-proxy serves on every node"))
	} else if lb.Port < 1 || lb.Port > 65535 {
		errs = append(errs, field.Invalid(p.Child("port"), lb.Port, "must be 1-65535"))
	}
	if lb.Interface != "" && !ifaceRE.MatchString(lb.Interface) {
		errs = append(errs, field.Invalid(p.Child("interface"), lb.Interface, "must be a network interface name such as eth0"))
	}
	if lb.VirtualRouterID < 1 || lb.VirtualRouterID > 255 {
		errs = append(errs, field.Invalid(p.Child("virtualRouterID"), lb.VirtualRouterID, "must be 1-255"))
	}
	if want := net.JoinHostPort(lb.VIP, strconv.Itoa(lb.Port)); len(errs) == 0 && c.Spec.ControlPlaneEndpoint != want {
		errs = append(errs, field.Invalid(field.NewPath("spec", "controlPlaneEndpoint"), c.Spec.ControlPlaneEndpoint,
			fmt.Sprintf("with spec.loadBalancer the endpoint is its VIP and port, %s: leave controlPlaneEndpoint out", want)))
	}
	return errs
}

// vipPlacement refuses a VIP that is a host's own address or lies in the
// cluster's networks, and one outside nodeSubnet when that is given.
func vipPlacement(p *field.Path, vip netip.Addr, c *Cluster) field.ErrorList {
	var errs field.ErrorList
	for i, h := range c.Spec.Hosts {
		if a, err := netip.ParseAddr(h.Address); err == nil && a == vip {
			errs = append(errs, field.Invalid(p, vip.String(), fmt.Sprintf("is the address of spec.hosts[%d] (%s): the VIP must be an address no machine has yet", i, h.Name)))
		}
	}
	n := c.Spec.Networking
	errs = append(errs, endpointOutsideClusterNets(p, vip.String(), vip.String(), n)...)
	if pfx, err := netip.ParsePrefix(n.NodeSubnet); err == nil && !pfx.Contains(vip) {
		errs = append(errs, field.Invalid(p, vip.String(), fmt.Sprintf("is outside spec.networking.nodeSubnet %s: keepalived can only move an address of the control planes' own network", pfx)))
	}
	return errs
}
