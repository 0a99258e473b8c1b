package bootstrap

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Phase is one step of a workflow over data D. Phases are data, in the
// spirit of kubeadm's workflow runner: the runner gives each a
// `phase NAME` subcommand, --skip-phases and a journal entry for free.
type Phase[D any] struct {
	Name  string
	Short string
	// Run does the work. It must be idempotent: a re-run after success (or
	// after a kill half-way) converges without redoing finished steps.
	Run func(ctx context.Context, d D) error
	// Verify, when set, checks on a re-run that a journaled phase's result
	// still holds; if it does not, the phase runs again.
	Verify func(ctx context.Context, d D) error
}

// Runner runs phases in order.
type Runner[D any] struct {
	Phases []Phase[D]
	// Journal records finished phases; nil records nothing.
	Journal *Journal
	// Log reports progress, "[phase] …".
	Log func(phase, format string, args ...any)
}

// Names lists the phase names in order.
func (r *Runner[D]) Names() []string {
	names := make([]string, len(r.Phases))
	for i, p := range r.Phases {
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
// journaled or not.
// dryRun bypasses the journal: nothing is recorded or skipped because of it.
func (r *Runner[D]) RunAll(ctx context.Context, d D, skip, only []string, dryRun bool) error {
	if err := r.CheckNames(append(append([]string{}, skip...), only...)); err != nil {
		return err
	}
	for _, p := range r.Phases {
		if slices.Contains(skip, p.Name) || (len(only) > 0 && !slices.Contains(only, p.Name)) {
			r.log(p.Name, "skipped")
			continue
		}
		// A phase asked for by name always runs: the operator wants it.
		if !dryRun && len(only) == 0 && r.done(ctx, p, d) {
			continue
		}
		r.log(p.Name, "%s", p.Short)
		if err := p.Run(ctx, d); err != nil {
			return fmt.Errorf("phase %s: %w", p.Name, err)
		}
		if !dryRun && r.Journal != nil {
			if err := r.Journal.Record(p.Name); err != nil {
				return fmt.Errorf("phase %s: recording completion: %w", p.Name, err)
			}
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
	if p.Verify != nil {
		if err := p.Verify(ctx, d); err != nil {
			r.log(p.Name, "journaled as done, but %v: running it again", err)
			return false
		}
	}
	r.log(p.Name, "already done (journal), verified")
	return true
}

func (r *Runner[D]) log(phase, format string, args ...any) {
	if r.Log != nil {
		r.Log(phase, format, args...)
	}
}
