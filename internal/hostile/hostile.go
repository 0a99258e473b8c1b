// Package hostile is for tests: it puts values full of shell
// metacharacters into every string field of a spec that the validator lets
// hold them, and finds the commands that carry such a value bare. Each
// package that sends commands to hosts (init and reset, upgrade, etcd's
// day 2) walks its own commands with it, so that a field the validator
// loosens one day, or a command that forgets shell.Quote, fails a test.
package hostile

import (
	"encoding/json"
	"fmt"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/shell"
)

// Values are the hostile values: a command substitution, backticks, a
// quote that ends a double-quoted word, one that ends a single-quoted
// word the way shell.Quote escapes, and blanks that split words.
var Values = []string{`$(touch /tmp/kbs-pwned)`, "`id`", `"; rm -rf / #`, `'\''x`, "a b\tc"}

// Fill sets every optional string of c that is empty, so that a walk
// reaches it: the load balancer's interface, the DNS domain,
// etcd's settings, flannel's images, the image repository, the cgroup driver, ignored
// preflight checks, a registry mirror, each component's SANs and extra arguments, a bastion,
// and SSH settings of the last host's own.
func Fill(c *cluster.Cluster) {
	s := &c.Spec
	if s.LoadBalancer != nil {
		s.LoadBalancer.Interface = "eth0"
	}
	s.Networking.DNSDomain = "cluster.local"
	if s.CNI.Plugin == "" || s.CNI.Plugin == cluster.CNIFlannel {
		if s.CNI.Images == nil {
			s.CNI.Images = map[string]string{}
		}
		for name, ref := range map[string]string{"flannel": "registry.example.com/flannel:v0.28.10", "flannel-cni-plugin": "registry.example.com/flannel-cni-plugin:v1.9.1"} {
			if s.CNI.Images[name] == "" {
				s.CNI.Images[name] = ref
			}
		}
	}
	if s.Etcd.Version == "" && s.Etcd.Binary == "" {
		s.Etcd.Version = "v3.7.3"
	}
	s.Etcd.DataDir, s.Etcd.CertValidity = "/var/lib/etcd", "8760h"
	if s.ImageRepository == "" {
		s.ImageRepository = "registry.example.com/k8s"
	}
	if s.Runtime.CgroupDriver == "" {
		s.Runtime.CgroupDriver = "systemd"
	}
	s.Kubeadm.IgnorePreflightErrors = append(s.Kubeadm.IgnorePreflightErrors, "NumCPU")
	for _, comp := range []*cluster.Component{&s.APIServer, &s.ControllerManager, &s.Scheduler} {
		comp.CertSANs = append(comp.CertSANs, "api.example.com")
		comp.ExtraArgs = append(comp.ExtraArgs, cluster.Arg{Name: "v", Value: "2"})
	}
	s.Runtime.RegistryMirrors = map[string][]string{"docker.io": {"https://mirror.example.com"}}
	s.SSH.Bastion = "jump.example.com"
	s.Hosts[len(s.Hosts)-1].SSH = &cluster.SSH{User: "admin", KeyFile: "~/.ssh/other", Bastion: "jump2.example.com"}
}

// Spec is a copy of base with v in every string field, list element and
// map value where the validator accepts it (all at once), and the paths
// of the fields that took it: what reaches the hosts as free text. The
// fields named in keep stay as they are: local files the test put at
// paths with v in them, since a path to nothing fails before any plan.
func Spec(t testing.TB, base *cluster.Cluster, v string, keep ...string) (*cluster.Cluster, []string) {
	t.Helper()
	if err := cluster.Validate(base); err != nil {
		t.Fatalf("the walk's base spec: %v", err)
	}
	paths := Fields(base)
	spec, took := Clone(t, base), []string(nil)
	for _, p := range paths {
		if slices.Contains(keep, p) {
			continue
		}
		try := Clone(t, spec)
		Walk(reflect.ValueOf(try).Elem(), "", func(q string, set func(string)) {
			if q == p {
				set(v)
			}
		})
		if cluster.Validate(try) == nil {
			spec, took = try, append(took, p)
		}
	}
	t.Logf("%q accepted in %d of %d fields: %s", v, len(took), len(paths), strings.Join(took, ", "))
	if len(took) == 0 {
		t.Fatalf("no field of the spec took %q: the walk would test nothing", v)
	}
	return spec, took
}

// Fields are the paths of every string field, list element and map value
// of c that Walk reaches.
func Fields(c *cluster.Cluster) []string {
	var paths []string
	Walk(reflect.ValueOf(c).Elem(), "", func(p string, _ func(string)) { paths = append(paths, p) })
	return paths
}

// Unquoted returns the commands that carry v where a shell reads it. An
// occurrence of v is safe only inside shell.Quote(v) or wholly inside
// single quotes (a quoted word v is part of) — single quotes as the shell
// sees them: not inside double quotes, again inside a $( ) — and never in
// the script of a `sh -c` or `bash -c`, which a second shell reads again
// (the arguments after the script are plain words). The check errs on the side of a failing test: a value with a
// single quote of its own, quoted as part of a larger word, is reported
// too.
func Unquoted(cmds []string, v string) []string {
	var bad []string
	for _, c := range cmds {
		if bare(c, v) {
			bad = append(bad, c)
		}
	}
	return bad
}

// nestedShell is a shell started on a command line of its own.
var nestedShell = regexp.MustCompile(`(^|[\s;&|(])(ba)?sh\s+-c\s`)

func bare(cmd, v string) bool {
	safe, opens := singleQuoted(cmd)
	q := shell.Quote(v)
	for i := range cmd {
		if opens[i] && strings.HasPrefix(cmd[i:], q) {
			for j := i; j < i+len(q); j++ {
				safe[j] = true
			}
		}
	}
	// The script of a sh -c is read by a second shell: nothing in it is
	// safe. The arguments after it are the script's $0, $1, …: as safe as
	// any other word.
	inner := make([]bool, len(cmd))
	for _, loc := range nestedShell.FindAllStringIndex(cmd, -1) {
		for i := loc[1]; i < len(cmd) && (safe[i] || opens[i] || !strings.ContainsRune(" \t\n;&|", rune(cmd[i]))); i++ {
			inner[i] = true
		}
	}
	for i := 0; i+len(v) <= len(cmd); i++ {
		if strings.HasPrefix(cmd[i:], v) && (slices.Contains(inner[i:i+len(v)], true) || slices.Contains(safe[i:i+len(v)], false)) {
			return true
		}
	}
	return false
}

// singleQuoted marks the bytes of cmd between single quotes (the quotes
// themselves not), where the shell expands and splits nothing, and the
// quotes that open such a span. A backslash escapes the next byte outside
// single quotes; inside double quotes a single quote is a plain byte, and
// inside a $( ) quoting starts afresh.
func singleQuoted(cmd string) (in, opens []bool) {
	const (
		plain = iota
		double
		subst
	)
	type frame struct{ kind, parens int }
	stack := []frame{{kind: plain}}
	quoted := false
	in, opens = make([]bool, len(cmd)), make([]bool, len(cmd))
	for i := 0; i < len(cmd); i++ {
		top := &stack[len(stack)-1]
		c := cmd[i]
		switch {
		case quoted && c == '\'':
			quoted = false
		case quoted:
			in[i] = true
		case c == '\\':
			i++
		case c == '$' && i+1 < len(cmd) && cmd[i+1] == '(':
			stack = append(stack, frame{kind: subst})
			i++
		case top.kind == double && c == '"':
			stack = stack[:len(stack)-1]
		case top.kind == double:
		case c == '\'':
			quoted, opens[i] = true, true
		case c == '"':
			stack = append(stack, frame{kind: double})
		case top.kind == subst && c == '(':
			top.parens++
		case top.kind == subst && c == ')' && top.parens > 0:
			top.parens--
		case top.kind == subst && c == ')':
			stack = stack[:len(stack)-1]
		}
	}
	return in, opens
}

// PlanCommands are the commands of a dry-run plan's output: what follows
// the first ": " of each "[plan] HOST: would WHAT: COMMAND" line, with the
// lines that continue it (a multi-line script). Uploads and file writes
// name no command: their paths are data.
func PlanCommands(out string) []string {
	var steps []string
	cur := -1
	for _, line := range strings.Split(out, "\n") {
		switch {
		case planStep.MatchString(line):
			steps = append(steps, planStep.FindStringSubmatch(line)[1])
			cur = len(steps) - 1
		case strings.HasPrefix(line, "["):
			cur = -1
		case cur >= 0:
			steps[cur] += "\n" + line
		}
	}
	return steps
}

var planStep = regexp.MustCompile(`^\[plan\] \S+: would .*?: (.*)$`)

// Walk calls visit with the path and a setter of every string in v
// (struct fields by their JSON names, list elements, map values), through
// pointers that are set.
func Walk(v reflect.Value, path string, visit func(path string, set func(string))) {
	switch v.Kind() {
	case reflect.String:
		visit(path, v.SetString)
	case reflect.Pointer:
		if !v.IsNil() {
			Walk(v.Elem(), path, visit)
		}
	case reflect.Struct:
		for i := range v.NumField() {
			name, _, _ := strings.Cut(v.Type().Field(i).Tag.Get("json"), ",")
			if name == "" {
				name = v.Type().Field(i).Name
			}
			Walk(v.Field(i), strings.TrimPrefix(path+"."+name, "."), visit)
		}
	case reflect.Slice:
		for i := range v.Len() {
			Walk(v.Index(i), fmt.Sprintf("%s[%d]", path, i), visit)
		}
	case reflect.Map:
		if v.Type().Elem().Kind() == reflect.Slice {
			// A slice's elements can be set even when the map's values cannot.
			for _, k := range v.MapKeys() {
				Walk(v.MapIndex(k), fmt.Sprintf("%s[%v]", path, k), visit)
			}
			return
		}
		if v.Type().Elem().Kind() != reflect.String {
			return
		}
		for _, k := range v.MapKeys() {
			visit(fmt.Sprintf("%s[%v]", path, k), func(s string) { v.SetMapIndex(k, reflect.ValueOf(s)) })
		}
	}
}

// Clone is a deep copy of c.
func Clone(t testing.TB, c *cluster.Cluster) *cluster.Cluster {
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
