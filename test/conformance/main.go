// Command conformance runs the whole upstream [Conformance] suite against
// the `make demo` cluster (make conformance) as upstream runs it: the
// conformance images imported on its nodes, the parallel part in four
// ginkgo processes, then the [Serial] specs in one, and a one-line summary
// with every skipped spec named and why. While it runs, kbs-registry serves
// the same images where the nodes' containerd mirrors kbs.local to.
//
//	go run ./test/conformance DEMO_DIR                 # every [Conformance] spec
//	go run ./test/conformance -part serial DEMO_DIR    # one part of the whole
//	go run ./test/conformance -focus 'PodCertificate' DEMO_DIR  # some specs again
//	go run ./test/conformance -smoke DEMO_DIR          # the smoke subset make test runs
package main

import (
	"context"
	"encoding/xml"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/kubectl-kbs/kbs/test/smoke"
)

func main() {
	smokeOnly := flag.Bool("smoke", false, "run only the smoke subset make test runs")
	only := flag.String("part", "", "run only this part of the whole suite: parallel or serial (a long run split in two)")
	focus := flag.String("focus", "", "run only the [Conformance] specs whose names match this regular expression (a failure again)")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: conformance [-smoke | -part parallel|serial | -focus REGEXP] DEMO_DIR")
		os.Exit(2)
	}
	parts := []part{
		{"parallel", `\[Conformance\]`, `\[Serial\]|\[Disruptive\]|` + notHere(), smoke.Procs},
		{"serial", `\[Serial\].*\[Conformance\]|\[Conformance\].*\[Serial\]`, notHere(), 1},
	}
	switch {
	case *smokeOnly:
		parts = []part{{"smoke", smoke.FocusRegexp(smoke.Focus), `\[Serial\]|\[Disruptive\]`, smoke.Procs}}
	case *focus != "":
		parts = []part{{"focus", `\[Conformance\].*(` + *focus + `)|(` + *focus + `).*\[Conformance\]`, `\[Disruptive\]`, smoke.Procs}}
	case *only != "":
		i := slices.IndexFunc(parts, func(p part) bool { return p.name == *only })
		if i < 0 {
			fmt.Fprintf(os.Stderr, "conformance: -part %q: want parallel or serial\n", *only)
			os.Exit(2)
		}
		parts = parts[i : i+1]
	}
	if err := run(flag.Arg(0), parts); err != nil {
		fmt.Fprintln(os.Stderr, "conformance:", err)
		os.Exit(1)
	}
}

// unbuildable are the [Conformance] specs the whole run skips, each for a
// reason this machine cannot change; the summary names them with it.
var unbuildable = []struct{ spec, why string }{
	{`ImageVolume should succeed with pod and pull policy of Always`, "it mounts upstream's kitten image and checks that its /etc/os-release says Alpine Linux; kitten is built on Alpine, which this machine cannot reach (Debian packages and the Go module proxy only), and a stand-in would have to forge that file"},
}

// notHere is the skip expression of the unbuildable specs.
func notHere() string {
	var res []string
	for _, u := range unbuildable {
		res = append(res, regexp.QuoteMeta(u.spec))
	}
	return strings.Join(res, "|")
}

// why is the reason a spec is unbuildable, or "".
func why(name string) string {
	for _, u := range unbuildable {
		if strings.Contains(name, u.spec) {
			return u.why
		}
	}
	return ""
}

// part is one e2e.test run of the whole.
type part struct {
	name, focus, skip string
	procs             int
}

func run(demo string, parts []part) error {
	// Absolute: the ginkgo CLI runs e2e.test in its own directory, where
	// make conformance's relative _output/demo names nothing.
	demo, err := filepath.Abs(demo)
	if err != nil {
		return err
	}
	for _, f := range []string{"cluster.yaml", "known_hosts", "kubeconfig"} {
		if _, err := os.Stat(filepath.Join(demo, f)); err != nil {
			return fmt.Errorf("no demo cluster in %s (%w): run make demo first", demo, err)
		}
	}
	ctx := context.Background()
	if err := smoke.Import(ctx, filepath.Join(demo, "cluster.yaml"), filepath.Join(demo, "known_hosts")); err != nil {
		return err
	}
	stop, err := serveImages(filepath.Join(demo, "cluster.yaml"))
	if err != nil {
		return err
	}
	defer stop()
	report := filepath.Join(demo, "conformance-"+time.Now().UTC().Format("20060102T150405"))
	if err := os.MkdirAll(report, 0o755); err != nil {
		return err
	}
	start := time.Now()
	ran := 0
	var failedParts []string
	for _, p := range parts {
		res, err := smoke.Suite(ctx, filepath.Join(demo, "kubeconfig"), p.focus, p.skip, p.procs, filepath.Join(report, p.name), os.Stdout)
		ran += res.Ran
		if err != nil {
			failedParts = append(failedParts, fmt.Sprintf("%s: %v", p.name, err))
		}
	}
	took := time.Since(start).Round(time.Second)
	passed, failed, skipped := junit(report)
	fmt.Printf("\nconformance: %d passed, %d failed, %d skipped of %d run, in %s (JUnit: %s)\n", len(passed), len(failed), len(skipped), ran, took, report)
	for _, s := range skipped {
		fmt.Printf("  skipped: %s\n", s)
	}
	for _, f := range failed {
		fmt.Printf("  FAILED: %s\n", f)
	}
	if len(failedParts) > 0 {
		return fmt.Errorf("%s", strings.Join(failedParts, "; "))
	}
	return nil
}

type testcase struct {
	Name    string `xml:"name,attr"`
	Skipped *struct {
		Message string `xml:"message,attr"`
	} `xml:"skipped"`
	Failure *struct{} `xml:"failure"`
	Error   *struct{} `xml:"error"`
}

// junit reads the report's test cases: passed, failed, and skipped with
// the reason ginkgo gives. Each part's report lists every spec, the other
// part's as skipped: a spec is skipped only when no part ran it.
func junit(dir string) (passed, failed, skipped []string) {
	result, reason := map[string]string{}, map[string]string{}
	var names []string
	files, _ := filepath.Glob(filepath.Join(dir, "*", "junit*.xml"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		var doc struct {
			Suites []struct {
				Cases []testcase `xml:"testcase"`
			} `xml:"testsuite"`
		}
		if xml.Unmarshal(b, &doc) != nil {
			continue
		}
		for _, s := range doc.Suites {
			for _, c := range s.Cases {
				if !strings.Contains(c.Name, "[Conformance]") {
					continue
				}
				if _, seen := result[c.Name]; !seen {
					names = append(names, c.Name)
					result[c.Name] = "skipped"
				}
				switch {
				case c.Failure != nil || c.Error != nil:
					result[c.Name] = "failed"
				case c.Skipped != nil && why(c.Name) != "":
					reason[c.Name] = "not here: " + why(c.Name)
				case c.Skipped != nil:
					// A part that filtered the spec out only says "skipped":
					// the reason a part that ran it gave wins.
					if r := reason[c.Name]; r == "" || r == "skipped" {
						reason[c.Name] = c.Skipped.Message
					}
				case result[c.Name] != "failed":
					result[c.Name] = "passed"
				}
			}
		}
	}
	for _, n := range names {
		switch result[n] {
		case "failed":
			failed = append(failed, n)
		case "passed":
			passed = append(passed, n)
		default:
			skipped = append(skipped, n+": "+reason[n])
		}
	}
	return passed, failed, skipped
}
