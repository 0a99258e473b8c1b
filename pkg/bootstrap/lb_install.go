package bootstrap

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/shell"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

// vrrpPasswordFile keeps keepalived's VRRP password in the state directory
// (0600); VRRP's PASS authentication takes eight characters.
const vrrpPasswordFile = "vrrp-password"

// lbDebDir is where bundle packages wait on a node until dpkg installs them.
const lbDebDir = "/var/cache/kbs/debs"

// vipTimeout bounds the wait for keepalived to elect a holder: three missed
// advertisements and a skew, with room for a slow start.
const vipTimeout = 30 * time.Second

func loadBalancerPhase() workflow.Phase[InitData] {
	return workflow.Phase[InitData]{
		Name:  "load-balancer",
		Short: "with spec.loadBalancer: haproxy and keepalived on every control plane (packages or the bundle's debs), configured, and the VIP held by exactly one of them",
		Until: "control-plane",
		Run: func(ctx context.Context, d InitData) error {
			if !d.Cluster().ManagedLoadBalancer() {
				return nil
			}
			cps := d.Cluster().HostsWithRole(cluster.RoleControlPlane)
			return SetUpLoadBalancer(ctx, d, cps, cps)
		},
		Verify: func(ctx context.Context, d InitData) error {
			if !d.Cluster().ManagedLoadBalancer() {
				return nil
			}
			return loadBalancerServes(ctx, d, d.Cluster().HostsWithRole(cluster.RoleControlPlane))
		},
	}
}

// loadBalancerServes is the load balancer's cheap check: haproxy on every
// member has loaded a configuration that forwards to every member, and
// exactly one holds the VIP.
func loadBalancerServes(ctx context.Context, d InitData, members []cluster.Host) error {
	cfg := host.File{Path: HAProxyConfig, Data: RenderHAProxy(d.Cluster(), members), Mode: 0o644}
	if err := hostsHold(ctx, d, members, []host.File{cfg, loadedMarker(cfg)}); err != nil {
		return err
	}
	_, err := VIPHolder(ctx, d, members)
	return err
}

// SetUpLoadBalancer installs and configures haproxy and keepalived on
// members, with backends as haproxy's servers, then waits until exactly one
// member holds the VIP.
func SetUpLoadBalancer(ctx context.Context, d InitData, members, backends []cluster.Host) error {
	c := d.Cluster()
	password, err := d.State().Secret(vrrpPasswordFile, 8)
	if err != nil {
		return err
	}
	if err := d.OnHosts(ctx, members, func(ctx context.Context, h *host.Host) error { return installLBPackages(ctx, d, h) }); err != nil {
		return err
	}
	lbm, err := lbMembers(ctx, d, members)
	if err != nil {
		return err
	}
	haproxy := RenderHAProxy(c, backends)
	ordered := orderedMembers(lbm, members, d.DryRun())
	err = d.OnHosts(ctx, members, func(ctx context.Context, h *host.Host) error {
		self := ordered[slices.IndexFunc(ordered, func(m lbMember) bool { return m.Host.Name == h.Spec.Name })]
		return configureLB(ctx, d, h, haproxy, RenderKeepalived(c, self, ordered, password))
	})
	if err != nil || d.DryRun() {
		return err
	}
	holder, err := waitVIP(ctx, d, members)
	if err != nil {
		return err
	}
	d.Log("load-balancer", holder, "holds the VIP %s; haproxy on :%d of every control plane forwards to %s", c.Spec.LoadBalancer.VIP, c.Spec.LoadBalancer.Port, hostNames(backends))
	return nil
}

// orderedMembers lists the members in spec order (keepalived's priorities
// follow it); a dry run has no addresses and plans with stand-ins.
func orderedMembers(lbm map[string]lbMember, members []cluster.Host, dry bool) []lbMember {
	out := make([]lbMember, 0, len(members))
	for _, h := range members {
		m, ok := lbm[h.Name]
		if !ok || dry {
			m = lbMember{Host: h, Interface: "<interface>", Source: "<" + h.Name + "'s address>"}
		}
		out = append(out, m)
	}
	return out
}

// lbMembers finds each member's interface and address towards the VIP.
func lbMembers(ctx context.Context, d InitData, members []cluster.Host) (map[string]lbMember, error) {
	lb := d.Cluster().Spec.LoadBalancer
	var mu sync.Mutex
	out := map[string]lbMember{}
	err := d.OnHosts(ctx, members, func(ctx context.Context, h *host.Host) error {
		if h.DryRun() {
			return nil
		}
		q, _, err := h.Query(ctx, lbAddrQuery(lb.VIP, lb.Interface))
		if err != nil {
			return fmt.Errorf("finding the interface for the VIP %s: %w", lb.VIP, err)
		}
		iface, src, _, err := parseLBAddr(q)
		if err != nil {
			return fmt.Errorf("spec.loadBalancer.vip %s on %s: %w: choose a free address of the control planes' own network", lb.VIP, h.Spec.Name, err)
		}
		mu.Lock()
		out[h.Spec.Name] = lbMember{Host: h.Spec, Interface: iface, Source: src}
		mu.Unlock()
		return nil
	})
	return out, err
}

// installLBPackages installs haproxy and keepalived: from the bundle's
// debs (verified on arrival, removed once installed) or with apt.
func installLBPackages(ctx context.Context, d InitData, h *host.Host) error {
	c := d.Cluster()
	if c.Spec.Runtime.Source != cluster.RuntimeSourceBundle {
		if _, ok, _ := h.Query(ctx, "command -v haproxy && command -v keepalived"); ok {
			return nil
		}
		if !h.DryRun() {
			d.Log("load-balancer", h.Spec.Name, "installing haproxy and keepalived (apt)")
		}
		// The runtime's apt may run on this host at the same time: both
		// take kbs's apt lock.
		return h.Exec(ctx, "install haproxy and keepalived", host.AptLocked("export DEBIAN_FRONTEND=noninteractive && apt-get update -qq && apt-get install -y -qq haproxy keepalived >/dev/null"))
	}
	b, err := CheckBundle(c)
	if err != nil {
		return err
	}
	want := b.Versions["haproxy"] + " " + b.Versions["keepalived"]
	if b.Versions["haproxy"] == "" || b.Versions["keepalived"] == "" {
		return fmt.Errorf("bundle %s carries no haproxy and keepalived (spec.loadBalancer needs them): rebuild it with hack/build-bundle.sh", b.Dir)
	}
	if out, ok, _ := h.Query(ctx, "dpkg-query -W -f '${Version} ' haproxy keepalived"); ok && strings.TrimSpace(out) == want {
		return nil
	}
	var debs []bundleFile
	for rel := range b.Sums {
		if strings.HasPrefix(rel, "debs/") && strings.HasSuffix(rel, ".deb") {
			debs = append(debs, bundleFile{Rel: rel, Dest: lbDebDir + "/" + path.Base(rel), Mode: 0o600})
		}
	}
	sort.Slice(debs, func(i, j int) bool { return debs[i].Rel < debs[j].Rel })
	if err := h.Exec(ctx, "create directories", "install -d -m 0700 "+lbDebDir); err != nil {
		return err
	}
	for _, f := range debs {
		if err := b.Upload(ctx, h, f.Rel, f.Dest, f.Mode); err != nil {
			return err
		}
	}
	if !h.DryRun() {
		d.Log("load-balancer", h.Spec.Name, "installing haproxy and keepalived %s from the bundle (%d packages)", want, len(debs))
	}
	// The log is kbs's like every /var/log/kbs-*: 0600 (umask in a subshell,
	// so the packages' own files keep their modes).
	return h.Exec(ctx, "install haproxy and keepalived", "rm -f /var/log/kbs-lb-dpkg.log; (umask 077; : >/var/log/kbs-lb-dpkg.log); DEBIAN_FRONTEND=noninteractive dpkg -i --skip-same-version --force-confold "+lbDebDir+"/*.deb >>/var/log/kbs-lb-dpkg.log 2>&1 || { tail -20 /var/log/kbs-lb-dpkg.log >&2; exit 1; }; rm -rf "+lbDebDir)
}

// configureLB writes both configurations and reloads what is not loaded
// yet: haproxy checks its file first and reloads without dropping
// connections; keepalived re-reads its own on reload.
func configureLB(ctx context.Context, d InitData, h *host.Host, haproxy, keepalived []byte) error {
	hChanged, err := ensureLoaded(ctx, h, host.File{Path: HAProxyConfig, Data: haproxy, Mode: 0o644},
		"haproxy -c -q -f "+HAProxyConfig+" && systemctl reload-or-restart haproxy")
	if err != nil {
		return err
	}
	kChanged, err := ensureLoaded(ctx, h, host.File{Path: KeepalivedConfig, Data: keepalived, Mode: 0o600, Secret: true},
		"systemctl reload-or-restart keepalived")
	if err != nil {
		return err
	}
	// is-active of two units passes when one is: start both (a no-op for
	// a running one).
	if err := h.Exec(ctx, "start haproxy and keepalived", "systemctl enable -q --now haproxy keepalived"); err != nil {
		return err
	}
	// A reload that haproxy could not carry out (a limit, a port taken)
	// still leaves systemd content: the listening port is the proof.
	port := lbPortString(d.Cluster())
	listening := "for i in $(seq 50); do ss -Hltn 'sport = :" + port + "' | grep -q . && exit 0; sleep 0.1; done; journalctl -u haproxy -n 5 --no-pager >&2; exit 1"
	if err := h.Exec(ctx, "check that haproxy listens on :"+port, listening); err != nil {
		return err
	}
	if (hChanged || kChanged) && !h.DryRun() {
		d.Log("load-balancer", h.Spec.Name, "haproxy and keepalived configured (haproxy on :%s)", port)
	}
	return nil
}

// loadedMarker records, under /run (gone at a reboot, when the services
// load their files afresh), the checksum of the configuration a service
// has loaded: a write whose reload failed or was interrupted is reloaded
// by the next run, although the file itself is already as wanted.
func loadedMarker(f host.File) host.File {
	sum := sha256.Sum256(f.Data)
	// 0600: the hash of keepalived.conf would let anyone test guesses of
	// the VRRP password in it offline.
	return host.File{Path: "/run/kbs/" + path.Base(f.Path) + ".loaded", Data: []byte(hex.EncodeToString(sum[:]) + "\n"), Mode: 0o600}
}

// ensureLoaded writes f and runs reload unless f is already in place and
// loaded; it reports whether it reloaded.
func ensureLoaded(ctx context.Context, h *host.Host, f host.File, reload string) (bool, error) {
	changed, err := h.EnsureFile(ctx, f)
	if err != nil {
		return false, err
	}
	marker := loadedMarker(f)
	if !changed && h.HasFile(ctx, marker) {
		return false, nil
	}
	if err := h.Exec(ctx, "load "+f.Path, "install -d -m 0755 /run/kbs && "+reload); err != nil {
		return false, err
	}
	_, err = h.EnsureFile(ctx, marker)
	return true, err
}

// vipHolders lists the members that hold the VIP now.
func vipHolders(ctx context.Context, d InitData, members []cluster.Host) ([]string, error) {
	vip := d.Cluster().Spec.LoadBalancer.VIP
	var mu sync.Mutex
	var holders []string
	err := d.OnHosts(ctx, members, func(ctx context.Context, h *host.Host) error {
		out, _, err := h.Query(ctx, "ip -o -4 addr show to "+shell.Quote(vip+"/32"))
		if err != nil {
			return err
		}
		if out != "" {
			mu.Lock()
			holders = append(holders, h.Spec.Name)
			mu.Unlock()
		}
		return nil
	})
	sort.Strings(holders)
	return holders, err
}

// VIPHolder is the one member that holds the VIP; none or several is an
// error that says which.
func VIPHolder(ctx context.Context, d InitData, members []cluster.Host) (string, error) {
	holders, err := vipHolders(ctx, d, members)
	if err != nil {
		return "", err
	}
	vip := d.Cluster().Spec.LoadBalancer.VIP
	switch len(holders) {
	case 1:
		return holders[0], nil
	case 0:
		return "", fmt.Errorf("no control plane holds the VIP %s: check keepalived there (`kubectl kbs diag cluster` collects its log)", vip)
	default:
		return "", fmt.Errorf("the VIP %s is held by %s at once (split brain): VRRP between them is blocked, or the router id %d is used by another cluster on the network", vip, strings.Join(holders, " and "), d.Cluster().Spec.LoadBalancer.VirtualRouterID)
	}
}

// waitVIP waits until exactly one member holds the VIP.
func waitVIP(ctx context.Context, d InitData, members []cluster.Host) (string, error) {
	var holder string
	err := workflow.Retry(ctx, 500*time.Millisecond, vipTimeout, func(ctx context.Context) (err error) {
		holder, err = VIPHolder(ctx, d, members)
		return err
	})
	if err != nil {
		return "", err
	}
	return holder, nil
}
