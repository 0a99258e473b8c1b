package cmd

import (
	"fmt"

	"k8s.io/cli-runtime/pkg/genericiooptions"

	"github.com/kubectl-kbs/kbs/pkg/remote"
)

// newDialer is the SSH dialer every command uses: host keys checked against
// knownHosts (unknown ones recorded only with acceptNew, and said so on
// stderr), passphrases and sudo passwords asked on the terminal when there
// is one.
func newDialer(s genericiooptions.IOStreams, knownHosts []string, acceptNew bool) *remote.Dialer {
	return &remote.Dialer{
		HostKeys: &remote.HostKeys{Files: knownHosts, AcceptNew: acceptNew,
			Log: func(f string, a ...any) { fmt.Fprintf(s.ErrOut, "[ssh] "+f+"\n", a...) }},
		Credentials: remote.Credentials{
			Passphrase:   secretPrompt(s, "passphrase for %s: "),
			SudoPassword: secretPrompt(s, "sudo password on %s: "),
		},
	}
}
