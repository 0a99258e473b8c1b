package diag

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/fsutil"
)

//go:embed report.html
var reportHTML string

var reportTmpl = template.Must(template.New("report").Parse(reportHTML))

type reportNode struct {
	Name    string
	Info    NodeInfo
	Offset  string
	Sources []Source
}

// WriteReport writes the analysis as one offline HTML file (no external
// assets): summary, findings with evidence, per-node sections and the
// timeline with filters.
func WriteReport(path, title string, a *Analysis) error {
	var b bytes.Buffer
	if err := RenderReport(&b, title, a); err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, b.Bytes(), 0o600)
}

// RenderReport renders the HTML report.
func RenderReport(w io.Writer, title string, a *Analysis) error {
	tl, err := json.Marshal(a.Timeline)
	if err != nil {
		return err
	}
	if a.Timeline == nil {
		tl = []byte("[]")
	}
	crit, warn := counts(a.Findings)
	red := map[string]int{}
	for _, s := range a.Manifest.Sources {
		for k, v := range s.Redactions {
			red[k] += v
		}
	}
	var redParts []string
	for k, v := range red {
		redParts = append(redParts, fmt.Sprintf("%s×%d", k, v))
	}
	sort.Strings(redParts)
	return reportTmpl.Execute(w, map[string]any{
		"Title": title, "Created": a.Manifest.Created.UTC().Format(time.RFC3339),
		"Nodes": reportNodes(a.Manifest), "Findings": a.Findings, "Critical": crit, "Warnings": warn,
		"FailedSources": len(a.Manifest.Failed()), "Redacted": a.Manifest.Redacted, "Redactions": strings.Join(redParts, ", "),
		// JSON inside <script type="application/json">: html/template escapes
		// it for that context, so a log line cannot close the script.
		"TimelineJSON": template.JS(tl),
	})
}

func reportNodes(m Manifest) []reportNode {
	byNode := map[string][]Source{}
	for _, s := range m.Sources {
		byNode[s.Node] = append(byNode[s.Node], s)
	}
	names := map[string]bool{}
	for n := range m.Nodes {
		names[n] = true
	}
	for n := range byNode {
		if n != ClusterDir {
			names[n] = true
		}
	}
	var out []reportNode
	for n := range names {
		rn := reportNode{Name: n, Info: m.Nodes[n], Sources: byNode[n], Offset: "not measured"}
		if o := rn.Info.ClockOffsetSeconds; o != nil {
			rn.Offset = fmt.Sprintf("%+.3fs", *o)
		}
		out = append(out, rn)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func counts(fs []Finding) (crit, warn int) {
	for _, f := range fs {
		switch f.Severity {
		case Critical:
			crit++
		case Warning:
			warn++
		}
	}
	return
}

// WriteSummary prints the short terminal summary: counts, then one line
// per finding with its first piece of evidence.
func WriteSummary(w io.Writer, a *Analysis) {
	crit, warn := counts(a.Findings)
	fmt.Fprintf(w, "%d node(s), %d critical, %d warning finding(s), %d failed source(s)\n", len(reportNodes(a.Manifest)), crit, warn, len(a.Manifest.Failed()))
	for _, f := range a.Findings {
		fmt.Fprintf(w, "%-8s %-12s %s [%s]\n", strings.ToUpper(f.Severity), f.Node, f.Title, f.ID)
		if len(f.Evidence) > 0 {
			e := f.Evidence[0]
			loc := e.Path
			if e.Line > 0 {
				loc += fmt.Sprintf(":%d", e.Line)
			}
			fmt.Fprintf(w, "         evidence: %s: %s\n", loc, oneLine(e.Text, 160))
		}
		fmt.Fprintf(w, "         try: %s\n", f.Fix)
	}
}

func oneLine(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}
