package bootstrap

import (
	"context"
	"fmt"

	"github.com/kubectl-kbs/kbs/pkg/host"
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
// on failure the error carries the log's end and where the rest is.
func runKubeadm(ctx context.Context, h *host.Host, what, args, logPath string) error {
	cmd := fmt.Sprintf("kubeadm %s >%s 2>&1 || { tail -30 %s >&2; exit 1; }", args, logPath, logPath)
	if err := h.Exec(ctx, what, cmd); err != nil {
		return fmt.Errorf("%w (full output on the host: %s)", err, logPath)
	}
	return nil
}
