package diag

import (
	"errors"
	"io"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
)

// Analyzer runs the analyzers and the timeline over a bundle's files as
// they stream by: collection hands it each source while writing it (see
// Bundle.Analyze), so a bundle is never read back to be analyzed; Analyze
// feeds it an existing bundle. Sources may be scanned concurrently: each is
// scanned into its own state and merged when it ends.
type Analyzer struct {
	mu    sync.Mutex
	st    *scanState
	jsons []jsonFile // decoded once the manifest is known
	errs  []error
}

type jsonFile struct {
	f    file
	data []byte
}

// NewAnalyzer returns an empty analyzer.
func NewAnalyzer() *Analyzer { return &Analyzer{st: newScanState()} }

func newScanState() *scanState {
	return &scanState{hits: map[string]*Finding{}, nodes: map[string]*corev1.Node{}, facts: map[string]map[string][]Evidence{}}
}

// Scan reads one bundle file (NODE/NAME) to its end. A .json file is kept
// for decoding at Finish; any other is scanned line by line.
func (a *Analyzer) Scan(name string, r io.Reader) error {
	f := splitPath(name)
	if strings.HasSuffix(name, ".json") {
		b, err := io.ReadAll(io.LimitReader(r, 256<<20))
		if err != nil {
			return err
		}
		a.mu.Lock()
		a.jsons = append(a.jsons, jsonFile{f, b})
		a.mu.Unlock()
		return nil
	}
	local := newScanState()
	err := local.scanLines(f, r)
	a.mu.Lock()
	defer a.mu.Unlock()
	a.st.merge(local)
	return err
}

// feed is a writer whose bytes Scan reads, on a goroutine of its own so
// that scanning overlaps the writing; Close waits for the scan. A scan that
// fails keeps draining, so the writer never blocks on it.
func (a *Analyzer) feed(name string) io.WriteCloser {
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := a.Scan(name, pr)
		_, _ = io.Copy(io.Discard, pr)
		done <- err
	}()
	// Small chunks: a hundred nodes' sources may be scanned at once.
	return &feedWriter{aw: newAsyncWriterSized(pw, 64<<10, 2), pw: pw, done: done, a: a}
}

type feedWriter struct {
	aw   *asyncWriter
	pw   *io.PipeWriter
	done chan error
	a    *Analyzer
}

func (f *feedWriter) Write(p []byte) (int, error) { return f.aw.Write(p) }

func (f *feedWriter) Close() error {
	err := f.aw.Close()
	f.pw.CloseWithError(err)
	if serr := <-f.done; serr != nil {
		f.a.mu.Lock()
		f.a.errs = append(f.a.errs, serr)
		f.a.mu.Unlock()
	}
	return err
}

// Finish runs the structural analyzers with the bundle's manifest and
// returns the analysis; the error reports sources that could not be
// scanned (the analysis holds the rest).
func (a *Analyzer) Finish(m Manifest) (*Analysis, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.st
	st.manifest = m
	for _, j := range a.jsons {
		st.decodeJSON(j.f, j.data)
	}
	st.structural()
	out := &Analysis{Manifest: m}
	for _, k := range st.order {
		out.Findings = append(out.Findings, *st.hits[k])
	}
	sortFindings(out.Findings)
	if st.timeline != nil {
		out.Timeline = st.timeline.events(m)
	}
	return out, errors.Join(a.errs...)
}

// merge adds what one source's scan found.
func (st *scanState) merge(o *scanState) {
	for _, k := range o.order {
		f := o.hits[k]
		if len(f.Evidence) == 0 {
			st.report(f.ID, f.Node, Evidence{})
		}
		for _, ev := range f.Evidence {
			st.report(f.ID, f.Node, ev)
		}
	}
	for node, facts := range o.facts {
		for name, evs := range facts {
			for _, ev := range evs {
				st.fact(node, name, ev)
			}
		}
	}
	if o.timeline != nil {
		if st.timeline == nil {
			st.timeline = newTimelineBuilder()
		}
		for _, evs := range o.timeline.byNode {
			for _, e := range evs {
				st.timeline.push(e)
			}
		}
	}
}
