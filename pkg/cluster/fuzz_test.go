package cluster

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"sigs.k8s.io/yaml"
)

// FuzzDecode feeds arbitrary bytes to the decoder: it must never panic, and
// whatever it accepts must default, validate and round-trip without panics
// or loss. Seeds are the examples and the unit test's spec.
//
//	go test -fuzz FuzzDecode ./pkg/cluster
func FuzzDecode(f *testing.F) {
	f.Add([]byte(valid))
	f.Add([]byte("---\n# only a comment\n---\n" + valid))
	f.Add([]byte("apiVersion: kbs.kubectl-kbs.io/v1alpha1\nkind: Cluster\nspec: {hosts: [{name: a, role: etcd}], networking: {podSubnet: '::/0'}}"))
	examples, _ := filepath.Glob(filepath.Join("..", "..", "examples", "*.yaml"))
	for _, e := range examples {
		b, _ := os.ReadFile(e)
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		clusters, err := Decode(data)
		if err != nil {
			return
		}
		for _, c := range clusters {
			SetDefaults(c)
			_ = Validate(c)
			out, err := yaml.Marshal(c)
			if err != nil {
				t.Fatalf("re-encoding an accepted cluster: %v", err)
			}
			again, err := Decode(out)
			if err != nil {
				t.Fatalf("re-decoding our own encoding: %v\n%s", err, out)
			}
			if !reflect.DeepEqual(again[0], c) {
				t.Fatalf("round trip changed the cluster:\n%s", out)
			}
		}
	})
}
