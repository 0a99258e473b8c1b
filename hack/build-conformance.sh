#!/usr/bin/env bash
# Builds the images the conformance specs kbs runs need, from the test
# binaries and Debian packages, into _output/conformance:
#
#   images.tar      agnhost (the e2e suite's workhorse: our build of
#                   test/images/agnhost at the Kubernetes pin, on a Debian base
#                   with the tools its specs exec — dig, curl, nc, ip) and busybox
#                   (Debian's busybox-static with its applets linked), and
#                   glibc-dns-testing (upstream's is Debian with dnsutils, for
#                   the DNS specs' dig and getent probes: the agnhost base is
#                   that), named as repo-list.yaml maps them; pause is the
#                   bundle's
#   repo-list.yaml  KUBE_TEST_REPO_LIST for e2e.test: every registry mapped to
#                   kbs.local, so no spec pulls from the internet
#
# Idempotent: rebuilt when an input changes. Test clusters import images.tar
# on every node (test/smoke); users' bundles never carry it.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${KBS_BIN_DIR:-$ROOT/_output/bin}
OUT=$ROOT/_output/conformance
BASE=$ROOT/_output/rootfs/conformance-base
CACHE=$ROOT/_output/cache
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
BASE_PACKAGES=bind9-dnsutils,curl,netcat-openbsd,iproute2,iputils-ping,procps,socat
AGNHOST=2.66.1 BUSYBOX=1.37.0-2 GLIBC_DNS=2.1.1 # the tags e2e.test names (test/utils/image/manifest.go)

log() { printf '[build-conformance] %s\n' "$*" >&2; }
[[ -x $BIN/agnhost && -x $BIN/e2e.test ]] || { log "run hack/build-test-binaries.sh conformance first"; exit 1; }
mkdir -p "$CACHE" "$OUT"
start=$SECONDS

base_stamp=$(echo "bookworm $BASE_PACKAGES" | sha256sum | cut -c1-16)
if [[ ! -f $BASE/.stamp || $(cat "$BASE/.stamp") != "$base_stamp" ]]; then
  log "debootstrap agnhost base ($BASE_PACKAGES)"
  rm -rf "$BASE.tmp"
  debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$BASE.tmp" "$MIRROR" >"$CACHE/conformance-base.log" 2>&1 || {
    tail -20 "$CACHE/conformance-base.log" >&2; exit 1; }
  rm -rf "$BASE.tmp"/var/cache/apt/archives/*.deb "$BASE.tmp"/var/lib/apt/lists/*
  echo "$base_stamp" >"$BASE.tmp/.stamp"
  rm -rf "$BASE"; mv "$BASE.tmp" "$BASE"
fi
if [[ ! -f $CACHE/conformance-base.tar || $BASE/.stamp -nt $CACHE/conformance-base.tar ]]; then
  tar --sort=name --mtime=@0 --numeric-owner --exclude=./.stamp -C "$BASE" -cf "$CACHE/conformance-base.tar.tmp" .
  mv "$CACHE/conformance-base.tar.tmp" "$CACHE/conformance-base.tar"
fi
if [[ ! -x $CACHE/busybox/bin/busybox ]]; then
  log "busybox-static from Debian"
  rm -rf "$CACHE/busybox" "$CACHE"/busybox-static_*.deb
  (cd "$CACHE" && apt-get download busybox-static >/dev/null)
  dpkg-deb -x "$CACHE"/busybox-static_*.deb "$CACHE/busybox"
fi

stamp=$( (cat "$0"; stat -c '%n %s %Y' "$BIN/agnhost" "$BIN/e2e.test" "$CACHE/conformance-base.tar" "$CACHE/busybox/bin/busybox") | sha256sum | cut -c1-16)
if [[ -f $OUT/.stamp && $(cat "$OUT/.stamp") == "$stamp" ]]; then
  log "up to date ($OUT)"
  exit 0
fi

links=$("$CACHE/busybox/bin/busybox" --list | grep -vx busybox | awk '{printf "%s\"/bin/%s\": \"busybox\"", (NR > 1 ? ", " : ""), $1}')
cat >"$CACHE/conformance-images.json" <<JSON
[
 {"ref": "kbs.local/e2e-test-images/agnhost:$AGNHOST", "base": "$CACHE/conformance-base.tar", "files": {"/agnhost": "$BIN/agnhost"}, "links": {"/agnhost-2": "agnhost"}, "dirs": {"/uploads": 0}, "entrypoint": ["/agnhost"], "cmd": ["pause"]},
 {"ref": "kbs.local/e2e-test-images/glibc-dns-testing:$GLIBC_DNS", "base": "$CACHE/conformance-base.tar", "files": {}},
 {"ref": "kbs.local/e2e-test-images/busybox:$BUSYBOX", "files": {"/bin/busybox": "$CACHE/busybox/bin/busybox"}, "links": {$links}, "cmd": ["sh"]}
]
JSON
log "writing images"
"$BIN/kbs-images" -out "$OUT/images.tar" -spec "$CACHE/conformance-images.json"
cat >"$OUT/repo-list.yaml" <<YAML
# KUBE_TEST_REPO_LIST for e2e.test (written by hack/build-conformance.sh).
promoterE2eRegistry: kbs.local/e2e-test-images
buildImageRegistry: kbs.local/build-image
invalidRegistry: invalid.registry.k8s.io/invalid
gcEtcdRegistry: kbs.local
gcRegistry: kbs.local
sigStorageRegistry: kbs.local/sig-storage
privateRegistry: kbs.local/private
dockerLibraryRegistry: kbs.local/library
cloudProviderGcpRegistry: kbs.local/cloud-provider-gcp
YAML
echo "$stamp" >"$OUT/.stamp"
log "built $OUT in $((SECONDS - start))s ($(du -sh "$OUT" | cut -f1))"
