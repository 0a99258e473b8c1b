// Package env locates the test environment that hack/ builds (binaries,
// rootfs) and manages the processes and run directories tests create, so that
// a killed run never breaks the next one.
package env

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// RepoRoot walks up from the working directory to the directory holding go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("no go.mod above the working directory: run tests from inside the kbs checkout")
		}
		dir = parent
	}
}

// OutputDir is _output/ in the checkout, or $KBS_OUTPUT_DIR.
func OutputDir() (string, error) {
	if d := os.Getenv("KBS_OUTPUT_DIR"); d != "" {
		return d, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	return filepath.Join(root, "_output"), nil
}

// Binary returns the path of a test binary built by hack/build-test-binaries.sh.
// A missing binary is an error that says how to build it: tests never skip.
func Binary(name string) (string, error) {
	dir := os.Getenv("KBS_BIN_DIR")
	if dir == "" {
		out, err := OutputDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(out, "bin")
	}
	p := filepath.Join(dir, name)
	if _, err := exec.LookPath(p); err != nil {
		return "", fmt.Errorf("test binary %s not found in %s: run `make test` or hack/build-test-binaries.sh", name, dir)
	}
	return p, nil
}

// RunRoot is where run directories live: _output/run.
func RunRoot() (string, error) {
	out, err := OutputDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(out, "run"), nil
}

// UseTestKubectl puts the test environment's kubectl (the cluster's
// release) first on this process's PATH, as an operator's kubectl within
// one minor of the cluster is: `kubectl kbs upgrade plan` checks the
// kubectl it finds there, and a machine's own may be any release.
func UseTestKubectl() error {
	kubectl, err := Binary("kubectl")
	if err != nil {
		return err
	}
	return os.Setenv("PATH", filepath.Dir(kubectl)+string(os.PathListSeparator)+os.Getenv("PATH"))
}
