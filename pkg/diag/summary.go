package diag

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"sigs.k8s.io/yaml"
)

// Formats of the summary, for -o; without one the summary is text for
// people.
const (
	OutputJSON = "json"
	OutputYAML = "yaml"
)

// IsOutputFormat says whether -o's value names a summary format; anything
// else there is the deprecated spelling of a bundle path.
func IsOutputFormat(s string) bool { return s == OutputJSON || s == OutputYAML }

// Summary is what -o json|yaml prints: where the bundle and its report
// are, the bundle's manifest (nodes, transports, every source) and the
// findings. The timeline is left to the report: it holds every log line.
// Field names are stable.
type Summary struct {
	Bundle   string    `json:"bundle"`
	Report   string    `json:"report"`
	Manifest Manifest  `json:"manifest"`
	Findings []Finding `json:"findings"`
}

// Reanalyze runs the analyzers over an existing bundle and writes its
// report (path "": beside the bundle).
func Reanalyze(bundle, path string) (*Summary, error) {
	a, err := Analyze(bundle)
	if err != nil {
		return nil, err
	}
	return report(bundle, path, a)
}

// report writes the HTML report of a bundle's analysis and sums it up.
func report(bundle, path string, a *Analysis) (*Summary, error) {
	if path == "" {
		path = strings.TrimSuffix(strings.TrimSuffix(bundle, ".gz"), ".tar") + ".html"
	}
	if err := WriteReport(path, filepath.Base(bundle), a); err != nil {
		return nil, err
	}
	return &Summary{Bundle: bundle, Report: path, Manifest: a.Manifest, Findings: a.Findings}, nil
}

// PrintSummary prints s as text (format ""), JSON or YAML.
func PrintSummary(w io.Writer, format string, s Summary) error {
	if s.Findings == nil {
		s.Findings = []Finding{} // scripts read [] for none, not null
	}
	switch format {
	case "":
		WriteSummary(w, &Analysis{Manifest: s.Manifest, Findings: s.Findings})
		_, err := fmt.Fprintf(w, "bundle: %s\nreport: %s\n", s.Bundle, s.Report)
		return err
	case OutputJSON:
		data, err := json.MarshalIndent(s, "", "  ")
		if err != nil {
			return fmt.Errorf("encoding the summary: %w", err)
		}
		_, err = fmt.Fprintf(w, "%s\n", data)
		return err
	case OutputYAML:
		data, err := yaml.Marshal(s)
		if err != nil {
			return fmt.Errorf("encoding the summary: %w", err)
		}
		_, err = w.Write(data)
		return err
	}
	return fmt.Errorf("unknown output format %q: use -o json or -o yaml, or omit -o", format)
}
