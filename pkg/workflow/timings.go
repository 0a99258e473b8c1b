package workflow

import (
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// Timings records where an init's time goes: each phase's wall time and
// the intervals spent waiting on the heavy remote work kbs only drives —
// kubeadm, etcd coming up, ctr importing images — so kbs's own share (SSH,
// uploads, checks, waiting on the API) can be told apart.
type Timings struct {
	mu     sync.Mutex
	phases []phaseTime
	remote []interval
}

type phaseTime struct {
	name string
	d    time.Duration
}

type interval struct {
	what       string
	start, end time.Time
}

// Phase records a phase's wall time.
func (t *Timings) Phase(name string, d time.Duration) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.phases = append(t.phases, phaseTime{name, d})
}

// Remote records one heavy remote command that ran from start until now.
func (t *Timings) Remote(what string, start time.Time) {
	if t == nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.remote = append(t.remote, interval{what, start, time.Now()})
}

// covered is the wall time during which at least one remote interval ran
// (hosts work in parallel: their intervals overlap).
func covered(iv []interval) time.Duration {
	sort.Slice(iv, func(i, j int) bool { return iv[i].start.Before(iv[j].start) })
	var total time.Duration
	var cur interval
	for i, x := range iv {
		if i == 0 || x.start.After(cur.end) {
			total += cur.end.Sub(cur.start)
			cur = x
			continue
		}
		if x.end.After(cur.end) {
			cur.end = x.end
		}
	}
	if len(iv) > 0 {
		total += cur.end.Sub(cur.start)
	}
	return total
}

// Print writes the phase table and the overhead summary for a run of total.
func (t *Timings) Print(w io.Writer, total time.Duration) {
	t.mu.Lock()
	defer t.mu.Unlock()
	tw := tabwriter.NewWriter(w, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "PHASE\tWALL")
	for _, p := range t.phases {
		fmt.Fprintf(tw, "%s\t%s\n", p.name, p.d.Round(10*time.Millisecond))
	}
	tw.Flush()
	byWhat := map[string][]interval{}
	for _, x := range t.remote {
		byWhat[x.what] = append(byWhat[x.what], x)
	}
	var kinds []string
	for k := range byWhat {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	for _, k := range kinds {
		fmt.Fprintf(w, "remote %-24s %s wall (%d runs)\n", k+":", covered(append([]interval(nil), byWhat[k]...)).Round(10*time.Millisecond), len(byWhat[k]))
	}
	// Strictly, only kubeadm, etcd and ctr count as others' time; waiting
	// for the cluster to converge (rollouts, Ready) is shown beside it.
	var tools []interval
	for _, x := range t.remote {
		if !strings.HasPrefix(x.what, "cluster: ") {
			tools = append(tools, x)
		}
	}
	inside := covered(tools)
	waiting := covered(append([]interval(nil), t.remote...))
	pct := func(d time.Duration) float64 { return 100 * d.Seconds() / total.Seconds() }
	r := func(d time.Duration) time.Duration { return d.Round(10 * time.Millisecond) }
	fmt.Fprintf(w, "total %s; inside kubeadm/etcd/ctr %s; kbs overhead %s (%.1f%%)\n", r(total), r(inside), r(total-inside), pct(total-inside))
	fmt.Fprintf(w, "also excluding waits for the cluster to converge: kbs overhead %s (%.1f%%)\n", r(total-waiting), pct(total-waiting))
}
