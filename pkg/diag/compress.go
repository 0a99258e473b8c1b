package diag

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"

	"github.com/kubectl-kbs/kbs/pkg/remote"
)

// Compression of log sources on their way from a node, for --compress.
const (
	CompressAuto = "auto" // zstd when the node has it, else none
	CompressNone = "none"
	// CompressZstd is what a source's manifest entry says when it
	// travelled compressed.
	CompressZstd = "zstd"
)

// zstdWrap runs cmd with its output compressed on the node by zstd -1
// (fast: a log is read at disk speed and shrinks several times, so the
// SSH channel's encryption on both ends and the collector's memory churn
// shrink with it). The command runs in a subshell, so an exit in it ends
// only it, and its exit status is kept: passed out on a spare descriptor,
// since sh has no pipefail.
func zstdWrap(cmd string) string {
	return "{ kbs_rc=$( { { (\n" + cmd + "\n); echo $? >&3; } | zstd -q -1 -c >&4; } 3>&1 ); } 4>&1; exit ${kbs_rc:-1}"
}

// zstdWindow bounds what one decoder may hold: zstd -1 uses a 512 KiB
// window, and a node that claims more (a corrupt or hostile stream) is
// refused rather than allowed to cost the collector memory.
const zstdWindow = 8 << 20

// decompressing reads zstd from r as plain text.
func decompressing(r io.Reader) (io.ReadCloser, error) {
	d, err := zstd.NewReader(r, zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true), zstd.WithDecoderMaxWindow(zstdWindow))
	if err != nil {
		return nil, err
	}
	return d.IOReadCloser(), nil
}

// NodeProbe is what one round trip learns of a node before collection.
type NodeProbe struct {
	// ClockOffset is the node's clock minus this machine's, from the
	// midpoint of the round trip.
	ClockOffset time.Duration
	// Zstd says the node has zstd to compress logs with.
	Zstd bool
}

// Probe reads the node's clock and whether it has zstd.
func Probe(ctx context.Context, conn remote.Conn) (NodeProbe, error) {
	cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	before := time.Now()
	out, err := conn.Run(cctx, "date -u +%s.%N; command -v zstd || true")
	after := time.Now()
	if err != nil {
		return NodeProbe{}, err
	}
	clock, rest, _ := strings.Cut(string(out), "\n")
	offset, err := clockOffset(clock, before, after)
	if err != nil {
		return NodeProbe{}, err
	}
	return NodeProbe{ClockOffset: offset, Zstd: strings.TrimSpace(rest) != ""}, nil
}

// ValidCompress checks a --compress value.
func ValidCompress(s string) error {
	switch s {
	case CompressAuto, CompressNone, "":
		return nil
	}
	return fmt.Errorf("--compress must be auto or none, not %q", s)
}
