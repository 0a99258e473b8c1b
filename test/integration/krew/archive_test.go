//go:build integration

package krew_test

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

var platforms = [][2]string{
	{"linux", "amd64"}, {"linux", "arm64"}, {"darwin", "amd64"}, {"darwin", "arm64"}, {"windows", "amd64"}, {"windows", "arm64"},
}

// Each archive holds exactly the binary, LICENSE and README, and the sha256
// file lists every archive with its real checksum.
func TestArchivesHoldExactlyWhatTheyShould(t *testing.T) {
	sums, err := os.ReadFile(filepath.Join(distDir, "kbs_"+testVersion+"_sha256sums.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range platforms {
		path := archive(p[0], p[1])
		bin := "kubectl-kbs"
		if p[0] == "windows" {
			bin += ".exe"
		}
		names, err := list(path)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		slices.Sort(names)
		if want := []string{"LICENSE", "README.md", bin}; !slices.Equal(names, want) {
			t.Errorf("%s holds %v, want %v", filepath.Base(path), names, want)
		}
		out, err := exec.Command("sha256sum", path).Output()
		if err != nil {
			t.Fatal(err)
		}
		sum := strings.Fields(string(out))[0]
		if !strings.Contains(string(sums), sum+"  "+filepath.Base(path)+"\n") {
			t.Errorf("sha256 file lacks %s %s", sum, filepath.Base(path))
		}
	}
}

// The linux/amd64 binary inside its archive runs and reports its stamp.
func TestArchivedBinaryReportsStampedVersion(t *testing.T) {
	dir := t.TempDir()
	if out, err := exec.Command("tar", "-xzf", archive("linux", "amd64"), "-C", dir).CombinedOutput(); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	out, err := exec.Command(filepath.Join(dir, "kubectl-kbs"), "version", "-o", "json").Output()
	if err != nil {
		t.Fatal(err)
	}
	var info struct{ Version, Commit string }
	if err := json.Unmarshal(out, &info); err != nil || info.Version != testVersion || info.Commit != "feedbee" {
		t.Fatalf("archived binary reports %s (%v)", out, err)
	}
}

func list(path string) ([]string, error) {
	if strings.HasSuffix(path, ".zip") {
		zr, err := zip.OpenReader(path)
		if err != nil {
			return nil, err
		}
		defer zr.Close()
		var names []string
		for _, f := range zr.File {
			names = append(names, f.Name)
		}
		return names, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		return nil, err
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return names, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading tar: %w", err)
		}
		names = append(names, h.Name)
	}
}
