//go:build integration

package krew_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// krew's own validator, without -skip-install: it installs the manifest for
// every platform with real krew, downloading each archive from the release
// server, checking its sha256, and requiring a LICENSE.
func TestValidateKrewManifest(t *testing.T) {
	k := newKrewEnv(t)
	out := k.run(t, "validate-krew-manifest", "-manifest", filepath.Join(distDir, "krew", "kbs.yaml"))
	if !strings.Contains(out, "all 6 spec.platforms installed fine") {
		t.Fatalf("validator did not install all six platforms:\n%s", out)
	}
}

func TestInstallFromManifestAndArchive(t *testing.T) {
	k := newKrewEnv(t)
	k.run(t, "kubectl", "krew", "install", "--manifest="+filepath.Join(distDir, "krew", "kbs.yaml"), "--archive="+archive("linux", "amd64"))
	assertInstalledAndRuns(t, k)
	if _, err := os.Stat(filepath.Join(k.root, "store", "kbs", testVersion, "LICENSE")); err != nil {
		t.Errorf("LICENSE not installed: %v", err)
	}
	// krew refuses to uninstall without any index; users have the default
	// one, which this machine cannot clone.
	k.addIndex(t)
	k.run(t, "kubectl", "krew", "uninstall", "kbs")
	k.assertNoTrace(t)
	if out, err := k.try("kubectl", "kbs", "version"); err == nil {
		t.Fatalf("kubectl kbs still runs after uninstall:\n%s", out)
	}
}

// The custom index path: what README tells users whose central index refuses
// a three-letter name.
func TestInstallFromCustomIndex(t *testing.T) {
	k := newKrewEnv(t)
	k.addIndex(t)
	k.run(t, "kubectl", "krew", "install", "kbs/kbs")
	assertInstalledAndRuns(t, k)
	k.run(t, "kubectl", "krew", "uninstall", "kbs")
	k.assertNoTrace(t)
}

// With the completion helper on PATH, real kubectl completes kbs commands.
func TestKubectlCompletesPluginCommands(t *testing.T) {
	k := newKrewEnv(t)
	k.run(t, "kubectl", "krew", "install", "--manifest="+filepath.Join(distDir, "krew", "kbs.yaml"), "--archive="+archive("linux", "amd64"))
	shim := k.run(t, "kubectl", "kbs", "completion", "kubectl")
	if err := os.WriteFile(filepath.Join(k.root, "bin", "kubectl_complete-kbs"), []byte(shim), 0o755); err != nil {
		t.Fatal(err)
	}
	tests := map[string][]string{
		"vers":       {"version"},
		"completion": {"bash", "zsh", "fish", "kubectl"},
	}
	for prefix, want := range tests {
		args := []string{"__complete", "kbs", prefix}
		if prefix == "completion" {
			args = append(args, "")
		}
		out := k.run(t, "kubectl", args...)
		for _, w := range want {
			if !strings.Contains(out, w+"\n") && !strings.Contains(out, w+"\t") {
				t.Errorf("kubectl %s: %q missing from\n%s", strings.Join(args, " "), w, out)
			}
		}
	}
}

func assertInstalledAndRuns(t *testing.T, k *krewEnv) {
	t.Helper()
	var info struct{ Version, Commit, BuildDate string }
	out := k.run(t, "kubectl", "kbs", "version", "-o", "json")
	if err := json.Unmarshal([]byte(out), &info); err != nil {
		t.Fatalf("kubectl kbs version -o json: %v\n%s", err, out)
	}
	if info.Version != testVersion || info.Commit != "feedbee" || info.BuildDate != "2026-11-25T00:00:00Z" {
		t.Errorf("installed plugin reports %+v, want the stamped %s/feedbee", info, testVersion)
	}
	if list := k.run(t, "kubectl", "plugin", "list"); !strings.Contains(list, filepath.Join(k.root, "bin", "kubectl-kbs")) {
		t.Errorf("kubectl plugin list does not show krew's kubectl-kbs:\n%s", list)
	}
}
