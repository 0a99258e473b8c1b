package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"text/template"
)

// shortDescription is krew's one-liner; the index convention caps it at 50.
const shortDescription = "Bootstrap, inspect and debug kubeadm clusters"

type manifestData struct {
	Version, Homepage, ShortDescription string
	Platforms                           []artifact
}

func renderManifest(tmplPath, version string, arts []artifact) ([]byte, error) {
	tmpl, err := template.ParseFiles(tmplPath)
	if err != nil {
		return nil, fmt.Errorf("reading the krew manifest template: %w", err)
	}
	var b bytes.Buffer
	err = tmpl.Execute(&b, manifestData{Version: version, Homepage: homepage, ShortDescription: shortDescription, Platforms: arts})
	return b.Bytes(), err
}

// writeManifests writes OUT/krew/kbs.yaml (for `krew install --manifest` and
// validate-krew-manifest) and OUT/krew-index/plugins/kbs.yaml, the layout of
// a custom index repository for `kubectl krew index add`.
func writeManifests(o options, arts []artifact) error {
	m, err := renderManifest(o.Template, o.Version, arts)
	if err != nil {
		return err
	}
	for _, p := range []string{filepath.Join(o.Out, "krew", "kbs.yaml"), filepath.Join(o.Out, "krew-index", "plugins", "kbs.yaml")} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, m, 0o644); err != nil {
			return err
		}
	}
	return nil
}
