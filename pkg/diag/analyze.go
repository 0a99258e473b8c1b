package diag

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/version"
)

// Severities of findings, most severe first.
const (
	Critical = "critical"
	Warning  = "warning"
	Info     = "info"
)

// Evidence points at the line of a bundle file a finding rests on.
type Evidence struct {
	Path string `json:"path"`
	Line int    `json:"line,omitempty"`
	Text string `json:"text"`
}

// Finding is one problem an analyzer found, with what to try.
type Finding struct {
	ID       string     `json:"id"`
	Severity string     `json:"severity"`
	Node     string     `json:"node"`
	Title    string     `json:"title"`
	Fix      string     `json:"fix"`
	Evidence []Evidence `json:"evidence"`
}

// Analysis is everything the analyzers and the timeline made of a bundle.
type Analysis struct {
	Manifest Manifest  `json:"manifest"`
	Findings []Finding `json:"findings"`
	Timeline []Event   `json:"timeline"`
}

// maxEvidence bounds the lines quoted per finding.
const maxEvidence = 3

// file is one bundle file as the analyzers see it.
type file struct {
	node, rel, path string
}

// scanState is what analyzers gather while the bundle streams by.
type scanState struct {
	manifest Manifest
	hits     map[string]*Finding // by rule id + node
	order    []string
	nodes    map[string]*corev1.Node
	list     *corev1.NodeList
	version  *version.Info
	facts    map[string]map[string][]Evidence // node → fact → evidence
	timeline *timelineBuilder
}

// Analyze reads a bundle once, streaming, and runs every analyzer and the
// timeline over it.
func Analyze(path string) (*Analysis, error) {
	a := NewAnalyzer()
	var manifest []byte
	err := WalkBundle(path, func(name string, r io.Reader) error {
		if name == "manifest.json" {
			b, err := io.ReadAll(io.LimitReader(r, 64<<20))
			manifest = b
			return err
		}
		return a.Scan(name, r)
	})
	if err != nil {
		return nil, err
	}
	if manifest == nil {
		return nil, fmt.Errorf("%s has no manifest.json: not a kbs diag bundle", path)
	}
	var m Manifest
	if err := json.Unmarshal(manifest, &m); err != nil {
		return nil, fmt.Errorf("%s: manifest.json: %w", path, err)
	}
	return a.Finish(m)
}

func splitPath(name string) file {
	node, rel, _ := strings.Cut(name, "/")
	return file{node: node, rel: rel, path: name}
}

func sortFindings(fs []Finding) {
	rank := map[string]int{Critical: 0, Warning: 1, Info: 2}
	sort.SliceStable(fs, func(i, j int) bool {
		if rank[fs[i].Severity] != rank[fs[j].Severity] {
			return rank[fs[i].Severity] < rank[fs[j].Severity]
		}
		if fs[i].Node != fs[j].Node {
			return fs[i].Node < fs[j].Node
		}
		return fs[i].ID < fs[j].ID
	})
}

// report adds evidence to the finding of rule on node, creating it.
func (st *scanState) report(id, node string, ev Evidence) {
	r := rulesByID[id]
	key := id + "\x00" + node
	f, ok := st.hits[key]
	if !ok {
		f = &Finding{ID: id, Severity: r.severity, Node: node, Title: r.title, Fix: r.fix}
		st.hits[key] = f
		st.order = append(st.order, key)
	}
	if len(f.Evidence) < maxEvidence && ev.Text != "" {
		if len(ev.Text) > 300 {
			ev.Text = ev.Text[:300] + "…"
		}
		f.Evidence = append(f.Evidence, ev)
	}
}

// fact records a per-node observation a structural analyzer combines later.
func (st *scanState) fact(node, name string, ev Evidence) {
	if st.facts[node] == nil {
		st.facts[node] = map[string][]Evidence{}
	}
	st.facts[node][name] = append(st.facts[node][name], ev)
}

// recent is how close to a log's end a matched line must be for its
// condition to count as current: kubelets log "connection refused" and "cni
// not initialized" while a node bootstraps, and that is history once they
// stop.
const recent = 2 * time.Minute

type pending struct {
	evs  []Evidence
	last time.Time
}

// tailLines is how many of a file's last lines enter the timeline: the
// newest lines are what an operator reads there; the bundle has the rest.
const tailLines = 1000

func (st *scanState) scanLines(f file, r io.Reader) error {
	if st.timeline == nil {
		st.timeline = newTimelineBuilder()
	}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	ls := newLineState(f)
	held := map[string]*pending{}
	ring := make([][]byte, tailLines)
	n := 0
	for sc.Scan() {
		n++
		raw := sc.Bytes()
		slot := n % tailLines
		ring[slot] = append(ring[slot][:0], raw...)
		var line string // made only when some analyzer looks at the line
		info := klogInfo(raw)
		for i := range lineRules {
			if info {
				break
			}
			lr := &lineRules[i]
			if !lr.applies(f.rel) || !lr.hinted(raw) {
				continue
			}
			if line == "" {
				line = string(raw)
			}
			if !lr.match(line) {
				continue
			}
			p := held[lr.id]
			if p == nil {
				p = &pending{}
				held[lr.id] = p
			}
			if t, _, ok := parseTime(line, time.Now().Year()); ok {
				p.last = t
			}
			// Keep the latest lines: they show the condition as it is now.
			p.evs = append(p.evs, Evidence{Path: f.path, Line: n, Text: line})
			if len(p.evs) > maxEvidence {
				p.evs = p.evs[1:]
			}
		}
		if ls.wants(raw) {
			if line == "" {
				line = string(raw)
			}
			ls.line(st, Evidence{Path: f.path, Line: n, Text: line})
		}
	}
	if err := sc.Err(); err != nil {
		return err
	}
	var lastLine time.Time
	first := max(1, n-tailLines+1)
	for k := first; k <= n; k++ {
		line := string(ring[k%tailLines])
		st.timeline.add(f, k, line)
		if t, _, ok := parseTime(line, time.Now().Year()); ok {
			lastLine = t
		}
	}
	for id, p := range held {
		if !p.last.IsZero() && !lastLine.IsZero() && lastLine.Sub(p.last) > recent {
			continue
		}
		for _, ev := range p.evs {
			st.report(id, f.node, ev)
		}
	}
	ls.end(st)
	return nil
}

func (st *scanState) decodeJSON(f file, b []byte) {
	switch {
	case f.rel == "api/node.json":
		var n corev1.Node
		if json.Unmarshal(b, &n) == nil && n.Name != "" {
			st.nodes[f.node] = &n
		}
	case f.node == ClusterDir && f.rel == "nodes.json":
		var l corev1.NodeList
		if json.Unmarshal(b, &l) == nil {
			st.list = &l
		}
	case f.node == ClusterDir && f.rel == "version.json":
		var v version.Info
		if json.Unmarshal(b, &v) == nil && v.GitVersion != "" {
			st.version = &v
		}
	case f.rel == "api/events.json":
		var l corev1.EventList
		if json.Unmarshal(b, &l) == nil {
			for _, e := range l.Items {
				if st.timeline == nil {
					st.timeline = newTimelineBuilder()
				}
				t := e.LastTimestamp.Time
				if t.IsZero() {
					t = e.EventTime.Time
				}
				st.timeline.addAt(f, 0, t, fmt.Sprintf("event %s %s: %s", e.Type, e.Reason, e.Message), true)
			}
		}
	}
}

// roleOf is a node's role from the manifest.
func (st *scanState) roleOf(node string) string { return st.manifest.Nodes[node].Role }
