// Package goldenfile is for tests: it compares rendered configurations and
// plans with reviewed copies under the package's testdata/ (rewritten with
// go test -update), and loads the operator's example clusters.
package goldenfile

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// Check compares got with testdata/NAME, or rewrites it with -update.
func Check(t testing.TB, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update in this package to create it)", err)
	}
	if string(got) != string(want) {
		t.Errorf("%s differs from the golden file (review, then go test -update in this package):\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}

// Example loads examples/NAME.yaml from a package two levels below the
// repository's root (pkg/NAME).
func Example(t testing.TB, name string) *cluster.Cluster {
	t.Helper()
	c, err := cluster.LoadOne(filepath.Join("..", "..", "examples", name+".yaml"), "")
	if err != nil {
		t.Fatal(err)
	}
	return c
}
