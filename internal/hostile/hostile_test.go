package hostile

import (
	"testing"

	"github.com/kubectl-kbs/kbs/pkg/shell"
)

func TestUnquoted(t *testing.T) {
	for _, tc := range []struct {
		cmd, v string
		bare   bool
	}{
		{"rm -rf $(x)", "$(x)", true},
		{"rm -rf " + shell.Quote("$(x)"), "$(x)", false},
		{"mv " + shell.Quote("$(x)") + " " + shell.Quote("$(x).old"), "$(x)", false},
		{"test -d " + shell.Quote("$(x)") + "/member", "$(x)", false},
		{"mv " + shell.Quote("$(x)") + " $(x).old", "$(x)", true},
		{`echo "$(x)"`, "$(x)", true},
		{`echo \'$(x)'`, "$(x)", true},
		{"echo " + shell.Quote(`'\''x`), `'\''x`, false},
		{"echo " + `'\''x`, `'\''x`, true},
		{"echo " + shell.Quote("a b\tc"), "a b\tc", false},
		{"echo a b\tc", "a b\tc", true},
		{"echo nothing", "$(x)", false},
	} {
		if got := len(Unquoted([]string{tc.cmd}, tc.v)) == 1; got != tc.bare {
			t.Errorf("%q in %q: bare %v, want %v", tc.v, tc.cmd, got, tc.bare)
		}
	}
}
