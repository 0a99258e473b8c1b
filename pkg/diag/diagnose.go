package diag

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

// RESTConfigGetter is the part of kubectl's ConfigFlags diag needs.
type RESTConfigGetter interface {
	ToRESTConfig() (*rest.Config, error)
}

// Request is one `diag node` or `diag cluster` run, as its flags gave it.
type Request struct {
	Spec *cluster.Cluster // nil: no spec, so no SSH addresses
	// Kube finds the API server. Nil, a kubeconfig that does not load or a
	// server that does not answer all mean no API sources: diag must work
	// when the API server is down.
	Kube   RESTConfigGetter
	SSH    Dialer
	Select Selection

	Via     string
	Options Options
	Follow  bool
	// Bundle is the tar.gz to write ("": kbs-diag-CLUSTER-TIME.tar.gz);
	// Report the HTML report ("": beside the bundle).
	Bundle, Report string
	Redact         bool
	MaxSourceSize  int64
	Parallel       int
	PodImage       string
	PodNamespace   string

	// Out takes --follow's lines; ErrOut progress and warnings.
	Out, ErrOut io.Writer
}

// Diagnose picks the targets, then either follows their logs (and returns
// no summary) or collects them into a bundle, analyzes it and writes the
// report. A bundle is written even when some sources fail: the summary then
// comes with an error that says so, and the caller prints both.
func Diagnose(ctx context.Context, r Request) (*Summary, error) {
	cs, cfg := r.connect(ctx)
	targets, err := SelectTargets(ctx, r.Spec, cs, r.Select)
	if err != nil {
		return nil, err
	}
	if r.Follow {
		return nil, Follow(ctx, r.SSH, targets, r.Options, r.Redact, r.Out)
	}
	return r.collect(ctx, cs, cfg, targets)
}

// connect returns an API client, or nil with a warning when there is none
// or it does not answer.
func (r Request) connect(ctx context.Context) (kubernetes.Interface, *rest.Config) {
	if r.Kube == nil {
		return nil, nil
	}
	cfg, err := r.Kube.ToRESTConfig()
	if err != nil {
		fmt.Fprintf(r.ErrOut, "[diag] no usable kubeconfig (%v): API sources skipped\n", err)
		return nil, nil
	}
	cfg.Timeout = 30 * time.Second
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, nil
	}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := cs.CoreV1().RESTClient().Get().AbsPath("/version").Do(pctx).Raw(); err != nil {
		fmt.Fprintf(r.ErrOut, "[diag] the API server does not answer (%v): collecting over SSH only\n", err)
		return nil, nil
	}
	return cs, cfg
}

func (r Request) collect(ctx context.Context, cs kubernetes.Interface, cfg *rest.Config, targets []Target) (*Summary, error) {
	path := r.Bundle
	if path == "" {
		path = bundleName(r.Spec, time.Now())
	}
	b, err := NewBundle(path, r.Redact, r.MaxSourceSize)
	if err != nil {
		return nil, err
	}
	an := NewAnalyzer()
	b.Analyze(an)
	c := &Collector{SSH: r.SSH, Client: cs, Via: r.Via, Options: r.Options, Parallel: r.Parallel,
		Progress: func(node, f string, a ...any) { fmt.Fprintf(r.ErrOut, "[diag] "+node+": "+f+"\n", a...) }}
	if cs != nil {
		c.Pod = &PodTransport{Client: cs, Config: cfg, Namespace: r.PodNamespace, Image: r.PodImage}
	}
	if r.Redact {
		fmt.Fprintf(r.ErrOut, "[diag] redacting %s\n", strings.Join(RuleNames(), ", "))
	}
	collectErr := c.Run(ctx, targets, b)
	if err := b.Close(); err != nil {
		return nil, fmt.Errorf("finishing bundle %s: %w", path, err)
	}
	a, err := an.Finish(b.Manifest())
	if err != nil {
		return nil, fmt.Errorf("bundle %s written, but analyzing it failed: %w", path, err)
	}
	s, err := report(path, r.Report, a)
	if err != nil {
		return nil, err
	}
	if collectErr != nil {
		return s, fmt.Errorf("bundle %s written, but some sources failed (see manifest.json and the report):\n%w", path, collectErr)
	}
	return s, nil
}

// bundleName is the default bundle: the cluster's name and the UTC time,
// so that runs never collide and sort by time.
func bundleName(spec *cluster.Cluster, now time.Time) string {
	name := "cluster"
	if spec != nil {
		name = spec.Metadata.Name
	}
	return fmt.Sprintf("kbs-diag-%s-%s.tar.gz", name, now.UTC().Format("20060102T150405Z"))
}
