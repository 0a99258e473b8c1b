package diag

import (
	"bytes"
	"regexp"
)

const (
	ruleB64PrivateKey = "private-key-base64"
	ruleYAMLBlock     = "yaml-block-secret"
)

// b64KeyMarks are "PRIVATE KEY" base64-encoded at each of its three
// alignments (only the characters that do not depend on the bytes
// around it): a base64 run that holds one encodes a private key, whatever
// key names it, even after a certificate in the same PEM bundle.
var (
	b64KeyMarks = [][]byte{[]byte("UFJJVkFURSBL"), []byte("SVZBVEUgS0VZ"), []byte("UklWQVRFIEtF")}
	b64Run      = regexp.MustCompile(`[A-Za-z0-9+/]{16,}={0,2}`)
)

// lineNeedles mark the lines the line-wise redactors beyond the rules may
// change: a base64 private key, and a key opening a block scalar with a
// comment after it (": |", ": >"; without a comment the scan checks each
// line's end, see blockAtEnd).
var lineNeedles = []needle{
	newNeedle(string(b64KeyMarks[0]), 1, false), newNeedle(string(b64KeyMarks[1]), 1, false), newNeedle(string(b64KeyMarks[2]), 1, false),
	newNeedle(": |", 2, false), newNeedle(": >", 2, false),
}

// redactB64PrivateKeys replaces base64 runs that encode a private key;
// base64 certificates (a kubeconfig's certificate-authority-data) stay. It
// reports whether a run reached the end of the line: base64 wrapped at a
// fixed width goes on on the next lines (see Redactor.b64).
func redactB64PrivateKeys(line []byte, counts map[string]int) ([]byte, bool) {
	if !hasB64KeyMark(line) {
		return line, false
	}
	atEnd := false
	trimmed := len(bytes.TrimRight(line, "\r\n"))
	out := b64Run.ReplaceAllFunc(line, func(m []byte) []byte {
		if !hasB64KeyMark(m) {
			return m
		}
		counts[ruleB64PrivateKey]++
		return []byte("[REDACTED:" + ruleB64PrivateKey + "]")
	})
	for _, loc := range b64Run.FindAllIndex(line, -1) {
		if loc[1] == trimmed && hasB64KeyMark(line[loc[0]:loc[1]]) && loc[1]-loc[0] >= 60 {
			atEnd = true
		}
	}
	return out, atEnd
}

func hasB64KeyMark(b []byte) bool {
	for _, m := range b64KeyMarks {
		if bytes.Contains(b, m) {
			return true
		}
	}
	return false
}

// b64Line says whether a line is nothing but base64 (a wrapped
// continuation of a key).
func b64Line(line []byte) bool {
	l := bytes.TrimSpace(line)
	if len(l) == 0 {
		return false
	}
	for _, c := range l {
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '=') {
			return false
		}
	}
	return true
}

// blockAtEnd says whether line[:end] ends like a block scalar's key
// (":", then "|" or ">" with optional chomping and indentation
// indicators) — checked at every newline by the one-pass scan, so it only
// looks at the line's last bytes.
func blockAtEnd(line []byte) bool {
	j := len(line) - 1
	for j >= 0 && (line[j] == ' ' || line[j] == '\t' || line[j] == '\r' || line[j] == '\n') {
		j--
	}
	for k := 0; k < 2 && j >= 0 && (line[j] == '+' || line[j] == '-' || line[j] >= '1' && line[j] <= '9'); k++ {
		j--
	}
	return j > 0 && (line[j] == '|' || line[j] == '>')
}

// yamlSecretBlock is a YAML key that names a secret and opens a block
// scalar (password: |, tls.key: >-): the value is on the lines below.
var yamlSecretBlock = regexp.MustCompile(`(?i)^(\s*)(?:-\s+)?["']?[\w.-]*(?:password|passwd|secret|token|private|\.key|_key|-key)[\w.-]*["']?\s*:\s*[|>][+-]?[0-9]?\s*$`)

// blockIndent returns the indent of a line that opens a secret block
// scalar, or -1. A trailing comment is allowed only after ": |" or ": >"
// (the one-pass scan's needles; without one it checks the line's end).
func blockIndent(line []byte) int {
	l := bytes.TrimRight(line, "\r\n")
	if !blockAtEnd(l) {
		i := bytes.LastIndex(l, []byte(" #"))
		if i < 0 || !(bytes.Contains(l, []byte(": |")) || bytes.Contains(l, []byte(": >"))) || !blockAtEnd(l[:i]) {
			return -1
		}
		l = l[:i]
	}
	m := yamlSecretBlock.FindSubmatch(bytes.TrimRight(l, " \t"))
	if m == nil {
		return -1
	}
	return len(m[1])
}

// inBlock says whether line still belongs to a block scalar opened at
// indent: blank lines do, and lines indented deeper.
func inBlock(line []byte, indent int) bool {
	l := bytes.TrimRight(line, "\r\n")
	if len(bytes.TrimSpace(l)) == 0 {
		return true
	}
	n := 0
	for n < len(l) && (l[n] == ' ' || l[n] == '\t') {
		n++
	}
	return n > indent
}
