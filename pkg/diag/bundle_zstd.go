package diag

import (
	"bufio"
	"errors"
	"io"
	"os"
	"sync"

	gzip "github.com/klauspost/compress/gzip"
)

// AddZstd is AddSource for a source that arrives zstd-compressed from the
// node (cause, when set, explains a stream cut short). The log is decoded
// to be redacted and scanned, but while redaction changes nothing in it
// the node's own stream is what the bundle keeps, as NODE/NAME.zst: most
// logs hold no secret, and compressing a gigabyte again was most of the
// collector's CPU. At the first change — or when the size cap cuts the
// log, or the stream breaks — the entry becomes gzip as AddSource writes
// it: the unchanged part is decoded again from the kept stream, the rest
// follows redacted.
func (b *Bundle) AddZstd(src Source, packed io.Reader, cause func() error) Source {
	kept, err := newKeptStream()
	if err != nil {
		return b.AddSource(src, errReader{err})
	}
	defer kept.close()
	// Only zstd frames reach the decoder and the kept file: a skippable
	// frame's bytes are seen by no decoder, so by no redactor either.
	d, err := decompressing(io.TeeReader(newZstdFrames(packed), kept))
	if err != nil {
		return b.AddSource(src, errReader{err})
	}
	defer d.Close()
	var r io.Reader = d
	if cause != nil {
		r = preferErr{d, cause}
	}
	return b.add(src, r, kept)
}

// keptStream is a node's zstd stream, written to a file as it arrives
// while it may still become the source's entry.
type keptStream struct {
	f   *os.File
	w   *bufio.Writer
	mu  sync.Mutex
	off bool // no longer needed
	err error
}

func newKeptStream() (*keptStream, error) {
	f, err := os.CreateTemp("", "kbs-diag-zst-")
	if err != nil {
		return nil, err
	}
	return &keptStream{f: f, w: bufio.NewWriterSize(f, 256<<10)}, nil
}

func (k *keptStream) Write(p []byte) (int, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.off && k.err == nil {
		_, k.err = k.w.Write(p)
	}
	return len(p), nil // the download goes on even if keeping fails
}

// stop ends keeping and flushes what was kept.
func (k *keptStream) stop() error {
	k.mu.Lock()
	defer k.mu.Unlock()
	if !k.off {
		k.off = true
		if k.err == nil {
			k.err = k.w.Flush()
		}
	}
	return k.err
}

// replay decodes the first n bytes of log from what was kept, into w.
func (k *keptStream) replay(n int64, w io.Writer) error {
	if err := k.stop(); err != nil {
		return err
	}
	f, err := os.Open(k.f.Name())
	if err != nil {
		return err
	}
	defer f.Close()
	zr, err := decompressing(f)
	if err != nil {
		return err
	}
	defer zr.Close()
	_, err = io.CopyN(w, zr, n)
	return err
}

// finish returns the kept file, positioned at its end, as the entry.
func (k *keptStream) finish() (*os.File, error) {
	if err := k.stop(); err != nil {
		return nil, err
	}
	return k.f, nil
}

func (k *keptStream) close() {
	k.f.Close()
	os.Remove(k.f.Name())
}

// entrySink takes the redacted log. While kept is set it only counts and
// scans what passes (the kept stream will be the entry); otherwise it
// compresses into the gzip spool, beside the analyzers' scan, on another
// goroutine.
type entrySink struct {
	spool  *os.File
	feed   io.Writer // the analyzer's, or nil
	red    *Redactor // nil: not redacting
	kept   *keptStream
	passed int64 // bytes passed while kept, all unchanged
	gz     *gzip.Writer
	aw     *asyncWriter
}

func (e *entrySink) Write(p []byte) (int, error) {
	if e.kept != nil && e.red != nil && e.red.Changed() {
		if err := e.toGzip(); err != nil {
			return 0, err
		}
	}
	if e.kept == nil {
		return e.aw.Write(p)
	}
	e.passed += int64(len(p))
	if e.feed != nil {
		_, _ = e.feed.Write(p) // the analyzer reports its own failures
	}
	return len(p), nil
}

// toGzip makes the entry gzip from here on: the log passed so far, all of
// it unchanged, is decoded again from the kept stream first.
func (e *entrySink) toGzip() error {
	kept := e.kept
	e.kept = nil
	return e.startGzip(kept)
}

// startGzip starts the gzip spool, with the first passed bytes of kept's
// log in it when kept is set (the analyzers saw those already).
func (e *entrySink) startGzip(kept *keptStream) error {
	e.gz, _ = gzip.NewWriterLevel(e.spool, gzip.BestSpeed)
	var err error
	if kept != nil {
		err = kept.replay(e.passed, e.gz)
	}
	var out io.Writer = e.gz
	if e.feed != nil {
		out = io.MultiWriter(e.gz, e.feed)
	}
	e.aw = newAsyncWriter(out)
	return err
}

func (e *entrySink) closeGzip() error {
	if e.aw == nil {
		return nil
	}
	return errors.Join(e.aw.Close(), e.gz.Close())
}
