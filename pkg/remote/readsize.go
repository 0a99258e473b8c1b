package remote

import (
	"io"
	"sync"
)

// readSize is how much of a command's output one read takes off the
// channel. x/crypto/ssh sends a window adjustment (an encrypted packet and
// a syscall) after nearly every read once the window is in use, so
// io.Copy's 32 KiB reads cost one per 32 KiB; a gigabyte of log paid
// seconds of CPU for it.
const readSize = 256 << 10

var readBufs = sync.Pool{New: func() any { b := make([]byte, readSize); return &b }}

// bigReads wraps a command's stdout so that the session's io.Copy reads
// through it, readSize at a time.
type bigReads struct{ w io.Writer }

func (b bigReads) Write(p []byte) (int, error) { return b.w.Write(p) }

// ReadFrom is what io.Copy prefers when the writer has it.
func (b bigReads) ReadFrom(r io.Reader) (int64, error) {
	buf := readBufs.Get().(*[]byte)
	defer readBufs.Put(buf)
	// The anonymous struct hides ReadFrom, or CopyBuffer would call it.
	return io.CopyBuffer(struct{ io.Writer }{b.w}, r, *buf)
}
