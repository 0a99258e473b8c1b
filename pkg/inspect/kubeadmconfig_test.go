package inspect

import (
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// A cluster that stores v1beta3 (map-form extraArgs, local etcd): read,
// and flagged as outdated. kubeadm 1.37 cannot write v1beta3, so this is
// a fixture rather than the live test's real kubeadm output.
func TestV1beta3Stored(t *testing.T) {
	var sc storedConfig
	err := yaml.Unmarshal([]byte(`apiVersion: kubeadm.k8s.io/v1beta3
kind: ClusterConfiguration
kubernetesVersion: v1.30.4
etcd: {local: {dataDir: /var/lib/etcd}}
networking: {podSubnet: 10.244.0.0/16}
apiServer: {extraArgs: {audit-log-maxage: "7", profiling: "false"}}
`), &sc)
	if err != nil {
		t.Fatal(err)
	}
	c := summarize(sc)
	if !strings.Contains(c.Outdated, "v1beta3") || c.Etcd.Mode != "local" || c.Etcd.DataDir != "/var/lib/etcd" {
		t.Fatalf("summary %+v", c)
	}
	if !slices.Equal(c.ExtraArgs["apiServer"], []string{"audit-log-maxage=7", "profiling=false"}) {
		t.Fatalf("extraArgs %v", c.ExtraArgs)
	}
}
