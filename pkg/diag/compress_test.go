package diag

import (
	"bytes"
	"errors"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// The wrapper compresses the command's output and keeps its exit status,
// for compound commands too; run by the real sh and zstd of this machine.
func TestZstdWrapKeepsOutputAndStatus(t *testing.T) {
	if _, err := exec.LookPath("zstd"); err != nil {
		t.Fatalf("zstd is needed (make test-env installs it): %v", err)
	}
	for _, tc := range []struct {
		cmd, out string
		code     int
	}{
		{"echo hi; exit 3", "hi\n", 3},
		{"printf 'a\\nb\\n' | tac", "b\na\n", 0},
		{"{ for i in 1 2; do echo $i; done; } | { grep 2 || true; }", "2\n", 0},
		{"echo partial; false", "partial\n", 1},
		{"true", "", 0},
	} {
		var stdout bytes.Buffer
		cmd := exec.Command("sh", "-c", zstdWrap(tc.cmd))
		cmd.Stdout = &stdout
		err := cmd.Run()
		code := 0
		var exit *exec.ExitError
		if errors.As(err, &exit) {
			code = exit.ExitCode()
		} else if err != nil {
			t.Fatalf("%q: %v", tc.cmd, err)
		}
		d, err := decompressing(&stdout)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(d)
		if err != nil {
			t.Fatalf("%q: decoding: %v", tc.cmd, err)
		}
		if string(got) != tc.out || code != tc.code {
			t.Errorf("%q: got %q exit %d, want %q exit %d", tc.cmd, got, code, tc.out, tc.code)
		}
	}
}

// A stream cut off by a failing command reports the command's error, not
// the decoder's.
func TestDecompressingReportsTheStreamsError(t *testing.T) {
	var z bytes.Buffer
	cmd := exec.Command("sh", "-c", zstdWrap("yes line | head -c 100000"))
	cmd.Stdout = &z
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	cause := errors.New("h0: connection lost")
	cut := io.MultiReader(bytes.NewReader(z.Bytes()[:z.Len()/2]), errReader{cause})
	d, err := decompressing(cut)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.ReadAll(preferErr{d, func() error { return cause }})
	if err == nil || !strings.Contains(err.Error(), "connection lost") {
		t.Fatalf("got %v, want the stream's own error", err)
	}
}
