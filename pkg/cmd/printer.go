package cmd

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/cli-runtime/pkg/genericclioptions"
)

// resultAPIVersion is the apiVersion kbs gives the results its read
// commands print as objects (the spec's group), so that kubectl's printers
// — json, yaml, jsonpath, go-template — take them as they take any object.
const resultAPIVersion = "kbs.kubectl-kbs.io/v1alpha1"

// outputFlags is -o for every read command, through cli-runtime's
// PrintFlags: a table when -o is not given (or is "table"), otherwise
// json, yaml, jsonpath, jsonpath-as-json, jsonpath-file, go-template or
// go-template-file. One validation for all.
type outputFlags struct {
	flags *genericclioptions.PrintFlags
}

func newOutputFlags() *outputFlags {
	format := ""
	return &outputFlags{flags: &genericclioptions.PrintFlags{
		OutputFormat:         &format,
		JSONYamlPrintFlags:   genericclioptions.NewJSONYamlPrintFlags(),
		TemplatePrinterFlags: genericclioptions.NewKubeTemplatePrintFlags(),
	}}
}

// addFlags registers -o, --template and --allow-missing-template-keys.
func (o *outputFlags) addFlags(cmd *cobra.Command) {
	o.flags.TemplatePrinterFlags.AddFlags(cmd)
	cmd.Flags().StringVarP(o.flags.OutputFormat, "output", "o", "", fmt.Sprintf("Output format: table (default), %s", strings.Join(o.formats(), ", ")))
	o.flags.OutputFlagSpecified = func() bool { return cmd.Flag("output").Changed }
}

func (o *outputFlags) formats() []string {
	return slices.DeleteFunc(o.flags.AllowedFormats(), func(f string) bool { return f == "templatefile" || f == "template" })
}

// table says whether the human table is wanted.
func (o *outputFlags) table() bool {
	f := *o.flags.OutputFormat
	template := o.flags.TemplatePrinterFlags.TemplateArgument
	return (f == "" || f == "table") && (template == nil || *template == "")
}

// validate refuses an unknown -o before the command does anything.
func (o *outputFlags) validate() error {
	if o.table() {
		return nil
	}
	if _, err := o.flags.ToPrinter(); err != nil {
		if !genericclioptions.IsNoCompatiblePrinterError(err) {
			return err // a template that does not parse, say
		}
		return fmt.Errorf("unknown --output %q: use -o json, -o yaml, -o jsonpath=… or -o go-template=…, or omit -o for a table", *o.flags.OutputFormat)
	}
	return nil
}

// printObj writes v as an object of the given kind when -o asks for a format,
// and says false when the caller prints its table instead. A value that
// that carries its own apiVersion (kubeadm-config's, say) keeps it.
func (o *outputFlags) printObj(w io.Writer, kind string, v any) (bool, error) {
	if o.table() {
		return false, nil
	}
	p, err := o.flags.ToPrinter()
	if err != nil {
		return true, err
	}
	obj, err := asObject(kind, v)
	if err != nil {
		return true, err
	}
	return true, p.PrintObj(obj, w)
}

// asObject turns a result into an unstructured object of kind.
func asObject(kind string, v any) (*unstructured.Unstructured, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	// Numbers stay numbers (json.Number), not float64: a database size of
	// 25000000 must not print as 2.5e+07 through jsonpath.
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	m := map[string]any{}
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("printing %s: %w", kind, err)
	}
	if m["apiVersion"] == nil || m["apiVersion"] == "" {
		m["apiVersion"] = resultAPIVersion
	}
	if m["kind"] == nil || m["kind"] == "" {
		m["kind"] = kind
	}
	return &unstructured.Unstructured{Object: m}, nil
}
