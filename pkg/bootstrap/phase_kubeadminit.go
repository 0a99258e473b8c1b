package bootstrap

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/etcdhost"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/pki"
	"github.com/kubectl-kbs/kbs/pkg/shell"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

// Files of the control plane.
const (
	AdminConf          = "/etc/kubernetes/admin.conf"
	KubeadmInitPath    = "/etc/kbs/kubeadm-init.yaml" // holds the run's token; removed after init
	KubeadmJoinPath    = "/etc/kbs/kubeadm-join.yaml" // likewise for joins
	APIServerManifest  = "/etc/kubernetes/manifests/kube-apiserver.yaml"
	kubeadmInitTimeout = 5 * time.Minute
)

// resumeIgnores are the preflight checks a half-finished `kubeadm init`
// trips over on a re-run: its own manifests and the ports its components
// already hold. kubeadm reuses the certificates and kubeconfigs it finds.
var resumeIgnores = []string{
	"FileAvailable--etc-kubernetes-manifests-kube-apiserver.yaml",
	"FileAvailable--etc-kubernetes-manifests-kube-controller-manager.yaml",
	"FileAvailable--etc-kubernetes-manifests-kube-scheduler.yaml",
	"Port-6443", "Port-10257", "Port-10259", "Port-10250",
}

func controlPlanePhase() workflow.Phase[InitData] {
	return workflow.Phase[InitData]{
		Name:  "control-plane",
		Short: "kubeadm init on the first control-plane host with kbs's cluster CA and a one-hour token (kubeadm init --dry-run first), then admin.conf into your kubeconfig as context <cluster>",
		Run:   runControlPlane,
		Verify: func(ctx context.Context, d InitData) error {
			cs, _, err := adminClient(d)
			if err != nil {
				return err
			}
			return host.APIReady(ctx, cs, 5*time.Second)
		},
	}
}

func runControlPlane(ctx context.Context, d InitData) error {
	c := d.Cluster()
	if served, err := servedWithoutFirst(ctx, d); err != nil || served {
		return err
	}
	files, err := kubePKIFiles(d)
	if err != nil {
		return err
	}
	first := c.HostsWithRole(cluster.RoleControlPlane)[:1]
	return d.OnHosts(ctx, first, func(ctx context.Context, h *host.Host) error {
		if err := h.Exec(ctx, "create directories", "install -d -m 0755 "+host.KubePKIDir+" /etc/kbs"); err != nil {
			return err
		}
		// kbs's service account key, so that every control plane gets the
		// same one (kubeadm would make its own on each).
		sa, err := serviceAccountFiles(ctx, d, h)
		if err != nil {
			return err
		}
		files := append(files, sa...)
		for _, f := range files {
			if _, err := h.EnsureFile(ctx, f); err != nil {
				return err
			}
		}
		initialized, err := controlPlaneUp(ctx, h)
		if err != nil {
			return err
		}
		if !initialized {
			if err := runKubeadmInit(ctx, d, h); err != nil {
				return err
			}
		} else {
			d.Log("control-plane", h.Spec.Name, "already initialized (admin.conf present, API server ready, kubeadm's configuration and addons in place); not running kubeadm init")
		}
		return fetchAdmin(ctx, d, h)
	})
}

// servedWithoutFirst handles a first control plane that is not a node
// while the cluster is served through the endpoint by the others (it was
// reset and the spec is applied again): kubeadm init there would start a
// second cluster over the same etcd, so it joins as a control plane.
func servedWithoutFirst(ctx context.Context, d InitData) (bool, error) {
	cps := d.Cluster().HostsWithRole(cluster.RoleControlPlane)
	if len(cps) < 2 || d.DryRun() {
		return false, nil
	}
	cs, _, err := adminClient(d)
	if err != nil || host.APIReady(ctx, cs, 5*time.Second) != nil {
		return false, nil // no cluster to join: kubeadm init it is
	}
	if _, err := cs.CoreV1().Nodes().Get(ctx, cps[0].Name, metav1.GetOptions{}); err == nil {
		return false, nil // a node: the usual checks decide
	}
	d.Log("control-plane", cps[0].Name, "the cluster is served by the other control planes: joining %s as a control plane instead of kubeadm init", cps[0].Name)
	return true, JoinControlPlanes(ctx, d, cps[:1])
}

// kubePKIFiles are the CAs kbs owns, as files for the control plane.
func kubePKIFiles(d InitData) ([]host.File, error) {
	ca, created, err := d.State().KubernetesCA()
	if err != nil {
		return nil, err
	}
	fp, _, err := d.State().FrontProxyCA()
	if err != nil {
		return nil, err
	}
	if created {
		d.Log("control-plane", "", "created the cluster CA in %s (join hash %s)", d.State().Dir, pki.SPKIHash(ca.Cert))
	}
	return []host.File{
		{Path: host.KubePKIDir + "/ca.crt", Data: ca.CertPEM, Mode: 0o644, Summary: etcdhost.CertSummary(ca.CertPEM, false)},
		{Path: host.KubePKIDir + "/ca.key", Data: ca.KeyPEM, Mode: 0o600, Secret: true},
		{Path: host.KubePKIDir + "/front-proxy-ca.crt", Data: fp.CertPEM, Mode: 0o644, Summary: etcdhost.CertSummary(fp.CertPEM, false)},
		{Path: host.KubePKIDir + "/front-proxy-ca.key", Data: fp.KeyPEM, Mode: 0o600, Secret: true},
	}, nil
}

// controlPlaneUp says whether kubeadm init finished here before: admin.conf
// exists, the API server answers with it, and what kubeadm init does last
// is there — its configuration uploaded and its addons (kube-proxy,
// CoreDNS) applied. An API server alone proves nothing: kubeadm writes the
// static pod manifests half-way, and the kubelet starts them even when
// kubeadm was killed right after; that init must be resumed, not skipped.
func controlPlaneUp(ctx context.Context, h *host.Host) (bool, error) {
	kubectl := "kubectl --kubeconfig " + AdminConf + " --request-timeout=5s "
	_, ok, _ := h.Query(ctx, "test -s "+AdminConf+" && "+kubectl+"get --raw /readyz >/dev/null && "+
		kubectl+"-n kube-system get configmap/kubeadm-config daemonset/kube-proxy deployment/coredns >/dev/null")
	return ok, nil
}

func runKubeadmInit(ctx context.Context, d InitData, h *host.Host) error {
	c := d.Cluster()
	token, err := NewBootstrapToken()
	if err != nil {
		return err
	}
	spec := *c
	if _, partial, _ := h.Query(ctx, "test -e "+APIServerManifest); partial {
		d.Log("control-plane", h.Spec.Name, "an earlier kubeadm init stopped half-way; resuming it (kubeadm reuses the certificates and kubeconfigs it finds)")
		spec.Spec.Kubeadm.IgnorePreflightErrors = append(append([]string{}, c.Spec.Kubeadm.IgnorePreflightErrors...), resumeIgnores...)
	}
	cfg, err := RenderKubeadmInit(&spec, token)
	if err != nil {
		return err
	}
	dryCfg, err := RenderKubeadmInit(dryRunSpec(&spec), token)
	if err != nil {
		return err
	}
	cleanup, err := writeTokenConfig(ctx, h, KubeadmInitPath, dryCfg)
	if err != nil {
		return err
	}
	defer cleanup()
	start := time.Now()
	// The dry run prints the objects it would create, the bootstrap token's
	// Secret among them: its log goes as soon as it has passed.
	// A failed dry run keeps its log (0600) for the operator: its token is
	// never used, the next run makes another.
	if err := runKubeadm(ctx, h, "kubeadm init --dry-run", "init --config "+KubeadmInitPath+" --dry-run --skip-token-print", dryRunLog); err != nil {
		return err
	}
	if err := h.Exec(ctx, "remove the dry run's log (it shows the token's Secret)", "rm -f "+dryRunLog); err != nil {
		return err
	}
	if !bytes.Equal(dryCfg, cfg) {
		if _, err := h.EnsureFile(ctx, host.File{Path: KubeadmInitPath, Data: cfg, Mode: 0o600, Secret: true}); err != nil {
			return err
		}
	}
	if !h.DryRun() {
		d.Log("control-plane", h.Spec.Name, "kubeadm init --dry-run passed in %s; running kubeadm init", time.Since(start).Round(100*time.Millisecond))
	}
	start = time.Now()
	if err := runKubeadm(ctx, h, "kubeadm init", "init --config "+KubeadmInitPath+" --skip-token-print", "/var/log/kbs-kubeadm-init.log"); err != nil {
		return fmt.Errorf("%w; after fixing the cause run init again: it resumes", err)
	}
	if !h.DryRun() {
		d.Log("control-plane", h.Spec.Name, "kubeadm init done in %s", time.Since(start).Round(100*time.Millisecond))
	}
	// kubeadm init needs a bootstrap token; nothing after it does (joins get
	// their own, short-lived): it is deleted rather than left valid a day.
	if h.DryRun() {
		h.Plan("would delete the bootstrap token kubeadm init used (kubeadm token delete ID)")
		return nil
	}
	id, _, _ := strings.Cut(token, ".")
	// admin.conf talks to the endpoint: behind a load balancer the API
	// server just started may not be in rotation for a few seconds yet.
	del := "kubeadm token delete " + shell.Quote(id) + " --kubeconfig " + AdminConf
	return h.Exec(ctx, "delete the bootstrap token kubeadm init used", "for i in $(seq 30); do "+del+" >/dev/null 2>&1 && exit 0; sleep 2; done; "+del)
}

// dryRunSpec is the spec kubeadm init --dry-run checks. Its client GETs
// through the endpoint for real; behind a load balancer with no API server
// up yet every one of them is accepted and closed, and client-go retries
// such a GET ten times, a second apart: the dry run took 31 s instead of 1.
// Aimed at the first control plane itself (connection refused, no retry),
// it checks everything else just the same.
func dryRunSpec(c *cluster.Cluster) *cluster.Cluster {
	if !endpointIsFirstControlPlane(c) {
		first := c.HostsWithRole(cluster.RoleControlPlane)[0]
		dry := *c
		dry.Spec.ControlPlaneEndpoint = net.JoinHostPort(first.Address, strconv.Itoa(apiPort(c)))
		return &dry
	}
	return c
}

// dryRunLog is where kubeadm init --dry-run writes, until it has passed.
const dryRunLog = "/var/log/kbs-kubeadm-dry-run.log"

// fetchAdmin copies admin.conf into the state directory and merges it into
// the operator's kubeconfig, then waits for the API server from here.
func fetchAdmin(ctx context.Context, d InitData, h *host.Host) error {
	if h.DryRun() {
		h.Plan("would fetch %s into %s and merge it into %s as context %q", AdminConf, d.State().AdminKubeconfig(), d.KubeconfigPath(), d.Cluster().Metadata.Name)
		return nil
	}
	var buf bytes.Buffer
	if err := h.ReadFile(ctx, AdminConf, &buf); err != nil {
		return fmt.Errorf("fetching %s: %w", AdminConf, err)
	}
	if err := d.State().SaveAdminKubeconfig(buf.Bytes()); err != nil {
		return err
	}
	name := d.Cluster().Metadata.Name
	if err := MergeAdmin(d.KubeconfigPath(), name, buf.Bytes()); err != nil {
		return fmt.Errorf("merging admin.conf into %s: %w", d.KubeconfigPath(), err)
	}
	d.Log("control-plane", h.Spec.Name, "admin credentials merged into %s as context %q", d.KubeconfigPath(), name)
	cs, _, err := adminClient(d)
	if err != nil {
		return err
	}
	defer d.Trace("cluster: API server ready", time.Now())
	return host.APIReady(ctx, cs, kubeadmInitTimeout)
}

// NewBootstrapToken returns a random kubeadm bootstrap token,
// [a-z0-9]{6}.[a-z0-9]{16}.
func NewBootstrapToken() (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	out := make([]byte, 0, 23)
	buf := make([]byte, 32)
	for len(out) < 23 {
		if _, err := rand.Read(buf); err != nil {
			return "", err
		}
		for _, x := range buf {
			// Bytes ≥ 252 are dropped so every character is equally likely.
			if x >= 252 || len(out) == 23 {
				continue
			}
			if len(out) == 6 {
				out = append(out, '.')
			}
			out = append(out, alphabet[int(x)%len(alphabet)])
		}
	}
	return string(out), nil
}
