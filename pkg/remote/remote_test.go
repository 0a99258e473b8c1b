package remote

import (
	"bytes"
	"context"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestForEachBoundsAndJoinsErrors(t *testing.T) {
	var running, peak atomic.Int32
	items := make([]int, 25)
	for i := range items {
		items[i] = i
	}
	err := ForEach(context.Background(), items, 4, func(_ context.Context, i int) error {
		n := running.Add(1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		time.Sleep(5 * time.Millisecond)
		running.Add(-1)
		if i%10 == 3 {
			return errors.New("host " + string(rune('a'+i)))
		}
		return nil
	})
	if peak.Load() > 4 {
		t.Errorf("ran %d at once, limit 4", peak.Load())
	}
	if err == nil || strings.Count(err.Error(), "host ") != 3 {
		t.Fatalf("want the three failures joined, got %v", err)
	}
}

func TestForEachStopsStartingOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	var started atomic.Int32
	err := ForEach(ctx, make([]int, 100), 1, func(context.Context, int) error {
		if started.Add(1) == 3 {
			cancel()
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || started.Load() > 4 {
		t.Fatalf("started %d after cancel, err %v", started.Load(), err)
	}
}

func TestPgidSniffer(t *testing.T) {
	tests := []struct {
		name   string
		writes []string
		pgid   int
		rest   string
	}{
		{"marker then stderr", []string{"kbs-pgid:4242\nwarning: x\n"}, 4242, "warning: x\n"},
		{"marker split across writes", []string{"kbs-p", "gid:7\n", "err"}, 7, "err"},
		{"no marker", []string{"sudo: a password is required\n"}, 0, "sudo: a password is required\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			p := &pgidSniffer{next: &out}
			for _, w := range tt.writes {
				p.Write([]byte(w))
			}
			if p.pgid() != tt.pgid || out.String() != tt.rest {
				t.Fatalf("pgid %d rest %q; want %d %q", p.pgid(), out.String(), tt.pgid, tt.rest)
			}
		})
	}
}

func TestParseJump(t *testing.T) {
	tests := map[string][3]string{
		"bastion":               {"me", "bastion", "22"},
		"ops@bastion:2222":      {"ops", "bastion", "2222"},
		"ops@[2001:db8::1]:222": {"ops", "2001:db8::1", "222"},
	}
	for in, want := range tests {
		u, h, p := parseJump(in, "me")
		if u != want[0] || h != want[1] || strconv.Itoa(p) != want[2] {
			t.Errorf("parseJump(%q) = %s %s %d, want %v", in, u, h, p, want)
		}
	}
}
