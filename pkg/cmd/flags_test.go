package cmd

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// An inventory's cluster is picked with --cluster-name; the old spelling,
// --cluster, still picks one for a release (with a warning) when it names
// one of the inventory's clusters, and is otherwise kubectl's own flag.
func TestSpecFlagsInventory(t *testing.T) {
	var docs []string
	for _, name := range []string{"k8s", "hk8s"} {
		b, err := os.ReadFile(filepath.Join("..", "..", "examples", name+".yaml"))
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(b))
	}
	inventory := filepath.Join(t.TempDir(), "inventory.yaml")
	if err := os.WriteFile(inventory, []byte(strings.Join(docs, "\n---\n")), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, clusterName, kubectlCluster string
		want, wantErr, wantWarning        string
	}{
		{name: "--cluster-name", clusterName: "hk8s", want: "hk8s"},
		{name: "neither", wantErr: "--cluster-name"},
		{name: "deprecated --cluster", kubectlCluster: "hk8s", want: "hk8s", wantWarning: "use --cluster-name hk8s"},
		{name: "kubectl's --cluster", kubectlCluster: "kubernetes", wantErr: "--cluster-name"},
		{name: "both", clusterName: "k8s", kubectlCluster: "hk8s", want: "k8s"},
	} {
		config := genericclioptions.NewConfigFlags(false)
		config.ClusterName = &tc.kubectlCluster
		f := specFlags{File: inventory, ClusterName: tc.clusterName, StateDir: t.TempDir(), config: config}
		var errOut bytes.Buffer
		spec, err := f.load(&errOut)
		switch {
		case tc.wantErr != "":
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: got %v, want an error with %q", tc.name, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case spec.Metadata.Name != tc.want:
			t.Errorf("%s: picked %s, want %s", tc.name, spec.Metadata.Name, tc.want)
		}
		if tc.wantWarning != "" && *config.ClusterName != "" {
			t.Errorf("%s: the deprecated --cluster still points the kubeconfig at cluster %q", tc.name, *config.ClusterName)
		}
		if !strings.Contains(errOut.String(), tc.wantWarning) || (tc.wantWarning == "" && errOut.Len() > 0) {
			t.Errorf("%s: warning %q, want %q", tc.name, errOut.String(), tc.wantWarning)
		}
	}
}
