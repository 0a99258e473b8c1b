package diag

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kubectl-kbs/kbs/pkg/remote"
)

// Transports, for --via.
const (
	ViaAuto = "auto"
	ViaSSH  = "ssh"
	ViaAPI  = "api" // the kubelet's node log query, through the API server
	ViaPod  = "pod"
)

// Target is one host to read.
type Target struct {
	Name, Role, Address string
	// SSH is how to reach it over SSH; nil when kbs knows no way.
	SSH *remote.Target
	// InAPI says the API server knows it as a node.
	InAPI bool
}

// Dialer opens SSH connections.
type Dialer interface {
	Dial(ctx context.Context, t remote.Target) (remote.Conn, error)
}

// Collector reads targets into a bundle, several at a time.
type Collector struct {
	SSH      Dialer
	Client   kubernetes.Interface // nil: no API sources, no api/pod transports
	Pod      *PodTransport
	Via      string
	Options  Options
	Parallel int
	// Progress reports per node what happened.
	Progress func(node, format string, args ...any)
}

// TargetsFromNodes turns API nodes into targets: role from the kubeadm
// label, address from InternalIP.
func TargetsFromNodes(nodes []corev1.Node) []Target {
	var out []Target
	for _, n := range nodes {
		t := Target{Name: n.Name, Role: "worker", InAPI: true}
		if _, ok := n.Labels["node-role.kubernetes.io/control-plane"]; ok {
			t.Role = "control-plane"
		}
		for _, a := range n.Status.Addresses {
			if a.Type == corev1.NodeInternalIP {
				t.Address = a.Address
			}
		}
		out = append(out, t)
	}
	return out
}

// Run collects every target; the error lists the nodes and sources that
// failed (the bundle holds everything else).
func (c *Collector) Run(ctx context.Context, targets []Target, b *Bundle) error {
	var errs []error
	if c.Client != nil {
		for _, s := range CollectCluster(ctx, c.Client, b) {
			errs = append(errs, fmt.Errorf("%s: %s", s.Path, s.Error))
		}
	}
	err := remote.ForEach(ctx, targets, c.Parallel, func(ctx context.Context, t Target) error {
		return c.node(ctx, t, b)
	})
	return errors.Join(append(errs, err)...)
}

func (c *Collector) log(node, format string, args ...any) {
	if c.Progress != nil {
		c.Progress(node, format, args...)
	}
}

func (c *Collector) node(ctx context.Context, t Target, b *Bundle) error {
	info := NodeInfo{Role: t.Role, Address: t.Address}
	var failed []Source
	if c.Client != nil && t.InAPI {
		failed = append(failed, CollectNodeAPI(ctx, c.Client, b, t.Name)...)
	}
	var tried []string
	for _, via := range c.order(t) {
		f, err := c.collectVia(ctx, via, t, b, &info)
		if err != nil {
			tried = append(tried, via+": "+err.Error())
			c.log(t.Name, "%s transport failed: %v", via, err)
			continue
		}
		info.Transport = via
		failed = append(failed, f...)
		break
	}
	if info.Transport == "" {
		info.Error = "no transport reached the node: " + strings.Join(tried, "; ")
		if len(tried) == 0 {
			info.Error = "no transport available (no SSH address in the spec and no API access)"
		}
	} else if len(tried) > 0 {
		info.Fallback = "fell back to " + info.Transport + " after " + strings.Join(tried, "; ")
	}
	b.SetNode(t.Name, info)
	c.log(t.Name, "collected via %s, %d failed source(s)", orNone(info.Transport), len(failed))
	var errs []error
	if info.Transport == "" {
		errs = append(errs, fmt.Errorf("%s: %s", t.Name, info.Error))
	}
	for _, s := range failed {
		errs = append(errs, fmt.Errorf("%s: %s", s.Path, s.Error))
	}
	return errors.Join(errs...)
}

func orNone(s string) string {
	if s == "" {
		return "nothing"
	}
	return s
}

// order is the transports to try for a target.
func (c *Collector) order(t Target) []string {
	switch c.Via {
	case ViaSSH, ViaAPI, ViaPod:
		return []string{c.Via}
	}
	var out []string
	if t.SSH != nil {
		out = append(out, ViaSSH)
	}
	if c.Client != nil && t.InAPI {
		out = append(out, ViaAPI)
		if c.Pod != nil {
			out = append(out, ViaPod)
		}
	}
	return out
}

func (c *Collector) collectVia(ctx context.Context, via string, t Target, b *Bundle, info *NodeInfo) ([]Source, error) {
	switch via {
	case ViaSSH:
		if t.SSH == nil {
			return nil, fmt.Errorf("no SSH address for %s: give a spec with -f", t.Name)
		}
		conn, err := c.SSH.Dial(ctx, *t.SSH)
		if err != nil {
			return nil, err
		}
		defer conn.Close()
		o := c.Options
		if probe, err := Probe(ctx, conn); err == nil {
			s := probe.ClockOffset.Seconds()
			info.ClockOffsetSeconds = &s
			o.zstd = probe.Zstd && o.Compress != CompressNone
		}
		return CollectNode(ctx, conn, t.Name, t.Role, b, o), nil
	case ViaAPI:
		if c.Client == nil || !t.InAPI {
			return nil, fmt.Errorf("%s is not a node the API server knows", t.Name)
		}
		return c.logQuery(ctx, t, b)
	case ViaPod:
		if c.Pod == nil || !t.InAPI {
			return nil, fmt.Errorf("%s is not a node the API server knows", t.Name)
		}
		return c.Pod.CollectNodePod(ctx, t.Name, t.Role, b, c.Options)
	}
	return nil, fmt.Errorf("unknown transport %q", via)
}

// logQuery reads journald units through the kubelet's node log query
// (GET /api/v1/nodes/NODE/proxy/logs/?query=UNIT). A kubelet without the
// NodeLogQuery feature answers with an HTML listing of /var/log instead;
// that is detected and reported, not stored as a log.
func (c *Collector) logQuery(ctx context.Context, t Target, b *Bundle) ([]Source, error) {
	rc := c.Client.CoreV1().RESTClient()
	query := func(unit string) (io.ReadCloser, error) {
		req := rc.Get().AbsPath("/api/v1/nodes", t.Name, "proxy", "logs/").Param("query", unit)
		if c.Options.Tail > 0 {
			req = req.Param("tailLines", fmt.Sprint(c.Options.Tail))
		}
		if c.Options.Grep != "" {
			req = req.Param("pattern", c.Options.Grep)
		}
		return req.Stream(ctx)
	}
	probe, err := query("kubelet")
	if err != nil {
		return nil, fmt.Errorf("node log query: %w", err)
	}
	head := make([]byte, 512)
	n, _ := io.ReadFull(probe, head)
	if s := strings.ToLower(string(head[:n])); strings.Contains(s, "<pre>") || strings.Contains(s, "<a href") {
		probe.Close()
		return nil, fmt.Errorf("the kubelet's node log query is off (it answered with a /var/log listing): enable the NodeLogQuery feature gate and enableSystemLogQuery in its configuration")
	}
	var failed []Source
	src := b.Add(t.Name, "journal/kubelet.log", "api", io.MultiReader(strings.NewReader(string(head[:n])), probe))
	probe.Close()
	if src.Status != "ok" {
		failed = append(failed, src)
	}
	for _, unit := range []string{"containerd", "kube-proxy"} {
		r, err := query(unit)
		if err != nil {
			failed = append(failed, b.Add(t.Name, "journal/"+unit+".log", "api", errReader{err}))
			continue
		}
		if s := b.Add(t.Name, "journal/"+unit+".log", "api", r); s.Status != "ok" {
			failed = append(failed, s)
		}
		r.Close()
	}
	return failed, nil
}
