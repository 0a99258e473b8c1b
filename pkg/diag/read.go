package diag

import (
	"archive/tar"
	"fmt"
	"io"
	"os"
	"strings"

	gzip "github.com/klauspost/compress/gzip"
)

// WalkBundle calls fn for each file of a bundle, streaming: analyzers
// re-run on an existing bundle read it this way, never whole.
func WalkBundle(path string, fn func(name string, r io.Reader) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("opening bundle: %w", err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return fmt.Errorf("bundle %s is not gzip: %w", path, err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("reading bundle %s: %w", path, err)
		}
		if name, ok := strings.CutSuffix(h.Name, ".zst"); ok {
			// A log kept as the node compressed it (see AddZstd).
			zr, err := decompressing(tr)
			if err != nil {
				return fmt.Errorf("bundle %s: %s: %w", path, h.Name, err)
			}
			err = fn(name, zr)
			zr.Close()
			if err != nil {
				return err
			}
			continue
		}
		if name, ok := strings.CutSuffix(h.Name, ".gz"); ok {
			// Sources are stored compressed one by one; callers see them plain.
			zr, err := gzip.NewReader(tr)
			if err != nil {
				return fmt.Errorf("bundle %s: %s: %w", path, h.Name, err)
			}
			if err := fn(name, zr); err != nil {
				return err
			}
			continue
		}
		if err := fn(h.Name, tr); err != nil {
			return err
		}
	}
}
