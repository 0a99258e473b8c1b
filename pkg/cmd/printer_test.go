package cmd

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// Every read command's -o goes through one outputFlags: a table unless a
// format is asked for, cli-runtime's printers otherwise, one error for an
// unknown format, and a result's own apiVersion kept.
func TestOutputFlags(t *testing.T) {
	type row struct {
		Name string `json:"name"`
	}
	result := map[string]any{"members": []row{{"etcd-0"}, {"etcd-1"}}, "dbSize": int64(25000000)}
	for _, tc := range []struct {
		args      []string
		table     bool
		want      string
		wantError string
	}{
		{args: nil, table: true},
		{args: []string{"-o", "table"}, table: true},
		{args: []string{"-o", "json"}, want: `"kind": "EtcdStatus"`},
		{args: []string{"-o", "yaml"}, want: "apiVersion: kbs.kubectl-kbs.io/v1alpha1"},
		{args: []string{"-o", "jsonpath={.members[1].name}"}, want: "etcd-1"},
		{args: []string{"-o", "go-template={{len .members}}"}, want: "2"},
		{args: []string{"-o", "jsonpath={.dbSize}"}, want: "25000000"},
		{args: []string{"-o", "json"}, want: `"dbSize": 25000000`},
		{args: []string{"-o", "yaml"}, want: "dbSize: 25000000"},
		{args: []string{"-o", "xml"}, wantError: `unknown --output "xml": use -o json`},
	} {
		o := newOutputFlags()
		cmd := &cobra.Command{Use: "x", Run: func(*cobra.Command, []string) {}}
		o.addFlags(cmd)
		if err := cmd.ParseFlags(tc.args); err != nil {
			t.Fatal(err)
		}
		err := o.validate()
		if tc.wantError != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantError) {
				t.Errorf("%v: got %v, want %q", tc.args, err, tc.wantError)
			}
			continue
		}
		if err != nil {
			t.Fatalf("%v: %v", tc.args, err)
		}
		var buf bytes.Buffer
		done, err := o.printObj(&buf, "EtcdStatus", result)
		if err != nil || done == tc.table || !strings.Contains(buf.String(), tc.want) {
			t.Errorf("%v: done %v, err %v, output %q; want table %v and %q", tc.args, done, err, buf.String(), tc.table, tc.want)
		}
	}
}

func TestAsObjectKeepsItsOwnAPIVersion(t *testing.T) {
	obj, err := asObject("ClusterConfiguration", map[string]any{"apiVersion": "kubeadm.k8s.io/v1beta4", "kubernetesVersion": "v1.37.2"})
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(obj.Object)
	if obj.GetAPIVersion() != "kubeadm.k8s.io/v1beta4" || obj.GetKind() != "ClusterConfiguration" {
		t.Errorf("got %s", b)
	}
}
