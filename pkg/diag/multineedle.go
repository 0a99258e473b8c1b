package diag

import "bytes"

// multiNeedle finds the lines that hold any of a set of needles (or a
// bootstrap-token shape) in one pass over the text, instead of one
// bytes.IndexByte pass per needle: with a score of rules, the passes over
// common bytes (a quote, a colon, a dash) cost more than everything else.
// Each byte is looked up in a table of the needles' anchor bytes; at an
// anchor, the pair it makes with the next byte is looked up in a second
// table, which drops nearly every false start before a needle is compared.
// Once a line is known to be dirty the scan jumps to its end.
type multiNeedle struct {
	// interesting marks the bytes the scan stops at: newlines and anchors.
	interesting [256]bool
	// pair marks (anchor, next byte) pairs that begin some needle at its
	// anchor.
	pair [1 << 16]bool
	// anchors maps a byte to the needles anchored there (both cases of a
	// folding needle's bytes).
	anchors [256][]anchored
	dot     bool // check bootstrap-token shapes at '.'
}

type anchored struct {
	n  needle
	at int // index of the anchor byte in n.lit
}

// cases are the forms of c a needle matches.
func cases(c byte, fold bool) []byte {
	if up := upper(c); fold && up != c {
		return []byte{c, up}
	}
	return []byte{c}
}

func newMultiNeedle(ns []needle, tokens bool) *multiNeedle {
	m := &multiNeedle{dot: tokens}
	m.interesting['\n'] = true
	for _, n := range ns {
		at := n.at
		if at == len(n.lit)-1 && at > 0 {
			at-- // the pair is (anchor, next): anchor one earlier
		}
		for _, c := range cases(n.lit[at], n.fold) {
			m.interesting[c] = true
			m.anchors[c] = append(m.anchors[c], anchored{n, at})
			if at+1 == len(n.lit) { // a one-byte needle: any next byte
				for next := range 256 {
					m.pair[int(c)<<8|next] = true
				}
				continue
			}
			for _, next := range cases(n.lit[at+1], n.fold) {
				m.pair[int(c)<<8|int(next)] = true
			}
		}
	}
	if tokens {
		m.interesting['.'] = true
		for _, c := range []byte("abcdefghijklmnopqrstuvwxyz0123456789") {
			m.pair[int('.')<<8|int(c)] = true
		}
	}
	return m
}

// lines calls fn with the start of every line of block (whole lines) that
// holds a needle, in order, each once.
func (m *multiNeedle) lines(block []byte, fn func(start int)) {
	lineStart := 0
	for i := 0; i < len(block); i++ {
		c := block[i]
		if !m.interesting[c] {
			continue
		}
		if c == '\n' {
			if blockAtEnd(block[lineStart:i]) {
				fn(lineStart)
			}
			lineStart = i + 1
			continue
		}
		if i+1 < len(block) && !m.pair[int(c)<<8|int(block[i+1])] {
			continue
		}
		if !m.hit(block, i, c) {
			continue
		}
		fn(lineStart)
		end := bytes.IndexByte(block[i:], '\n')
		if end < 0 {
			return
		}
		i += end
		lineStart = i + 1
	}
}

// hit says whether a needle anchored at c, or a token shape at a dot,
// starts around position i.
func (m *multiNeedle) hit(s []byte, i int, c byte) bool {
	if c == '.' && m.dot && i >= 6 && i+17 <= len(s) && tokenChars(s[i-6:i]) && tokenChars(s[i+1:i+17]) {
		return true
	}
	for _, a := range m.anchors[c] {
		start := i - a.at
		if start >= 0 && start+len(a.n.lit) <= len(s) && a.n.equal(s[start:start+len(a.n.lit)]) {
			return true
		}
	}
	return false
}
