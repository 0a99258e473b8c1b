package cmd

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/kubectl/pkg/util/templates"
)

// kubectlShim is the kubectl_complete-kbs program: kubectl ≥ 1.26 runs it to
// complete `kubectl kbs …`, and krew cannot install it, so we print it.
const kubectlShim = `#!/usr/bin/env sh
# kubectl_complete-kbs: lets kubectl (>= 1.26) complete "kubectl kbs ...".
# Save as an executable file named kubectl_complete-kbs somewhere on PATH.
exec kubectl kbs __complete "$@"
`

var completionShells = []string{"bash", "zsh", "fish", "kubectl"}

// CompletionOptions holds the arguments of `kubectl kbs completion`.
type CompletionOptions struct {
	Shell string
	genericiooptions.IOStreams
}

// NewCmdCompletion prints shell completion scripts.
func NewCmdCompletion(streams genericiooptions.IOStreams) *cobra.Command {
	o := &CompletionOptions{IOStreams: streams}
	cmd := &cobra.Command{
		Use:   "completion bash|zsh|fish|kubectl",
		Short: "Print a shell completion script",
		Long: templates.LongDesc(`
			Print a completion script. For "kubectl kbs <TAB>" use the kubectl
			variant: it prints the kubectl_complete-kbs program that kubectl 1.26
			and later runs to complete plugin commands; save it on your PATH and
			make it executable. The bash, zsh and fish scripts complete the
			kubectl-kbs binary when run directly.`),
		Example: templates.Examples(`
			# Let kubectl complete kbs commands
			kubectl kbs completion kubectl > ~/.local/bin/kubectl_complete-kbs
			chmod +x ~/.local/bin/kubectl_complete-kbs

			# Complete kubectl-kbs in bash
			source <(kubectl kbs completion bash)`),
		Args:      cobra.ExactArgs(1),
		ValidArgs: completionShells,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Shell = args[0]
			return o.Run(cmd.Root())
		},
	}
	return cmd
}

// Run writes the script for o.Shell.
func (o *CompletionOptions) Run(root *cobra.Command) error {
	switch o.Shell {
	case "bash":
		return root.GenBashCompletionV2(o.Out, true)
	case "zsh":
		return root.GenZshCompletion(o.Out)
	case "fish":
		return root.GenFishCompletion(o.Out, true)
	case "kubectl":
		_, err := fmt.Fprint(o.Out, kubectlShim)
		return err
	}
	return fmt.Errorf("unknown shell %q: use one of %v", o.Shell, completionShells)
}
