package diag

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Event is one line of the merged timeline, in UTC, corrected by its
// node's measured clock offset.
type Event struct {
	Time   time.Time `json:"time"`
	Node   string    `json:"node"`
	Path   string    `json:"path"`
	Line   int       `json:"line,omitempty"`
	Level  string    `json:"level"` // error, warning, info
	Text   string    `json:"text"`
	Offset float64   `json:"offsetSeconds,omitempty"` // correction applied
}

// perNodeEvents and maxEvents bound the timeline (and the memory of a
// 100-node analysis): the most recent lines of each node are what an
// operator reads there; the full logs stay in the bundle.
const (
	perNodeEvents = 600
	maxEvents     = 15000
)

type timelineBuilder struct {
	byNode map[string][]Event
}

func newTimelineBuilder() *timelineBuilder { return &timelineBuilder{byNode: map[string][]Event{}} }

var (
	// journalctl -o short-iso-precise: 2026-11-25T04:34:16.627685+00:00
	isoPrefix = regexp.MustCompile(`^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d+)?(?:Z|[+-]\d\d:?\d\d))\s`)
	// klog: I1125 04:34:16.627685 (no year, no zone: UTC on nodes)
	klogPrefix = regexp.MustCompile(`(?:^|\s)([IWEF])(\d\d)(\d\d) (\d\d:\d\d:\d\d\.\d+)\s`)
	// structured logs (etcd, zap): "ts":"2026-11-25T04:41:02.560724Z"
	tsField = regexp.MustCompile(`"(?:ts|time)":"(\d{4}-\d\d-\d\dT[^"]+)"`)
)

// parseTime finds a line's timestamp and level; year is for klog lines.
func parseTime(line string, year int) (time.Time, string, bool) {
	level := levelOf(line)
	if m := isoPrefix.FindStringSubmatch(line); m != nil {
		for _, layout := range []string{"2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999Z0700"} {
			if t, err := time.Parse(layout, m[1]); err == nil {
				if k := klogPrefix.FindStringSubmatch(line); k != nil {
					level = klogLevel(k[1])
				}
				return t.UTC(), level, true
			}
		}
	}
	if m := klogPrefix.FindStringSubmatch(line); m != nil {
		t, err := time.Parse("2006-01-02 15:04:05.999999", fmt.Sprintf("%04d-%s-%s %s", year, m[2], m[3], m[4]))
		if err == nil {
			return t, klogLevel(m[1]), true
		}
	}
	if m := tsField.FindStringSubmatch(line); m != nil {
		if t, err := time.Parse(time.RFC3339Nano, m[1]); err == nil {
			return t.UTC(), level, true
		}
	}
	return time.Time{}, "", false
}

func klogLevel(c string) string {
	switch c {
	case "E", "F":
		return "error"
	case "W":
		return "warning"
	}
	return "info"
}

func levelOf(line string) string {
	l := strings.ToLower(line)
	switch {
	case strings.Contains(l, `"level":"error"`), strings.Contains(l, "error"), strings.Contains(l, "failed"):
		return "error"
	case strings.Contains(l, `"level":"warn"`), strings.Contains(l, "warning"):
		return "warning"
	}
	return "info"
}

func (b *timelineBuilder) add(f file, n int, line string) {
	if f.node == ClusterDir {
		return
	}
	// klog lines carry no year; a bundle's year is close enough except
	// across New Year, when the next year's December lines sort last.
	t, level, ok := parseTime(line, time.Now().Year())
	if !ok {
		return
	}
	b.push(Event{Time: t, Node: f.node, Path: f.path, Line: n, Level: level, Text: clip(line)})
}

func (b *timelineBuilder) addAt(f file, n int, t time.Time, text string, isEvent bool) {
	if t.IsZero() {
		return
	}
	level := "info"
	if strings.HasPrefix(text, "event Warning") {
		level = "warning"
	}
	b.push(Event{Time: t.UTC(), Node: f.node, Path: f.path, Line: n, Level: level, Text: clip(text)})
}

func (b *timelineBuilder) push(e Event) {
	evs := append(b.byNode[e.Node], e)
	if len(evs) > 2*perNodeEvents {
		// Keep the newest: sort what is held and drop the oldest half.
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
		evs = append([]Event(nil), evs[len(evs)-perNodeEvents:]...)
	}
	b.byNode[e.Node] = evs
}

func clip(s string) string {
	if len(s) > 400 {
		return s[:400] + "…"
	}
	return s
}

// events merges every node's lines into one UTC timeline, each corrected by
// its node's clock offset, so that lines of different nodes line up as
// they happened. Lines already API server time (events) are not shifted.
func (b *timelineBuilder) events(m Manifest) []Event {
	var out []Event
	for node, evs := range b.byNode {
		sort.SliceStable(evs, func(i, j int) bool { return evs[i].Time.Before(evs[j].Time) })
		if len(evs) > perNodeEvents {
			evs = evs[len(evs)-perNodeEvents:]
		}
		var off float64
		if o := m.Nodes[node].ClockOffsetSeconds; o != nil {
			off = *o
		}
		for _, e := range evs {
			if off != 0 && !strings.HasSuffix(e.Path, "api/events.json") {
				e.Time = e.Time.Add(-time.Duration(off * float64(time.Second)))
				e.Offset = off
			}
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Time.Before(out[j].Time) })
	if len(out) > maxEvents {
		out = out[len(out)-maxEvents:]
	}
	return out
}
