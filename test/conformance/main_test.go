package main

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// Each part's report lists the other part's specs as skipped: a spec is
// skipped only when no part ran it, an unbuildable one says why, and the
// reason of a part that skipped a spec at run time is kept.
func TestJUnitAcrossParts(t *testing.T) {
	dir := t.TempDir()
	kitten := "[sig-node] " + unbuildable[0].spec + " [Conformance]"
	for part, cases := range map[string]string{
		"parallel": `<testcase name="a [Conformance]"></testcase><testcase name="b [Serial] [Conformance]"><skipped message="skipped"/></testcase>` +
			`<testcase name="c [Conformance]"><failure/></testcase><testcase name="` + kitten + `"><skipped message="skipped"/></testcase>` +
			`<testcase name="d [Conformance]"><skipped message="skipped - no IPv6 here"/></testcase>`,
		"serial": `<testcase name="a [Conformance]"><skipped message="skipped"/></testcase><testcase name="b [Serial] [Conformance]"></testcase>` +
			`<testcase name="c [Conformance]"><skipped message="skipped"/></testcase><testcase name="` + kitten + `"><skipped message="skipped"/></testcase>` +
			`<testcase name="d [Conformance]"><skipped message="skipped"/></testcase>`,
	} {
		if err := os.MkdirAll(filepath.Join(dir, part), 0o755); err != nil {
			t.Fatal(err)
		}
		doc := `<testsuites><testsuite>` + cases + `<testcase name="not conformance"></testcase></testsuite></testsuites>`
		if err := os.WriteFile(filepath.Join(dir, part, "junit_01.xml"), []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	passed, failed, skipped := junit(dir)
	slices.Sort(passed)
	if !slices.Equal(passed, []string{"a [Conformance]", "b [Serial] [Conformance]"}) || !slices.Equal(failed, []string{"c [Conformance]"}) ||
		!slices.Equal(skipped, []string{kitten + ": not here: " + unbuildable[0].why, "d [Conformance]: skipped - no IPv6 here"}) {
		t.Errorf("passed %q\nfailed %q\nskipped %q", passed, failed, skipped)
	}
}
