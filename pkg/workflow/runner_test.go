package workflow

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
)

// A phase with Until runs beside the phases before that one, and the named
// phase starts only once it finished; its error stops the run there.
func TestRunnerBackgroundPhase(t *testing.T) {
	var mu sync.Mutex
	var order []string
	note := func(s string) { mu.Lock(); order = append(order, s); mu.Unlock() }
	release := make(chan struct{})
	bgErr := error(nil)
	phases := func() []Phase[plan] {
		return []Phase[plan]{
			{Name: "bg", Until: "c", Run: func(context.Context, plan) error { <-release; note("bg"); return bgErr }},
			{Name: "b", Run: func(context.Context, plan) error { note("b"); close(release); return nil }},
			{Name: "c", Run: func(context.Context, plan) error { note("c"); return nil }},
		}
	}
	r := Must(phases()...)
	if err := r.RunAll(context.Background(), false, nil, nil); err != nil {
		t.Fatal(err)
	}
	// b ran while bg was blocked (bg waits for b), and c after bg.
	if got := strings.Join(order, ","); got != "b,bg,c" {
		t.Fatalf("order %s, want b,bg,c", got)
	}

	order, release, bgErr = nil, make(chan struct{}), errors.New("disk full")
	r = Must(phases()...)
	err := r.RunAll(context.Background(), false, nil, nil)
	if err == nil || !strings.Contains(err.Error(), "phase bg: disk full") {
		t.Fatalf("want the background phase's error, got %v", err)
	}
	if strings.Contains(strings.Join(order, ","), "c") {
		t.Fatal("c ran although bg, which it waits for, failed")
	}
}

// plan is test data: a bool that says whether the run is a dry run.
type plan bool

func (p plan) DryRun() bool { return bool(p) }

// A workflow is checked as it is built: an Until that names no later phase
// (a typo, or an earlier one) is refused there, not silently run in the
// foreground.
func TestNewChecksUntil(t *testing.T) {
	run := func(context.Context, plan) error { return nil }
	for name, phases := range map[string][]Phase[plan]{
		"unknown":   {{Name: "a", Until: "c", Run: run}, {Name: "b", Run: run}},
		"earlier":   {{Name: "a", Run: run}, {Name: "b", Until: "a", Run: run}},
		"itself":    {{Name: "a", Until: "a", Run: run}},
		"duplicate": {{Name: "a", Run: run}, {Name: "a", Run: run}},
		"no run":    {{Name: "a"}},
	} {
		if _, err := New(phases...); err == nil {
			t.Errorf("%s: New accepted %+v", name, phases)
		}
	}
	if _, err := New(Phase[plan]{Name: "a", Until: "b", Run: run}, Phase[plan]{Name: "b", Run: run}); err != nil {
		t.Errorf("a good workflow refused: %v", err)
	}
}

// The dry run is the data's: phases run in order (no background), and the
// journal is neither read nor written.
func TestDryRunFromData(t *testing.T) {
	dir := t.TempDir()
	j, err := OpenJournal(dir, "h")
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Record("a"); err != nil {
		t.Fatal(err)
	}
	var ran []string
	r := Must(Phase[plan]{Name: "a", Run: func(context.Context, plan) error { ran = append(ran, "a"); return nil }},
		Phase[plan]{Name: "b", Run: func(context.Context, plan) error { ran = append(ran, "b"); return nil }})
	r.Journal = j
	if err := r.RunAll(context.Background(), true, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ran, ","); got != "a,b" {
		t.Fatalf("dry run ran %s, want a,b (the journal must not skip a)", got)
	}
	if j.Done("b") {
		t.Fatal("a dry run recorded b in the journal")
	}
	ran = nil
	if err := r.RunAll(context.Background(), false, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ran, ","); got != "b" || !j.Done("b") {
		t.Fatalf("real run ran %s (want b: a is journaled), b journaled %v", got, j.Done("b"))
	}
}

// An operation's phases are journaled in its scope: a run that fails
// half-way resumes after the phases that finished, and a finished run
// forgets them, so the next operation runs everything again. Init's
// entries at the top level are left alone.
func TestOnceResumesThenForgets(t *testing.T) {
	j, err := OpenJournal(t.TempDir(), "h")
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Record("etcd"); err != nil {
		t.Fatal(err)
	}
	var ran []string
	fail := true
	r := Must(
		Phase[plan]{Name: "master-0", Run: func(context.Context, plan) error { ran = append(ran, "master-0"); return nil }},
		Phase[plan]{Name: "master-1", Run: func(context.Context, plan) error {
			ran = append(ran, "master-1")
			if fail {
				return errors.New("unreachable")
			}
			return nil
		}},
	)
	r.Journal, r.Once = j.Scope("certs-renew"), true
	if err := r.RunAll(context.Background(), false, nil, nil); err == nil {
		t.Fatal("the failing phase did not fail the run")
	}
	if !r.Journal.Started() || !r.Journal.Done("master-0") || r.Journal.Done("master-1") {
		t.Fatalf("after the failure: started %v, master-0 done %v, master-1 done %v", r.Journal.Started(), r.Journal.Done("master-0"), r.Journal.Done("master-1"))
	}
	ran, fail = nil, false
	if err := r.RunAll(context.Background(), false, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ran, ","); got != "master-1" {
		t.Fatalf("the resumed run ran %s, want master-1 only", got)
	}
	if r.Journal.Started() {
		t.Fatal("a finished operation left its scope in the journal")
	}
	if !j.Done("etcd") {
		t.Fatal("forgetting the scope removed a top-level entry")
	}
	ran = nil
	if err := r.RunAll(context.Background(), false, nil, nil); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(ran, ","); got != "master-0,master-1" {
		t.Fatalf("the next operation ran %s, want everything", got)
	}
}
