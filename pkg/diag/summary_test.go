package diag

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

func testSummary() Summary {
	return Summary{
		Bundle: "b.tar.gz", Report: "b.html",
		Manifest: Manifest{Redacted: true, Nodes: map[string]NodeInfo{"worker-0": {Role: "worker", Transport: ViaSSH}},
			Sources: []Source{{Node: "worker-0", Path: "worker-0/journal/kubelet.log", Status: "failed", Error: "timeout"}}},
		Findings: []Finding{{ID: "kubelet-down", Severity: Critical, Node: "worker-0", Title: "The kubelet is not running",
			Fix: "systemctl start kubelet", Evidence: []Evidence{{Path: "worker-0/units.txt", Text: "kubelet.service failed"}}}},
	}
}

func TestPrintSummary(t *testing.T) {
	want := testSummary()
	decode := map[string]func([]byte, any) error{OutputJSON: json.Unmarshal, OutputYAML: func(b []byte, v any) error { return yaml.UnmarshalStrict(b, v) }}
	for format, unmarshal := range decode {
		t.Run(format, func(t *testing.T) {
			var out bytes.Buffer
			if err := PrintSummary(&out, format, want); err != nil {
				t.Fatal(err)
			}
			var got Summary
			if err := unmarshal(out.Bytes(), &got); err != nil {
				t.Fatalf("-o %s is not %s: %v\n%s", format, format, err, out.String())
			}
			if got.Bundle != want.Bundle || got.Report != want.Report || len(got.Findings) != 1 ||
				got.Manifest.Nodes["worker-0"].Transport != ViaSSH || len(got.Manifest.Failed()) != 1 {
				t.Errorf("round trip lost fields: %+v", got)
			}
		})
	}
	t.Run("text", func(t *testing.T) {
		var out bytes.Buffer
		if err := PrintSummary(&out, "", want); err != nil {
			t.Fatal(err)
		}
		for _, line := range []string{"1 node(s), 1 critical, 0 warning finding(s), 1 failed source(s)", "try: systemctl start kubelet", "bundle: b.tar.gz\nreport: b.html\n"} {
			if !strings.Contains(out.String(), line) {
				t.Errorf("text summary lacks %q:\n%s", line, out.String())
			}
		}
	})
	t.Run("no findings are an empty list, not null", func(t *testing.T) {
		var out bytes.Buffer
		if err := PrintSummary(&out, OutputJSON, Summary{}); err != nil || !strings.Contains(out.String(), `"findings": []`) {
			t.Errorf("got %v:\n%s", err, out.String())
		}
	})
	if err := PrintSummary(&bytes.Buffer{}, "xml", want); err == nil || !strings.Contains(err.Error(), "-o json") {
		t.Errorf("-o xml: got %v, want an error naming the formats", err)
	}
}

func TestIsOutputFormat(t *testing.T) {
	for s, want := range map[string]bool{"json": true, "yaml": true, "": false, "out.tar.gz": false, "JSON": false} {
		if IsOutputFormat(s) != want {
			t.Errorf("IsOutputFormat(%q) = %v", s, !want)
		}
	}
}

func TestReanalyzeWritesTheReportBesideTheBundle(t *testing.T) {
	bundle := filepath.Join(t.TempDir(), "old.tar.gz")
	b, err := NewBundle(bundle, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	b.SetNode("worker-0", NodeInfo{Role: "worker", Transport: ViaSSH})
	b.Add("worker-0", "journal/kubelet.log", ViaSSH, strings.NewReader("kubelet started\n"))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	s, err := Reanalyze(bundle, "")
	if err != nil {
		t.Fatal(err)
	}
	wantReport := strings.TrimSuffix(bundle, ".tar.gz") + ".html"
	if s.Bundle != bundle || s.Report != wantReport || len(s.Manifest.Sources) != 1 {
		t.Errorf("summary %+v", s)
	}
	if _, err := os.Stat(wantReport); err != nil {
		t.Errorf("no report beside the bundle: %v", err)
	}
}

func TestBundleName(t *testing.T) {
	at := time.Date(2026, 11, 25, 4, 34, 16, 0, time.FixedZone("CET", 3600))
	if got := bundleName(nil, at); got != "kbs-diag-cluster-20261125T033416Z.tar.gz" {
		t.Errorf("without a spec: %s", got)
	}
	if got := bundleName(&cluster.Cluster{Metadata: cluster.Metadata{Name: "k8s"}}, at); got != "kbs-diag-k8s-20261125T033416Z.tar.gz" {
		t.Errorf("with a spec: %s", got)
	}
}
