package bundle

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/remote"
)

// Upload streams the bundle's rel to dest on h, decompressed on the node
// when the bundle keeps it gzipped, and installed only once its checksum
// matches SHA256SUMS: a connection cut mid-transfer leaves the old file in
// place, never a truncated binary. extra adds write options (a tee into
// `ctr images import`, an owner).
func (b *Bundle) Upload(ctx context.Context, h *host.Host, rel, dest string, mode os.FileMode, extra ...remote.WriteOption) error {
	local, gzipped := b.Local(rel)
	in, err := os.Open(local)
	if err != nil {
		return err
	}
	defer in.Close()
	opts := append([]remote.WriteOption{remote.SHA256(b.Sums[rel])}, extra...)
	if gzipped {
		opts = append(opts, remote.Gunzip())
	}
	err = h.WriteStream(ctx, "upload", dest, in, mode, opts...)
	if errors.Is(err, remote.ErrChecksum) {
		return fmt.Errorf("%s arrived corrupted (checksum mismatch against the bundle's SHA256SUMS; the old file is still in place): run the command again, and if it fails the same way rebuild the bundle with hack/build-bundle.sh: %w", dest, err)
	}
	if err != nil {
		return fmt.Errorf("uploading %s: %w", dest, err)
	}
	return nil
}
