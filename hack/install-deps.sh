#!/usr/bin/env bash
# Installs the Debian packages the test environment needs, only when a command
# is missing: debootstrap (node rootfs), systemd-nspawn (nodes), ip (bridge),
# nsenter (reaching into nodes), the OpenSSH client tools (keys, agent, and
# the benchmark's baseline), git (krew's index), openssl (the users
# benchmark's manual flow), gcc and libc6-dev (the static pause binary),
# make, bzip2 and curl (upstream's busybox for the conformance images),
# apt (Debian's runc for the air-gapped bundle), chromium (the diag report test),
# zstd (diag's node-side compression, tested locally).
# Idempotent; needs root to install.
set -euo pipefail

declare -A PKG_FOR=(
  [debootstrap]=debootstrap
  [systemd-nspawn]=systemd-container
  [ip]=iproute2
  [nsenter]=util-linux
  [ssh-keygen]=openssh-client
  [ssh-agent]=openssh-client
  [git]=git
  [openssl]=openssl
  [gcc]=gcc
  [strip]=binutils
  [dpkg-deb]=dpkg
  [apt-get]=apt
  [chromium]=chromium
  [zstd]=zstd
  [make]=make
  [bzip2]=bzip2
  [curl]=curl
)

missing=()
for cmd in "${!PKG_FOR[@]}"; do
  command -v "$cmd" >/dev/null 2>&1 || missing+=("${PKG_FOR[$cmd]}")
done
# The static pause binary links glibc's libc.a.
[[ -f /usr/lib/x86_64-linux-gnu/libc.a ]] || missing+=(libc6-dev)
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
# shellcheck disable=SC2046 # de-duplicate package names
apt-get install -y -qq --no-install-recommends $(printf '%s\n' "${missing[@]}" | sort -u) >/dev/null
