package etcd

import (
	"context"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
)

var etcdServersFlag = regexp.MustCompile(`(?m)^(\s*- --etcd-servers=)(\S*)\s*$`)

// SetAPIServerEndpoints points every API server at endpoints: the
// kubeadm-config ConfigMap (so kubeadm's later joins and upgrades agree)
// and each control plane's kube-apiserver manifest, one host at a time,
// waiting for /readyz before the next, so that a cluster with several
// API servers behind a load balancer keeps serving throughout.
func SetAPIServerEndpoints(ctx context.Context, e *Env, endpoints []string) error {
	s := e.Session
	if err := setKubeadmConfigEndpoints(ctx, e, endpoints); err != nil {
		return err
	}
	for _, h := range e.Spec.HostsWithRole(cluster.RoleControlPlane) {
		err := s.OnHosts(ctx, []cluster.Host{h}, func(ctx context.Context, h *host.Host) error {
			return setManifestEndpoints(ctx, s, h, endpoints)
		})
		if err != nil {
			return fmt.Errorf("pointing the API server at %v: %w", endpoints, err)
		}
	}
	return nil
}

func setManifestEndpoints(ctx context.Context, s *host.Session, h *host.Host, endpoints []string) error {
	path := host.ManifestsDir + "/kube-apiserver.yaml"
	manifest, ok, err := h.Query(ctx, "cat "+path)
	if !ok {
		return fmt.Errorf("reading %s: %w", path, err)
	}
	m := etcdServersFlag.FindStringSubmatch(manifest)
	if m == nil {
		return fmt.Errorf("%s has no --etcd-servers flag: is it kubeadm's manifest?", path)
	}
	want := strings.Join(endpoints, ",")
	if m[2] == want {
		s.Log("etcd", h.Spec.Name, "kube-apiserver already uses %s", want)
		return nil
	}
	updated := etcdServersFlag.ReplaceAllString(manifest, "${1}"+want)
	s.Log("etcd", h.Spec.Name, "kube-apiserver --etcd-servers %s → %s; restarting it", m[2], want)
	// Stop, edit, start: the kubelet starts a parked pod again at once,
	// while an edit in place waits for the old pod to be torn down first
	// (measured here: 5 s against 16 s without an API server).
	if err := host.PauseStaticPod(ctx, h, "kube-apiserver"); err != nil {
		return err
	}
	parked := host.PausedDir + "/kube-apiserver.yaml"
	if _, err := h.EnsureFile(ctx, host.File{Path: parked, Data: []byte(updated + "\n"), Mode: 0o600}); err != nil {
		return err
	}
	if err := host.ResumeStaticPod(ctx, h, "kube-apiserver"); err != nil {
		return err
	}
	return host.APIServerReadyOn(ctx, s.State().AdminKubeconfig(), h, 3*time.Minute)
}

// setKubeadmConfigEndpoints rewrites etcd.external.endpoints in the
// ClusterConfiguration kubeadm stored.
func setKubeadmConfigEndpoints(ctx context.Context, e *Env, endpoints []string) error {
	cs, err := adminClient(e)
	if err != nil {
		return err
	}
	return setEndpointsIn(ctx, e, cs, endpoints)
}

func setEndpointsIn(ctx context.Context, e *Env, cs kubernetes.Interface, endpoints []string) error {
	cm, err := cs.CoreV1().ConfigMaps("kube-system").Get(ctx, "kubeadm-config", metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("reading kube-system/kubeadm-config: %w", err)
	}
	var cfg map[string]any
	if err := yaml.Unmarshal([]byte(cm.Data["ClusterConfiguration"]), &cfg); err != nil {
		return fmt.Errorf("kube-system/kubeadm-config: %w", err)
	}
	etcdCfg, _ := cfg["etcd"].(map[string]any)
	ext, _ := etcdCfg["external"].(map[string]any)
	if ext == nil {
		return fmt.Errorf("kube-system/kubeadm-config has no etcd.external: this cluster does not run on an external etcd")
	}
	var have []string
	list, _ := ext["endpoints"].([]any)
	for _, v := range list {
		have = append(have, fmt.Sprint(v))
	}
	if slices.Equal(have, endpoints) {
		return nil
	}
	ext["endpoints"] = endpoints
	b, err := yaml.Marshal(cfg)
	if err != nil {
		return err
	}
	cm.Data["ClusterConfiguration"] = string(b)
	if _, err := cs.CoreV1().ConfigMaps("kube-system").Update(ctx, cm, metav1.UpdateOptions{}); err != nil {
		return fmt.Errorf("updating kube-system/kubeadm-config: %w", err)
	}
	e.Session.Log("etcd", "", "kube-system/kubeadm-config: etcd.external.endpoints %v → %v", have, endpoints)
	return nil
}

func adminClient(e *Env) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", e.State.AdminKubeconfig())
	if err != nil {
		return nil, fmt.Errorf("no admin credentials in %s (%w): run kubectl kbs init phase control-plane", e.State.AdminKubeconfig(), err)
	}
	cfg.Timeout = 15 * time.Second
	return kubernetes.NewForConfig(cfg)
}
