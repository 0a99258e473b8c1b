#!/usr/bin/env bash
# Installs the Debian packages the test environment needs, only when a command
# is missing: debootstrap (node rootfs), systemd-nspawn (nodes), ip (bridge),
# nsenter (reaching into nodes). Idempotent; needs root to install.
set -euo pipefail

declare -A PKG_FOR=(
  [debootstrap]=debootstrap
  [systemd-nspawn]=systemd-container
  [ip]=iproute2
  [nsenter]=util-linux
)

missing=()
for cmd in "${!PKG_FOR[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${PKG_FOR[$cmd]}")
done
if ((${#missing[@]} == 0)); then
  echo "[install-deps] all present" >&2
  exit 0
fi
if [[ $(id -u) != 0 ]]; then
  echo "[install-deps] missing packages ${missing[*]}: install them as root (apt-get install ${missing[*]})" >&2
  exit 1
fi
echo "[install-deps] installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
