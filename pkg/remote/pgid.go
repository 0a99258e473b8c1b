package remote

import (
	"bytes"
	"io"
	"strconv"
	"sync"
)

const pgidMarker = "kbs-pgid:"

// pgidSniffer takes the first stderr line, the remote process group, and
// passes everything after it on unchanged.
type pgidSniffer struct {
	next io.Writer

	mu   sync.Mutex
	head []byte
	done bool
	id   int
}

func (p *pgidSniffer) Write(b []byte) (int, error) {
	p.mu.Lock()
	if p.done {
		p.mu.Unlock()
		return p.next.Write(b)
	}
	p.head = append(p.head, b...)
	i := bytes.IndexByte(p.head, '\n')
	if i < 0 && len(p.head) < 64 {
		p.mu.Unlock()
		return len(b), nil
	}
	p.done = true
	rest := p.head
	if line, ok := bytes.CutPrefix(p.head[:max(i, 0)], []byte(pgidMarker)); ok && i >= 0 {
		p.id, _ = strconv.Atoi(string(line))
		rest = p.head[i+1:]
	}
	p.head = nil
	p.mu.Unlock()
	if len(rest) > 0 {
		if _, err := p.next.Write(rest); err != nil {
			return 0, err
		}
	}
	return len(b), nil
}

func (p *pgidSniffer) pgid() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.id
}
