package bootstrap

import (
	"context"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// mirrored is the air-gapped spec with a mirror for its own registry and
// two for Docker Hub.
func mirrored() map[string][]string {
	return map[string][]string{
		"kbs.local": {"http://10.0.0.1:5000"},
		"docker.io": {"https://mirror-a.example.com", "https://mirror-b.example.com:8443/"},
	}
}

// containerd's configuration names the hosts directory only when there
// are mirrors; each registry gets a hosts.toml with its mirrors in the
// spec's order and the registry itself (Docker Hub's API host for
// docker.io) as the fallback.
func TestRenderRegistryMirrors(t *testing.T) {
	c := airgapped(t)
	if len(RenderRegistryHosts(c)) != 0 {
		t.Errorf("hosts.toml without mirrors: %v", RenderRegistryHosts(c))
	}
	c.Spec.Runtime.RegistryMirrors = mirrored()
	for major, name := range map[int]string{2: "containerd-v3.toml", 1: "containerd-v2.toml"} {
		out, err := RenderContainerdConfig(c, major)
		if err != nil {
			t.Fatal(err)
		}
		golden(t, "k8s-mirrors-"+name, out)
	}
	hosts := RenderRegistryHosts(c)
	if got := slices.Sorted(maps.Keys(hosts)); !slices.Equal(got, []string{"/etc/containerd/certs.d/docker.io/hosts.toml", "/etc/containerd/certs.d/kbs.local/hosts.toml"}) {
		t.Fatalf("hosts.toml files: %v", got)
	}
	golden(t, "k8s-mirrors-docker.io-hosts.toml", hosts["/etc/containerd/certs.d/docker.io/hosts.toml"])
	golden(t, "k8s-mirrors-kbs.local-hosts.toml", hosts["/etc/containerd/certs.d/kbs.local/hosts.toml"])
	for reg, want := range map[string]string{
		"docker.io": "https://registry-1.docker.io", "registry.example.com:5000": "https://registry.example.com:5000",
		"localhost:5000": "http://localhost:5000", "127.0.0.1:5000": "http://127.0.0.1:5000",
	} {
		if got := registryServer(reg); got != want {
			t.Errorf("the fallback for %s is %s, want %s (containerd's own default)", reg, got, want)
		}
	}
}

// The runtime phase writes each registry's hosts.toml beside containerd's
// configuration; a later change of mirrors only rewrites the hosts.toml
// and leaves containerd running (it reads the file at each pull).
func TestRuntimePhaseWritesMirrors(t *testing.T) {
	ctx := context.Background()
	spec := bundleSpec(t)
	spec.Spec.Runtime.RegistryMirrors = mirrored()
	f := newFakeInit(t, spec, false)
	f.ssh.Configure(freshNode(spec, nodeOptions{}))
	if err := f.run(ctx, "runtime-workers"); err != nil {
		t.Fatalf("%v\n%s", err, f.output())
	}
	c := f.conn("worker-0")
	files := bundleNodeFiles(t, spec, "worker")
	for path, data := range RenderRegistryHosts(spec) {
		files[path] = fileWant{string(data), 0o644}
	}
	assertFiles(t, c, files)
	if !c.Ran(`^install -d -m 0755 /etc/containerd \S+ \S+ ('/etc/containerd/certs\.d/docker\.io' '/etc/containerd/certs\.d/kbs\.local'|'/etc/containerd/certs\.d/kbs\.local' '/etc/containerd/certs\.d/docker\.io')$`) {
		t.Errorf("no directory for each registry:\n%s", strings.Join(c.Commands(), "\n"))
	}
	if cfg, _ := c.File(ContainerdConfigPath); !strings.Contains(string(cfg), "config_path = '/etc/containerd/certs.d'") {
		t.Errorf("containerd's configuration names no hosts directory:\n%s", cfg)
	}
	c.Reset()

	spec.Spec.Runtime.RegistryMirrors["kbs.local"] = []string{"http://10.0.0.2:5000"}
	if err := f.run(ctx, "runtime-workers"); err != nil {
		t.Fatalf("re-run: %v\n%s", err, f.output())
	}
	if w := slices.Sorted(maps.Keys(c.Writes())); !slices.Equal(w, []string{"/etc/containerd/certs.d/kbs.local/hosts.toml"}) {
		t.Errorf("a mirror change wrote %v", w)
	}
	if c.Ran(`systemctl restart`) || !c.Ran(startContainerdCmd) {
		t.Errorf("a mirror change restarted containerd:\n%s", strings.Join(c.Commands(), "\n"))
	}
	c.Reset()

	// docker.io out of the spec: its file goes, kbs.local's stays.
	delete(spec.Spec.Runtime.RegistryMirrors, "docker.io")
	c.On(regexp.QuoteMeta(kbsRegistryHostsCmd), "/etc/containerd/certs.d/docker.io/hosts.toml\n/etc/containerd/certs.d/kbs.local/hosts.toml\n", nil)
	if err := f.run(ctx, "runtime-workers"); err != nil {
		t.Fatalf("re-run: %v\n%s", err, f.output())
	}
	rm := `rm -f '/etc/containerd/certs.d/docker.io/hosts.toml' && { rmdir '/etc/containerd/certs.d/docker.io' 2>/dev/null; true; }`
	if !slices.Contains(c.Commands(), rm) || c.Ran(`rm -f '/etc/containerd/certs.d/kbs\.local`) || c.Ran(`systemctl restart`) {
		t.Errorf("want %q, kbs.local's file kept and no restart; ran\n%s", rm, strings.Join(c.Commands(), "\n"))
	}
}
