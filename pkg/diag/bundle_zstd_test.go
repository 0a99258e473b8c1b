package diag

import (
	"archive/tar"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	gzip "github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// nodeZstd compresses pieces as a node's zstd does (a level unlike the
// collector's, so a stream compressed again here would differ), each piece
// a frame of its own.
func nodeZstd(t testing.TB, pieces ...string) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderCRC(true))
	if err != nil {
		t.Fatal(err)
	}
	var out []byte
	for _, p := range pieces {
		out = enc.EncodeAll([]byte(p), out)
	}
	return out
}

func skippable(data string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, zstdSkippableMagic+3)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

// rawEntries reads a bundle's archive entries as stored.
func rawEntries(t *testing.T, path string) map[string][]byte {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	out := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out[h.Name], _ = io.ReadAll(tr)
	}
}

// both adds the same log to two bundles, as zstd from a node and plain, and
// returns each source, its stored entries and its log read back.
func both(t *testing.T, redact bool, maxBytes int64, stream io.Reader, plain io.Reader) (zs, ps Source, raw map[string][]byte, zlog, plog string) {
	t.Helper()
	dir := t.TempDir()
	for i, p := range []string{filepath.Join(dir, "z.tar.gz"), filepath.Join(dir, "p.tar.gz")} {
		b, err := NewBundle(p, redact, maxBytes)
		if err != nil {
			t.Fatal(err)
		}
		b.Analyze(NewAnalyzer())
		src := Source{Node: "n", Name: "kubelet.log", Compression: CompressZstd}
		if i == 0 {
			zs = b.AddZstd(src, stream, nil)
		} else {
			ps = b.AddSource(src, plain)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
		if i == 0 {
			raw, zlog = rawEntries(t, p), readBundle(t, p)["n/kubelet.log"]
		} else {
			plog = readBundle(t, p)["n/kubelet.log"]
		}
	}
	return zs, ps, raw, zlog, plog
}

var cleanLog = strings.Repeat("I1201 04:00:00.000000 1 kubelet.go:42] node ready\n", 2000)

// A log redaction leaves alone is stored as the node's own stream (minus
// skippable frames), byte for byte, and reads back as the log.
func TestAddZstdKeepsTheNodesStream(t *testing.T) {
	first, second := nodeZstd(t, cleanLog[:len(cleanLog)/2]), nodeZstd(t, cleanLog[len(cleanLog)/2:])
	stream := append(append([]byte{}, first...), second...)
	var withSkip []byte
	for _, part := range [][]byte{skippable("x"), first, skippable("between"), second, skippable("trailing")} {
		withSkip = append(withSkip, part...)
	}
	for name, in := range map[string][]byte{"plain frames": stream, "with skippable frames": withSkip} {
		zs, _, raw, zlog, _ := both(t, true, 0, bytes.NewReader(in), strings.NewReader(cleanLog))
		if zs.Status != "ok" || zs.Stored != "n/kubelet.log.zst" || zs.Bytes != int64(len(cleanLog)) {
			t.Fatalf("%s: source %+v", name, zs)
		}
		if !bytes.Equal(raw["n/kubelet.log.zst"], stream) {
			t.Errorf("%s: the entry is not the node's frames as they came", name)
		}
		if zlog != cleanLog {
			t.Errorf("%s: log read back differs", name)
		}
	}
}

// A secret anywhere — first line, middle, last line without a newline, a
// private key — makes the entry gzip, with exactly what the plain path
// stores and the same counts.
func TestAddZstdFallsBackAtTheFirstChange(t *testing.T) {
	for name, log := range map[string]string{
		"first line": "Authorization: Bearer abcdefghijklmnop0123\n" + cleanLog,
		"middle":     cleanLog + "join --token abcdef.0123456789abcdef\n" + cleanLog,
		"last line":  cleanLog + "password=hunter2hunter2",
		"key":        cleanLog + "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n" + cleanLog,
	} {
		t.Run(name, func(t *testing.T) {
			stream := nodeZstd(t, log[:len(log)/3], log[len(log)/3:])
			zs, ps, raw, zlog, plog := both(t, true, 0, bytes.NewReader(stream), strings.NewReader(log))
			if zs.Status != "ok" || zs.Stored != "n/kubelet.log.gz" || raw["n/kubelet.log.gz"] == nil {
				t.Fatalf("source %+v, entries %d", zs, len(raw))
			}
			if zlog != plog || strings.Contains(zlog, "0123456789abcdef") || strings.Contains(zlog, "hunter2") || strings.Contains(zlog, "MIIEow") {
				t.Fatalf("log read back (%d bytes) is not the plain path's (%d bytes), or holds the secret", len(zlog), len(plog))
			}
			if len(zs.Redactions) != 1 || len(ps.Redactions) != 1 || zs.Bytes != ps.Bytes {
				t.Fatalf("counts %v / %v, bytes %d / %d", zs.Redactions, ps.Redactions, zs.Bytes, ps.Bytes)
			}
		})
	}
	// Without redaction nothing changes: the stream is kept, secret and all.
	log := cleanLog + "join --token abcdef.0123456789abcdef\n"
	zs, _, _, zlog, _ := both(t, false, 0, bytes.NewReader(nodeZstd(t, log)), strings.NewReader(log))
	if zs.Stored != "n/kubelet.log.zst" || zlog != log {
		t.Fatalf("--no-redact: stored %s", zs.Stored)
	}
}

// The size cap and a broken stream make the entry gzip with what was read,
// as the plain path keeps it.
func TestAddZstdCapAndBrokenStream(t *testing.T) {
	stream := nodeZstd(t, cleanLog, cleanLog)
	zs, ps, _, zlog, plog := both(t, true, 10000, bytes.NewReader(stream), strings.NewReader(cleanLog+cleanLog))
	if !zs.Truncated || zs.Stored != "n/kubelet.log.gz" || zlog != plog || len(zlog) != 10000 || zs.Bytes != ps.Bytes {
		t.Fatalf("capped: %+v, %d bytes read back (plain path %d)", zs, len(zlog), len(plog))
	}
	cut := io.MultiReader(bytes.NewReader(stream[:len(stream)/2+7]), &failingReader{sent: true})
	zs, _, _, zlog, _ = both(t, true, 0, cut, strings.NewReader(""))
	if zs.Status != "failed" || zs.Stored != "n/kubelet.log.gz" || !strings.HasPrefix(cleanLog+cleanLog, zlog) || len(zlog) < len(cleanLog) {
		t.Fatalf("broken: %+v, kept %d bytes", zs, len(zlog))
	}
	zs, _, _, _, _ = both(t, true, 0, strings.NewReader("plain text where zstd should be\n"), strings.NewReader(""))
	if zs.Status != "failed" || !strings.Contains(zs.Error, "zstd") {
		t.Fatalf("not zstd: %+v", zs)
	}
}

// Whatever a node sends, the walker neither panics nor passes on more than
// it read; a valid stream comes out without its skippable frames.
func FuzzZstdFrames(f *testing.F) {
	stream := nodeZstd(f, "a\n", "b\nc\n")
	f.Add(stream)
	f.Add(append(skippable("x"), stream...))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x00, 0x01, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		out, _ := io.ReadAll(newZstdFrames(bytes.NewReader(data)))
		if len(out) > len(data) {
			t.Fatalf("passed on %d bytes of %d", len(out), len(data))
		}
	})
}

func TestZstdFramesRefuses(t *testing.T) {
	stream := nodeZstd(t, cleanLog)
	if _, err := io.ReadAll(newZstdFrames(bytes.NewReader(stream[:len(stream)-2]))); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("a cut stream: %v", err)
	}
	if _, err := io.ReadAll(newZstdFrames(strings.NewReader("plain"))); !errors.Is(err, errNotZstd) {
		t.Fatalf("plain text: %v", err)
	}
}

// When the node's stream cannot be kept here (a full disk), the source is
// recorded as failed, with the reason, and the bundle goes on.
func TestAddZstdKeptStreamFails(t *testing.T) {
	path := filepath.Join(t.TempDir(), "b.tar.gz")
	b, err := NewBundle(path, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	kept, err := newKeptStream()
	if err != nil {
		t.Fatal(err)
	}
	defer kept.close()
	kept.f.Close() // every write now fails
	stream := nodeZstd(t, cleanLog, cleanLog)
	d, err := decompressing(io.TeeReader(newZstdFrames(bytes.NewReader(stream)), kept))
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()
	src := b.add(Source{Node: "n", Name: "kubelet.log"}, d, kept)
	if src.Status != "failed" || !strings.Contains(src.Error, "closed") || src.Stored != "" {
		t.Fatalf("source %+v, want failed with the reason", src)
	}
	b.Add("n", "other.log", "ssh", strings.NewReader("still collected\n"))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if got := readBundle(t, path)["n/other.log"]; got != "still collected\n" {
		t.Fatalf("the next source: %q", got)
	}
}
