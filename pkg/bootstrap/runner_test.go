package bootstrap

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
	phases := func() []Phase[int] {
		return []Phase[int]{
			{Name: "bg", Until: "c", Run: func(context.Context, int) error { <-release; note("bg"); return bgErr }},
			{Name: "b", Run: func(context.Context, int) error { note("b"); close(release); return nil }},
			{Name: "c", Run: func(context.Context, int) error { note("c"); return nil }},
		}
	}
	r := Runner[int]{Phases: phases()}
	if err := r.RunAll(context.Background(), 0, nil, nil, false); err != nil {
		t.Fatal(err)
	}
	// b ran while bg was blocked (bg waits for b), and c after bg.
	if got := strings.Join(order, ","); got != "b,bg,c" {
		t.Fatalf("order %s, want b,bg,c", got)
	}

	order, release, bgErr = nil, make(chan struct{}), errors.New("disk full")
	r = Runner[int]{Phases: phases()}
	err := r.RunAll(context.Background(), 0, nil, nil, false)
	if err == nil || !strings.Contains(err.Error(), "phase bg: disk full") {
		t.Fatalf("want the background phase's error, got %v", err)
	}
	if strings.Contains(strings.Join(order, ","), "c") {
		t.Fatal("c ran although bg, which it waits for, failed")
	}
}
