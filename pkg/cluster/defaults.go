package cluster

import (
	"hash/fnv"
	"net"
	"strconv"
)

// Defaults applied by SetDefaults.
const (
	DefaultSSHUser       = "root"
	DefaultSSHPort       = 22
	DefaultServiceSubnet = "10.96.0.0/12"
	DefaultDNSDomain     = "cluster.local"
	DefaultEtcdVersion   = "v3.7.3"
	DefaultEtcdDataDir   = "/var/lib/etcd"
	DefaultEtcdCertValid = "43800h"
	APIServerPort        = "6443"
	// DefaultLoadBalancerPort is haproxy's port on the control planes: the
	// API servers hold 6443 on the same hosts.
	DefaultLoadBalancerPort = 8443
	CgroupDriverSystemd     = "systemd"
	CgroupDriverCgroupfs    = "cgroupfs"
)

// CNIImageNames are the images each CNI's manifest uses, by name.
var CNIImageNames = map[string][]string{
	CNIFlannel: {"flannel", "flannel-cni-plugin"},
	CNICalico:  {"calico-node", "calico-cni", "calico-kube-controllers"},
}

// defaultPodSubnet is each CNI's customary pod network (flannel's manifest
// and calico's default IP pool), so their manifests need no change.
var defaultPodSubnet = map[string]string{
	CNIFlannel: "10.244.0.0/16",
	CNICalico:  "192.168.0.0/16",
}

// SetDefaults fills what the spec leaves out. It never overrides a value.
func SetDefaults(c *Cluster) {
	s := &c.Spec
	if s.SSH.User == "" {
		s.SSH.User = DefaultSSHUser
	}
	if s.SSH.Port == 0 {
		s.SSH.Port = DefaultSSHPort
	}
	if s.CNI.Plugin == "" {
		s.CNI.Plugin = CNIFlannel
	}
	if s.Networking.PodSubnet == "" {
		s.Networking.PodSubnet = defaultPodSubnet[s.CNI.Plugin]
	}
	if s.CNI.Plugin == CNICalico {
		if s.CNI.Calico == nil {
			s.CNI.Calico = &Calico{}
		}
		if s.CNI.Calico.Backend == "" {
			s.CNI.Calico.Backend = CalicoBackendVXLAN
		}
	}
	if s.Networking.ServiceSubnet == "" {
		s.Networking.ServiceSubnet = DefaultServiceSubnet
	}
	if s.Networking.DNSDomain == "" {
		s.Networking.DNSDomain = DefaultDNSDomain
	}
	if s.Etcd.Version == "" && s.Etcd.Binary == "" {
		s.Etcd.Version = DefaultEtcdVersion
	}
	if s.Etcd.DataDir == "" {
		s.Etcd.DataDir = DefaultEtcdDataDir
	}
	if s.Etcd.CertValidity == "" {
		s.Etcd.CertValidity = DefaultEtcdCertValid
	}
	if s.Runtime.Source == "" {
		s.Runtime.Source = RuntimeSourcePackages
	}
	if s.Runtime.CgroupDriver == "" {
		s.Runtime.CgroupDriver = CgroupDriverSystemd
	}
	if lb := s.LoadBalancer; lb != nil {
		if lb.Port == 0 {
			lb.Port = DefaultLoadBalancerPort
		}
		if lb.VirtualRouterID == 0 {
			lb.VirtualRouterID = defaultRouterID(c.Metadata.Name)
		}
	}
	if s.ControlPlaneEndpoint == "" {
		// Several control planes and no load balancer: no default: an
		// endpoint on one of them would not survive its loss (validation
		// says what to add).
		cps := c.HostsWithRole(RoleControlPlane)
		switch {
		case s.LoadBalancer != nil && s.LoadBalancer.VIP != "":
			s.ControlPlaneEndpoint = net.JoinHostPort(s.LoadBalancer.VIP, strconv.Itoa(s.LoadBalancer.Port))
		case len(cps) == 1 && cps[0].Address != "":
			s.ControlPlaneEndpoint = net.JoinHostPort(cps[0].Address, APIServerPort)
		}
	}
}

// defaultRouterID spreads clusters over VRRP router ids 1-255 by name, so
// that two kbs clusters on one network rarely collide by default.
func defaultRouterID(name string) int {
	h := fnv.New32a()
	_, _ = h.Write([]byte(name))
	return int(h.Sum32()%255) + 1
}

// ManagedLoadBalancer says whether kbs runs the control-plane endpoint.
func (c *Cluster) ManagedLoadBalancer() bool { return c.Spec.LoadBalancer != nil }

// HostsWithRole returns the hosts of one role, in spec order.
func (c *Cluster) HostsWithRole(role string) []Host {
	var out []Host
	for _, h := range c.Spec.Hosts {
		if h.Role == role {
			out = append(out, h)
		}
	}
	return out
}

// SSHFor returns the effective SSH settings of h: the cluster's, overridden
// field by field by the host's own.
func (c *Cluster) SSHFor(h Host) SSH {
	eff := c.Spec.SSH
	if o := h.SSH; o != nil {
		if o.User != "" {
			eff.User = o.User
		}
		if o.Port != 0 {
			eff.Port = o.Port
		}
		if o.KeyFile != "" {
			eff.KeyFile = o.KeyFile
		}
		if o.Bastion != "" {
			eff.Bastion = o.Bastion
		}
		if o.Sudo != nil {
			eff.Sudo = o.Sudo
		}
	}
	if eff.Sudo == nil {
		sudo := eff.User != "root"
		eff.Sudo = &sudo
	}
	return eff
}
