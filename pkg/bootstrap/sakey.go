package bootstrap

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/pki"
)

// Service account key files on a control plane.
const (
	SAKeyPath = host.KubePKIDir + "/sa.key"
	SAPubPath = host.KubePKIDir + "/sa.pub"
)

// serviceAccountFiles are sa.key and sa.pub as kbs keeps them, for every
// control plane: tokens signed by one API server must verify on the others.
// The key comes from the state directory; a cluster whose key kubeadm made
// (an older kbs) has it adopted from first, so no token already issued
// breaks; only a new cluster gets a new key.
func serviceAccountFiles(ctx context.Context, d InitData, first *host.Host) ([]host.File, error) {
	key, err := d.State().ServiceAccountKey()
	switch {
	case err == nil:
	case !errors.Is(err, os.ErrNotExist):
		return nil, err
	default:
		key, err = adoptOrMakeSAKey(ctx, d, first)
		if err != nil {
			return nil, err
		}
		if err := d.State().SaveServiceAccountKey(key); err != nil {
			return nil, err
		}
	}
	pub, err := pki.ServiceAccountPublicKey(key)
	if err != nil {
		return nil, fmt.Errorf("%s: %w (restore it from a backup or from a control plane's %s)", d.State().Path("pki", "kubernetes", "sa.key"), err, SAKeyPath)
	}
	return []host.File{
		{Path: SAKeyPath, Data: key, Mode: 0o600, Secret: true},
		// Not secret, but a plan would show a new hash on every dry run.
		{Path: SAPubPath, Data: pub, Mode: 0o644, Secret: true},
	}, nil
}

func adoptOrMakeSAKey(ctx context.Context, d InitData, first *host.Host) ([]byte, error) {
	if first != nil && !first.DryRun() {
		if _, ok, _ := first.Query(ctx, "test -s "+SAKeyPath); ok {
			var buf bytes.Buffer
			if err := first.ReadFile(ctx, SAKeyPath, &buf); err != nil {
				return nil, fmt.Errorf("reading %s on %s: %w", SAKeyPath, first.Spec.Name, err)
			}
			if _, err := pki.ServiceAccountPublicKey(buf.Bytes()); err != nil {
				return nil, fmt.Errorf("%s on %s: %w", SAKeyPath, first.Spec.Name, err)
			}
			d.Log("control-plane", first.Spec.Name, "kept the service account key kubeadm made there in %s", d.State().Dir)
			return buf.Bytes(), nil
		}
	}
	return pki.NewServiceAccountKey()
}
