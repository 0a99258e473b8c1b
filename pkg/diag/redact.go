// Package diag collects diagnostics from cluster nodes. This file is its
// redactor: every byte of every source passes through it on the way into a
// bundle, so secrets in logs never leave the operator's machine.
package diag

import (
	"bytes"
	"io"
	"regexp"
	"slices"
	"sort"
)

// rule replaces secrets on one line. The regexp runs only on lines that
// hold the rule's needle: most log lines contain no secret, and skipping
// the regexp keeps redaction fast.
type rule struct {
	name   string
	needle needle
	re     *regexp.Regexp
	repl   []byte
}

// Each needle is searched for by a byte that is rare in logs (its index is
// the second argument); the (?i) rules' needles fold case as their regexps
// do.
var rules = []rule{
	{"bearer-token", newNeedle("bearer", 0, true), regexp.MustCompile(`(?i)(bearer\s+)[A-Za-z0-9\-._~+/]{8,}=*`), []byte("${1}[REDACTED:bearer-token]")},
	{"jwt", newNeedle("eyJ", 2, false), regexp.MustCompile(`eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}`), []byte("[REDACTED:jwt]")},
	{"url-password", newNeedle("@", 0, false), regexp.MustCompile(`(://[^:/\s@]+:)[^@\s/]+@`), []byte("${1}[REDACTED:url-password]@")},
	{"password-field", newNeedle("passw", 4, true), regexp.MustCompile(`(?i)((?:password|passwd)["']?\s*[:=]\s*["']?)[^\s"',;]+`), []byte("${1}[REDACTED:password]")},
	{"kubeconfig-key", newNeedle("-data", 0, false), regexp.MustCompile(`((?:client-key-data|token-data)["']?\s*:\s*["']?)[A-Za-z0-9+/=]{8,}`), []byte("${1}[REDACTED:kubeconfig-key]")},
	{"aws-access-key", newNeedle("AKIA", 1, false), regexp.MustCompile(`\bAKIA[0-9A-Z]{16}\b`), []byte("[REDACTED:aws-access-key]")},
	{"aws-secret-key", newNeedle("_secret_access_key", 0, true), regexp.MustCompile(`(?i)(aws_secret_access_key["']?\s*[:=]\s*["']?)[A-Za-z0-9/+=]{40}`), []byte("${1}[REDACTED:aws-secret-key]")},
	{"gcp-api-key", newNeedle("AIza", 2, false), regexp.MustCompile(`AIza[0-9A-Za-z\-_]{35}`), []byte("[REDACTED:gcp-api-key]")},
}

const (
	ruleBootstrapToken = "bootstrap-token"
	rulePrivateKey     = "private-key"
)

// Redactor is an io.WriteCloser that redacts line by line into the next
// writer. It holds at most one line (and the lines of a private key block,
// which it drops) in memory.
type Redactor struct {
	next   io.Writer
	line   []byte
	inKey  bool
	counts map[string]int
	err    error
	// lineByLine turns the whole-chunk search off (tests compare both).
	lineByLine bool
}

// NewRedactor redacts into next.
func NewRedactor(next io.Writer) *Redactor {
	return &Redactor{next: next, counts: map[string]int{}}
}

// Write redacts whole lines as they complete. The complete lines of p are
// searched once for anything a rule could match; the lines in between go
// through unchanged in one write, and only the lines with a hit are
// redacted one by one (most log lines hold no secret).
func (r *Redactor) Write(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n := len(p)
	if len(r.line) > 0 || r.inKey { // finish the line in progress first
		i := bytes.IndexByte(p, '\n')
		if i < 0 || r.inKey {
			return n, r.writeLines(p)
		}
		if err := r.writeLines(p[:i+1]); err != nil {
			return 0, err
		}
		p = p[i+1:]
	}
	end := bytes.LastIndexByte(p, '\n') + 1
	if r.lineByLine || r.inKey || end == 0 || beginKeyNeedle.in(p[:end]) {
		return n, r.writeLines(p)
	}
	block := p[:end]
	clean := 0
	for _, start := range dirtyLines(block) {
		if start < clean {
			continue
		}
		if _, err := r.next.Write(block[clean:start]); err != nil {
			r.err = err
			return 0, err
		}
		stop := start + bytes.IndexByte(block[start:], '\n') + 1
		if err := r.writeLines(block[start:stop]); err != nil {
			return 0, err
		}
		clean = stop
	}
	if _, err := r.next.Write(block[clean:]); err != nil {
		r.err = err
		return 0, err
	}
	return n, r.writeLines(p[end:])
}

// dirtyLines are the starts of the lines of block (whole lines) that hold a
// rule's needle or something shaped like a bootstrap token: a superset of
// the lines flushLine would change. Sorted, maybe with repeats.
func dirtyLines(block []byte) []int {
	var starts []int
	mark := func(at int) { starts = append(starts, bytes.LastIndexByte(block[:at], '\n')+1) }
	for _, ru := range rules {
		ru.needle.each(block, func(at int) bool { mark(at); return true })
	}
	for off := 0; ; {
		i := bytes.IndexByte(block[off:], '.')
		if i < 0 {
			break
		}
		at := off + i
		if at >= 6 && at+17 <= len(block) && tokenChars(block[at-6:at]) && tokenChars(block[at+1:at+17]) {
			mark(at)
		}
		off = at + 1
	}
	slices.Sort(starts)
	return starts
}

// writeLines is the line-by-line path.
func (r *Redactor) writeLines(p []byte) error {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			r.line = append(r.line, p...)
			break
		}
		r.line = append(r.line, p[:i+1]...)
		p = p[i+1:]
		if err := r.flushLine(); err != nil {
			r.err = err
			return err
		}
	}
	return nil
}

// Close redacts a last line without a newline.
func (r *Redactor) Close() error {
	if len(r.line) > 0 && r.err == nil {
		r.err = r.flushLine()
	}
	return r.err
}

// Changed says whether the redactor has changed anything it passed on.
func (r *Redactor) Changed() bool { return len(r.counts) > 0 }

// Counts reports replacements per rule (never the values).
func (r *Redactor) Counts() map[string]int { return r.counts }

var (
	beginKey = []byte("-----BEGIN ")
	endKey   = []byte("-----END ")
	keyMark  = []byte("PRIVATE KEY-----")
	// beginKeyNeedle finds beginKey by its G: a log's dashes are common.
	beginKeyNeedle = newNeedle(string(beginKey), 7, false)
)

func (r *Redactor) flushLine() error {
	line := r.line
	r.line = r.line[:0]
	if r.inKey {
		if bytes.Contains(line, endKey) && bytes.Contains(line, keyMark) {
			r.inKey = false
		}
		return nil
	}
	if bytes.Contains(line, beginKey) && bytes.Contains(line, keyMark) {
		r.counts[rulePrivateKey]++
		r.inKey = !bytes.Contains(line[bytes.Index(line, beginKey)+len(beginKey):], endKey)
		_, err := r.next.Write([]byte("[REDACTED:private-key]\n"))
		return err
	}
	out := redactBootstrapTokens(line, r.counts)
	for _, ru := range rules {
		if !ru.needle.in(out) {
			continue
		}
		if locs := ru.re.FindAllIndex(out, -1); len(locs) > 0 {
			r.counts[ru.name] += len(locs)
			out = ru.re.ReplaceAll(out, ru.repl)
		}
	}
	_, err := r.next.Write(out)
	return err
}

// redactBootstrapTokens replaces [a-z0-9]{6}.[a-z0-9]{16} without a
// regexp: every line has dots, so this check runs on every line.
func redactBootstrapTokens(line []byte, counts map[string]int) []byte {
	var out []byte
	start := 0
	for i := 6; i+17 <= len(line); i++ {
		if line[i] != '.' || !tokenChars(line[i-6:i]) || !tokenChars(line[i+1:i+17]) {
			continue
		}
		if (i-7 >= 0 && isTokenChar(line[i-7])) || (i+17 < len(line) && isTokenChar(line[i+17])) {
			continue
		}
		if out == nil {
			out = make([]byte, 0, len(line))
		}
		out = append(out, line[start:i-6]...)
		out = append(out, "[REDACTED:bootstrap-token]"...)
		start = i + 17
		counts[ruleBootstrapToken]++
		i += 16
	}
	if out == nil {
		return line
	}
	return append(out, line[start:]...)
}

func tokenChars(b []byte) bool {
	for _, c := range b {
		if !isTokenChar(c) {
			return false
		}
	}
	return true
}

func isTokenChar(c byte) bool { return c >= 'a' && c <= 'z' || c >= '0' && c <= '9' }

// RuleNames lists every rule, for reports.
func RuleNames() []string {
	names := []string{rulePrivateKey, ruleBootstrapToken}
	for _, r := range rules {
		names = append(names, r.name)
	}
	sort.Strings(names)
	return names
}
