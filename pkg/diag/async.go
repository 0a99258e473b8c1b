package diag

import "io"

// asyncWriter hands filled chunks to a goroutine that writes them to w, so
// that redaction and compression of one source run on two cores. Chunks
// are recycled: memory stays at a few chunks however much passes.
type asyncWriter struct {
	w     io.Writer
	cur   []byte
	full  chan []byte
	free  chan []byte
	done  chan error
	err   error
	chunk int
}

const (
	asyncChunk  = 128 << 10
	asyncChunks = 4
)

func newAsyncWriter(w io.Writer) *asyncWriter { return newAsyncWriterSized(w, asyncChunk, asyncChunks) }

// newAsyncWriterSized hands on chunks of size bytes, n of them in flight.
func newAsyncWriterSized(w io.Writer, size, n int) *asyncWriter {
	a := &asyncWriter{w: w, full: make(chan []byte, n), free: make(chan []byte, n+1), done: make(chan error, 1), chunk: size}
	for range n + 1 {
		a.free <- make([]byte, 0, size)
	}
	a.cur = <-a.free
	go func() {
		var err error
		for b := range a.full {
			if err == nil {
				_, err = w.Write(b)
			}
			a.free <- b[:0]
		}
		a.done <- err
	}()
	return a
}

func (a *asyncWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		k := min(len(p), a.chunk-len(a.cur))
		a.cur = append(a.cur, p[:k]...)
		p = p[k:]
		if len(a.cur) == a.chunk {
			a.full <- a.cur
			a.cur = <-a.free
		}
	}
	return n, nil
}

// Close flushes what is left and returns the first write error.
func (a *asyncWriter) Close() error {
	if len(a.cur) > 0 {
		a.full <- a.cur
	}
	close(a.full)
	return <-a.done
}
