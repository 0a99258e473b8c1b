// Package inspect reads what kubeadm created in a live cluster and reports
// it: the stored kubeadm configuration, bootstrap tokens and their
// cluster-info signatures. It only reads.
package inspect

import (
	"context"
	"fmt"
	"sort"
	"strings"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/yaml"
)

// KubeadmConfig is the stored ClusterConfiguration, summarized. JSON field
// names are stable for scripts.
type KubeadmConfig struct {
	APIVersion           string              `json:"apiVersion"`
	Outdated             string              `json:"outdated,omitempty"` // set when stored in an old API version
	KubernetesVersion    string              `json:"kubernetesVersion"`
	ClusterName          string              `json:"clusterName,omitempty"`
	ControlPlaneEndpoint string              `json:"controlPlaneEndpoint,omitempty"`
	Etcd                 EtcdConfig          `json:"etcd"`
	Networking           map[string]string   `json:"networking"`
	CertSANs             []string            `json:"certSANs,omitempty"`
	ExtraArgs            map[string][]string `json:"extraArgs,omitempty"` // component → name=value
	Kubelet              map[string]string   `json:"kubelet,omitempty"`   // from kubelet-config
	KubeProxy            map[string]string   `json:"kubeProxy,omitempty"` // from kube-proxy
}

// EtcdConfig says where the cluster's etcd is.
type EtcdConfig struct {
	Mode      string   `json:"mode"` // local or external
	Endpoints []string `json:"endpoints,omitempty"`
	CAFile    string   `json:"caFile,omitempty"`
	CertFile  string   `json:"certFile,omitempty"`
	KeyFile   string   `json:"keyFile,omitempty"`
	DataDir   string   `json:"dataDir,omitempty"`
}

// storedConfig is the part of v1beta3/v1beta4 ClusterConfiguration read here.
type storedConfig struct {
	APIVersion           string `json:"apiVersion"`
	KubernetesVersion    string `json:"kubernetesVersion"`
	ClusterName          string `json:"clusterName"`
	ControlPlaneEndpoint string `json:"controlPlaneEndpoint"`
	Etcd                 struct {
		Local *struct {
			DataDir string `json:"dataDir"`
		} `json:"local"`
		External *struct {
			Endpoints []string `json:"endpoints"`
			CAFile    string   `json:"caFile"`
			CertFile  string   `json:"certFile"`
			KeyFile   string   `json:"keyFile"`
		} `json:"external"`
	} `json:"etcd"`
	Networking        map[string]string `json:"networking"`
	APIServer         component         `json:"apiServer"`
	ControllerManager component         `json:"controllerManager"`
	Scheduler         component         `json:"scheduler"`
}

type component struct {
	CertSANs []string `json:"certSANs"`
	// v1beta4: a list of {name, value}; v1beta3: a map.
	ExtraArgs any `json:"extraArgs"`
}

// ReadKubeadmConfig reads kube-system/kubeadm-config (and the kubelet and
// kube-proxy ConfigMaps when present).
func ReadKubeadmConfig(ctx context.Context, cs kubernetes.Interface) (*KubeadmConfig, error) {
	cm, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "kubeadm-config", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		return nil, fmt.Errorf("kube-system/kubeadm-config does not exist: this cluster was not made by kubeadm, or its configuration was never uploaded (kubeadm init phase upload-config kubeadm)")
	}
	if err != nil {
		return nil, fmt.Errorf("reading kube-system/kubeadm-config: %w", err)
	}
	raw, ok := cm.Data["ClusterConfiguration"]
	if !ok {
		return nil, fmt.Errorf("kube-system/kubeadm-config has no ClusterConfiguration key")
	}
	var sc storedConfig
	if err := yaml.Unmarshal([]byte(raw), &sc); err != nil {
		return nil, fmt.Errorf("kube-system/kubeadm-config: ClusterConfiguration is not valid YAML: %w", err)
	}
	out := summarize(sc)
	out.Kubelet = summaryOf(ctx, cs, "kubelet-config", "kubelet", []string{"cgroupDriver", "clusterDNS", "clusterDomain", "failSwapOn", "rotateCertificates", "serverTLSBootstrap", "failCgroupV1"})
	out.KubeProxy = summaryOf(ctx, cs, "kube-proxy", "config.conf", []string{"mode", "clusterCIDR", "bindAddress", "metricsBindAddress"})
	return out, nil
}

func summarize(sc storedConfig) *KubeadmConfig {
	out := &KubeadmConfig{
		APIVersion: sc.APIVersion, KubernetesVersion: sc.KubernetesVersion, ClusterName: sc.ClusterName,
		ControlPlaneEndpoint: sc.ControlPlaneEndpoint, Networking: sc.Networking, CertSANs: sc.APIServer.CertSANs,
		ExtraArgs: map[string][]string{},
	}
	switch sc.APIVersion {
	case "kubeadm.k8s.io/v1beta4":
	case "kubeadm.k8s.io/v1beta3":
		out.Outdated = "stored as v1beta3, which kubeadm 1.37 no longer reads: an upgrade rewrites it; until then `kubeadm config migrate` shows the v1beta4 form"
	default:
		out.Outdated = "stored as " + sc.APIVersion + ", which this kbs does not know"
	}
	switch e := sc.Etcd; {
	case e.External != nil:
		out.Etcd = EtcdConfig{Mode: "external", Endpoints: e.External.Endpoints, CAFile: e.External.CAFile, CertFile: e.External.CertFile, KeyFile: e.External.KeyFile}
	case e.Local != nil:
		out.Etcd = EtcdConfig{Mode: "local", DataDir: e.Local.DataDir}
	default:
		out.Etcd = EtcdConfig{Mode: "local"}
	}
	for name, c := range map[string]component{"apiServer": sc.APIServer, "controllerManager": sc.ControllerManager, "scheduler": sc.Scheduler} {
		if args := flattenArgs(c.ExtraArgs); len(args) > 0 {
			out.ExtraArgs[name] = args
		}
	}
	return out
}

// flattenArgs reads extraArgs in either form as sorted name=value pairs.
func flattenArgs(v any) []string {
	var out []string
	switch a := v.(type) {
	case []any: // v1beta4
		for _, item := range a {
			if m, ok := item.(map[string]any); ok {
				out = append(out, fmt.Sprintf("%v=%v", m["name"], m["value"]))
			}
		}
	case map[string]any: // v1beta3
		for k, val := range a {
			out = append(out, fmt.Sprintf("%s=%v", k, val))
		}
	}
	sort.Strings(out)
	return out
}

// summaryOf picks top-level fields from a component config in a ConfigMap.
func summaryOf(ctx context.Context, cs kubernetes.Interface, name, key string, fields []string) map[string]string {
	cm, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil
	}
	var m map[string]any
	if yaml.Unmarshal([]byte(cm.Data[key]), &m) != nil {
		return nil
	}
	out := map[string]string{}
	for _, f := range fields {
		if v, ok := m[f]; ok {
			out[f] = strings.Trim(fmt.Sprint(v), "[]")
		}
	}
	return out
}
