package shell

import (
	"os/exec"
	"testing"
)

// The real /bin/sh reads back exactly the word that was quoted, whatever it
// holds.
func TestQuoteRoundTripsThroughSh(t *testing.T) {
	for _, s := range []string{"", "plain", "it's", "a b\tc\nd", `$(touch /tmp/p)`, "`id`", `"; rm -rf / #`, `\'\\`, "fe80::1%x;touch /tmp/p", "''''"} {
		out, err := exec.Command("/bin/sh", "-c", "printf %s "+Quote(s)).Output()
		if err != nil {
			t.Fatalf("sh -c with %q: %v", s, err)
		}
		if string(out) != s {
			t.Errorf("Quote(%q) read back as %q", s, out)
		}
	}
}

func TestQuoteText(t *testing.T) {
	if got := Quote(`it's "x" $HOME`); got != `'it'\''s "x" $HOME'` {
		t.Fatalf("Quote = %s", got)
	}
}

func TestJoin(t *testing.T) {
	out, err := exec.Command("/bin/sh", "-c", "printf '<%s>' "+Join("a b", "c;d", "")).Output()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(out), "<a b><c;d><>"; got != want {
		t.Errorf("Join: sh saw %s, want %s", got, want)
	}
}

func FuzzQuote(f *testing.F) {
	f.Add("it's $(x) `y`")
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range s {
			if r == 0 {
				return // argv cannot carry NUL
			}
		}
		out, err := exec.Command("/bin/sh", "-c", "printf %s "+Quote(s)).Output()
		if err != nil {
			t.Fatalf("sh -c with %q: %v", s, err)
		}
		if string(out) != s {
			t.Errorf("Quote(%q) read back as %q", s, out)
		}
	})
}
