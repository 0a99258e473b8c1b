package bootstrap

import (
	"context"

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

// runKubeadm runs kubeadm on the host (see host.Kubeadm).
func runKubeadm(ctx context.Context, h *host.Host, what, args, logPath string) error {
	return host.Kubeadm(ctx, h, what, args, logPath)
}
