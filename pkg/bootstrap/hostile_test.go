package bootstrap

import (
	"context"
	"testing"

	"github.com/kubectl-kbs/kbs/internal/hostile"
	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

// Every remote command of an init plan — the HA example's, so the load
// balancer's and the control-plane joins' are there too — carries a hostile
// value only quoted by the one helper, never bare.
func TestHostileSpecValuesReachNoShellUnquoted(t *testing.T) {
	spec := loadExample(t, "ha/prod")
	for i, v := range hostile.Values {
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
	cmds := hostile.PlanCommands(f.output())
	if len(cmds) < 50 {
		t.Fatalf("only %d commands in the plan:\n%s", len(cmds), f.output())
	}
	for _, v := range hostile.Values {
		for _, c := range hostile.Unquoted(cmds, v) {
			t.Errorf("%q reaches a shell unquoted: %s", v, c)
		}
	}
}

// Every string field of a spec, every element of its string lists and
// every value of its string maps gets each hostile value in turn; what the
// validator accepts stays in the spec (all at once), and then the dry-run
// plans of init and of a reset of every host (etcd data included) carry
// each accepted value only quoted. The log names the fields that took each
// value: what reaches the hosts as free text.
func TestHostileValuesInEveryStringField(t *testing.T) {
	base := loadExample(t, "ha/prod")
	hostile.Fill(base)
	if n := len(hostile.Fields(base)); n < 60 {
		t.Fatalf("the walk reaches only %d string fields: %v", n, hostile.Fields(base))
	}
	ctx := context.Background()
	for _, v := range hostile.Values {
		spec, _ := hostile.Spec(t, base, v)
		f := newFakeInit(t, spec, true)
		if err := f.run(ctx); err != nil {
			t.Fatalf("dry-run init with %q: %v\n%s", v, err, f.output())
		}
		r := newFakeInit(t, spec, true)
		if err := Reset(ctx, r.Init, ResetOptions{EtcdData: true}); err != nil {
			t.Fatalf("dry-run reset with %q: %v\n%s", v, err, r.output())
		}
		cmds := hostile.PlanCommands(f.output() + r.output())
		if len(cmds) < 60 {
			t.Fatalf("only %d commands in the plans", len(cmds))
		}
		for _, c := range hostile.Unquoted(cmds, v) {
			t.Errorf("%q reaches a shell unquoted: %s", v, c)
		}
	}
}
