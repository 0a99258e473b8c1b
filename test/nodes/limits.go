package nodes

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// hostLimits are kernel limits of this machine that every node shares: all
// nodes' processes run as the host's root, so their inotify instances
// (systemd, journald, each kubelet, containerd's CRI plugin watching the
// CNI directory) count against one per-user limit. Debian's default of
// 128 instances runs out with two clusters up at once: containerd then
// starts without its CRI service ("unknown service
// runtime.v1.RuntimeService") and kubeadm's preflight fails.
var hostLimits = map[string]int{
	"/proc/sys/fs/inotify/max_user_instances": 8192,
	"/proc/sys/fs/inotify/max_user_watches":   1048576,
}

// raiseHostLimits raises those limits to what many nodes need, never
// lowering one.
func raiseHostLimits() error {
	for path, want := range hostLimits {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if have, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && have >= want {
			continue
		}
		if err := os.WriteFile(path, []byte(strconv.Itoa(want)), 0o644); err != nil {
			return fmt.Errorf("raising %s to %d for the nodes: %w", path, want, err)
		}
	}
	return nil
}
