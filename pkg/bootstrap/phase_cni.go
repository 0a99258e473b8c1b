package bootstrap

import (
	"bytes"
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"net"
	"text/template"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/restmapper"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

//go:embed manifests/*.yaml
var manifests embed.FS

// FlannelVersion is the flannel release the embedded manifest is written for.
const FlannelVersion = "v0.28.10"

// flannelCNIPluginVersion is the flannel CNI plugin image's tag upstream.
const flannelCNIPluginVersion = "v1.9.1-flannel3"

const fieldManager = "kbs"

// CNIImages are the images the CNI manifest will run: upstream's, under the
// spec's imageRepository when set, overridden by spec.cni.images.
func CNIImages(c *cluster.Cluster) map[string]string {
	if c.Spec.CNI.Plugin == cluster.CNICalico {
		img := calicoImageSet(c)
		for k, v := range c.Spec.CNI.Images {
			img[k] = v
		}
		return img
	}
	img := map[string]string{
		"flannel":            "ghcr.io/flannel-io/flannel:" + FlannelVersion,
		"flannel-cni-plugin": "ghcr.io/flannel-io/flannel-cni-plugin:" + flannelCNIPluginVersion,
	}
	if r := c.Spec.ImageRepository; r != "" {
		img["flannel"] = r + "/flannel:" + FlannelVersion
		img["flannel-cni-plugin"] = r + "/flannel-cni-plugin:" + flannelCNIPluginVersion
	}
	for k, v := range c.Spec.CNI.Images {
		img[k] = v
	}
	return img
}

// RenderCNI renders flannel's manifest for the spec: pod subnet and images
// substituted; with a private image repository, images are never pulled
// (air-gapped nodes have them imported).
func RenderCNI(c *cluster.Cluster) ([]byte, error) {
	if c.Spec.CNI.Plugin != cluster.CNIFlannel {
		return nil, fmt.Errorf("cni plugin %q has no embedded manifest (calico's is upstream's: CNIObjects)", c.Spec.CNI.Plugin)
	}
	raw, err := manifests.ReadFile("manifests/flannel.yaml")
	if err != nil {
		return nil, err
	}
	t, err := template.New("flannel").Option("missingkey=error").Parse(string(raw))
	if err != nil {
		return nil, err
	}
	img := CNIImages(c)
	pull := "IfNotPresent"
	if c.Spec.ImageRepository != "" {
		pull = "Never"
	}
	host, port, err := net.SplitHostPort(c.Spec.ControlPlaneEndpoint)
	if err != nil {
		return nil, fmt.Errorf("spec.controlPlaneEndpoint %q: %w", c.Spec.ControlPlaneEndpoint, err)
	}
	var b bytes.Buffer
	err = t.Execute(&b, map[string]string{
		"Version": FlannelVersion, "Cluster": c.Metadata.Name, "PodSubnet": c.Spec.Networking.PodSubnet,
		"Image": img["flannel"], "CNIPluginImage": img["flannel-cni-plugin"], "PullPolicy": pull,
		"APIHost": host, "APIPort": port,
	})
	return b.Bytes(), err
}

// cniAgent is the DaemonSet whose rollout means the pod network is up.
func cniAgent(c *cluster.Cluster) (ns, name, version string) {
	if c.Spec.CNI.Plugin == cluster.CNICalico {
		return "kube-system", "calico-node", "calico " + CalicoVersion
	}
	return "kube-flannel", "kube-flannel-ds", "flannel " + FlannelVersion
}

// CNIObjects are the objects the cni phase applies for the spec's plugin:
// flannel's embedded manifest rendered, or calico's upstream manifest
// (checked against its pin) changed structurally.
func CNIObjects(ctx context.Context, c *cluster.Cluster) ([]*unstructured.Unstructured, error) {
	if c.Spec.CNI.Plugin == cluster.CNICalico {
		raw, err := CalicoManifest(ctx, c)
		if err != nil {
			return nil, err
		}
		return RenderCalico(c, raw)
	}
	data, err := RenderCNI(c)
	if err != nil {
		return nil, err
	}
	return decodeManifest(data)
}

func cniPhase() workflow.Phase[InitData] {
	return workflow.Phase[InitData]{
		Name:  "cni",
		Short: "apply the pod network (flannel's embedded manifest, or calico's upstream one) with server-side apply and wait for its rollout",
		// The rollout is awaited while the workers join: a worker's kubelet
		// needs no pod network to register, and its CNI pod then starts
		// inside the same wait instead of after it.
		Until: "wait-ready",
		Verify: func(ctx context.Context, d InitData) error {
			cs, _, err := adminClient(d)
			if err != nil {
				return err
			}
			ns, name, _ := cniAgent(d.Cluster())
			return waitDaemonSet(ctx, d, cs, ns, name, 5*time.Second)
		},
		Run: func(ctx context.Context, d InitData) error {
			objs, err := CNIObjects(ctx, d.Cluster())
			if err != nil {
				return err
			}
			if d.DryRun() {
				for _, o := range objs {
					d.Log("plan", "", "would apply %s %s (server-side, field manager %s)", o.GetKind(), objName(o), fieldManager)
				}
				return nil
			}
			cs, cfg, err := adminClient(d)
			if err != nil {
				return err
			}
			dyn, err := dynamic.NewForConfig(cfg)
			if err != nil {
				return err
			}
			if err := applyAll(ctx, cs, dyn, objs); err != nil {
				return err
			}
			ns, name, version := cniAgent(d.Cluster())
			d.Log("cni", "", "applied %d objects (%s, pod network %s)", len(objs), version, d.Cluster().Spec.Networking.PodSubnet)
			defer d.Trace("cluster: cni rollout", time.Now())
			return waitDaemonSet(ctx, d, cs, ns, name, 5*time.Minute)
		},
	}
}

func objName(o *unstructured.Unstructured) string {
	if o.GetNamespace() != "" {
		return o.GetNamespace() + "/" + o.GetName()
	}
	return o.GetName()
}

func decodeManifest(data []byte) ([]*unstructured.Unstructured, error) {
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var out []*unstructured.Unstructured
	for {
		var m map[string]any
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return out, nil
			}
			return nil, fmt.Errorf("decoding manifest: %w", err)
		}
		if len(m) > 0 {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
}

// applyAll applies objects in order (namespaces first, as written) with
// server-side apply, mapping kinds to resources through discovery.
func applyAll(ctx context.Context, cs kubernetes.Interface, dyn dynamic.Interface, objs []*unstructured.Unstructured) error {
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClient(cs.Discovery().RESTClient())))
	force := true
	for _, o := range objs {
		gvk := o.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			return fmt.Errorf("%s %s: %w", gvk.Kind, objName(o), err)
		}
		body, err := o.MarshalJSON()
		if err != nil {
			return err
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if o.GetNamespace() != "" {
			ri = dyn.Resource(m.Resource).Namespace(o.GetNamespace())
		}
		if _, err := ri.Patch(ctx, o.GetName(), types.ApplyPatchType, body, metav1.PatchOptions{FieldManager: fieldManager, Force: &force}); err != nil {
			return fmt.Errorf("applying %s %s: %w", gvk.Kind, objName(o), err)
		}
	}
	return nil
}

// waitDaemonSet waits until the DaemonSet's current generation is rolled
// out and available on every node it is scheduled to.
func waitDaemonSet(ctx context.Context, d InitData, cs kubernetes.Interface, ns, name string, timeout time.Duration) error {
	var ds *appsv1.DaemonSet
	err := wait.PollUntilContextTimeout(ctx, pollInterval, timeout, true, func(ctx context.Context) (bool, error) {
		got, err := cs.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, nil // client-go returns an empty object beside the error: not one to report
		}
		ds = got
		st := ds.Status
		return st.ObservedGeneration >= ds.Generation && st.DesiredNumberScheduled > 0 &&
			st.UpdatedNumberScheduled == st.DesiredNumberScheduled && st.NumberAvailable == st.DesiredNumberScheduled, nil
	})
	if err != nil {
		status := "not found"
		if ds != nil {
			status = fmt.Sprintf("%d of %d available", ds.Status.NumberAvailable, ds.Status.DesiredNumberScheduled)
		}
		return fmt.Errorf("daemonset %s/%s did not roll out (%s): kubectl -n %s describe daemonset %s; kubectl -n %s get pods -o wide", ns, name, status, ns, name, ns)
	}
	d.Log("cni", "", "daemonset %s/%s rolled out on %d node(s)", ns, name, ds.Status.NumberAvailable)
	return nil
}
