// Package kbsrun runs the real kubectl-kbs command tree inside a test
// process: the same cobra commands, flags and streams as the binary, without
// the cost of building and starting it for every call.
package kbsrun

import (
	"bytes"
	"context"
	"io"
	"strings"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-kbs/kbs/pkg/cmd"
)

// To runs `kubectl kbs ARGS…` with stdout and stderr going to out and errOut.
func To(ctx context.Context, out, errOut io.Writer, args ...string) error {
	root := cmd.NewCmdRoot(genericiooptions.IOStreams{In: strings.NewReader(""), Out: out, ErrOut: errOut})
	root.SetArgs(args)
	return root.ExecuteContext(ctx)
}

// Run runs `kubectl kbs ARGS…` and returns stdout, then stderr.
func Run(ctx context.Context, args ...string) (string, string, error) {
	var out, errOut bytes.Buffer
	err := To(ctx, &out, &errOut, args...)
	return out.String(), errOut.String(), err
}
