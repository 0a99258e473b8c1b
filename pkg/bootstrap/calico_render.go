package bootstrap

import (
	"fmt"
	"net"
	"slices"
	"strconv"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

// calicoImages are upstream's image names for calico's, by spec.cni.images
// key.
var calicoUpstreamImages = map[string]string{
	"calico-node":             "quay.io/calico/node:" + CalicoVersion,
	"calico-cni":              "quay.io/calico/cni:" + CalicoVersion,
	"calico-kube-controllers": "quay.io/calico/kube-controllers:" + CalicoVersion,
}

// calicoContainerImage says which image each of the manifest's containers
// runs.
var calicoContainerImage = map[string]string{
	"upgrade-ipam":            "calico-cni",
	"install-cni":             "calico-cni",
	"ebpf-bootstrap":          "calico-node",
	"calico-node":             "calico-node",
	"calico-kube-controllers": "calico-kube-controllers",
}

func calicoImageSet(c *cluster.Cluster) map[string]string {
	img := map[string]string{}
	for k, v := range calicoUpstreamImages {
		img[k] = v
		if r := c.Spec.ImageRepository; r != "" {
			img[k] = r + "/" + k + ":" + CalicoVersion
		}
	}
	return img
}

// RenderCalico changes upstream's decoded manifest where kbs must, object
// by object (never as text): the backend and MTU in calico-config; on
// calico-node the IP pool (the spec's podSubnet, VXLAN always, no IP-in-IP),
// how each node finds its own address (the Node's InternalIP, the address
// kubeadm registered), and felix's connect-time load balancer cleanup
// skipped (kbs runs the iptables data plane, never eBPF); images and their
// pull policy everywhere.
func RenderCalico(c *cluster.Cluster, manifest []byte) ([]*unstructured.Unstructured, error) {
	objs, err := decodeManifest(manifest)
	if err != nil {
		return nil, err
	}
	img := CNIImages(c)
	pull := corev1.PullIfNotPresent
	if c.Spec.ImageRepository != "" {
		pull = corev1.PullNever
	}
	cal := cluster.Calico{Backend: cluster.CalicoBackendVXLAN}
	if c.Spec.CNI.Calico != nil {
		cal = *c.Spec.CNI.Calico
	}
	seen := map[string]bool{}
	for i, o := range objs {
		key := o.GetKind() + " " + objName(o)
		var edit func() error
		switch key {
		case "ConfigMap kube-system/calico-config":
			var cm corev1.ConfigMap
			edit = convertEdit(o, &cm, func() error {
				cm.Data["calico_backend"] = cal.Backend
				cm.Data["veth_mtu"] = strconv.Itoa(cal.MTU)
				return nil
			}, &objs[i])
		case "DaemonSet kube-system/calico-node":
			var ds appsv1.DaemonSet
			edit = convertEdit(o, &ds, func() error {
				dropEBPF(&ds.Spec.Template.Spec)
				return calicoPodSpec(&ds.Spec.Template.Spec, c, img, pull)
			}, &objs[i])
		case "Deployment kube-system/calico-kube-controllers":
			var dep appsv1.Deployment
			edit = convertEdit(o, &dep, func() error {
				return calicoPodSpec(&dep.Spec.Template.Spec, c, img, pull)
			}, &objs[i])
		default:
			continue
		}
		if err := edit(); err != nil {
			return nil, fmt.Errorf("calico's manifest, %s: %w", key, err)
		}
		seen[key] = true
	}
	for _, want := range []string{"ConfigMap kube-system/calico-config", "DaemonSet kube-system/calico-node", "Deployment kube-system/calico-kube-controllers"} {
		if !seen[want] {
			return nil, fmt.Errorf("calico's manifest has no %s: not the layout of calico %s that kbs knows", want, CalicoVersion)
		}
	}
	endpoint, err := apiEndpointConfigMap(c)
	if err != nil {
		return nil, err
	}
	return append([]*unstructured.Unstructured{endpoint}, objs...), nil
}

// apiEndpointConfigMap is the ConfigMap calico's manifest reads, when it
// exists, for the API server's address (kubernetes-services-endpoint): kbs
// points calico at the control-plane endpoint itself, as it does flannel,
// so that calico-node, its init containers and the CNI plugin on a new node
// do not wait for kube-proxy to program the kubernetes Service first.
func apiEndpointConfigMap(c *cluster.Cluster) (*unstructured.Unstructured, error) {
	host, port, err := net.SplitHostPort(c.Spec.ControlPlaneEndpoint)
	if err != nil {
		return nil, fmt.Errorf("spec.controlPlaneEndpoint %q: %w", c.Spec.ControlPlaneEndpoint, err)
	}
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "v1", "kind": "ConfigMap",
		"metadata": map[string]any{"name": "kubernetes-services-endpoint", "namespace": "kube-system"},
		"data":     map[string]any{"KUBERNETES_SERVICE_HOST": host, "KUBERNETES_SERVICE_PORT": port},
	}}, nil
}

// convertEdit decodes o into typed, runs edit on it and stores the result
// back in *dst.
func convertEdit(o *unstructured.Unstructured, typed any, edit func() error, dst **unstructured.Unstructured) func() error {
	return func() error {
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, typed); err != nil {
			return err
		}
		if err := edit(); err != nil {
			return err
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(typed)
		if err != nil {
			return err
		}
		// The typed round trip adds empty status and creationTimestamp
		// fields that server-side apply would then own.
		delete(m, "status")
		unstructured.RemoveNestedField(m, "metadata", "creationTimestamp")
		unstructured.RemoveNestedField(m, "spec", "template", "metadata", "creationTimestamp")
		*dst = &unstructured.Unstructured{Object: m}
		return nil
	}
}

func calicoPodSpec(ps *corev1.PodSpec, c *cluster.Cluster, img map[string]string, pull corev1.PullPolicy) error {
	for _, list := range [][]corev1.Container{ps.InitContainers, ps.Containers} {
		for i := range list {
			ct := &list[i]
			name, ok := calicoContainerImage[ct.Name]
			if !ok {
				return fmt.Errorf("container %s is not one kbs knows in calico %s", ct.Name, CalicoVersion)
			}
			ct.Image, ct.ImagePullPolicy = img[name], pull
			if ct.Name == "calico-node" {
				setEnv(ct, "CALICO_IPV4POOL_CIDR", c.Spec.Networking.PodSubnet)
				setEnv(ct, "CALICO_IPV4POOL_VXLAN", "Always")
				setEnv(ct, "CALICO_IPV4POOL_IPIP", "Never")
				setEnv(ct, "IP_AUTODETECTION_METHOD", "kubernetes-internal-ip")
				setEnv(ct, "FELIX_DebugSkipCTLBCleanup", "true")
			}
		}
	}
	return nil
}

// ebpfVolumes are the calico-node volumes only the eBPF data plane uses.
var ebpfVolumes = []string{"bpffs", "sys-fs", "nodeproc"}

// dropEBPF removes what calico-node carries for the eBPF data plane, which
// kbs never enables (iptables with VXLAN): the ebpf-bootstrap init
// container and the host's /sys/fs, /sys/fs/bpf and /proc mounts. The
// bpffs volume demands that /sys/fs/bpf exist on the host, and a node
// without a BPF filesystem mounted (a container, a minimal kernel) would
// otherwise never start calico-node.
func dropEBPF(ps *corev1.PodSpec) {
	ps.InitContainers = slices.DeleteFunc(ps.InitContainers, func(c corev1.Container) bool { return c.Name == "ebpf-bootstrap" })
	ps.Volumes = slices.DeleteFunc(ps.Volumes, func(v corev1.Volume) bool { return slices.Contains(ebpfVolumes, v.Name) })
	for i := range ps.Containers {
		ps.Containers[i].VolumeMounts = slices.DeleteFunc(ps.Containers[i].VolumeMounts, func(m corev1.VolumeMount) bool {
			return slices.Contains(ebpfVolumes, m.Name)
		})
	}
}

// setEnv sets name to value, replacing a literal or a reference.
func setEnv(ct *corev1.Container, name, value string) {
	for i := range ct.Env {
		if ct.Env[i].Name == name {
			ct.Env[i] = corev1.EnvVar{Name: name, Value: value}
			return
		}
	}
	ct.Env = append(ct.Env, corev1.EnvVar{Name: name, Value: value})
}
