package bootstrap

import (
	"context"
	"fmt"

	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/shell"
)

// writeTokenConfig places a kubeadm configuration that holds a bootstrap
// token (0600) and returns the clean-up that removes it: a token never
// outlives the command that needs it on disk.
func writeTokenConfig(ctx context.Context, h *host.Host, path string, cfg []byte) (func(), error) {
	if err := h.Exec(ctx, "create directories", "install -d -m 0755 /etc/kbs"); err != nil {
		return nil, err
	}
	if _, err := h.EnsureFile(ctx, host.File{Path: path, Data: cfg, Mode: 0o600, Secret: true}); err != nil {
		return nil, err
	}
	return func() {
		_ = h.Exec(context.WithoutCancel(ctx), "remove "+path+" (it holds a token)", "rm -f "+path)
	}, nil
}

// runKubeadm runs `kubeadm ARGS` with its output in logPath on the host;
// on failure the error carries the log's end and where the rest is. The
// log is the operator's and root's alone (0600, made anew): kubeadm's
// output describes the cluster's secrets even where it prints none.
func runKubeadm(ctx context.Context, h *host.Host, what, args, logPath string) error {
	log := shell.Quote(logPath)
	cmd := fmt.Sprintf("rm -f %s; (umask 077; kubeadm %s >%s 2>&1) || { tail -30 %s >&2; exit 1; }", log, args, log, log)
	if err := h.Exec(ctx, what, cmd); err != nil {
		return fmt.Errorf("%w (full output on the host: %s)", err, logPath)
	}
	return nil
}
