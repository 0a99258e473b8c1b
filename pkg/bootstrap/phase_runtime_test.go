package bootstrap

import (
	"context"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/remote/remotetest"
)

// fileWant is a file a phase must leave on a host.
type fileWant struct {
	data string
	mode os.FileMode
}

// assertFiles checks that c was written exactly files, with their content
// and modes, owned by root.
func assertFiles(t *testing.T, c *remotetest.Conn, files map[string]fileWant) {
	t.Helper()
	got := slices.Sorted(maps.Keys(c.Writes()))
	if want := slices.Sorted(maps.Keys(files)); !slices.Equal(got, want) {
		t.Errorf("%s: wrote %v\nwant %v", c.Name(), got, want)
	}
	for path, want := range files {
		f, ok := c.Stat(path)
		if !ok {
			continue
		}
		if string(f.Data) != want.data || f.Mode != want.mode || f.Owner != "root:root" {
			t.Errorf("%s: %s is %s %04o:\n%s\nwant %04o:\n%s", c.Name(), path, f.Owner, f.Mode, f.Data, want.mode, want.data)
		}
	}
}

// kernelFiles are what prepareKernel leaves on every node.
func kernelFiles() map[string]fileWant {
	return map[string]fileWant{ModulesPath: {NodeModules, 0o644}, SysctlPath: {NodeSysctls, 0o644}}
}

// aptSteps are the steps of the package install for Kubernetes v1.37.2,
// written out here rather than rebuilt from the code under test.
var aptSteps = []string{
	"export DEBIAN_FRONTEND=noninteractive",
	`echo 'Acquire::http::Timeout "30"; Acquire::https::Timeout "30"; Acquire::Retries "2";' > /etc/apt/apt.conf.d/90kbs-timeouts`,
	"apt-get update -qq",
	"apt-get install -y -qq containerd runc apt-transport-https ca-certificates curl gpg >/dev/null",
	"install -d -m 0755 /etc/apt/keyrings",
	"curl -fsSL -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg.asc 'https://pkgs.k8s.io/core:/stable:/v1.37/deb/Release.key'",
	"gpg --batch --yes --dearmor -o /etc/apt/keyrings/kubernetes-apt-keyring.gpg.new /etc/apt/keyrings/kubernetes-apt-keyring.gpg.asc",
	"mv /etc/apt/keyrings/kubernetes-apt-keyring.gpg.new /etc/apt/keyrings/kubernetes-apt-keyring.gpg",
	"rm -f /etc/apt/keyrings/kubernetes-apt-keyring.gpg.asc",
	"echo 'deb [signed-by=/etc/apt/keyrings/kubernetes-apt-keyring.gpg] https://pkgs.k8s.io/core:/stable:/v1.37/deb/ /' > /etc/apt/sources.list.d/kubernetes.list",
	"apt-get update -qq",
	"apt-get install -y -qq --allow-change-held-packages 'kubelet=1.37.2-*' 'kubeadm=1.37.2-*' 'kubectl=1.37.2-*' >/dev/null",
	"apt-mark hold 'kubelet' 'kubeadm' 'kubectl' >/dev/null",
}

const (
	restartContainerdCmd = `^systemctl daemon-reload && systemctl enable --quiet containerd.service kubelet.service && systemctl restart containerd.service$`
	startContainerdCmd   = `^systemctl daemon-reload && systemctl enable --quiet containerd.service kubelet.service && systemctl start containerd.service$`
	checkRuntimeCmd      = `^kubelet --version && kubeadm version -o short && ctr version >/dev/null && systemctl is-active containerd.service$`
)

// The runtime phases from apt packages: the kernel prepared, containerd
// and the spec's kubelet, kubeadm and kubectl installed from pkgs.k8s.io,
// containerd configured for the version it is, and on a re-run nothing
// installed, written or restarted.
func TestRuntimePhaseFromPackages(t *testing.T) {
	for _, tc := range []struct {
		name, phase string
		hosts       []string
		containerd  string // what `containerd --version` prints
		major       int    // the containerd config version it gets
	}{
		{"control plane with Debian's containerd 1.x", "runtime", []string{"master-0"}, "containerd github.com/containerd/containerd 1.6.20~ds1 1.6.20~ds1-1+b1", 1},
		{"workers with containerd 2.x", "runtime-workers", []string{"worker-0", "worker-1"}, "containerd containerd.io v2.1.4 75cb2b7193e4e490e9fbdc236c0e811ccaba3376", 2},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			spec := loadExample(t, "k8s")
			f := newFakeInit(t, spec, false)
			f.ssh.Configure(freshNode(spec, nodeOptions{containerdVersion: tc.containerd}))
			if err := f.run(ctx, tc.phase); err != nil {
				t.Fatalf("%v\n%s", err, f.output())
			}
			if !slices.Equal(f.dialed(), tc.hosts) {
				t.Errorf("dialed %v, want %v", f.dialed(), tc.hosts)
			}
			cfg, err := RenderContainerdConfig(spec, tc.major)
			if err != nil {
				t.Fatal(err)
			}
			files := kernelFiles()
			files[ContainerdConfigPath] = fileWant{string(cfg), 0o644}
			for _, name := range tc.hosts {
				c := f.conn(name)
				assertFiles(t, c, files)
				assertRanInOrder(t, c,
					`^for m in overlay br_netfilter; do modprobe \$m`,
					`^exec 9>/run/kbs-apt\.lock && flock 9 && export DEBIAN_FRONTEND=noninteractive && `,
					`^containerd --version$`,
					`^install -d -m 0755 /etc/containerd /etc/systemd/system/kubelet.service.d /etc/cni/net.d$`,
					restartContainerdCmd,
					`^for i in \$\(seq 1 50\); do ctr version`,
					checkRuntimeCmd)
				var apt []string
				for _, cmd := range c.Commands() {
					if rest, ok := strings.CutPrefix(cmd, host.AptLockPrefix); ok && strings.HasPrefix(rest, "export DEBIAN_FRONTEND=") {
						apt = append(apt, rest)
					}
				}
				if len(apt) != 1 || !slices.Equal(strings.Split(apt[0], " && "), aptSteps) {
					t.Errorf("%s: apt ran %q\nwant the steps %q", name, apt, aptSteps)
				}
				c.Reset()
			}

			// A re-run finds everything in place.
			f.out.Reset()
			if err := f.run(ctx, tc.phase); err != nil {
				t.Fatalf("re-run: %v\n%s", err, f.output())
			}
			for _, name := range tc.hosts {
				c := f.conn(name)
				if w := c.Writes(); len(w) != 0 {
					t.Errorf("%s: a re-run wrote %v", name, slices.Sorted(maps.Keys(w)))
				}
				if c.Ran(`apt-get`) || c.Ran(`systemctl restart`) || !c.Ran(startContainerdCmd) {
					t.Errorf("%s: a re-run installed or restarted something, or did not make sure containerd runs:\n%s", name, strings.Join(c.Commands(), "\n"))
				}
				if !strings.Contains(f.output(), "[runtime] "+name+": kubelet and kubeadm v1.37.2 and containerd already installed") {
					t.Errorf("%s: no note that the packages are installed:\n%s", name, f.output())
				}
			}
		})
	}
}

// What the hosts answer changes the runtime phase's course: swap is turned
// off, a kernel without br_netfilter or a failed install stops it before
// containerd starts, and a node that ends up with another kubelet fails.
func TestRuntimePhaseOnAwkwardHosts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		answers []answer
		wantErr string
		// ran and notRan are patterns of commands run, or not, on master-0.
		ran, notRan []string
	}{
		{
			name:    "swap on: turned off and commented out of fstab",
			answers: []answer{{pattern: `^tail -n \+2 /proc/swaps$`, out: "/swap.img file 2097148 0 -2\n"}},
			ran:     []string{`^swapoff -a && cp -p /etc/fstab /etc/fstab\.kbs-backup && sed -i -E `, restartContainerdCmd},
		},
		{
			name:    "a kernel without br_netfilter",
			answers: []answer{{pattern: `^cat /proc/sys/net/ipv4/ip_forward; `, out: "1\n"}},
			wantErr: `the kernel is not ready for Kubernetes (ip_forward="1"; br_netfilter missing)`,
			notRan:  []string{`apt-get`, `systemctl`},
		},
		{
			name:    "apt fails",
			answers: []answer{{pattern: `^exec 9>/run/kbs-apt\.lock && flock 9 && export DEBIAN_FRONTEND=noninteractive && `, err: remotetest.Exit(100, "E: Unable to locate package kubelet")}},
			wantErr: "install packages: master-0: ",
			notRan:  []string{`systemctl`},
		},
		{
			name:    "containerd up without its CRI service",
			answers: []answer{{pattern: `^ctr plugins ls `, out: "error\n"}},
			wantErr: `containerd on master-0 runs without its CRI service (plugin io.containerd.grpc.v1 cri: "error")`,
		},
		{
			name:    "another kubelet after the install",
			answers: []answer{{pattern: checkRuntimeCmd, out: "Kubernetes v1.36.1\nv1.36.1\nactive\n"}},
			wantErr: `master-0 runs "Kubernetes v1.36.1; v1.36.1; active", not Kubernetes v1.37.2`,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := loadExample(t, "k8s")
			f := newFakeInit(t, spec, false)
			for _, a := range tc.answers {
				f.conn("master-0").On(a.pattern, a.out, a.err)
			}
			f.ssh.Configure(freshNode(spec, nodeOptions{}))
			err := f.run(context.Background(), "runtime")
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Fatalf("error %v, want %q", err, tc.wantErr)
			}
			c := f.conn("master-0")
			for _, p := range tc.ran {
				if !c.Ran(p) {
					t.Errorf("nothing ran matching %q:\n%s", p, strings.Join(c.Commands(), "\n"))
				}
			}
			for _, p := range tc.notRan {
				if c.Ran(p) {
					t.Errorf("ran %q:\n%s", p, strings.Join(c.Commands(), "\n"))
				}
			}
		})
	}
}
