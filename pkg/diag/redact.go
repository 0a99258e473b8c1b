// Package diag collects diagnostics from cluster nodes. This file is its
// redactor: every byte of every source passes through it on the way into a
// bundle, so secrets in logs never leave the operator's machine.
package diag

import (
	"bytes"
	"io"
	"regexp"
	"sort"
)

// rule replaces secrets on one line. The regexp runs only on lines that
// hold one of the rule's needles: most log lines contain no secret, and
// skipping the regexp keeps redaction fast.
type rule struct {
	name    string
	needles []needle
	re      *regexp.Regexp
	repl    []byte
	// quoted, when set, replaces a match keeping its prefix (submatch 1)
	// and the quotes around the value, so JSON and YAML stay well-formed.
	quoted bool
}

// has says whether line holds one of the rule's needles.
func (ru rule) has(line []byte) bool {
	for _, n := range ru.needles {
		if n.in(line) {
			return true
		}
	}
	return false
}

func needles(n ...needle) []needle { return n }

// Each needle is searched for by a byte that is rare in logs (its index is
// the second argument); the (?i) rules' needles fold case as their regexps
// do.
var rules = []rule{
	{name: "bearer-token", needles: needles(newNeedle("bearer", 0, true)), re: regexp.MustCompile(`(?i)(bearer\s+)[A-Za-z0-9\-._~+/]{8,}=*`), repl: []byte("${1}[REDACTED:bearer-token]")},
	{name: "basic-auth", needles: needles(newNeedle("basic", 0, true)), re: regexp.MustCompile(`(?i)((?:proxy-)?authorization["']?\s*[:=]\s*["']?basic\s+)[A-Za-z0-9+/]{4,}={0,2}`), repl: []byte("${1}[REDACTED:basic-auth]")},
	{name: "jwt", needles: needles(newNeedle("eyJ", 2, false)), re: regexp.MustCompile(`eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}`), repl: []byte("[REDACTED:jwt]")},
	{name: "url-password", needles: needles(newNeedle("@", 0, false)), re: regexp.MustCompile(`(://[^:/\s@]+:)[^@\s/]+@`), repl: []byte("${1}[REDACTED:url-password]@")},
	// Credentials in a URL's query: presigned object-store links, OAuth
	// redirects, APIs that take a key as a parameter.
	{name: "url-query-secret", needles: needles(newNeedle("?", 0, false), newNeedle("&", 0, false)),
		re:   regexp.MustCompile(`(?i)([?&](?:access_token|id_token|refresh_token|token|password|passwd|pwd|secret|client_secret|api_key|apikey|key|sig|signature|x-amz-signature|x-amz-credential|x-amz-security-token|x-goog-signature|x-goog-credential)=)[^&\s"'#<>]+`),
		repl: []byte("${1}[REDACTED:url-query-secret]")},
	// A secret piped into a command that reads it from stdin.
	{name: "piped-password", needles: needles(newNeedle("|", 0, false)),
		re:   regexp.MustCompile(`(?i)((?:echo|printf)\s+(?:-[ne]+\s+)?(?:'%s[^']*'\s+|"%s[^"]*"\s+)?)("[^"]*"|'[^']*'|[^\s|;&]+)(\s*\|\s*(?:sudo\s+(?:-\S+\s+)*-S\b|(?:sudo\s+(?:-\S+\s+)*)?(?:passwd|chpasswd)\b|[^|\n]*--password-stdin))`),
		repl: []byte("${1}[REDACTED:piped-password]${3}")},
	// A secret on a command line: --password X, --token=X, …
	{name: "cli-secret", needles: needles(newNeedle("--", 1, false)),
		re:   regexp.MustCompile(`(?i)((?:^|[\s'"])--(?:password|passwd|pass|token|secret|client-secret|api-key|apikey)(?:\s+|=))(?:"[^"]*"|'[^']*'|[^\s"'\[][^\s"']*)`),
		repl: []byte("${1}[REDACTED:cli-secret]")},
	// password: "two words", password: 'x', password=x, "password":"x".
	{name: "password-field", needles: needles(newNeedle("passw", 4, true)), quoted: true,
		re: regexp.MustCompile(`(?i)((?:password|passwd)["']?\s*(?:=|:\s*))(?:"(?:[^"\\]|\\.)*"|'[^']*'|[^\s"',;\[][^\s"',;]*(?:[ \t]+[^\s"',;#=]+)*)`)},
	{name: "kubeconfig-key", needles: needles(newNeedle("-data", 0, false)), re: regexp.MustCompile(`((?:client-key-data|token-data)["']?\s*:\s*["']?)[A-Za-z0-9+/=]{8,}`), repl: []byte("${1}[REDACTED:kubeconfig-key]")},
	// A kubeconfig user's (or any YAML/JSON) token that is not a JWT.
	{name: "token-field", needles: needles(newNeedle("token:", 5, false), newNeedle(`token"`, 5, false), newNeedle("token :", 6, false)),
		re:   regexp.MustCompile(`((?:^|[\s{,])"?token"? ?:\s*["']?)[A-Za-z0-9\-._~+/]{8,}=*`),
		repl: []byte("${1}[REDACTED:token]")},
	// A docker config's credentials (auths.*.auth is base64 user:password).
	{name: "registry-auth", needles: needles(newNeedle(`auth"`, 4, false), newNeedle(`token"`, 5, false)),
		re:   regexp.MustCompile(`("(?:auth|identitytoken|registrytoken)"\s*:\s*")[^"]+`),
		repl: []byte("${1}[REDACTED:registry-auth]")},
	// An EncryptionConfiguration's keys (secret: base64), in YAML or JSON.
	{name: "encryption-key", needles: needles(newNeedle("secret:", 6, false), newNeedle(`secret"`, 6, false), newNeedle("secret :", 7, false)),
		re:   regexp.MustCompile(`((?:^|[\s{,])"?secret"? ?:\s*["']?)[A-Za-z0-9+/]{16,}={0,2}`),
		repl: []byte("${1}[REDACTED:encryption-key]")},
	{name: "aws-access-key", needles: needles(newNeedle("AKIA", 1, false)), re: regexp.MustCompile(`\bAKIA[0-9A-Z]{16}\b`), repl: []byte("[REDACTED:aws-access-key]")},
	{name: "aws-secret-key", needles: needles(newNeedle("_secret_access_key", 0, true)), re: regexp.MustCompile(`(?i)(aws_secret_access_key["']?\s*[:=]\s*["']?)[A-Za-z0-9/+=]{40}`), repl: []byte("${1}[REDACTED:aws-secret-key]")},
	{name: "gcp-api-key", needles: needles(newNeedle("AIza", 2, false)), re: regexp.MustCompile(`AIza[0-9A-Za-z\-_]{35}`), repl: []byte("[REDACTED:gcp-api-key]")},
}

const (
	ruleBootstrapToken = "bootstrap-token"
	rulePrivateKey     = "private-key"
)

// Redactor is an io.WriteCloser that redacts line by line into the next
// writer. It holds at most one line (and the lines of a private key block,
// which it drops) in memory.
type Redactor struct {
	next  io.Writer
	line  []byte
	inKey bool
	// block is the indent of the YAML block scalar holding a secret that
	// the lines being read belong to, or -1.
	block int
	// b64 is set while the lines are the wrapped rest of a base64 key.
	b64    bool
	counts map[string]int
	err    error
	// lineByLine turns the whole-chunk search off (tests compare both).
	lineByLine bool
}

// NewRedactor redacts into next.
func NewRedactor(next io.Writer) *Redactor {
	return &Redactor{next: next, counts: map[string]int{}, block: -1}
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
	if r.lineByLine || r.inKey || r.block >= 0 || r.b64 || end == 0 || beginKeyNeedle.in(p[:end]) {
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
		if r.block >= 0 || r.b64 {
			// The line opened a secret block scalar or a wrapped base64
			// key: what follows is read line by line until it ends.
			return n, r.writeLines(p[stop:])
		}
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
	dirty.lines(block, func(start int) { starts = append(starts, start) })
	return starts
}

// dirty is every needle of the rules and the line redactors, in one scan.
var dirty = func() *multiNeedle {
	all := append([]needle{}, lineNeedles...)
	for _, ru := range rules {
		all = append(all, ru.needles...)
	}
	return newMultiNeedle(all, true)
}()

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
	// "PRIVATE KEY" without the dashes: PGP's ends in "PRIVATE KEY BLOCK".
	keyMark = []byte("PRIVATE KEY")
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
	if r.block >= 0 {
		if inBlock(line, r.block) {
			return nil // dropped: the secret's lines
		}
		r.block = -1
	}
	if r.b64 {
		if b64Line(line) {
			return nil // the wrapped rest of a base64 key
		}
		r.b64 = false
	}
	if bytes.Contains(line, beginKey) && bytes.Contains(line, keyMark) {
		r.counts[rulePrivateKey]++
		r.inKey = !bytes.Contains(line[bytes.Index(line, beginKey)+len(beginKey):], endKey)
		_, err := r.next.Write([]byte("[REDACTED:private-key]\n"))
		return err
	}
	if i := blockIndent(line); i >= 0 {
		r.block = i
		r.counts[ruleYAMLBlock]++
		_, err := r.next.Write(append(bytes.TrimRight(line, "\r\n"), " # [REDACTED:yaml-block-secret]\n"...))
		return err
	}
	out := redactBootstrapTokens(line, r.counts)
	out, r.b64 = redactB64PrivateKeys(out, r.counts)
	for _, ru := range rules {
		if !ru.has(out) {
			continue
		}
		if locs := ru.re.FindAllIndex(out, -1); len(locs) > 0 {
			r.counts[ru.name] += len(locs)
			out = ru.apply(out)
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
	names := []string{rulePrivateKey, ruleBootstrapToken, ruleB64PrivateKey, ruleYAMLBlock, ruleEnvSecret}
	for _, r := range rules {
		names = append(names, r.name)
	}
	sort.Strings(names)
	return names
}
