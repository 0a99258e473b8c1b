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
		{`echo "'$(x)'"`, "$(x)", true},
		{`echo "it's" $(x) 'y'`, "$(x)", true},
		{`test -n "$(df -Pk ` + shell.Quote("$(x)") + ` | tail -1)"`, "$(x)", false},
		{`echo "$(cat ` + shell.Quote("$(x)") + `)" $(x)`, "$(x)", true},
		{"bash -c " + shell.Quote("echo "+shell.Quote("$(x)")), "$(x)", true},
		{"systemctl stop x; sh -c 'true' " + shell.Quote("$(x)"), "$(x)", false},
		{"timeout 2 bash -c ': </dev/tcp/\"$1\"/22' bash " + shell.Quote("$(x)"), "$(x)", false},
		{"bash -c ': </dev/tcp/'" + shell.Quote("$(x)") + "'/22'", "$(x)", true},
		{"sh -c 'true' $(x)", "$(x)", true},
		{"bash -c 'true'; echo nothing", "$(x)", false},
	} {
		if got := len(Unquoted([]string{tc.cmd}, tc.v)) == 1; got != tc.bare {
			t.Errorf("%q in %q: bare %v, want %v", tc.v, tc.cmd, got, tc.bare)
		}
	}
}

func TestPlanCommands(t *testing.T) {
	out := "[lb] keepalived and haproxy\n" +
		"[plan] master-0: would check haproxy listens on :6443: ss -ltn 'sport = :6443'\n" +
		"[plan] etcd-0: would restore: set -e\nsystemctl stop etcd\n" +
		"[plan] etcd-0: would upload /tmp/a b/etcd to /usr/local/bin/etcd (mode 0755)\n" +
		"[etcd] next\n"
	got := PlanCommands(out)
	want := []string{"ss -ltn 'sport = :6443'", "set -e\nsystemctl stop etcd"}
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Errorf("got %q, want %q", got, want)
	}
}
