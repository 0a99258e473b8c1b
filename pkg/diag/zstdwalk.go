package diag

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// zstdFrames passes a zstd stream through while walking its frame and
// block headers (RFC 8878), so that what the bundle may keep of a node's
// stream is zstd frames and nothing else: skippable frames hold bytes no
// decoder shows, so none the redactor saw, and are dropped; anything that
// is not zstd is an error. It holds no more than one header at a time.
type zstdFrames struct {
	r     *bufio.Reader
	out   []byte // header bytes read and not yet passed on
	left  int    // bytes of the current block (or checksum) to pass on
	state int
	sum   bool // the current frame ends with a checksum
	hdr   [18]byte
}

const (
	zstdStateFrame = iota // next: a frame's magic number, or the end
	zstdStateBlock        // next: a block header
	zstdStateSum          // next: the checksum, if the frame has one
)

const (
	zstdMagic          = 0xFD2FB528
	zstdSkippableMask  = 0xFFFFFFF0
	zstdSkippableMagic = 0x184D2A50
	zstdMaxBlock       = 128 << 10
)

var errNotZstd = errors.New("not a zstd stream")

func newZstdFrames(r io.Reader) *zstdFrames {
	return &zstdFrames{r: bufio.NewReaderSize(r, 256<<10)}
}

func (z *zstdFrames) Read(p []byte) (int, error) {
	for {
		if len(z.out) > 0 {
			n := copy(p, z.out)
			z.out = z.out[n:]
			return n, nil
		}
		if z.left > 0 {
			n, err := z.r.Read(p[:min(len(p), z.left)])
			z.left -= n
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return n, err
		}
		if err := z.next(); err != nil {
			return 0, err
		}
	}
}

// next reads the next header into out (and sets left for what follows it).
func (z *zstdFrames) next() error {
	switch z.state {
	case zstdStateBlock:
		h, err := z.read(3)
		if err != nil {
			return err
		}
		bh := uint32(h[0]) | uint32(h[1])<<8 | uint32(h[2])<<16
		last, typ, size := bh&1 != 0, (bh>>1)&3, int(bh>>3)
		switch {
		case typ == 3:
			return fmt.Errorf("%w: reserved block type", errNotZstd)
		case typ == 1:
			size = 1 // RLE: one byte, repeated
		case size > zstdMaxBlock:
			return fmt.Errorf("%w: a block of %d bytes", errNotZstd, size)
		}
		z.out, z.left = h, size
		if last {
			z.state = zstdStateSum
		}
		return nil
	case zstdStateSum:
		z.state = zstdStateFrame
		if z.sum {
			z.left = 4
		}
		return nil
	}
	h, err := z.fill(4)
	if err != nil {
		return err // io.EOF between frames: the stream ended
	}
	magic := binary.LittleEndian.Uint32(h)
	if magic&zstdSkippableMask == zstdSkippableMagic {
		size, err := z.read(4)
		if err != nil {
			return err
		}
		if _, err := z.r.Discard(int(binary.LittleEndian.Uint32(size))); err != nil {
			return io.ErrUnexpectedEOF
		}
		return nil
	}
	if magic != zstdMagic {
		return errNotZstd
	}
	fhd, err := z.r.ReadByte()
	if err != nil {
		return io.ErrUnexpectedEOF
	}
	if fhd&0x08 != 0 {
		return fmt.Errorf("%w: reserved header bit set", errNotZstd)
	}
	single := fhd&0x20 != 0
	n := [4]int{0, 1, 2, 4}[fhd&3] + [4]int{0, 2, 4, 8}[fhd>>6]
	if !single || fhd>>6 == 0 {
		n++ // the window descriptor, or a single segment's one-byte size
	}
	// out keeps the magic and descriptor, then the rest of the header.
	hdr := append(z.hdr[:0], h...)
	hdr = append(hdr, fhd)
	rest, err := z.read(n)
	if err != nil {
		return err
	}
	z.out = append(hdr, rest...)
	z.sum, z.state = fhd&0x04 != 0, zstdStateBlock
	return nil
}

// read reads n header bytes; the stream may not end there.
func (z *zstdFrames) read(n int) ([]byte, error) {
	b, err := z.fill(n)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return b, err
}

// fill reads n bytes (at most a header's), io.EOF if none were left.
func (z *zstdFrames) fill(n int) ([]byte, error) {
	var buf [14]byte
	b := buf[:n]
	if _, err := io.ReadFull(z.r, b); err != nil {
		return nil, err
	}
	return b, nil
}
