package kubeconfig

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

const existing = `# my clusters — hand-edited
apiVersion: v1
kind: Config
preferences:
  colors: true
clusters:
- name: prod
  cluster:
    server: https://10.0.0.20:6443
    certificate-authority-data: Y2E=
    x-vendor-field: keep me
users:
- name: admin
  user:
    token: abc
contexts:
- name: prod
  context: {cluster: prod, user: admin}
current-context: prod
x-tool-settings: {a: 1}
`

func TestSetKeepsForeignEntriesFieldsAndComments(t *testing.T) {
	d, err := Parse([]byte(existing))
	if err != nil {
		t.Fatal(err)
	}
	must(t, d.Set(Users, "mikeadmin@prod", map[string]any{"client-certificate-data": "Y2VydA==", "client-key-data": "a2V5"}))
	must(t, d.Set(Contexts, "mikeadmin@prod", map[string]any{"cluster": "prod", "user": "mikeadmin@prod", "namespace": "prod"}))
	must(t, d.Set(Clusters, "prod", map[string]any{"server": "https://10.0.0.21:6443"}))
	out, err := d.Bytes()
	if err != nil {
		t.Fatal(err)
	}
	s := string(out)
	for _, want := range []string{"# my clusters — hand-edited", "colors: true", "x-vendor-field: keep me", "x-tool-settings", "token: abc", "server: https://10.0.0.21:6443", "certificate-authority-data: Y2E=", "namespace: prod", "current-context: prod"} {
		if !strings.Contains(s, want) {
			t.Errorf("lost or missing %q:\n%s", want, s)
		}
	}
	// client-go reads the result as the kubeconfig we meant.
	cfg, err := clientcmd.Load(out)
	if err != nil {
		t.Fatal(err)
	}
	if ctx := cfg.Contexts["mikeadmin@prod"]; ctx == nil || ctx.Namespace != "prod" || ctx.AuthInfo != "mikeadmin@prod" {
		t.Fatalf("context as client-go reads it: %+v", ctx)
	}
	if u := cfg.AuthInfos["mikeadmin@prod"]; u == nil || string(u.ClientCertificateData) != "cert" || string(u.ClientKeyData) != "key" {
		t.Fatalf("user as client-go reads it: %+v", u)
	}
}

func TestRemoveAndCurrentContext(t *testing.T) {
	d, _ := Parse([]byte(existing))
	if !d.Remove(Users, "admin") || d.Remove(Users, "admin") {
		t.Fatal("Remove should report the first removal only")
	}
	d.SetCurrentContext("")
	if d.CurrentContext() != "" || d.Has(Users, "admin") || !d.Has(Clusters, "prod") {
		t.Fatal("remove or current-context did not take")
	}
}

func TestNullSectionsAndEmptyFile(t *testing.T) {
	for _, in := range []string{"", "apiVersion: v1\nkind: Config\nusers: null\n"} {
		d, err := Parse([]byte(in))
		if err != nil {
			t.Fatal(err)
		}
		must(t, d.Set(Users, "u", map[string]any{"token": "t"}))
		if got := d.Names(Users); len(got) != 1 || got[0] != "u" {
			t.Fatalf("users %v", got)
		}
	}
}

func TestUpdateKeepsModeSymlinkAndBackup(t *testing.T) {
	dir := t.TempDir()
	real := filepath.Join(dir, "real-config")
	os.WriteFile(real, []byte(existing), 0o640)
	link := filepath.Join(dir, "config")
	os.Symlink("real-config", link)
	must(t, Update(link, func(d *Doc) error { return d.Set(Users, "u", map[string]any{"token": "t"}) }))
	if fi, _ := os.Lstat(link); fi.Mode()&os.ModeSymlink == 0 {
		t.Fatal("the symlink was replaced by a file")
	}
	if fi, _ := os.Stat(real); fi.Mode().Perm() != 0o640 {
		t.Fatalf("mode %v, want 0640 kept", fi.Mode().Perm())
	}
	if b, _ := os.ReadFile(real + BackupSuffix); string(b) != existing {
		t.Fatal("no backup of the previous content")
	}
	if _, err := os.Stat(link + ".lock"); !os.IsNotExist(err) {
		t.Fatal("lock left behind")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 3 {
		t.Fatalf("directory holds %d entries, want config, real-config and its backup", len(entries))
	}
}

func TestNewFileIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sub", "config")
	must(t, Update(path, func(d *Doc) error { return d.Set(Users, "u", map[string]any{"token": "t"}) }))
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o600 {
		t.Fatalf("new kubeconfig mode %v, want 0600", fi.Mode().Perm())
	}
}

// helperEnv makes the test binary act as a separate writer process.
const helperEnv = "KBS_KUBECONFIG_HELPER"

func TestMain(m *testing.M) {
	if spec := os.Getenv(helperEnv); spec != "" {
		os.Exit(helper(spec))
	}
	os.Exit(m.Run())
}

// helper runs "PATH NAME": add user NAME. "PATH NAME CRASHAT" gives the
// user a token of crashToken bytes and arms the process to die, as in a
// crash, once it has written CRASHAT bytes to one file.
func helper(spec string) int {
	f := strings.Fields(spec)
	token := f[1]
	if len(f) > 2 {
		limit, err := strconv.ParseInt(f[2], 10, 64)
		if err == nil && len(f) > 3 && f[3] == "full" {
			err = fillsAt(limit)
		} else if err == nil {
			err = dieOnceWritten(limit)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "arming the crash:", err)
			return 2
		}
		token = crashToken
	}
	err := Update(f[0], func(d *Doc) error {
		return d.Set(Users, f[1], map[string]any{"token": token})
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// crashToken makes the crashing writer's new kubeconfig far longer than the
// old one and than its backup, so the limit falls inside the new content.
var crashToken = strings.Repeat("t", 64<<10)

func writer(path, args string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+path+" "+args)
	return cmd
}

// 20 processes adding a user each to one file at once lose no entry.
func TestConcurrentWritersLoseNothing(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config")
	os.WriteFile(path, []byte(existing), 0o600)
	var cmds []*exec.Cmd
	for i := range 20 {
		c := writer(path, fmt.Sprintf("user-%02d", i))
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		cmds = append(cmds, c)
	}
	for _, c := range cmds {
		if err := c.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := clientcmd.LoadFromFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.AuthInfos) != 21 {
		t.Fatalf("%d users after 20 concurrent writers, want 21", len(cfg.AuthInfos))
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
