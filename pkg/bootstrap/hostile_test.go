package bootstrap

import (
	"context"
	"regexp"
	"strings"
	"testing"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/shell"
)

// hostile are values full of shell metacharacters, put into every string
// field of a spec that the validator lets hold free text.
var hostile = []string{`$(touch /tmp/kbs-pwned)`, "`id`", `"; rm -rf / #`, `'\''x`, "a b\tc"}

// planCommand is a command line of a dry-run plan (file previews are
// data, not shell).
var planCommand = regexp.MustCompile(`(?m)^\[plan\] \S+: would [^:\n]+: (.*)$`)

// Every remote command of an init plan — the HA example's, so the load
// balancer's and the control-plane joins' are there too — carries a hostile
// value only quoted by the one helper, never bare.
func TestHostileSpecValuesReachNoShellUnquoted(t *testing.T) {
	spec := loadExample(t, "ha/prod")
	for i, v := range hostile {
		for _, comp := range []*cluster.Component{&spec.Spec.APIServer, &spec.Spec.ControllerManager, &spec.Spec.Scheduler} {
			comp.ExtraArgs = append(comp.ExtraArgs, cluster.Arg{Name: "kbs-hostile-" + string(rune('a'+i)), Value: v})
		}
	}
	if err := cluster.Validate(spec); err != nil {
		t.Fatalf("the validator refuses the hostile spec: %v", err)
	}
	f := newFakeInit(t, spec, true)
	if err := f.run(context.Background()); err != nil {
		t.Fatalf("dry run: %v\n%s", err, f.output())
	}
	cmds := planCommand.FindAllStringSubmatch(f.output(), -1)
	if len(cmds) < 50 {
		t.Fatalf("only %d commands in the plan:\n%s", len(cmds), f.output())
	}
	for _, m := range cmds {
		for _, v := range hostile {
			if strings.Contains(m[1], v) && !strings.Contains(m[1], shell.Quote(v)) {
				t.Errorf("%q reaches a shell unquoted: %s", v, m[1])
			}
		}
	}
}
