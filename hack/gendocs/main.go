// Command gendocs regenerates the command reference in docs/ from the cobra
// tree: `go run ./hack/gendocs docs` (make docs). pkg/cmd's tests fail when
// the committed pages are stale.
package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/kubectl-kbs/kbs/pkg/cmd"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gendocs DIR")
		os.Exit(2)
	}
	dir := os.Args[1]
	old, _ := filepath.Glob(filepath.Join(dir, "*.md"))
	for _, p := range old {
		_ = os.Remove(p) // pages of removed commands must go too
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := cmd.GenerateDocs(dir); err != nil {
		fmt.Fprintf(os.Stderr, "generating docs: %v\n", err)
		os.Exit(1)
	}
}
