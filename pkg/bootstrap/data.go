package bootstrap

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/remote"
)

// InitData is all an init phase may use: the spec, local state, hosts and
// the log. Phases never see the command or its flags.
type InitData interface {
	Cluster() *cluster.Cluster
	State() *State
	// OnHosts runs fn for each host, in parallel within the bound.
	OnHosts(ctx context.Context, hosts []cluster.Host, fn func(context.Context, *Host) error) error
	Log(phase, host, format string, args ...any)
	DryRun() bool
	// IgnoredChecks are preflight checks whose failure does not stop init.
	IgnoredChecks() []string
	// KubeconfigPath is the operator's kubeconfig, where the cluster's
	// admin context goes.
	KubeconfigPath() string
	// Trace records heavy remote work that ran from start until now.
	Trace(what string, start time.Time)
	// Uploads orders the hosts' bundle uploads: control planes first.
	Uploads() *UploadOrder
}

// Dialer opens SSH connections; *remote.Dialer is the real one.
type Dialer interface {
	Dial(ctx context.Context, t remote.Target) (remote.Conn, error)
}

// Session is the InitData of one `kubectl kbs init` run.
type Session struct {
	Spec     *cluster.Cluster
	Local    *State
	SSH      Dialer
	Plan     bool // dry-run: print, connect to nothing, change nothing
	Parallel int
	Out      io.Writer // progress and plans
	Ignore   []string  // preflight checks to ignore
	// JSON turns progress into one JSON event per line, for tools.
	JSON bool
	// Kubeconfig is the operator's kubeconfig file.
	Kubeconfig string
	// Timings, when set, records phase and remote-work times.
	Timings *Timings

	mu      sync.Mutex
	uploads UploadOrder
}

var _ InitData = (*Session)(nil)

func (s *Session) Cluster() *cluster.Cluster { return s.Spec }
func (s *Session) State() *State             { return s.Local }
func (s *Session) DryRun() bool              { return s.Plan }
func (s *Session) IgnoredChecks() []string   { return s.Ignore }
func (s *Session) KubeconfigPath() string    { return s.Kubeconfig }

// Uploads is the run's one upload order.
func (s *Session) Uploads() *UploadOrder { return &s.uploads }

// Trace records remote work for --timings.
func (s *Session) Trace(what string, start time.Time) { s.Timings.Remote(what, start) }

// Event is one progress line of `--output json`; its fields are stable.
type Event struct {
	Time    time.Time `json:"time"`
	Phase   string    `json:"phase"`
	Host    string    `json:"host,omitempty"`
	Message string    `json:"message"`
}

// Log prints "[phase] host: message" (host may be empty), or an Event.
func (s *Session) Log(phase, host, format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.JSON {
		b, _ := json.Marshal(Event{Time: time.Now().UTC(), Phase: phase, Host: host, Message: fmt.Sprintf(format, args...)})
		s.Out.Write(append(b, '\n'))
		return
	}
	prefix := "[" + phase + "] "
	if host != "" {
		prefix += host + ": "
	}
	fmt.Fprintf(s.Out, prefix+format+"\n", args...)
}

func (s *Session) OnHosts(ctx context.Context, hosts []cluster.Host, fn func(context.Context, *Host) error) error {
	return remote.ForEach(ctx, hosts, s.Parallel, func(ctx context.Context, h cluster.Host) error {
		host, err := s.host(ctx, h)
		if err != nil {
			return err
		}
		if err := fn(ctx, host); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
		return nil
	})
}

func (s *Session) host(ctx context.Context, h cluster.Host) (*Host, error) {
	host := &Host{Spec: h, timings: s.Timings, plan: func(format string, args ...any) { s.Log("plan", h.Name, format, args...) }}
	if s.Plan {
		return host, nil
	}
	conn, err := s.SSH.Dial(ctx, TargetFor(s.Spec, h))
	if err != nil {
		return nil, err
	}
	host.conn = conn
	return host, nil
}

// TargetFor turns a spec host into an SSH target with its effective settings.
func TargetFor(c *cluster.Cluster, h cluster.Host) remote.Target {
	ssh := c.SSHFor(h)
	return remote.Target{
		Name: h.Name, Address: h.Address, Port: ssh.Port, User: ssh.User,
		KeyFile: ssh.KeyFile, Bastion: ssh.Bastion, Sudo: *ssh.Sudo,
	}
}
