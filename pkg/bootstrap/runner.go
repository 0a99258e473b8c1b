package bootstrap

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
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
	// Until, when set, lets the phase run in the background while the
	// phases before the one named here run: the runner waits for it only
	// there (its result is needed from then on). Per-host work that does not
	// depend on other hosts overlaps this way instead of waiting at a
	// barrier. In a dry run phases run in order, so plans read top to bottom.
	Until string
}

// Runner runs phases in order.
type Runner[D any] struct {
	Phases []Phase[D]
	// Journal records finished phases; nil records nothing.
	Journal *Journal
	// Log reports progress, "[phase] …".
	Log func(phase, format string, args ...any)
	// Timings, when set, records each phase's wall time.
	Timings *Timings
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
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pending := map[string][]chan error{} // background phases, by the phase that waits for them
	waitFor := func(name string) error {
		var errs []error
		for _, ch := range pending[name] {
			if err := <-ch; err != nil {
				errs = append(errs, err)
			}
		}
		delete(pending, name)
		return errors.Join(errs...)
	}
	defer func() {
		// Never leave a background phase running past the run.
		cancel()
		for name := range pending {
			_ = waitFor(name)
		}
	}()
	for _, p := range r.Phases {
		if err := waitFor(p.Name); err != nil {
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
		if p.Until != "" && !dryRun && len(only) == 0 && slices.Contains(r.Names(), p.Until) {
			ch := make(chan error, 1)
			pending[p.Until] = append(pending[p.Until], ch)
			r.log(p.Name, "%s (in the background until %s)", p.Short, p.Until)
			go func() { ch <- r.runOne(ctx, p, d, dryRun) }()
			continue
		}
		r.log(p.Name, "%s", p.Short)
		if err := r.runOne(ctx, p, d, dryRun); err != nil {
			return err
		}
	}
	var errs []error
	for name := range pending {
		errs = append(errs, waitFor(name))
	}
	return errors.Join(errs...)
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
