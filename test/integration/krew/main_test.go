//go:build integration

// Package krew_test proves kbs is a real kubectl plugin: the release the
// project ships is validated by krew's own validator, installed by real krew
// (from the manifest and from a custom index), run and completed by real
// kubectl, and uninstalled without a trace.
package krew_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/kubectl-kbs/kbs/test/env"
)

// testVersion is stamped into the release the tests build.
const testVersion = "v0.1.0-test.1"

var (
	distDir string // the release: archives, checksums, krew/kbs.yaml, krew-index/
	binDir  string // kubectl and kubectl-krew, first on PATH
	server  *httptest.Server
)

func TestMain(m *testing.M) {
	code, err := setUp(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(code)
}

func setUp(m *testing.M) (int, error) {
	tmp, err := os.MkdirTemp("", "kbs-krew-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(tmp)
	distDir, binDir = filepath.Join(tmp, "dist"), filepath.Join(tmp, "bin")
	// The archives are served the way a release host would serve them, so
	// krew downloads and checks them for real.
	server = httptest.NewServer(http.FileServer(http.Dir(distDir)))
	defer server.Close()
	if err := buildRelease(); err != nil {
		return 0, err
	}
	if err := linkTools(); err != nil {
		return 0, err
	}
	return m.Run(), nil
}

func buildRelease() error {
	root, err := env.RepoRoot()
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "run", "./hack/release", "-version", testVersion, "-commit", "feedbee",
		"-date", "2026-11-25T00:00:00Z", "-out", distDir, "-base-url", server.URL)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("building the release: %v\n%s", err, out)
	}
	return nil
}

// linkTools puts the test kubectl and krew (as kubectl-krew) on a PATH of
// their own.
func linkTools() error {
	if err := os.MkdirAll(binDir, 0o755); err != nil {
		return err
	}
	for link, name := range map[string]string{"kubectl": "kubectl", "kubectl-krew": "krew", "validate-krew-manifest": "validate-krew-manifest"} {
		bin, err := env.Binary(name)
		if err != nil {
			return err
		}
		if err := os.Symlink(bin, filepath.Join(binDir, link)); err != nil {
			return err
		}
	}
	return nil
}
