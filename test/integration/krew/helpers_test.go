//go:build integration

package krew_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// krewEnv is an environment with its own KREW_ROOT whose bin directory is on
// PATH, as krew's setup instructions say, and nothing from the host's.
type krewEnv struct {
	root string
	env  []string
}

func newKrewEnv(t *testing.T) *krewEnv {
	t.Helper()
	root := filepath.Join(t.TempDir(), "krew")
	return &krewEnv{root: root, env: []string{
		"KREW_ROOT=" + root,
		"KREW_NO_UPGRADE_CHECK=1",
		"HOME=" + t.TempDir(),
		"PATH=" + filepath.Join(root, "bin") + ":" + binDir + ":/usr/bin:/bin",
		"GIT_AUTHOR_NAME=kbs", "GIT_AUTHOR_EMAIL=kbs@example.test",
		"GIT_COMMITTER_NAME=kbs", "GIT_COMMITTER_EMAIL=kbs@example.test",
	}}
}

// run executes a command in the environment and fails the test on error.
func (k *krewEnv) run(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := k.try(name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// try runs name as found on the environment's PATH, not the test's.
func (k *krewEnv) try(name string, args ...string) (string, error) {
	cmd := exec.Command(k.lookPath(name), args...)
	cmd.Env = k.env
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (k *krewEnv) lookPath(name string) string {
	for _, e := range k.env {
		if path, ok := strings.CutPrefix(e, "PATH="); ok {
			for _, dir := range filepath.SplitList(path) {
				p := filepath.Join(dir, name)
				if fi, err := os.Stat(p); err == nil && fi.Mode()&0o111 != 0 {
					return p
				}
			}
		}
	}
	return name // exec reports it missing
}

// addIndex publishes the release's index layout as a git repository and adds
// it to krew under the name "kbs", as README tells users to.
func (k *krewEnv) addIndex(t *testing.T) {
	t.Helper()
	index := filepath.Join(t.TempDir(), "kbs-index")
	if err := os.CopyFS(index, os.DirFS(filepath.Join(distDir, "krew-index"))); err != nil {
		t.Fatal(err)
	}
	k.run(t, "git", "-C", index, "init", "-q", "-b", "main")
	k.run(t, "git", "-C", index, "add", ".")
	k.run(t, "git", "-C", index, "commit", "-q", "-m", "kbs "+testVersion)
	k.run(t, "kubectl", "krew", "index", "add", "kbs", index)
}

// assertNoTrace checks that uninstall left no kbs file in KREW_ROOT.
func (k *krewEnv) assertNoTrace(t *testing.T) {
	t.Helper()
	_ = filepath.Walk(k.root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && strings.Contains(filepath.Base(p), "kbs") && !strings.Contains(p, "/index/") {
			t.Errorf("left behind after uninstall: %s", p)
		}
		return nil
	})
}

func archive(goos, goarch string) string {
	ext := ".tar.gz"
	if goos == "windows" {
		ext = ".zip"
	}
	return filepath.Join(distDir, "kbs_"+testVersion+"_"+goos+"_"+goarch+ext)
}
