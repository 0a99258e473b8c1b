package cmd

import (
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra/doc"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/client-go/util/homedir"
)

// GenerateDocs writes the command reference, one markdown page per command,
// into dir. Output is stable across machines (no generation date; the home
// directory in flag defaults reads $HOME), so a stale copy can be detected
// by regenerating and comparing.
func GenerateDocs(dir string) error {
	root := NewCmdRoot(genericiooptions.IOStreams{In: strings.NewReader(""), Out: io.Discard, ErrOut: io.Discard})
	root.DisableAutoGenTag = true
	if err := doc.GenMarkdownTree(root, dir); err != nil {
		return err
	}
	home := homedir.HomeDir()
	pages, err := filepath.Glob(filepath.Join(dir, "*.md"))
	if err != nil || home == "" {
		return err
	}
	for _, p := range pages {
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.WriteFile(p, []byte(strings.ReplaceAll(string(b), home, "$HOME")), 0o644); err != nil {
			return err
		}
	}
	return nil
}
