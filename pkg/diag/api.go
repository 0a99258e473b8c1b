package diag

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/client-go/kubernetes"
)

// ClusterDir is the bundle folder for what belongs to no single node.
const ClusterDir = "_cluster"

// addJSON stores v as a JSON source read from the API.
func addJSON(b *Bundle, node, name string, v any, err error) Source {
	if err != nil {
		return b.Add(node, name, "api", errReader{err})
	}
	src := Source{Node: node, Name: name, Transport: "api"}
	if pods, ok := v.(*corev1.PodList); ok && b.redact {
		if n := redactPodEnv(pods); n > 0 {
			src.pre = map[string]int{ruleEnvSecret: n}
		}
	}
	data, merr := json.MarshalIndent(v, "", "  ")
	if merr != nil {
		return b.AddSource(src, errReader{merr})
	}
	return b.AddSource(src, bytes.NewReader(data))
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

// CollectCluster reads the API server's version and the node list.
func CollectCluster(ctx context.Context, cs kubernetes.Interface, b *Bundle) []Source {
	var failed []Source
	v, err := cs.Discovery().ServerVersion()
	if s := addJSON(b, ClusterDir, "version.json", v, err); s.Status != "ok" {
		failed = append(failed, s)
	}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if s := addJSON(b, ClusterDir, "nodes.json", nodes, err); s.Status != "ok" {
		failed = append(failed, s)
	}
	if s := b.Add(ClusterDir, "network.txt", "api", strings.NewReader(networkFacts(ctx, cs))); s.Status != "ok" {
		failed = append(failed, s)
	}
	return failed
}

// networkFacts are the pod subnet kubeadm was given and, on a calico
// cluster, its IP pools, one per line ("podSubnet CIDR", "ippool NAME
// CIDR"); what cannot be read is left out.
func networkFacts(ctx context.Context, cs kubernetes.Interface) string {
	var b strings.Builder
	if cm, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "kubeadm-config", metav1.GetOptions{}); err == nil {
		for _, line := range strings.Split(cm.Data["ClusterConfiguration"], "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), ":"); ok && k == "podSubnet" {
				fmt.Fprintf(&b, "podSubnet %s\n", strings.TrimSpace(v))
			}
		}
	}
	raw, err := cs.Discovery().RESTClient().Get().AbsPath("/apis/crd.projectcalico.org/v1/ippools").DoRaw(ctx)
	if err == nil {
		var pools struct {
			Items []struct {
				Metadata struct{ Name string }
				Spec     struct{ CIDR string }
			}
		}
		if json.Unmarshal(raw, &pools) == nil {
			for _, p := range pools.Items {
				fmt.Fprintf(&b, "ippool %s %s\n", p.Metadata.Name, p.Spec.CIDR)
			}
		}
	}
	return b.String()
}

// CollectNodeAPI reads what the API knows of one node: its events first
// (they expire within the hour), then the Node (conditions, taints, versions)
// and the pods bound to it.
func CollectNodeAPI(ctx context.Context, cs kubernetes.Interface, b *Bundle, node string) []Source {
	var failed []Source
	add := func(name string, v any, err error) {
		if s := addJSON(b, node, name, v, err); s.Status != "ok" {
			failed = append(failed, s)
		}
	}
	sel := fields.AndSelectors(fields.OneTermEqualSelector("involvedObject.kind", "Node"), fields.OneTermEqualSelector("involvedObject.name", node))
	ev, err := cs.CoreV1().Events("").List(ctx, metav1.ListOptions{FieldSelector: sel.String()})
	add("api/events.json", ev, err)
	n, err := cs.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		err = fmt.Errorf("node %s: %w", node, err)
	}
	add("api/node.json", n, err)
	pods, err := cs.CoreV1().Pods("").List(ctx, metav1.ListOptions{FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String()})
	add("api/pods.json", pods, err)
	return failed
}
