package host

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/remote"
	"github.com/kubectl-kbs/kbs/pkg/state"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

// Dialer opens SSH connections; *remote.Dialer is the real one, and
// remotetest.Dialer records what a plan does without hosts.
type Dialer interface {
	Dial(ctx context.Context, t remote.Target) (remote.Conn, error)
}

// Session is one run of a kbs command against a cluster: its spec, its
// state directory, how to reach its hosts, whether it only plans, and one
// log. Init, join, reset, certificate renewal and every etcd operation run
// on a Session.
type Session struct {
	Spec     *cluster.Cluster
	Local    *state.State
	SSH      Dialer
	Plan     bool // dry-run: print, connect to nothing, change nothing
	Parallel int
	Out      io.Writer // progress and plans
	// JSON turns progress into one JSON event per line, for tools.
	JSON bool
	// Timings, when set, records phase and remote-work times.
	Timings *workflow.Timings

	mu sync.Mutex
}

var _ workflow.Data = (*Session)(nil)

// Cluster is the spec the run works from.
func (s *Session) Cluster() *cluster.Cluster { return s.Spec }

// State is the cluster's state directory.
func (s *Session) State() *state.State { return s.Local }

// DryRun says whether the run only plans.
func (s *Session) DryRun() bool { return s.Plan }

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
	if s.Out == nil {
		return
	}
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

// OnHosts runs fn for each host, in parallel within the bound; an error is
// prefixed with the host's name.
func (s *Session) OnHosts(ctx context.Context, hosts []cluster.Host, fn func(context.Context, *Host) error) error {
	return remote.ForEach(ctx, hosts, s.parallel(), func(ctx context.Context, h cluster.Host) error {
		host, err := s.Open(ctx, h)
		if err != nil {
			return err
		}
		if err := fn(ctx, host); err != nil {
			return fmt.Errorf("%s: %w", h.Name, err)
		}
		return nil
	})
}

// Open is one host of the run: connected, or only planning in a dry run.
func (s *Session) Open(ctx context.Context, h cluster.Host) (*Host, error) {
	plan := func(format string, args ...any) { s.Log("plan", h.Name, format, args...) }
	if s.Plan {
		return New(h, nil, plan, s.Timings), nil
	}
	conn, err := s.SSH.Dial(ctx, TargetFor(s.Spec, h))
	if err != nil {
		return nil, err
	}
	return New(h, conn, plan, s.Timings), nil
}

func (s *Session) parallel() int {
	if s.Parallel < 1 {
		return remote.DefaultParallelism
	}
	return s.Parallel
}

// TargetFor turns a spec host into an SSH target with its effective settings.
func TargetFor(c *cluster.Cluster, h cluster.Host) remote.Target {
	ssh := c.SSHFor(h)
	return remote.Target{
		Name: h.Name, Address: h.Address, Port: ssh.Port, User: ssh.User,
		KeyFile: ssh.KeyFile, Bastion: ssh.Bastion, Sudo: *ssh.Sudo,
	}
}
