package host

import (
	"context"

	"github.com/kubectl-kbs/kbs/pkg/state"
	"github.com/kubectl-kbs/kbs/pkg/workflow"
)

// RunOperation runs a day-2 operation's phases on the one workflow engine:
// checked as the workflow is built, logged as "[phase] …", journaled in the
// operation's own scope of the state directory's journal (so a re-run after
// an interruption skips the finished phases whose Verify says their result
// still holds, runs the rest again, and a finished run is forgotten), and
// in a dry run planned without the journal.
func RunOperation[D workflow.Data](ctx context.Context, s *Session, d D, scope string, phases ...workflow.Phase[D]) error {
	r, err := workflow.New(phases...)
	if err != nil {
		return err
	}
	r.Once, r.VerifiedOnly, r.Timings = true, true, s.Timings
	r.Log = func(phase, format string, args ...any) { s.Log(phase, "", format, args...) }
	if !d.DryRun() {
		if r.Journal, err = OperationJournal(s, scope); err != nil {
			return err
		}
		if r.Journal.Started() {
			s.Log(scope, "", "resuming: an earlier run stopped half-way; finished phases whose result still holds are skipped")
		}
	}
	return r.RunAll(ctx, d, nil, nil)
}

// OperationJournal is the journal scope an operation records its phases in.
func OperationJournal(s *Session, scope string) (*workflow.Journal, error) {
	j, err := workflow.OpenJournal(s.Local.Dir, state.SpecHash(s.Spec))
	if err != nil {
		return nil, err
	}
	return j.Scope(scope), nil
}
