package diag

import "bytes"

// needle is a literal that every match of a redaction rule contains: found
// cheaply, it decides whether the rule's regexp runs at all. It is searched
// for by one of its bytes (at), chosen to be rare in logs, and the rest is
// compared around each hit. Searching by the first byte instead (as
// bytes.Index does until it gives up) stalls on every 'e', 'a' or ':' of a
// log, which was most of redaction's time.
type needle struct {
	lit []byte // lower case when fold
	at  int    // index in lit of the byte searched for
	// fold matches ASCII letters in either case, for the (?i) rules: a
	// "BEARER" or "AWS_SECRET_ACCESS_KEY" must reach the regexp too.
	fold bool
}

func newNeedle(lit string, at int, fold bool) needle {
	if fold {
		lit = string(bytes.ToLower([]byte(lit)))
	}
	return needle{lit: []byte(lit), at: at, fold: fold}
}

// each calls fn with the start of every occurrence in s until fn returns
// false. With fold, the two cases of the searched byte are two passes, so
// starts are not in order.
func (n needle) each(s []byte, fn func(start int) bool) {
	c := n.lit[n.at]
	if !n.scan(s, c, fn) {
		return
	}
	if up := upper(c); n.fold && up != c {
		n.scan(s, up, fn)
	}
}

// in says whether s holds the needle.
func (n needle) in(s []byte) bool {
	found := false
	n.each(s, func(int) bool { found = true; return false })
	return found
}

func (n needle) scan(s []byte, c byte, fn func(int) bool) bool {
	for off := 0; ; {
		i := bytes.IndexByte(s[off:], c)
		if i < 0 {
			return true
		}
		pos := off + i
		off = pos + 1
		start := pos - n.at
		if start < 0 || start+len(n.lit) > len(s) || !n.equal(s[start:start+len(n.lit)]) {
			continue
		}
		if !fn(start) {
			return false
		}
	}
}

func (n needle) equal(b []byte) bool {
	if !n.fold {
		return bytes.Equal(b, n.lit)
	}
	for i, c := range b {
		if l := n.lit[i]; c != l && !(isLetter(l) && c|0x20 == l) {
			return false
		}
	}
	return true
}

func upper(c byte) byte {
	if c >= 'a' && c <= 'z' {
		return c - 0x20
	}
	return c
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' }
