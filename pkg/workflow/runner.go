// Package workflow is kbs's one engine for multi-step mutations: init,
// join, reset, certificate renewal, etcd membership changes, restore and CA
// rotation are each a list of phases run by the same Runner, journaled in
// the cluster's state directory (a re-run verifies and skips finished
// phases; a killed run resumes), dry-run-able, timed, and with each phase's
// errors named after it.
package workflow

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Data is what every workflow's data must tell the runner: whether this run
// only plans. It is the one source of truth for dry-run: the runner and the
// phases read the same answer.
type Data interface {
	DryRun() bool
}

// Phase is one step of a workflow over data D. Phases are data, in the
// spirit of kubeadm's workflow runner: the runner gives each a
// `phase NAME` subcommand, --skip-phases and a journal entry for free.
type Phase[D Data] struct {
	Name  string
	Short string
	// Run does the work. It must be idempotent: a re-run after success (or
	// after a kill half-way) converges without redoing finished steps.
	Run func(ctx context.Context, d D) error
	// Verify, when set, checks on a re-run that a journaled phase's result
	// still holds; if it does not, the phase runs again.
	Verify func(ctx context.Context, d D) error
	// Until, when set, lets the phase run in the background while the
	// phases before the one named here run: the runner waits for it only
	// there (its result is needed from then on). Per-host work that does not
	// depend on other hosts overlaps this way instead of waiting at a
	// barrier. In a dry run phases run in order, so plans read top to bottom.
	// New refuses a name that is not a later phase.
	Until string
}

// Runner runs phases in order.
type Runner[D Data] struct {
	phases []Phase[D]
	// Journal records finished phases; nil records nothing.
	Journal *Journal
	// Log reports progress, "[phase] …".
	Log func(phase, format string, args ...any)
	// Timings, when set, records each phase's wall time.
	Timings *Timings
	// Once marks an operation rather than a convergence: when every phase
	// has finished, its journal scope is forgotten, so the next run of the
	// operation does the work again instead of finding it journaled.
	Once bool
	// VerifiedOnly trusts the journal only for phases with a Verify: one
	// without is run again (every phase is idempotent). An operation's
	// journal may be old — the hosts changed since, another operation
	// undid its work — so only a check of the result may skip one.
	VerifiedOnly bool
}

// New checks a workflow as it is built: names unique and non-empty, every
// Until the name of a later phase (a typo would otherwise run the phase in
// the foreground, or never wait for it).
func New[D Data](phases ...Phase[D]) (*Runner[D], error) {
	seen := map[string]int{}
	for i, p := range phases {
		if p.Name == "" || p.Run == nil {
			return nil, fmt.Errorf("workflow phase %d: a phase needs a name and a Run", i)
		}
		if _, dup := seen[p.Name]; dup {
			return nil, fmt.Errorf("workflow phase %q: the name is used twice", p.Name)
		}
		seen[p.Name] = i
	}
	for i, p := range phases {
		if p.Until == "" {
			continue
		}
		if j, ok := seen[p.Until]; !ok || j <= i {
			return nil, fmt.Errorf("workflow phase %q: Until %q is not a later phase of this workflow", p.Name, p.Until)
		}
	}
	return &Runner[D]{phases: phases}, nil
}

// Must is New for workflows fixed at compile time: a bad one is a bug that
// every test of the workflow finds.
func Must[D Data](phases ...Phase[D]) *Runner[D] {
	r, err := New(phases...)
	if err != nil {
		panic(err)
	}
	return r
}

// Phases lists the phases in order.
func (r *Runner[D]) Phases() []Phase[D] { return slices.Clone(r.phases) }

// Names lists the phase names in order.
func (r *Runner[D]) Names() []string {
	names := make([]string, len(r.phases))
	for i, p := range r.phases {
		names[i] = p.Name
	}
	return names
}

// CheckNames rejects unknown phase names (for --skip-phases and `phase`),
// before anything runs.
func (r *Runner[D]) CheckNames(names []string) error {
	for _, n := range names {
		if !slices.Contains(r.Names(), n) {
			return fmt.Errorf("unknown phase %q: phases are %s", n, strings.Join(r.Names(), ", "))
		}
	}
	return nil
}

// RunAll runs every phase not in skip; with only set, just those phases,
// journaled or not. A dry run (d.DryRun()) bypasses the journal: nothing is
// recorded or skipped because of it.
func (r *Runner[D]) RunAll(ctx context.Context, d D, skip, only []string) error {
	if err := r.CheckNames(append(slices.Clone(skip), only...)); err != nil {
		return err
	}
	dryRun := d.DryRun()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	bg := background{}
	defer func() {
		// Never leave a background phase running past the run.
		cancel()
		bg.waitAll()
	}()
	for _, p := range r.phases {
		if err := bg.waitFor(p.Name); err != nil {
			return err
		}
		if slices.Contains(skip, p.Name) || (len(only) > 0 && !slices.Contains(only, p.Name)) {
			r.log(p.Name, "skipped")
			continue
		}
		// A phase asked for by name always runs: the operator wants it.
		if !dryRun && len(only) == 0 && r.done(ctx, p, d) {
			continue
		}
		if p.Until != "" && !dryRun && len(only) == 0 {
			r.log(p.Name, "%s (in the background until %s)", p.Short, p.Until)
			bg.start(p.Until, func() error { return r.runOne(ctx, p, d, dryRun) })
			continue
		}
		r.log(p.Name, "%s", p.Short)
		if err := r.runOne(ctx, p, d, dryRun); err != nil {
			return err
		}
	}
	if err := bg.waitAll(); err != nil {
		return err
	}
	if r.Once && !dryRun && r.Journal != nil && len(only) == 0 && len(skip) == 0 {
		return r.Journal.Forget()
	}
	return nil
}

func (r *Runner[D]) runOne(ctx context.Context, p Phase[D], d D, dryRun bool) error {
	start := time.Now()
	if err := p.Run(ctx, d); err != nil {
		return fmt.Errorf("phase %s: %w", p.Name, err)
	}
	r.Timings.Phase(p.Name, time.Since(start))
	if !dryRun && r.Journal != nil {
		if err := r.Journal.Record(p.Name); err != nil {
			return fmt.Errorf("phase %s: recording completion: %w", p.Name, err)
		}
	}
	return nil
}

// done says whether the journal has p as finished for this spec and its
// result still verifies.
func (r *Runner[D]) done(ctx context.Context, p Phase[D], d D) bool {
	if r.Journal == nil || !r.Journal.Done(p.Name) {
		return false
	}
	if p.Verify == nil {
		if r.VerifiedOnly {
			return false // nothing can say it still holds: it runs again
		}
		r.log(p.Name, "already done (journal)")
		return true
	}
	if err := p.Verify(ctx, d); err != nil {
		r.log(p.Name, "journaled as done, but %v: running it again", err)
		return false
	}
	r.log(p.Name, "already done (journal), verified")
	return true
}

func (r *Runner[D]) log(phase, format string, args ...any) {
	if r.Log != nil {
		r.Log(phase, format, args...)
	}
}

// background holds the phases running beside the others, by the phase
// that waits for them.
type background map[string][]chan error

func (b background) start(until string, run func() error) {
	ch := make(chan error, 1)
	b[until] = append(b[until], ch)
	go func() { ch <- run() }()
}

func (b background) waitFor(name string) error {
	var errs []error
	for _, ch := range b[name] {
		if err := <-ch; err != nil {
			errs = append(errs, err)
		}
	}
	delete(b, name)
	return errors.Join(errs...)
}

func (b background) waitAll() error {
	var errs []error
	for name := range b {
		errs = append(errs, b.waitFor(name))
	}
	return errors.Join(errs...)
}
