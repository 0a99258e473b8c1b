package cmd

import (
	"encoding/json"
	"strings"
	"testing"

	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/cmd/util/sanity"
	"sigs.k8s.io/yaml"

	"github.com/kubectl-kbs/kbs/pkg/version"
)

// TestSanity runs kubectl's own checks (normalized long descriptions and
// examples, flag names) over the whole tree, so every new command is held to
// kubectl's conventions without anyone remembering to add it here.
func TestSanity(t *testing.T) {
	root := NewCmdRoot(genericiooptions.NewTestIOStreamsDiscard())
	errs := sanity.RunCmdChecks(root, sanity.AllCmdChecks, nil)
	errs = append(errs, sanity.RunGlobalChecks(sanity.AllGlobalChecks)...)
	for _, err := range errs {
		t.Error(err)
	}
}

// run drives the real command tree and returns stdout and stderr.
func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	streams, _, out, errOut := genericiooptions.NewTestIOStreams()
	root := NewCmdRoot(streams)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), errOut.String(), err
}

func TestHelpSaysKubectlKbs(t *testing.T) {
	out, _, err := run(t, "--help")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"kubectl kbs [command]", "--kubeconfig", "--context", "--namespace"} {
		if !strings.Contains(out, want) {
			t.Errorf("help lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = run(t, "version", "--help")
	if !strings.Contains(out, "kubectl kbs version [flags]") {
		t.Errorf("subcommand help should read 'kubectl kbs version':\n%s", out)
	}
}

func TestVersionOutputs(t *testing.T) {
	want := version.Get()
	out, _, err := run(t, "version", "-o", "json")
	if err != nil {
		t.Fatal(err)
	}
	var got version.Info
	if err := json.Unmarshal([]byte(out), &got); err != nil {
		t.Fatalf("version -o json is not JSON: %v\n%s", err, out)
	}
	if got != want {
		t.Errorf("json: got %+v, want %+v", got, want)
	}
	out, _, err = run(t, "version", "-o", "yaml")
	if err != nil {
		t.Fatal(err)
	}
	got = version.Info{}
	if err := yaml.UnmarshalStrict([]byte(out), &got); err != nil || got != want {
		t.Errorf("yaml: got %+v (%v), want %+v", got, err, want)
	}
	out, _, _ = run(t, "version")
	if !strings.Contains(out, want.Version) || !strings.Contains(out, want.GoVersion) {
		t.Errorf("plain version %q lacks version or Go version", out)
	}
	if _, _, err := run(t, "version", "-o", "xml"); err == nil || !strings.Contains(err.Error(), "-o json") {
		t.Errorf("-o xml: got %v, want an error naming the valid formats", err)
	}
}

func TestCompletion(t *testing.T) {
	tests := map[string]string{
		"bash":    "__start_kbs",
		"zsh":     "#compdef kbs",
		"fish":    "complete -c kbs",
		"kubectl": `kubectl kbs __complete "$@"`,
	}
	for shell, want := range tests {
		t.Run(shell, func(t *testing.T) {
			out, _, err := run(t, "completion", shell)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(out, want) {
				t.Errorf("completion %s lacks %q", shell, want)
			}
		})
	}
	if _, _, err := run(t, "completion", "tcsh"); err == nil {
		t.Error("completion tcsh: want an error")
	}
}

func TestCompleteSubcommands(t *testing.T) {
	out, _, err := run(t, "__complete", "vers")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "version") {
		t.Errorf("__complete vers = %q, want version first", out)
	}
}
