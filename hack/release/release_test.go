package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

func TestShortDescriptionFitsKrewConvention(t *testing.T) {
	if n := len(shortDescription); n > 50 {
		t.Fatalf("shortDescription is %d characters; the krew index wants at most 50", n)
	}
}

func TestRenderManifest(t *testing.T) {
	arts := []artifact{
		{OS: "linux", Arch: "amd64", Bin: "kubectl-kbs", URI: "https://example.test/a.tar.gz", SHA256: strings.Repeat("a", 64)},
		{OS: "windows", Arch: "arm64", Bin: "kubectl-kbs.exe", URI: "https://example.test/b.zip", SHA256: strings.Repeat("b", 64)},
	}
	out, err := renderManifest(filepath.Join("..", "..", "krew", "kbs.yaml.tmpl"), "v1.2.3", arts)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		APIVersion string `json:"apiVersion"`
		Kind       string
		Metadata   struct{ Name string }
		Spec       struct {
			Version, Homepage, ShortDescription, Description, Caveats string
			Platforms                                                 []struct {
				Selector         struct{ MatchLabels map[string]string }
				URI, Sha256, Bin string
				Files            []struct{ From, To string }
			}
		}
	}
	if err := yaml.UnmarshalStrict(out, &m); err != nil {
		t.Fatalf("rendered manifest is not the expected YAML: %v\n%s", err, out)
	}
	if m.Metadata.Name != "kbs" || m.Spec.Version != "v1.2.3" || len(m.Spec.Platforms) != 2 {
		t.Fatalf("got name %q version %q with %d platforms", m.Metadata.Name, m.Spec.Version, len(m.Spec.Platforms))
	}
	w := m.Spec.Platforms[1]
	if w.Selector.MatchLabels["os"] != "windows" || w.Bin != "kubectl-kbs.exe" || w.Sha256 != strings.Repeat("b", 64) {
		t.Errorf("windows platform rendered as %+v", w)
	}
	if !slices.ContainsFunc(w.Files, func(f struct{ From, To string }) bool { return f.From == "LICENSE" }) {
		t.Error("LICENSE is not installed")
	}
	if !strings.Contains(m.Spec.Caveats, "kubectl_complete-kbs") || !strings.Contains(m.Spec.Caveats, "SSH") {
		t.Error("caveats must name the real prerequisites: SSH access and the completion helper")
	}
}

func TestArchivesAreReproducibleAndExact(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "kubectl-kbs")
	os.WriteFile(bin, []byte("binary"), 0o755)
	lic := filepath.Join(dir, "LICENSE")
	os.WriteFile(lic, []byte("license"), 0o644)
	files := []archiveFile{{Name: "kubectl-kbs", Path: bin, Mode: 0o755}, {Name: "LICENSE", Path: lic, Mode: 0o644}}
	a, b := filepath.Join(dir, "a.tar.gz"), filepath.Join(dir, "b.tar.gz")
	if err := writeTarGz(a, files); err != nil {
		t.Fatal(err)
	}
	if err := writeTarGz(b, files); err != nil {
		t.Fatal(err)
	}
	ba, _ := os.ReadFile(a)
	bb, _ := os.ReadFile(b)
	if !bytes.Equal(ba, bb) {
		t.Fatal("the same inputs gave different archives")
	}
	gz, err := gzip.NewReader(bytes.NewReader(ba))
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, h.Name)
		if h.Name == "kubectl-kbs" && h.Mode != 0o755 {
			t.Errorf("binary mode %o, want 755", h.Mode)
		}
	}
	if !slices.Equal(names, []string{"kubectl-kbs", "LICENSE"}) {
		t.Fatalf("tar holds %v", names)
	}
	z := filepath.Join(dir, "c.zip")
	if err := writeZip(z, files); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(z)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	if len(zr.File) != 2 || zr.File[0].Mode()&0o111 == 0 {
		t.Fatalf("zip holds %d files, first mode %v", len(zr.File), zr.File[0].Mode())
	}
}

func TestValidateOptions(t *testing.T) {
	for _, v := range []string{"1.0.0", "v1", "v1.0", "latest", "v01.0.0"} {
		o := options{Version: v, Platforms: defaultPlatforms}
		if err := o.validate(); err == nil {
			t.Errorf("version %q accepted", v)
		}
	}
	o := options{Version: "v0.1.0-rc.1", Platforms: []string{"linux"}}
	if err := o.validate(); err == nil {
		t.Error("platform without arch accepted")
	}
}
