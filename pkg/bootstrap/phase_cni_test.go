package bootstrap

import (
	"context"
	"regexp"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

// The cni phase needs the API server; without one its dry-run plan is
// what can be checked: every object of the manifest, applied server-side
// in the manifest's order (the namespace first), and no host contacted.
func TestCNIPhaseDryRunPlan(t *testing.T) {
	f := newFakeInit(t, loadExample(t, "k8s"), true)
	if err := f.run(context.Background(), "cni"); err != nil {
		t.Fatal(err)
	}
	var applied []string
	for _, m := range regexp.MustCompile(`(?m)^\[plan\] would apply (.+) \(server-side, field manager kbs\)$`).FindAllStringSubmatch(f.output(), -1) {
		applied = append(applied, m[1])
	}
	want := []string{
		"Namespace kube-flannel",
		"ServiceAccount kube-flannel/flannel",
		"ClusterRole kbs:flannel",
		"ClusterRoleBinding kbs:flannel",
		"ConfigMap kube-flannel/kube-flannel-cfg",
		"DaemonSet kube-flannel/kube-flannel-ds",
	}
	if strings.Join(applied, "\n") != strings.Join(want, "\n") {
		t.Errorf("applied\n%s\nwant\n%s", strings.Join(applied, "\n"), strings.Join(want, "\n"))
	}
	if len(f.ssh.Dials()) != 0 {
		t.Errorf("dialed %v", f.ssh.Dials())
	}
}

// Run for real before control-plane fetched admin.conf, the API phases say
// which phase to run first, and touch no host.
func TestAPIPhasesNeedAdminCredentials(t *testing.T) {
	for _, phase := range []string{"cni", "join", "wait-ready"} {
		t.Run(phase, func(t *testing.T) {
			f := newFakeInit(t, loadExample(t, "k8s"), false)
			err := f.run(context.Background(), phase)
			if err == nil || !strings.Contains(err.Error(), "no admin credentials for the cluster in "+f.stateDir+"/admin.conf") ||
				!strings.Contains(err.Error(), "run `kubectl kbs init phase control-plane` first") {
				t.Fatalf("error %v", err)
			}
			if len(f.ssh.Dials()) != 0 {
				t.Errorf("dialed %v", f.ssh.Dials())
			}
		})
	}
}

// RenderCNI substitutes the spec into flannel's manifest and refuses what
// kbs cannot install.
func TestRenderCNI(t *testing.T) {
	for _, tc := range []struct {
		name    string
		edit    func(*cluster.Cluster)
		want    []string
		wantErr string
	}{
		{
			name: "upstream images, pulled when missing",
			want: []string{"image: ghcr.io/flannel-io/flannel:" + FlannelVersion, "image: ghcr.io/flannel-io/flannel-cni-plugin:" + flannelCNIPluginVersion, "imagePullPolicy: IfNotPresent", `"Network": "10.244.0.0/16"`,
				// flannel reaches the API server directly, not through kube-proxy.
				`{name: KUBERNETES_SERVICE_HOST, value: "10.10.0.20"}`, `{name: KUBERNETES_SERVICE_PORT, value: "6443"}`},
		},
		{
			name: "a private repository: never pulled",
			edit: func(c *cluster.Cluster) { c.Spec.ImageRepository = "kbs.local" },
			want: []string{"image: kbs.local/flannel:" + FlannelVersion, "image: kbs.local/flannel-cni-plugin:" + flannelCNIPluginVersion, "imagePullPolicy: Never"},
		},
		{
			name: "an image overridden by spec.cni.images",
			edit: func(c *cluster.Cluster) {
				c.Spec.CNI.Images = map[string]string{"flannel": "mirror.example/flannel:patched"}
			},
			want: []string{"image: mirror.example/flannel:patched", "image: ghcr.io/flannel-io/flannel-cni-plugin:"},
		},
		{
			name:    "calico",
			edit:    func(c *cluster.Cluster) { c.Spec.CNI.Plugin = cluster.CNICalico },
			wantErr: `cni plugin "calico" has no embedded manifest (calico's is upstream's: CNIObjects)`,
		},
		{
			name:    "an endpoint without a port",
			edit:    func(c *cluster.Cluster) { c.Spec.ControlPlaneEndpoint = "api.example.com" },
			wantErr: `spec.controlPlaneEndpoint "api.example.com"`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := loadExample(t, "k8s")
			if tc.edit != nil {
				tc.edit(c)
			}
			out, err := RenderCNI(c)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("error %v, want %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, w := range tc.want {
				if !strings.Contains(string(out), w) {
					t.Errorf("no %q in the manifest", w)
				}
			}
			if strings.Contains(string(out), "{{") {
				t.Error("the manifest has an unsubstituted template action")
			}
		})
	}
}

func flannelDS(desired, updated, available int32, observed int64) *appsv1.DaemonSet {
	return &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-flannel-ds", Namespace: "kube-flannel", Generation: 2},
		Status: appsv1.DaemonSetStatus{
			ObservedGeneration: observed, DesiredNumberScheduled: desired,
			UpdatedNumberScheduled: updated, NumberAvailable: available,
		},
	}
}

// The cni phase waits for flannel's DaemonSet to be rolled out: the current
// generation, updated and available on every node it is scheduled to.
func TestWaitDaemonSet(t *testing.T) {
	for _, tc := range []struct {
		name    string
		ds      *appsv1.DaemonSet // nil: not created
		wantErr string
	}{
		{name: "rolled out", ds: flannelDS(3, 3, 3, 2)},
		{name: "one node not available", ds: flannelDS(3, 3, 2, 2), wantErr: "did not roll out (2 of 3 available)"},
		{name: "an older generation's status", ds: flannelDS(3, 3, 3, 1), wantErr: "did not roll out (3 of 3 available)"},
		{name: "scheduled nowhere yet", ds: flannelDS(0, 0, 0, 2), wantErr: "did not roll out (0 of 0 available)"},
		// client-go hands back an empty DaemonSet with the error, so the
		// message reads "0 of 0 available" rather than "not found".
		{name: "not created", wantErr: "did not roll out ("},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cs := fake.NewClientset()
			if tc.ds != nil {
				cs = fake.NewClientset(tc.ds)
			}
			d := &logOnly{}
			err := waitDaemonSet(context.Background(), d, cs, "kube-flannel", "kube-flannel-ds", 100*time.Millisecond)
			if tc.wantErr == "" && (err != nil || len(d.lines) != 1) || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v (log %q), want %q", err, d.lines, tc.wantErr)
			}
		})
	}
}
