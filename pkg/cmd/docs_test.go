package cmd

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestDocsUpToDate fails when docs/ no longer matches the command tree.
func TestDocsUpToDate(t *testing.T) {
	fresh := t.TempDir()
	if err := GenerateDocs(fresh); err != nil {
		t.Fatal(err)
	}
	committed := filepath.Join("..", "..", "docs")
	want, _ := filepath.Glob(filepath.Join(fresh, "*.md"))
	got, _ := filepath.Glob(filepath.Join(committed, "*.md"))
	if len(want) == 0 {
		t.Fatal("no pages generated")
	}
	names := func(paths []string) []string {
		out := make([]string, len(paths))
		for i, p := range paths {
			out[i] = filepath.Base(p)
		}
		return out
	}
	if !slices.Equal(names(want), names(got)) {
		t.Fatalf("docs/ holds %v, the command tree gives %v: run `make docs`", names(got), names(want))
	}
	for _, p := range want {
		a, _ := os.ReadFile(p)
		b, _ := os.ReadFile(filepath.Join(committed, filepath.Base(p)))
		if string(a) != string(b) {
			t.Errorf("docs/%s is stale: run `make docs`", filepath.Base(p))
		}
	}
}
