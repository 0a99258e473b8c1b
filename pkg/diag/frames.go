package diag

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// A node with GNU split cuts a log into pieces of whole lines and zstd
// compresses each on its own: the stream is a run of independent frames.
// A frame that redaction leaves as it was goes into the bundle as the node
// compressed it, so the collector decodes and scans a log but compresses
// again only what it changed (compression was most of its CPU per GiB).
const (
	// framePiece is the most log one frame holds (split -C).
	framePiece = 4 << 20
	// frameMaxPlain and frameMaxPacked bound what the collector holds for
	// one frame; a node that sends more is refused, never trusted.
	frameMaxPlain  = 4 * framePiece
	frameMaxPacked = 4 * framePiece
)

// zstdFramesWrap is zstdWrap with the output cut into independent frames.
// split's suffixes only name the pieces (--filter writes none); eight
// letters never run out.
func zstdFramesWrap(cmd string) string {
	return "{ kbs_rc=$( { { (\n" + cmd + "\n); echo $? >&3; } | split -a 8 -C " + fmt.Sprint(framePiece) + " --filter='zstd -q -1 -c' >&4; } 3>&1 ); } 4>&1; exit ${kbs_rc:-1}"
}

const (
	zstdMagic          = 0xFD2FB528
	zstdSkippableMask  = 0xFFFFFFF0
	zstdSkippableMagic = 0x184D2A50
	zstdMaxBlock       = 128 << 10
)

var errNotZstd = errors.New("not a zstd frame")

// frameReader cuts a zstd stream into whole frames without decoding them,
// by walking the frame and block headers (RFC 8878). Skippable frames are
// dropped: they hold no content.
type frameReader struct {
	r   *bufio.Reader
	buf []byte
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 256<<10)}
}

// next returns the next frame, valid until the following call, or io.EOF
// after the last one.
func (f *frameReader) next() ([]byte, error) {
	for {
		f.buf = f.buf[:0]
		if err := f.fill(4); err != nil {
			return nil, err // io.EOF between frames: the stream ended
		}
		magic := binary.LittleEndian.Uint32(f.buf)
		if magic&zstdSkippableMask == zstdSkippableMagic {
			if err := f.skip(); err != nil {
				return nil, err
			}
			continue
		}
		if magic != zstdMagic {
			return nil, errNotZstd
		}
		return f.frame()
	}
}

func (f *frameReader) skip() error {
	f.buf = f.buf[:0]
	if err := f.read(4); err != nil {
		return err
	}
	n, err := f.r.Discard(int(binary.LittleEndian.Uint32(f.buf)))
	if err != nil {
		return fmt.Errorf("skippable frame cut short after %d bytes: %w", n, io.ErrUnexpectedEOF)
	}
	return nil
}

// frame reads the rest of a frame whose magic number is in buf.
func (f *frameReader) frame() ([]byte, error) {
	if err := f.read(1); err != nil {
		return nil, err
	}
	fhd := f.buf[len(f.buf)-1]
	if fhd&0x08 != 0 {
		return nil, fmt.Errorf("%w: reserved header bit set", errNotZstd)
	}
	single := fhd&0x20 != 0
	n := [4]int{0, 1, 2, 4}[fhd&3] + [4]int{0, 2, 4, 8}[fhd>>6]
	if !single {
		n++ // window descriptor
	} else if fhd>>6 == 0 {
		n++ // a single segment always says its size
	}
	if err := f.read(n); err != nil {
		return nil, err
	}
	for {
		if err := f.read(3); err != nil {
			return nil, err
		}
		h := f.buf[len(f.buf)-3:]
		bh := uint32(h[0]) | uint32(h[1])<<8 | uint32(h[2])<<16
		last, typ, size := bh&1 != 0, (bh>>1)&3, int(bh>>3)
		switch {
		case typ == 3:
			return nil, fmt.Errorf("%w: reserved block type", errNotZstd)
		case typ == 1:
			size = 1 // RLE: one byte, repeated
		case size > zstdMaxBlock:
			return nil, fmt.Errorf("%w: block of %d bytes", errNotZstd, size)
		}
		if err := f.read(size); err != nil {
			return nil, err
		}
		if last {
			break
		}
	}
	if fhd&0x04 != 0 {
		if err := f.read(4); err != nil { // content checksum
			return nil, err
		}
	}
	return f.buf, nil
}

// read appends n more bytes of the frame to buf; the stream may not end.
func (f *frameReader) read(n int) error {
	if err := f.fill(n); err != nil {
		if err == io.EOF {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	return nil
}

// fill appends n bytes to buf: io.EOF if none were left.
func (f *frameReader) fill(n int) error {
	if len(f.buf)+n > frameMaxPacked {
		return fmt.Errorf("a zstd frame larger than %d bytes: refused", frameMaxPacked)
	}
	start := len(f.buf)
	f.buf = slices.Grow(f.buf, n)[:start+n]
	if _, err := io.ReadFull(f.r, f.buf[start:]); err != nil {
		f.buf = f.buf[:start]
		return err
	}
	return nil
}
