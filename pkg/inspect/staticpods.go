package inspect

import (
	"context"
	"fmt"
	"sort"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
)

// StaticPod is one control-plane component on one node, as its mirror pod
// shows it. Stable JSON names.
type StaticPod struct {
	Node          string            `json:"node"`
	Component     string            `json:"component"`
	Pod           string            `json:"pod"`
	Image         string            `json:"image"`
	Version       string            `json:"version"` // the image tag
	Phase         string            `json:"phase"`
	Restarts      int32             `json:"restarts"`
	Flags         []Flag            `json:"flags"`
	Probes        []Probe           `json:"probes,omitempty"`
	Labels        map[string]string `json:"labels"`
	Mounts        []Mount           `json:"mounts,omitempty"`
	HostNetwork   bool              `json:"hostNetwork"`
	PriorityClass string            `json:"priorityClass,omitempty"`
	Requests      map[string]string `json:"requests,omitempty"`
}

// Flag is one command-line flag; FromConfig marks a value that kubeadm-config's
// extraArgs asked for (anything else is kubeadm's default or hand-edited).
type Flag struct {
	Name       string `json:"name"`
	Value      string `json:"value"`
	FromConfig bool   `json:"fromConfig,omitempty"`
}

// Probe is a liveness, readiness or startup probe.
type Probe struct {
	Kind                string `json:"kind"`
	Scheme              string `json:"scheme"`
	Host                string `json:"host,omitempty"`
	Path                string `json:"path"`
	Port                string `json:"port"`
	InitialDelaySeconds int32  `json:"initialDelaySeconds"`
	PeriodSeconds       int32  `json:"periodSeconds"`
	TimeoutSeconds      int32  `json:"timeoutSeconds"`
	FailureThreshold    int32  `json:"failureThreshold"`
}

// Mount is a hostPath volume mounted into the component.
type Mount struct {
	HostPath  string `json:"hostPath"`
	MountPath string `json:"mountPath"`
	ReadOnly  bool   `json:"readOnly"`
}

// ReadStaticPods lists the control-plane mirror pods (selected on the
// server: kube-system, tier=control-plane), marking flags from cfg's
// extraArgs when cfg is known.
func ReadStaticPods(ctx context.Context, cs kubernetes.Interface, cfg *KubeadmConfig) ([]StaticPod, error) {
	pods, err := cs.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "tier=control-plane"})
	if err != nil {
		return nil, fmt.Errorf("listing control-plane pods: %w", err)
	}
	var out []StaticPod
	for i := range pods.Items {
		out = append(out, staticPod(&pods.Items[i], cfg))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Node+out[i].Component < out[j].Node+out[j].Component })
	return out, nil
}

func staticPod(p *corev1.Pod, cfg *KubeadmConfig) StaticPod {
	sp := StaticPod{Node: p.Spec.NodeName, Component: p.Labels["component"], Pod: p.Name, Phase: string(p.Status.Phase),
		Labels: p.Labels, HostNetwork: p.Spec.HostNetwork, PriorityClass: p.Spec.PriorityClassName}
	if len(p.Spec.Containers) == 0 {
		return sp
	}
	c := p.Spec.Containers[0]
	sp.Image = c.Image
	if i := strings.LastIndexByte(c.Image, ':'); i >= 0 {
		sp.Version = c.Image[i+1:]
	}
	for _, st := range p.Status.ContainerStatuses {
		sp.Restarts += st.RestartCount
	}
	extra := map[string]bool{}
	if cfg != nil {
		for _, a := range cfg.ExtraArgs[configKey(sp.Component)] {
			extra[a] = true
		}
	}
	sp.Flags = parseFlags(c.Command, extra)
	sp.Probes = probes(c)
	sp.Mounts = mounts(p, c)
	if len(c.Resources.Requests) > 0 {
		sp.Requests = map[string]string{}
		for k, v := range c.Resources.Requests {
			sp.Requests[string(k)] = v.String()
		}
	}
	return sp
}

// configKey maps a component label to its ClusterConfiguration section.
func configKey(component string) string {
	return map[string]string{"kube-apiserver": "apiServer", "kube-controller-manager": "controllerManager", "kube-scheduler": "scheduler"}[component]
}

// parseFlags reads --name=value arguments, sorted by name.
func parseFlags(command []string, extra map[string]bool) []Flag {
	var out []Flag
	for _, arg := range command {
		name, value, ok := strings.Cut(strings.TrimPrefix(arg, "--"), "=")
		if !strings.HasPrefix(arg, "--") {
			continue
		}
		if !ok {
			value = "true"
		}
		out = append(out, Flag{Name: name, Value: value, FromConfig: extra[name+"="+value]})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func probes(c corev1.Container) []Probe {
	var out []Probe
	for kind, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
		if p == nil || p.HTTPGet == nil {
			continue
		}
		out = append(out, Probe{Kind: kind, Scheme: string(p.HTTPGet.Scheme), Host: p.HTTPGet.Host, Path: p.HTTPGet.Path, Port: portOf(c, p.HTTPGet.Port.String()),
			InitialDelaySeconds: p.InitialDelaySeconds, PeriodSeconds: p.PeriodSeconds, TimeoutSeconds: p.TimeoutSeconds, FailureThreshold: p.FailureThreshold})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}

// portOf resolves a named port (kubeadm names its probe ports) to its number.
func portOf(c corev1.Container, port string) string {
	for _, p := range c.Ports {
		if p.Name == port {
			return fmt.Sprint(p.ContainerPort)
		}
	}
	return port
}

func mounts(p *corev1.Pod, c corev1.Container) []Mount {
	hostPaths := map[string]string{}
	for _, v := range p.Spec.Volumes {
		if v.HostPath != nil {
			hostPaths[v.Name] = v.HostPath.Path
		}
	}
	var out []Mount
	for _, m := range c.VolumeMounts {
		if hp, ok := hostPaths[m.Name]; ok {
			out = append(out, Mount{HostPath: hp, MountPath: m.MountPath, ReadOnly: m.ReadOnly})
		}
	}
	return out
}

// Flag returns a pod's flag value.
func (sp StaticPod) Flag(name string) (string, bool) {
	for _, f := range sp.Flags {
		if f.Name == name {
			return f.Value, true
		}
	}
	return "", false
}
