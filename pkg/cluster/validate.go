package cluster

import (
	"fmt"
	"net"
	"net/netip"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/distribution/reference"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
	"k8s.io/apimachinery/pkg/util/version"
)

// Version floors: kubeadm's v1beta4 config needs 1.31; kubeadm 1.37 wants
// etcd 3.5.24 or newer for an external etcd.
var (
	minKubernetes = version.MajorMinor(1, 31)
	minEtcd       = version.MustParseSemantic("v3.5.24")
	versionRE     = regexp.MustCompile(`^v\d+\.\d+\.\d+$`)
)

// Validate checks a defaulted cluster and returns every problem at once, each
// naming its field (spec.hosts[2].address) and what was expected.
func Validate(c *Cluster) error {
	var errs field.ErrorList
	spec := field.NewPath("spec")
	for _, msg := range validation.IsDNS1123Label(c.Metadata.Name) {
		errs = append(errs, field.Invalid(field.NewPath("metadata", "name"), c.Metadata.Name, msg))
	}
	errs = append(errs, validateVersion(spec.Child("kubernetesVersion"), c.Spec.KubernetesVersion, minKubernetes, true)...)
	errs = append(errs, validateHosts(spec.Child("hosts"), c)...)
	errs = append(errs, validateNetworking(spec.Child("networking"), c)...)
	if p := c.Spec.CNI.Plugin; p != CNIFlannel && p != CNICalico {
		errs = append(errs, field.NotSupported(spec.Child("cni", "plugin"), p, []string{CNIFlannel, CNICalico}))
	}
	errs = append(errs, validateCalico(spec.Child("cni", "calico"), c.Spec.CNI)...)
	for k, v := range c.Spec.CNI.Images {
		ip := spec.Child("cni", "images").Key(k)
		if !slices.Contains(CNIImageNames[c.Spec.CNI.Plugin], k) {
			errs = append(errs, field.NotSupported(ip, k, CNIImageNames[c.Spec.CNI.Plugin]))
		} else if _, err := reference.ParseNormalizedNamed(v); err != nil || v != strings.TrimSpace(v) {
			errs = append(errs, field.Invalid(ip, v, "must be an image reference such as registry.example.com/flannel:v0.28.10"))
		}
	}
	errs = append(errs, validateEndpoint(spec.Child("controlPlaneEndpoint"), c)...)
	errs = append(errs, validateLoadBalancer(spec.Child("loadBalancer"), c)...)
	errs = append(errs, validateEtcd(spec.Child("etcd"), c.Spec.Etcd)...)
	errs = append(errs, validateSSH(spec.Child("ssh"), c.Spec.SSH)...)
	errs = append(errs, validateRuntime(spec, c.Spec)...)
	errs = append(errs, validateKubelet(spec.Child("kubelet"), c.Spec.Kubelet)...)
	errs = append(errs, validateComponent(spec.Child("apiServer"), c.Spec.APIServer)...)
	errs = append(errs, validateComponent(spec.Child("controllerManager"), c.Spec.ControllerManager)...)
	errs = append(errs, validateComponent(spec.Child("scheduler"), c.Spec.Scheduler)...)
	return errs.ToAggregate()
}

// validateVersion wants vMAJOR.MINOR.PATCH (no pre-release: kbs installs
// releases) at or above floor.
func validateVersion(p *field.Path, v string, floor *version.Version, required bool) field.ErrorList {
	if v == "" {
		if required {
			return field.ErrorList{field.Required(p, "a version such as v1.37.2")}
		}
		return nil
	}
	got, err := version.ParseSemantic(v)
	if err != nil || !versionRE.MatchString(v) {
		return field.ErrorList{field.Invalid(p, v, "must be vMAJOR.MINOR.PATCH, such as v1.37.2")}
	}
	if got.LessThan(floor) {
		return field.ErrorList{field.Invalid(p, v, fmt.Sprintf("must be v%d.%d.%d or newer", floor.Major(), floor.Minor(), floor.Patch()))}
	}
	return nil
}

func validateHosts(p *field.Path, c *Cluster) field.ErrorList {
	var errs field.ErrorList
	if len(c.Spec.Hosts) == 0 {
		return field.ErrorList{field.Required(p, "at least one etcd and one control-plane host")}
	}
	names, addrs := map[string]int{}, map[string]int{}
	for i, h := range c.Spec.Hosts {
		hp := p.Index(i)
		for _, msg := range validation.IsDNS1123Subdomain(h.Name) {
			errs = append(errs, field.Invalid(hp.Child("name"), h.Name, msg+" (it becomes the node name)"))
		}
		if j, dup := names[h.Name]; dup {
			errs = append(errs, field.Duplicate(hp.Child("name"), fmt.Sprintf("%s (also hosts[%d])", h.Name, j)))
		}
		names[h.Name] = i
		if h.Role != RoleEtcd && h.Role != RoleControlPlane && h.Role != RoleWorker {
			errs = append(errs, field.NotSupported(hp.Child("role"), h.Role, []string{RoleEtcd, RoleControlPlane, RoleWorker}))
		}
		errs = append(errs, validateAddress(hp.Child("address"), h.Address)...)
		if j, dup := addrs[h.Address]; dup && h.Address != "" {
			errs = append(errs, field.Duplicate(hp.Child("address"), fmt.Sprintf("%s (also hosts[%d])", h.Address, j)))
		}
		addrs[h.Address] = i
		if h.SSH != nil {
			errs = append(errs, validateSSH(hp.Child("ssh"), *h.SSH)...)
		}
	}
	return append(errs, validateRoles(p, c)...)
}

func validateRoles(p *field.Path, c *Cluster) field.ErrorList {
	var errs field.ErrorList
	etcd, cps := len(c.HostsWithRole(RoleEtcd)), len(c.HostsWithRole(RoleControlPlane))
	if etcd == 0 {
		errs = append(errs, field.Required(p, "at least one host with role etcd (kbs runs an external etcd)"))
	} else if etcd%2 == 0 {
		errs = append(errs, field.Invalid(p, fmt.Sprintf("%d etcd hosts", etcd),
			"use an odd number of etcd hosts (1, 3, 5): an even count survives no more failures than one fewer"))
	}
	if cps == 0 {
		errs = append(errs, field.Required(p, "at least one host with role control-plane"))
	}
	if cps > 1 && c.Spec.ControlPlaneEndpoint == "" {
		errs = append(errs, field.Required(field.NewPath("spec", "controlPlaneEndpoint"),
			fmt.Sprintf("%d control-plane hosts need one endpoint in front of them: set spec.loadBalancer.vip for a kbs-managed VIP (keepalived and haproxy on the control planes), or spec.controlPlaneEndpoint to the load balancer you run", cps)))
	}
	return errs
}

func validateAddress(p *field.Path, a string) field.ErrorList {
	if a == "" {
		return field.ErrorList{field.Required(p, "an IP address or DNS name the operator's machine can reach")}
	}
	if ip, err := netip.ParseAddr(a); err == nil {
		if ip.Zone() != "" {
			// A zone is free text (fe80::1%x;touch /tmp/p) and names an
			// interface of this machine, not a host the nodes can reach.
			return field.ErrorList{field.Invalid(p, a, "must not carry an IPv6 zone (%...): give a global address or a DNS name")}
		}
		return nil
	}
	if len(validation.IsDNS1123Subdomain(a)) == 0 && !numericTLD(a) {
		return nil
	}
	return field.ErrorList{field.Invalid(p, a, "must be an IP address or a DNS name")}
}

func validateNetworking(p *field.Path, c *Cluster) field.ErrorList {
	n := c.Spec.Networking
	var errs field.ErrorList
	nets := map[string]netip.Prefix{}
	for _, f := range []struct{ name, val string }{{"podSubnet", n.PodSubnet}, {"serviceSubnet", n.ServiceSubnet}, {"nodeSubnet", n.NodeSubnet}} {
		if f.val == "" {
			continue
		}
		pfx, err := netip.ParsePrefix(f.val)
		if err != nil || pfx.Masked() != pfx {
			errs = append(errs, field.Invalid(p.Child(f.name), f.val, "must be a network in CIDR form with no host bits set, such as 10.244.0.0/16"))
			continue
		}
		nets[f.name] = pfx
	}
	if svc, ok := nets["serviceSubnet"]; ok && svc.Addr().Is4() && svc.Bits() < 12 {
		errs = append(errs, field.Invalid(p.Child("serviceSubnet"), n.ServiceSubnet, "must be /12 or smaller: kube-apiserver refuses larger service ranges"))
	}
	order := []string{"podSubnet", "serviceSubnet", "nodeSubnet"}
	for i, a := range order {
		for _, b := range order[i+1:] {
			pa, okA := nets[a]
			pb, okB := nets[b]
			if okA && okB && pa.Overlaps(pb) {
				what := fmt.Sprintf("overlaps %s %s: the networks must be disjoint", a, pa)
				if a == "podSubnet" && n.PodSubnet == defaultPodSubnet[c.Spec.CNI.Plugin] {
					what = fmt.Sprintf("overlaps podSubnet %s, %s's default pod network: set spec.networking.podSubnet to a network apart from the nodes and services", pa, c.Spec.CNI.Plugin)
				}
				errs = append(errs, field.Invalid(p.Child(b), nets[b].String(), what))
			}
		}
	}
	errs = append(errs, hostsOutside(p.Child("nodeSubnet"), nets, c)...)
	for _, msg := range validation.IsDNS1123Subdomain(n.DNSDomain) {
		errs = append(errs, field.Invalid(p.Child("dnsDomain"), n.DNSDomain, msg))
	}
	return errs
}

// hostsOutside checks host IPs against the node network and makes sure no
// host sits inside the pod or service network (its traffic would be routed
// into the cluster).
func hostsOutside(p *field.Path, nets map[string]netip.Prefix, c *Cluster) field.ErrorList {
	var errs field.ErrorList
	for i, h := range c.Spec.Hosts {
		ip, err := netip.ParseAddr(h.Address)
		if err != nil {
			continue
		}
		hp := field.NewPath("spec", "hosts").Index(i).Child("address")
		if node, ok := nets["nodeSubnet"]; ok && !node.Contains(ip) {
			errs = append(errs, field.Invalid(hp, h.Address, fmt.Sprintf("is outside %s %s", p.String(), node)))
		}
		for _, name := range []string{"podSubnet", "serviceSubnet"} {
			if n, ok := nets[name]; ok && n.Contains(ip) {
				errs = append(errs, field.Invalid(hp, h.Address, fmt.Sprintf("lies inside spec.networking.%s %s: hosts must be outside the cluster's networks", name, n)))
			}
		}
	}
	return errs
}

func validateEndpoint(p *field.Path, c *Cluster) field.ErrorList {
	ep := c.Spec.ControlPlaneEndpoint
	if ep == "" {
		return nil // no control-plane host: already reported
	}
	host, port, err := net.SplitHostPort(ep)
	if err != nil {
		return field.ErrorList{field.Invalid(p, ep, "must be host:port, such as 10.0.0.10:6443 or api.example.com:6443")}
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return field.ErrorList{field.Invalid(p, ep, "port must be 1-65535")}
	}
	if errs := validateAddress(p, host); len(errs) > 0 || c.Spec.LoadBalancer != nil {
		return errs // a VIP's placement is checked as spec.loadBalancer.vip
	}
	return endpointOutsideClusterNets(p, ep, host, c.Spec.Networking)
}

// endpointOutsideClusterNets refuses an endpoint address inside the pod or
// service network: every node would route it into the cluster instead.
func endpointOutsideClusterNets(p *field.Path, ep, host string, n Networking) field.ErrorList {
	ip, err := netip.ParseAddr(host)
	if err != nil {
		return nil
	}
	for _, f := range []struct{ name, cidr string }{{"podSubnet", n.PodSubnet}, {"serviceSubnet", n.ServiceSubnet}} {
		if pfx, err := netip.ParsePrefix(f.cidr); err == nil && pfx.Contains(ip) {
			return field.ErrorList{field.Invalid(p, ep, fmt.Sprintf("lies inside spec.networking.%s %s: the nodes would route it into the cluster; use an address on the hosts' network", f.name, pfx))}
		}
	}
	return nil
}

var userRE = regexp.MustCompile(`^[a-z_][a-z0-9_.-]*[$]?$`)

func validateSSH(p *field.Path, s SSH) field.ErrorList {
	var errs field.ErrorList
	if s.User != "" && !userRE.MatchString(s.User) {
		errs = append(errs, field.Invalid(p.Child("user"), s.User, "must be a POSIX user name"))
	}
	if s.Port != 0 && (s.Port < 1 || s.Port > 65535) {
		errs = append(errs, field.Invalid(p.Child("port"), s.Port, "must be 1-65535"))
	}
	if s.Bastion != "" {
		hostPort := s.Bastion
		if _, after, ok := strings.Cut(hostPort, "@"); ok {
			hostPort = after
		}
		host := hostPort
		if h, _, err := net.SplitHostPort(hostPort); err == nil {
			host = h
		}
		if len(validateAddress(p.Child("bastion"), host)) > 0 {
			errs = append(errs, field.Invalid(p.Child("bastion"), s.Bastion, "must be [user@]host[:port]"))
		}
	}
	return errs
}

func validateComponent(p *field.Path, comp Component) field.ErrorList {
	var errs field.ErrorList
	for i, san := range comp.CertSANs {
		if len(validateAddress(p.Child("certSANs").Index(i), san)) > 0 {
			errs = append(errs, field.Invalid(p.Child("certSANs").Index(i), san, "must be an IP address or a DNS name"))
		}
	}
	for i, a := range comp.ExtraArgs {
		if !flagName.MatchString(a.Name) {
			errs = append(errs, field.Invalid(p.Child("extraArgs").Index(i).Child("name"), a.Name, "must be a flag name (lowercase letters, digits, '-' and '.') without leading dashes or '=', such as audit-log-path"))
		}
	}
	return errs
}

// flagName is how the control plane's flags are named (audit-log-path, v,
// authorization-config): nothing a shell or a YAML document reads as syntax.
var flagName = regexp.MustCompile(`^[a-z0-9][a-z0-9.-]*$`)

// numericTLD catches mistyped IPs (10.0.0.300) that would otherwise pass as
// DNS names: no top-level domain is all digits.
func numericTLD(name string) bool {
	last := name[strings.LastIndexByte(name, '.')+1:]
	_, err := strconv.Atoi(last)
	return err == nil
}

// kubeadmCheckName is how kubeadm names preflight checks (Swap, Port-6443,
// FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml, …).
var kubeadmCheckName = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9.\-_]*$`)

func validateRuntime(spec *field.Path, s ClusterSpec) field.ErrorList {
	var errs field.ErrorList
	p := spec.Child("runtime")
	switch s.Runtime.Source {
	case RuntimeSourcePackages:
		if s.Runtime.Bundle != "" {
			errs = append(errs, field.Invalid(p.Child("bundle"), s.Runtime.Bundle, "only used with source: bundle"))
		}
	case RuntimeSourceBundle:
		if s.Runtime.Bundle == "" {
			errs = append(errs, field.Required(p.Child("bundle"), "the local bundle directory (hack/build-bundle.sh builds one)"))
		}
	default:
		errs = append(errs, field.NotSupported(p.Child("source"), s.Runtime.Source, []string{RuntimeSourcePackages, RuntimeSourceBundle}))
	}
	if d := s.Runtime.CgroupDriver; d != CgroupDriverSystemd && d != CgroupDriverCgroupfs {
		errs = append(errs, field.NotSupported(p.Child("cgroupDriver"), d, []string{CgroupDriverSystemd, CgroupDriverCgroupfs}))
	}
	if r := s.ImageRepository; r != "" {
		last := r[strings.LastIndex(r, "/")+1:]
		// A colon is fine in the registry's host:port, not in the last
		// path element, where it would be a tag.
		// The reference grammar (as for CNI images) also keeps $( ) and
		// quotes out: the repository ends up in image names on the nodes.
		_, refErr := reference.ParseNormalizedNamed(r + "/pause:1")
		if refErr != nil || strings.ContainsAny(r, " @\t") || last == "" || (strings.Contains(r, "/") && strings.Contains(last, ":")) {
			errs = append(errs, field.Invalid(spec.Child("imageRepository"), r, "must be a registry path such as registry.example.com/k8s, without tag or trailing slash"))
		}
	}
	errs = append(errs, validateMirrors(p.Child("registryMirrors"), s.Runtime.RegistryMirrors)...)
	if n := s.KubeProxy.ConntrackMaxPerCore; n != nil && *n < 0 {
		errs = append(errs, field.Invalid(spec.Child("kubeProxy", "conntrackMaxPerCore"), *n, "must be 0 (leave the kernel's limit alone) or positive"))
	}
	for i, name := range s.Kubeadm.IgnorePreflightErrors {
		ip := spec.Child("kubeadm", "ignorePreflightErrors").Index(i)
		switch {
		case strings.EqualFold(name, "all"):
			errs = append(errs, field.Forbidden(ip, "name the checks to ignore; \"all\" would hide real problems"))
		case !kubeadmCheckName.MatchString(name):
			errs = append(errs, field.Invalid(ip, name, "must be a kubeadm preflight check name such as SystemVerification"))
		}
	}
	return errs
}
