package diag

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
)

// AddFrames is AddSource for a stream of independent zstd frames (see
// zstdFramesWrap). The entry is stored as Path + ".zst": each frame as the
// node compressed it when redaction changes nothing in it, compressed
// again here when it does (or when the size cap cuts it).
func (b *Bundle) AddFrames(src Source, r io.Reader) Source {
	start := time.Now()
	src.Path, src.Status = path.Join(src.Node, src.Name), "ok"
	src.Stored = src.Path + ".zst"
	spool, err := os.CreateTemp("", "kbs-diag-")
	if err != nil {
		return b.record(src, start, err)
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	st := &frameStore{out: spool}
	if b.an != nil {
		feed := b.an.feed(src.Path)
		defer feed.Close() // a scan's own failure is the analyzer's to report
		st.feed = feed
	}
	if b.redact {
		st.sink = &frameSink{}
		st.red = NewRedactor(st.sink)
	}
	n, truncated, copyErr := st.copy(r, b.maxBytes)
	if err := st.close(); err != nil && copyErr == nil {
		copyErr = err
	}
	if st.red != nil {
		src.Redactions = st.red.Counts()
	}
	src.Bytes, src.Truncated = n, truncated
	if _, err = b.writeEntry(src.Stored, spool); err != nil {
		return b.record(src, start, err)
	}
	return b.record(src, start, copyErr)
}

// frameSlots bounds the frames held decoded at once by every source of a
// run together (each is up to framePiece of log and its compressed form):
// a hundred nodes' logs cost the collector no more than one large log.
var frameSlots = make(chan *frameBuf, 8)

func init() {
	for range cap(frameSlots) {
		frameSlots <- &frameBuf{}
	}
}

// frameBuf is one frame: as it came and decoded.
type frameBuf struct {
	packed, plain []byte
	err           error
}

// One decoder and one encoder serve every source; their DecodeAll and
// EncodeAll may be called concurrently.
var (
	codecOnce    sync.Once
	frameDecoder *zstd.Decoder
	frameEncoder *zstd.Encoder
	codecErr     error
)

func frameCodecs() (*zstd.Decoder, *zstd.Encoder, error) {
	codecOnce.Do(func() {
		frameDecoder, codecErr = zstd.NewReader(nil, zstd.WithDecoderConcurrency(2),
			zstd.WithDecoderMaxWindow(zstdWindow), zstd.WithDecoderMaxMemory(frameMaxPlain))
		if codecErr == nil {
			frameEncoder, codecErr = zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedFastest),
				zstd.WithEncoderConcurrency(2), zstd.WithWindowSize(1<<20))
		}
	})
	return frameDecoder, frameEncoder, codecErr
}

// frameStore writes frames into a spool: passed through, or redacted and
// compressed again.
type frameStore struct {
	out   io.Writer
	feed  io.Writer  // the analyzer's, or nil
	red   *Redactor  // nil: not redacting
	sink  *frameSink // where red writes
	wrote bool
	spare []byte // for frames compressed here
}

// copy stores every frame of r, at most limit bytes of log (0: no limit).
// It reports the log's bytes read and whether the limit cut it.
func (s *frameStore) copy(r io.Reader, limit int64) (n int64, truncated bool, err error) {
	dec, _, err := frameCodecs()
	if err != nil {
		return 0, false, err
	}
	frames := make(chan *frameBuf)
	stop := make(chan struct{})
	defer close(stop)
	go decodeFrames(dec, newFrameReader(r), frames, stop)
	for f := range frames {
		if f.err != nil {
			err := f.err
			frameSlots <- f
			return n, false, err
		}
		plain, whole := f.plain, true
		if limit > 0 && n+int64(len(plain)) > limit {
			plain, whole, truncated = plain[:limit-n], false, true
		}
		n += int64(len(plain))
		err := s.frame(f.packed, plain, whole)
		frameSlots <- f
		if err != nil || truncated {
			return n, truncated, err
		}
	}
	return n, false, nil
}

// decodeFrames reads and decodes frames one ahead of the writer. A frame
// is read first and then decoded into a slot taken from frameSlots, so a
// slow node holds no slot while its frame arrives; the writer gives the
// slot back. It stops at the stream's end, at an error (sent as the last
// frame) or when stopped.
func decodeFrames(dec *zstd.Decoder, fr *frameReader, out chan<- *frameBuf, stop <-chan struct{}) {
	defer close(out)
	for {
		packed, err := fr.next()
		if errors.Is(err, io.EOF) {
			return
		}
		var f *frameBuf
		select {
		case f = <-frameSlots:
		case <-stop:
			return
		}
		f.err = err
		if err == nil {
			// The slot keeps the frame; the reader takes the slot's old buffer.
			f.packed, fr.buf = packed, f.packed[:0]
			f.plain, f.err = dec.DecodeAll(f.packed, f.plain[:0])
		}
		select {
		case out <- f:
		case <-stop:
			frameSlots <- f
			return
		}
		if f.err != nil {
			return
		}
	}
}

// frame stores one frame: packed as it came, plain its log (whole: all of
// it, not cut by the size cap).
func (s *frameStore) frame(packed, plain []byte, whole bool) error {
	out, same := plain, whole
	if s.red != nil {
		s.sink.reset(plain)
		if _, err := s.red.Write(plain); err != nil {
			return err
		}
		var unchanged bool
		out, unchanged = s.sink.output()
		same = same && unchanged
	}
	if same {
		return s.write(packed, out)
	}
	return s.compress(out)
}

// compress stores log the redactor changed as a frame of its own.
func (s *frameStore) compress(plain []byte) error {
	if len(plain) == 0 {
		return nil
	}
	_, enc, err := frameCodecs()
	if err != nil {
		return err
	}
	s.spare = enc.EncodeAll(plain, s.spare[:0])
	return s.write(s.spare, plain)
}

func (s *frameStore) write(packed, plain []byte) error {
	if _, err := s.out.Write(packed); err != nil {
		return err
	}
	s.wrote = true
	if s.feed != nil {
		_, _ = s.feed.Write(plain) // the analyzer reports its own failures
	}
	return nil
}

// close stores a last line without a newline, which the redactor held,
// and leaves a valid zstd file even for an empty log.
func (s *frameStore) close() error {
	if s.red != nil {
		s.sink.reset(nil)
		if err := s.red.Close(); err != nil {
			return err
		}
		out, _ := s.sink.output()
		if err := s.compress(out); err != nil {
			return err
		}
	}
	if s.wrote {
		return nil
	}
	_, enc, err := frameCodecs()
	if err != nil {
		return err
	}
	_, err = s.out.Write(enc.EncodeAll(nil, nil))
	return err
}

// frameSink takes what the redactor makes of one frame and tells whether
// that is the frame as it came. The redactor passes clean stretches on as
// slices of its input, so the comparison is mostly of a pointer; the output
// is copied only once it differs.
type frameSink struct {
	plain []byte
	off   int // how much of plain the output has matched
	dirty bool
	buf   []byte // the output, once dirty
}

func (s *frameSink) reset(plain []byte) {
	s.plain, s.off, s.dirty, s.buf = plain, 0, false, s.buf[:0]
}

func (s *frameSink) Write(p []byte) (int, error) {
	if !s.dirty {
		if s.off+len(p) <= len(s.plain) && bytes.Equal(p, s.plain[s.off:s.off+len(p)]) {
			s.off += len(p)
			return len(p), nil
		}
		s.dirty = true
		s.buf = append(s.buf[:0], s.plain[:s.off]...)
	}
	s.buf = append(s.buf, p...)
	return len(p), nil
}

// output is what the redactor wrote for the frame, and whether that is the
// whole frame unchanged.
func (s *frameSink) output() ([]byte, bool) {
	if !s.dirty {
		return s.plain[:s.off], s.off == len(s.plain)
	}
	return s.buf, false
}
