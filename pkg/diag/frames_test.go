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

// encodeFrames compresses each piece as a frame of its own, as split
// --filter='zstd -1' does on a node.
func encodeFrames(t testing.TB, checksum bool, pieces ...string) ([]byte, [][]byte) {
	t.Helper()
	// Not the collector's own level: a frame compressed again here differs.
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderLevel(zstd.SpeedBetterCompression), zstd.WithEncoderCRC(checksum))
	if err != nil {
		t.Fatal(err)
	}
	var stream []byte
	var frames [][]byte
	for _, p := range pieces {
		f := enc.EncodeAll([]byte(p), nil)
		frames = append(frames, f)
		stream = append(stream, f...)
	}
	return stream, frames
}

func skippable(data string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, zstdSkippableMagic+3)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(data)))
	return append(b, data...)
}

func readFrames(stream []byte) ([][]byte, error) {
	fr := newFrameReader(bytes.NewReader(stream))
	var out [][]byte
	for {
		f, err := fr.next()
		if err == io.EOF {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, append([]byte(nil), f...))
	}
}

// The reader cuts a stream into exactly the frames it was made of, across
// block types (a long run of one byte is an RLE block), checksums and
// skippable frames, and refuses what is not zstd or stops mid-frame.
func TestFrameReader(t *testing.T) {
	big := strings.Repeat("I1201 kubelet.go:42] a line that repeats\n", 20000)
	for _, checksum := range []bool{false, true} {
		stream, frames := encodeFrames(t, checksum, "one line\n", big, "", strings.Repeat("x", 300<<10))
		stream = append(append(skippable("hello"), stream[:len(frames[0])]...), stream[len(frames[0]):]...)
		got, err := readFrames(stream)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != len(frames) {
			t.Fatalf("checksum %v: %d frames, want %d", checksum, len(got), len(frames))
		}
		for i := range frames {
			if !bytes.Equal(got[i], frames[i]) {
				t.Fatalf("checksum %v: frame %d differs", checksum, i)
			}
		}
		if _, err := readFrames(stream[:len(stream)-3]); !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("a stream cut mid-frame: %v, want unexpected EOF", err)
		}
	}
	if _, err := readFrames([]byte("plain text, not zstd\n")); !errors.Is(err, errNotZstd) {
		t.Fatalf("plain text: %v, want errNotZstd", err)
	}
	if got, err := readFrames(nil); err != nil || len(got) != 0 {
		t.Fatalf("an empty stream: %d frames, %v", len(got), err)
	}
}

// Whatever a node sends, the reader neither panics nor holds more than its
// bound; frames it returns decode as zstd or are refused by the decoder.
func FuzzFrameReader(f *testing.F) {
	stream, _ := encodeFrames(f, true, "a\n", "b\nc\n")
	f.Add(stream)
	f.Add(append(skippable("x"), stream...))
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd, 0x04, 0x00, 0x01, 0x00, 0x00})
	f.Fuzz(func(t *testing.T, data []byte) {
		frames, _ := readFrames(data)
		total := 0
		for _, fr := range frames {
			if len(fr) > frameMaxPacked {
				t.Fatalf("a frame of %d bytes passed the bound", len(fr))
			}
			total += len(fr)
		}
		if total > len(data) {
			t.Fatalf("frames hold %d bytes of a %d-byte stream", total, len(data))
		}
	})
}

// rawEntries reads a bundle's archive entries as stored (not decompressed).
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
		b, _ := io.ReadAll(tr)
		out[h.Name] = b
	}
}

// A framed log is stored as the node compressed it, frame by frame, where
// redaction changes nothing; frames with secrets (a private key across two
// frames among them) are compressed again, redacted; read back, the log is
// what the plain path makes of it, with the same counts.
func TestAddFramesKeepsCleanFrames(t *testing.T) {
	clean := strings.Repeat("I1201 04:00:00.000000 1 kubelet.go:42] node ready\n", 1000)
	pieces := []string{
		clean,
		"I1201 auth: Authorization: Bearer abcdefghijklmnop0123\n",
		clean,
		"key follows\n-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n",
		"IBAAKC\n-----END RSA PRIVATE KEY-----\nafter the key\n",
		clean,
		"a last line without a newline",
	}
	stream, frames := encodeFrames(t, false, pieces...)
	dir := t.TempDir()
	framed, plain := filepath.Join(dir, "framed.tar.gz"), filepath.Join(dir, "plain.tar.gz")
	for _, p := range []string{framed, plain} {
		b, err := NewBundle(p, true, 0)
		if err != nil {
			t.Fatal(err)
		}
		var src Source
		if p == framed {
			src = b.AddFrames(Source{Node: "n", Name: "kubelet.log"}, bytes.NewReader(stream))
		} else {
			src = b.AddSource(Source{Node: "n", Name: "kubelet.log"}, strings.NewReader(strings.Join(pieces, "")))
		}
		if src.Status != "ok" || src.Redactions["bearer-token"] != 1 || src.Redactions["private-key"] != 1 {
			t.Fatalf("%s: source %+v", p, src)
		}
		if err := b.Close(); err != nil {
			t.Fatal(err)
		}
	}
	want := readBundle(t, plain)["n/kubelet.log"]
	if got := readBundle(t, framed)["n/kubelet.log"]; got != want {
		t.Fatalf("framed log read back:\n%q\nwant what the plain path stores:\n%q", got, want)
	}
	stored := rawEntries(t, framed)["n/kubelet.log.zst"]
	if stored == nil {
		t.Fatal("no n/kubelet.log.zst entry")
	}
	for _, i := range []int{0, 2, 5} {
		if !bytes.Contains(stored, frames[i]) {
			t.Errorf("clean frame %d is not stored as it came", i)
		}
	}
	for _, i := range []int{1, 3, 4} {
		if bytes.Contains(stored, frames[i]) {
			t.Errorf("frame %d, which held a secret, is stored as it came", i)
		}
	}
}

// The size cap cuts a framed log inside a frame and marks it truncated; an
// empty log is still a valid entry; a broken stream keeps what arrived.
func TestAddFramesCapEmptyAndBroken(t *testing.T) {
	line := "I1201 kubelet.go:42] line\n"
	stream, _ := encodeFrames(t, false, strings.Repeat(line, 100), strings.Repeat(line, 100))
	path := filepath.Join(t.TempDir(), "b.tar.gz")
	b, err := NewBundle(path, true, int64(150*len(line)))
	if err != nil {
		t.Fatal(err)
	}
	capped := b.AddFrames(Source{Node: "n", Name: "capped.log"}, bytes.NewReader(stream))
	empty := b.AddFrames(Source{Node: "n", Name: "empty.log"}, bytes.NewReader(nil))
	broken := b.AddFrames(Source{Node: "n", Name: "broken.log"}, io.MultiReader(bytes.NewReader(stream[:len(stream)/2+10]), &failingReader{sent: true}))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if !capped.Truncated || capped.Bytes != int64(150*len(line)) || capped.Status != "ok" {
		t.Errorf("capped source %+v", capped)
	}
	if empty.Status != "ok" || empty.Bytes != 0 {
		t.Errorf("empty source %+v", empty)
	}
	if broken.Status != "failed" || broken.Error != "connection lost" {
		t.Errorf("broken source %+v", broken)
	}
	files := readBundle(t, path)
	if got := files["n/capped.log"]; got != strings.Repeat(line, 150) {
		t.Errorf("capped log holds %d bytes, want the first 150 lines", len(got))
	}
	if got, ok := files["n/empty.log"]; !ok || got != "" {
		t.Errorf("empty log: %q, present %v", got, ok)
	}
	if got := files["n/broken.log"]; got != strings.Repeat(line, 100) {
		t.Errorf("broken log keeps %d bytes, want the first frame", len(got))
	}
}
