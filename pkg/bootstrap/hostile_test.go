package bootstrap

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
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

// Every string field of a spec, every element of its string lists and
// every value of its string maps gets each hostile value in turn; what the
// validator accepts stays in the spec (all at once), and then the dry-run
// plans of init and of a reset of every host (etcd data included) carry
// each accepted value only quoted. The log names the fields that took each
// value: what reaches the hosts as free text.
func TestHostileValuesInEveryStringField(t *testing.T) {
	base := loadExample(t, "ha/prod")
	// Every optional string set, so the walk reaches it.
	base.Spec.LoadBalancer.Interface = "eth0"
	base.Spec.Networking.DNSDomain = "cluster.local"
	base.Spec.CNI.Images = map[string]string{"flannel": "registry.example.com/flannel:v0.28.10", "flannel-cni-plugin": "registry.example.com/flannel-cni-plugin:v1.9.1"}
	base.Spec.Etcd = cluster.Etcd{Version: "v3.7.3", DataDir: "/var/lib/etcd", CertValidity: "8760h"}
	base.Spec.ImageRepository = "registry.example.com/k8s"
	base.Spec.Runtime.CgroupDriver = "systemd"
	base.Spec.Kubeadm.IgnorePreflightErrors = []string{"NumCPU"}
	for _, comp := range []*cluster.Component{&base.Spec.APIServer, &base.Spec.ControllerManager, &base.Spec.Scheduler} {
		comp.CertSANs = []string{"api.example.com"}
		comp.ExtraArgs = []cluster.Arg{{Name: "v", Value: "2"}}
	}
	base.Spec.SSH.Bastion = "jump.example.com"
	base.Spec.Hosts[7].SSH = &cluster.SSH{User: "admin", KeyFile: "~/.ssh/other", Bastion: "jump2.example.com"}
	if err := cluster.Validate(base); err != nil {
		t.Fatalf("the walk's base spec: %v", err)
	}
	var paths []string
	walkStrings(reflect.ValueOf(base).Elem(), "", func(p string, _ func(string)) { paths = append(paths, p) })
	if len(paths) < 40 {
		t.Fatalf("only %d string fields found: %v", len(paths), paths)
	}
	ctx := context.Background()
	for _, v := range hostile {
		spec := cloneSpec(t, base)
		var took []string
		for _, p := range paths {
			try := cloneSpec(t, spec)
			walkStrings(reflect.ValueOf(try).Elem(), "", func(q string, set func(string)) {
				if q == p {
					set(v)
				}
			})
			if cluster.Validate(try) == nil {
				spec, took = try, append(took, p)
			}
		}
		t.Logf("%q accepted in %d of %d fields: %s", v, len(took), len(paths), strings.Join(took, ", "))
		f := newFakeInit(t, spec, true)
		if err := f.run(ctx); err != nil {
			t.Fatalf("dry-run init with %q: %v\n%s", v, err, f.output())
		}
		r := newFakeInit(t, spec, true)
		if err := Reset(ctx, r.Init, ResetOptions{EtcdData: true}); err != nil {
			t.Fatalf("dry-run reset with %q: %v\n%s", v, err, r.output())
		}
		cmds := planCommand.FindAllStringSubmatch(f.output()+r.output(), -1)
		if len(cmds) < 60 {
			t.Fatalf("only %d commands in the plans", len(cmds))
		}
		for _, m := range cmds {
			if strings.Contains(m[1], v) && !strings.Contains(m[1], shell.Quote(v)) {
				t.Errorf("%q reaches a shell unquoted: %s", v, m[1])
			}
		}
	}
}

// walkStrings calls visit with the path and a setter of every string in v
// (struct fields by their JSON names, list elements, map values), through
// pointers that are set.
func walkStrings(v reflect.Value, path string, visit func(path string, set func(string))) {
	switch v.Kind() {
	case reflect.String:
		visit(path, v.SetString)
	case reflect.Pointer:
		if !v.IsNil() {
			walkStrings(v.Elem(), path, visit)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
			if name == "" {
				name = v.Type().Field(i).Name
			}
			walkStrings(v.Field(i), strings.TrimPrefix(path+"."+name, "."), visit)
		}
	case reflect.Slice:
		for i := range v.Len() {
			walkStrings(v.Index(i), fmt.Sprintf("%s[%d]", path, i), visit)
		}
	case reflect.Map:
		if v.Type().Elem().Kind() != reflect.String {
			return
		}
		for _, k := range v.MapKeys() {
			visit(fmt.Sprintf("%s[%v]", path, k), func(s string) { v.SetMapIndex(k, reflect.ValueOf(s)) })
		}
	}
}

func cloneSpec(t *testing.T, c *cluster.Cluster) *cluster.Cluster {
	t.Helper()
	b, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	out := new(cluster.Cluster)
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatal(err)
	}
	return out
}
