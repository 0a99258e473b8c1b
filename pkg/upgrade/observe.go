package upgrade

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/etcdhost"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/shell"
	"github.com/kubectl-kbs/kbs/pkg/state"
)

// Observed is what runs, read from the API, the hosts and etcd: the input
// of the plan's checks, kept apart so that they are tested on any cluster
// shape without one.
type Observed struct {
	// APIError is why the API could not be read (then the API fields are
	// empty and the checks that need them fail).
	APIError string
	// Nodes by name: kubelet version and readiness.
	Nodes map[string]Node
	// ControlPlanePods by node, then component (kube-apiserver, …).
	ControlPlanePods map[string]map[string]Pod
	KubeProxy        string // the kube-proxy DaemonSet's image tag
	CoreDNS          string // the CoreDNS Deployment's image tag
	// Hosts by name, read over SSH.
	Hosts map[string]HostTools
	// Etcd members by host name, asked over HTTPS with kbs's client cert.
	Etcd map[string]EtcdMember
	// Certs read on the hosts; CertsError says why they could not be.
	Certs      []host.NodeCert
	CertsError string
	// Kubectl is the version of the operator's kubectl ("" without one).
	Kubectl string
	// KubeadmPlan is what the target's kubeadm upgrade plan said.
	KubeadmPlan KubeadmPlan
}

// Node is what the API says of one node.
type Node struct {
	Kubelet string `json:"kubelet"`
	Ready   bool   `json:"ready"`
}

// Pod is one control-plane static pod.
type Pod struct {
	Version string `json:"version"` // its image's tag
	Ready   bool   `json:"ready"`
	// Status says why a pod that is not ready is not: its phase and the
	// Ready condition's reason and message.
	Status string `json:"status,omitempty"`
}

// HostTools are the versions a host's binaries print, and its etcd data
// directory's use; Error says why the host could not be read.
type HostTools struct {
	Kubeadm, Kubelet, Kubectl, Etcd string
	// DBBytes is the size of etcd's database file, FreeBytes what its
	// file system has left (etcd hosts only; -1 when unknown).
	DBBytes, FreeBytes int64
	Error              string
}

// EtcdMember is one etcd member's answer to /version and /health.
type EtcdMember struct {
	Version string
	Healthy bool
	Error   string
}

// observeAPI reads nodes, control-plane static pods, kube-proxy and CoreDNS.
func observeAPI(ctx context.Context, cs kubernetes.Interface, o *Observed) {
	o.Nodes, o.ControlPlanePods = map[string]Node{}, map[string]map[string]Pod{}
	nodes, err := cs.CoreV1().Nodes().List(ctx, metav1.ListOptions{})
	if err != nil {
		o.APIError = fmt.Sprintf("listing nodes: %v", err)
		return
	}
	for _, n := range nodes.Items {
		o.Nodes[n.Name] = Node{Kubelet: n.Status.NodeInfo.KubeletVersion, Ready: nodeReady(n)}
	}
	pods, err := cs.CoreV1().Pods("kube-system").List(ctx, metav1.ListOptions{LabelSelector: "tier=control-plane"})
	if err != nil {
		o.APIError = fmt.Sprintf("listing control-plane pods: %v", err)
		return
	}
	for _, p := range pods.Items {
		component := p.Labels["component"]
		if component == "" || len(p.Spec.Containers) == 0 {
			continue
		}
		if o.ControlPlanePods[p.Spec.NodeName] == nil {
			o.ControlPlanePods[p.Spec.NodeName] = map[string]Pod{}
		}
		o.ControlPlanePods[p.Spec.NodeName][component] = Pod{Version: imageTag(p.Spec.Containers[0].Image), Ready: podReady(p), Status: podStatus(p)}
	}
	if ds, err := cs.AppsV1().DaemonSets("kube-system").Get(ctx, "kube-proxy", metav1.GetOptions{}); err == nil && len(ds.Spec.Template.Spec.Containers) > 0 {
		o.KubeProxy = imageTag(ds.Spec.Template.Spec.Containers[0].Image)
	}
	if d, err := cs.AppsV1().Deployments("kube-system").Get(ctx, "coredns", metav1.GetOptions{}); err == nil && len(d.Spec.Template.Spec.Containers) > 0 {
		o.CoreDNS = imageTag(d.Spec.Template.Spec.Containers[0].Image)
	}
}

func nodeReady(n corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podStatus is a pod's phase and its Ready condition, for a reason.
func podStatus(p corev1.Pod) string {
	s := string(p.Status.Phase)
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			s += fmt.Sprintf(", Ready=%s", c.Status)
			if c.Reason != "" || c.Message != "" {
				s += " " + strings.TrimSpace(c.Reason+" "+c.Message)
			}
		}
	}
	return s
}

func podReady(p corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// imageTag is the tag of an image reference (registry ports are not tags).
func imageTag(image string) string {
	image, _, _ = strings.Cut(image, "@")
	i := strings.LastIndex(image, ":")
	if i < 0 || strings.Contains(image[i:], "/") {
		return ""
	}
	return image[i+1:]
}

// toolsScript prints one KEY=VALUE line per tool; a missing tool prints
// an empty value. etcd hosts add their data directory's database size and
// free space.
func toolsScript(h cluster.Host, dataDir string) string {
	s := `printf 'kubeadm=%s\n' "$(kubeadm version -o short 2>/dev/null)"; ` +
		`printf 'kubelet=%s\n' "$(kubelet --version 2>/dev/null)"; ` +
		`printf 'kubectl=%s\n' "$(kubectl version --client 2>/dev/null | head -1)"`
	if h.Role == cluster.RoleEtcd {
		db := shell.Quote(dataDir + "/member/snap/db")
		s += `; printf 'etcd=%s\n' "$(` + etcdhost.Binary + ` --version 2>/dev/null | head -1)"` +
			`; printf 'db=%s\n' "$(stat -c %s ` + db + ` 2>/dev/null)"` +
			`; printf 'free-kib=%s\n' "$(df -Pk ` + shell.Quote(dataDir) + ` 2>/dev/null | awk 'NR==2 {print $4}')"`
	}
	return s
}

var versionRE = regexp.MustCompile(`v?\d+\.\d+\.\d+[-+.\w]*`)

// parseTools reads toolsScript's output.
func parseTools(out string) HostTools {
	t := HostTools{DBBytes: -1, FreeBytes: -1}
	for _, line := range strings.Split(out, "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), "=")
		if !ok {
			continue
		}
		ver := versionRE.FindString(v)
		if ver != "" && !strings.HasPrefix(ver, "v") {
			ver = "v" + ver
		}
		switch k {
		case "kubeadm":
			t.Kubeadm = ver
		case "kubelet":
			t.Kubelet = ver
		case "kubectl":
			t.Kubectl = ver
		case "etcd":
			t.Etcd = ver
		case "db":
			t.DBBytes = parseInt(v)
		case "free-kib":
			// df's KiB, multiplied here: awk prints big products as 8.5e+10.
			if kib := parseInt(v); kib >= 0 {
				t.FreeBytes = kib << 10
			}
		}
	}
	return t
}

func parseInt(s string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		return -1
	}
	return n
}

// observeHosts reads every host's tools over SSH, side by side; a host
// that cannot be reached is recorded, not fatal.
func observeHosts(ctx context.Context, s *host.Session, o *Observed) {
	var mu sync.Mutex
	o.Hosts = map[string]HostTools{}
	c := s.Cluster()
	_ = s.OnHosts(ctx, c.Spec.Hosts, func(ctx context.Context, h *host.Host) error {
		out, _, err := h.Query(ctx, toolsScript(h.Spec, c.Spec.Etcd.DataDir))
		t := parseTools(out)
		if err != nil {
			t.Error = err.Error()
		}
		mu.Lock()
		o.Hosts[h.Spec.Name] = t
		mu.Unlock()
		return nil
	})
	for _, h := range c.Spec.Hosts {
		if _, ok := o.Hosts[h.Name]; !ok {
			o.Hosts[h.Name] = HostTools{DBBytes: -1, FreeBytes: -1, Error: "not reachable over SSH (see the error above)"}
		}
	}
}

// observeEtcd asks each etcd member for /version and /health with the
// API server's etcd client certificate from the state directory.
func observeEtcd(ctx context.Context, s *host.Session, o *Observed) {
	c := s.Cluster()
	o.Etcd = map[string]EtcdMember{}
	members := c.HostsWithRole(cluster.RoleEtcd)
	hc, err := etcdHTTP(c, s.State())
	if err != nil {
		for _, h := range members {
			o.Etcd[h.Name] = EtcdMember{Error: err.Error()}
		}
		return
	}
	defer hc.CloseIdleConnections()
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, h := range members {
		wg.Add(1)
		go func() {
			defer wg.Done()
			m := askMember(ctx, hc, etcdhost.ClientURL(h))
			mu.Lock()
			o.Etcd[h.Name] = m
			mu.Unlock()
		}()
	}
	wg.Wait()
}

// etcdHTTP is an HTTPS client of the etcd members with the API server's
// etcd client certificate, trusting the etcd CA (and the one a CA rotation
// replaces).
func etcdHTTP(c *cluster.Cluster, st *state.State) (*http.Client, error) {
	p, err := etcdhost.ReadPKI(c, st)
	if err != nil {
		return nil, err
	}
	pair, err := tls.X509KeyPair(p.Client.CertPEM, p.Client.KeyPEM)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(p.CA.Cert)
	if p.Previous != nil {
		pool.AddCert(p.Previous)
	}
	return &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}}}, nil
}

func askMember(ctx context.Context, hc *http.Client, base string) EtcdMember {
	var v struct {
		Server string `json:"etcdserver"`
	}
	if err := getJSON(ctx, hc, base+"/version", &v); err != nil {
		return EtcdMember{Error: err.Error()}
	}
	var health struct {
		Health string `json:"health"`
		Reason string `json:"reason"`
	}
	m := EtcdMember{Version: "v" + v.Server}
	if err := getJSON(ctx, hc, base+"/health", &health); err != nil {
		m.Error = err.Error()
		return m
	}
	m.Healthy = health.Health == "true"
	if !m.Healthy {
		m.Error = "unhealthy: " + health.Reason
	}
	return m
}

func getJSON(ctx context.Context, hc *http.Client, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	// /health answers 503 with a JSON body when the member is unhealthy.
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusServiceUnavailable {
		return fmt.Errorf("%s: %s", url, resp.Status)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		return fmt.Errorf("%s: %w", url, err)
	}
	return nil
}
