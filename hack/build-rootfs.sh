#!/usr/bin/env bash
# Builds the Debian bookworm root filesystem the test nodes boot from, under
# _output/rootfs/node. Idempotent: rebuilt only when the package list or the
# files in hack/rootfs/ change (their hash is stamped into the tree). Needs
# root and debootstrap (hack/install-deps.sh).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${KBS_ROOTFS_DIR:-$ROOT/_output/rootfs/node}
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# What the nodes run: systemd and journald, sshd for kbs, sudo for non-root
# SSH users, and the tools kubeadm's preflight and diag expect (zstd: Debian
# and Ubuntu servers have it, for their initramfs; diag compresses logs with it).
PACKAGES=systemd,systemd-sysv,dbus,openssh-server,sudo,iproute2,iptables,procps,ca-certificates,conntrack,socat,ethtool,kmod,less,zstd

log() { printf '[build-rootfs] %s\n' "$*" >&2; }

stamp=$( (echo "$SUITE $PACKAGES"; cat "$ROOT"/hack/rootfs/*) | sha256sum | cut -c1-16)
if [[ -f $OUT/etc/kbs-rootfs-stamp && $(cat "$OUT/etc/kbs-rootfs-stamp") == "$stamp" ]]; then
  log "up to date ($OUT)"
  exit 0
fi
[[ $(id -u) == 0 ]] || { log "debootstrap needs root: run as root (CI does)"; exit 1; }
command -v debootstrap >/dev/null || { log "debootstrap missing: run hack/install-deps.sh"; exit 1; }

start=$SECONDS
tmp=$OUT.tmp
rm -rf "$tmp"
mkdir -p "$tmp"
log "debootstrap $SUITE into $tmp"
debootstrap --variant=minbase --include="$PACKAGES" "$SUITE" "$tmp" "$MIRROR" >"$tmp.log" 2>&1 || {
  tail -20 "$tmp.log" >&2; log "debootstrap failed (full log: $tmp.log)"; exit 1; }

# Per-run identity comes from the harness: no baked host keys or machine-id.
rm -f "$tmp"/etc/ssh/ssh_host_*
: >"$tmp/etc/machine-id"
# The harness writes its own resolv.conf; nodes must not reach real DNS.
rm -f "$tmp/etc/resolv.conf"; : >"$tmp/etc/resolv.conf"

install -D -m 0755 "$ROOT/hack/rootfs/kbs-node-prep" "$tmp/usr/local/sbin/kbs-node-prep"
install -D -m 0644 "$ROOT/hack/rootfs/kbs-node-prep.service" "$tmp/etc/systemd/system/kbs-node-prep.service"
install -D -m 0644 "$ROOT/hack/rootfs/system.conf" "$tmp/etc/systemd/system.conf.d/kbs.conf"
ln -sf /etc/systemd/system/kbs-node-prep.service "$tmp/etc/systemd/system/sysinit.target.wants/kbs-node-prep.service"
# sshd must not start before its per-run host key and the IP are in place; no
# key generation at boot (ssh-keygen -A would mint unknown keys).
mkdir -p "$tmp/etc/systemd/system/ssh.service.d"
printf '[Unit]\nAfter=kbs-node-prep.service\n' >"$tmp/etc/systemd/system/ssh.service.d/kbs.conf"
# Units that only fail or wait inside a container.
for u in systemd-networkd-wait-online.service getty@tty1.service apt-daily.timer apt-daily-upgrade.timer; do
  ln -sf /dev/null "$tmp/etc/systemd/system/$u"
done

echo "$stamp" >"$tmp/etc/kbs-rootfs-stamp"
rm -rf "$OUT"
mv "$tmp" "$OUT"
rm -f "$tmp.log"
log "built $OUT in $((SECONDS - start))s ($(du -sh "$OUT" | cut -f1))"
