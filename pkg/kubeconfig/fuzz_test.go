package kubeconfig

import (
	"strings"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

// FuzzEditDoc: kbs edits kubeconfigs other tools wrote. Whatever the file
// holds, an edit either is refused or yields a kubeconfig that parses again,
// holds the entry kbs set, and still holds every entry kbs did not touch.
func FuzzEditDoc(f *testing.F) {
	f.Add("apiVersion: v1\nkind: Config\nclusters:\n- name: other\n  cluster: {server: https://x:6443}\ncurrent-context: other\n", "k8s")
	f.Add("# a comment\nusers: []\ncontexts:\n- {name: a, context: {cluster: a, user: a}}\n", "a")
	f.Add("clusters: {not: a list}\n", "k8s")
	f.Add("- just\n- a list\n", "k8s")
	f.Add("", "with space")
	f.Add("clusters:\n- name: k8s\n  cluster: &a {server: s}\nusers:\n- name: u\n  user: *a\n", "k8s")
	f.Fuzz(func(t *testing.T, data, name string) {
		d, err := Parse([]byte(data))
		if err != nil {
			return
		}
		before := map[string][]string{}
		for _, s := range []string{Clusters, Users, Contexts} {
			before[s] = d.Names(s)
		}
		if err := d.Set(Contexts, name, map[string]any{"cluster": name, "user": name}); err != nil {
			return
		}
		out, err := d.Bytes()
		if err != nil {
			return
		}
		again, err := Parse(out)
		if err != nil {
			t.Fatalf("the edited kubeconfig does not parse again: %v\n%s", err, out)
		}
		if !again.Has(Contexts, name) {
			t.Fatalf("context %q lost:\n%s", name, out)
		}
		for s, names := range before {
			for _, n := range names {
				if !again.Has(s, n) {
					t.Fatalf("%s entry %q lost by an edit of another:\n%s", s, n, out)
				}
			}
		}
		// What kubectl reads: an edit kbs accepted must stay loadable by
		// client-go when the input was.
		if _, err := clientcmd.Load([]byte(data)); err == nil && strings.TrimSpace(data) != "" {
			if _, err := clientcmd.Load(out); err != nil {
				t.Fatalf("client-go read the input but not kbs's edit: %v\n%s", err, out)
			}
		}
	})
}

// Names YAML 1.1 reads as something else — kubectl's reader does — are
// written quoted, so a context named "on" stays a context named "on".
func TestAmbiguousNamesStayStrings(t *testing.T) {
	for _, name := range []string{"on", "Y", "no", "null", "0755", "1e3", "~", ""} {
		d, err := Parse(nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := d.Set(Contexts, name, map[string]any{"cluster": name, "namespace": name}); err != nil {
			t.Fatal(err)
		}
		out, err := d.Bytes()
		if err != nil {
			t.Fatal(err)
		}
		cfg, err := clientcmd.Load(out)
		if err != nil {
			t.Fatalf("%q: kubectl cannot read the edit: %v\n%s", name, err, out)
		}
		if c := cfg.Contexts[name]; c == nil || c.Cluster != name || c.Namespace != name {
			t.Errorf("%q: read back as %+v\n%s", name, cfg.Contexts, out)
		}
	}
}
