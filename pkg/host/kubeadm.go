package host

import (
	"context"
	"fmt"

	"github.com/kubectl-kbs/kbs/pkg/shell"
)

// Kubeadm runs `kubeadm ARGS` on h with its output in logPath; on failure
// the error carries the log's end and where the rest is. The log is the
// operator's and root's alone (0600, made anew): kubeadm's output describes
// the cluster's secrets even where it prints none.
func Kubeadm(ctx context.Context, h *Host, what, args, logPath string) error {
	log := shell.Quote(logPath)
	cmd := fmt.Sprintf("rm -f %s; (umask 077; kubeadm %s >%s 2>&1) || { tail -30 %s >&2; exit 1; }", log, args, log, log)
	if err := h.Exec(ctx, what, cmd); err != nil {
		return fmt.Errorf("%w (full output on the host: %s)", err, logPath)
	}
	return nil
}
