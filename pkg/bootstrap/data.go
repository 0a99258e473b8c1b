package bootstrap

import (
	"context"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/state"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

// InitData is all an init phase may use: the spec, local state, hosts and
// the log. Phases never see the command or its flags.
type InitData interface {
	workflow.Data
	Cluster() *cluster.Cluster
	State() *state.State
	// OnHosts runs fn for each host, in parallel within the bound.
	OnHosts(ctx context.Context, hosts []cluster.Host, fn func(context.Context, *host.Host) error) error
	Log(phase, host, format string, args ...any)
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

// Init is the InitData of one `kubectl kbs init` (or join, reset, certs
// renew) run: a host session and what only bootstrapping needs.
type Init struct {
	*host.Session
	Ignore []string // preflight checks to ignore
	// Kubeconfig is the operator's kubeconfig file.
	Kubeconfig string

	uploads UploadOrder
}

var _ InitData = (*Init)(nil)

// IgnoredChecks are the preflight checks whose failure is only reported.
func (s *Init) IgnoredChecks() []string { return s.Ignore }

// KubeconfigPath is the operator's kubeconfig file.
func (s *Init) KubeconfigPath() string { return s.Kubeconfig }

// Uploads is the run's one upload order.
func (s *Init) Uploads() *UploadOrder { return &s.uploads }
