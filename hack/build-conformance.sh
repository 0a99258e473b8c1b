#!/usr/bin/env bash
# Builds the images the conformance specs kbs runs need, from the test
# binaries, the Kubernetes module's own image files and Debian packages, into
# _output/conformance:
#
#   images.tar      named as repo-list.yaml maps them (the tags e2e.test asks
#                   for, test/utils/image/manifest.go):
#     agnhost       the e2e suite's workhorse: our build of test/images/agnhost
#                   at the Kubernetes pin on a Debian base with the tools its
#                   specs exec (dig, curl, nc, ip), porter's localhost.crt/.key
#                   at / (the StatefulSet specs' readiness probe fetches it)
#                   and upstream's user-defined-in-image (uid 1000, gid 50000);
#                   under 2.66.1 and, for the specs that roll from an older
#                   agnhost to the current one, 2.55 (the same binary with a
#                   marker file: the specs compare image names, and a
#                   different digest keeps the roll real)
#     busybox       upstream's busybox 1.37.0 (the release upstream's image
#                   is), built here from its release tarball (Debian's copy,
#                   checked against a pinned sha256) with defconfig, static,
#                   its applets linked, and a /tmp (the exec liveness spec
#                   writes /tmp/health). Not Debian's busybox-static: Debian
#                   reverts upstream's ash change that passes environment
#                   variables whose names are not shell names (data-1) on to
#                   children, which four ConfigMap/Secret env specs print with
#                   `sh -c env`; and not bash: the read-only root spec reads
#                   ash's own error message. The tarball stays in Debian's pool
#                   while a Debian release ships 1.37.0 (trixie does); the
#                   pinned checksum fails clearly once it is gone
#     glibc-dns-testing  upstream's is Debian with dnsutils: the agnhost base
#     nautilus      agnhost serving nautilus.jpg and data.json (update-demo
#                   reads data.json through the pod proxy), as upstream builds it
#     nonewprivs    upstream's nnp (prints its effective uid), setuid root
#     nginx         Debian's nginx-light on the same base, on port 80 (no spec
#                   reads anything nginx-specific: the ReplicationController
#                   lifecycle needs a server that runs), under both tags
#     sample-apiserver  k8s.io/sample-apiserver at the Kubernetes pin (the
#                   Aggregator spec; upstream's 1.29.2 is older: the spec's
#                   old-server skew is not reproduced), and the etcd it runs
#                   beside, ours
#                   pause is the bundle's; kitten is not built (its only
#                   [Conformance] spec mounts it as an image volume with
#                   pullPolicy Always, which needs a registry, and checks it
#                   is Alpine Linux)
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
BASE_PACKAGES=bind9-dnsutils,curl,netcat-openbsd,iproute2,iputils-ping,procps,socat,nginx-light
# The tags e2e.test names (test/utils/image/manifest.go).
AGNHOST=2.66.1 AGNHOST_PREV=2.55 BUSYBOX=1.37.0-2 GLIBC_DNS=2.1.1 NAUTILUS=1.8 NONEWPRIVS=1.4
NGINX=1.27.0-2 NGINX_NEW=1.28.0-2 SAMPLE_APISERVER=1.29.2 ETCD_IMAGE=3.7.0-0
# The busybox release upstream's busybox image is, and its tarball's checksum.
BUSYBOX_VERSION=1.37.0 BUSYBOX_SHA256=3311dff32e746499f4df0d5df04d7eb396382d7e108bb9250e7b519b837043a4

log() { printf '[build-conformance] %s\n' "$*" >&2; }
for b in agnhost e2e.test nonewprivs sample-apiserver etcd; do
  [[ -x $BIN/$b ]] || { log "no $BIN/$b: run hack/build-test-binaries.sh etcd conformance first"; exit 1; }
done
# The image files upstream copies from the Kubernetes module (read-only in
# the module cache, at the conformance tools module's pin).
K8S=$(cd "$ROOT/hack/tools/conformance" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)
[[ -n $K8S && -f $K8S/test/images/agnhost/porter/localhost.crt ]] || {
  log "the Kubernetes module is not in the module cache: run hack/build-test-binaries.sh conformance first"; exit 1; }
mkdir -p "$CACHE" "$OUT"
start=$SECONDS

base_stamp=$(echo "bookworm $BASE_PACKAGES user-defined-in-image" | sha256sum | cut -c1-16)
if [[ ! -f $BASE/.stamp || $(cat "$BASE/.stamp") != "$base_stamp" ]]; then
  log "debootstrap agnhost base ($BASE_PACKAGES)"
  rm -rf "$BASE.tmp"
  debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$BASE.tmp" "$MIRROR" >"$CACHE/conformance-base.log" 2>&1 || {
    tail -20 "$CACHE/conformance-base.log" >&2; exit 1; }
  rm -rf "$BASE.tmp"/var/cache/apt/archives/*.deb "$BASE.tmp"/var/lib/apt/lists/*
  # agnhost's user and group for the specs of groups defined in an image.
  chroot "$BASE.tmp" sh -c 'groupadd -g 50000 group-defined-in-image && useradd -M -u 1000 -G group-defined-in-image user-defined-in-image'
  echo "$base_stamp" >"$BASE.tmp/.stamp"
  rm -rf "$BASE"; mv "$BASE.tmp" "$BASE"
fi
if [[ ! -f $CACHE/conformance-base.tar || $BASE/.stamp -nt $CACHE/conformance-base.tar ]]; then
  tar --sort=name --mtime=@0 --numeric-owner --exclude=./.stamp -C "$BASE" -cf "$CACHE/conformance-base.tar.tmp" .
  mv "$CACHE/conformance-base.tar.tmp" "$CACHE/conformance-base.tar"
fi
BB=$CACHE/busybox-$BUSYBOX_VERSION
# What the binary is made from: a change to any of it rebuilds it.
BB_CONFIG='s/^# CONFIG_STATIC is not set/CONFIG_STATIC=y/; s/^CONFIG_TC=y/# CONFIG_TC is not set/'
bb_stamp="$BUSYBOX_VERSION $BUSYBOX_SHA256 $BB_CONFIG"
if [[ ! -x $BB/busybox || $(cat "$BB/.stamp" 2>/dev/null) != "$bb_stamp" ]]; then
  log "busybox $BUSYBOX_VERSION: upstream's release tarball, defconfig, static"
  rm -rf "$BB" "$BB.tmp" "$BB.new"; mkdir -p "$BB.tmp"
  curl -fsSL --retry 3 -o "$BB.tmp/src.tar.bz2" "$MIRROR/pool/main/b/busybox/busybox_$BUSYBOX_VERSION.orig.tar.bz2"
  echo "$BUSYBOX_SHA256  $BB.tmp/src.tar.bz2" | sha256sum -c --quiet
  tar -xjf "$BB.tmp/src.tar.bz2" -C "$BB.tmp"
  # tc is off: its cbq code does not build against current kernel headers.
  # The image has no libc: the build must come out static.
  if ! (cd "$BB.tmp/busybox-$BUSYBOX_VERSION" && make defconfig >/dev/null && sed -i "$BB_CONFIG" .config &&
    grep -qx CONFIG_STATIC=y .config && ! grep -qx CONFIG_TC=y .config &&
    make -j"$(nproc)" busybox && ! readelf -l busybox | grep -q INTERP) >"$BB.tmp/build.log" 2>&1; then
    tail -20 "$BB.tmp/build.log" >&2
    log "busybox $BUSYBOX_VERSION did not build as a static binary (log above)"
    exit 1
  fi
  mkdir -p "$BB.new"
  install -m 0755 "$BB.tmp/busybox-$BUSYBOX_VERSION/busybox" "$BB.new/busybox"
  echo "$bb_stamp" >"$BB.new/.stamp"
  rm -rf "$BB.tmp"; mv "$BB.new" "$BB"
fi

stamp=$( (cat "$0"; echo "$K8S"; stat -c '%n %s %Y' "$BIN/agnhost" "$BIN/e2e.test" "$BIN/nonewprivs" "$BIN/sample-apiserver" "$BIN/etcd" "$BIN/kbs-images" "$CACHE/conformance-base.tar" "$BB/busybox") | sha256sum | cut -c1-16)
if [[ -f $OUT/.stamp && $(cat "$OUT/.stamp") == "$stamp" ]]; then
  log "up to date ($OUT)"
  exit 0
fi

links=$("$BB/busybox" --list | grep -vx busybox | awk '{printf "%s\"/bin/%s\": \"busybox\"", (NR > 1 ? ", " : ""), $1}')
# nnp keeps upstream's setuid bit: kbs-images writes files 0755, so it
# comes in as a base layer of its own.
rm -rf "$CACHE/nnp" && install -d "$CACHE/nnp/usr/local/bin"
install -m 4755 "$BIN/nonewprivs" "$CACHE/nnp/usr/local/bin/nnp"
tar --sort=name --mtime=@0 --numeric-owner --owner=0 --group=0 -C "$CACHE/nnp" -cf "$CACHE/nnp.tar" .
cat >"$CACHE/nginx.conf" <<'NGINX'
# The conformance stand-in's nginx: port 80, logs to the container's output.
worker_processes 1;
pid /run/nginx.pid;
error_log /dev/stderr;
events {}
http {
  access_log /dev/stdout;
  server {
    listen 80;
    root /var/www/html;
  }
}
NGINX
echo "$AGNHOST_PREV" >"$CACHE/agnhost-prev-tag"
porter=$K8S/test/images/agnhost/porter nautilus=$K8S/test/images/nautilus/html
agnhost_files="\"/agnhost\": \"$BIN/agnhost\", \"/localhost.crt\": \"$porter/localhost.crt\", \"/localhost.key\": \"$porter/localhost.key\""
agnhost_rest='"links": {"/agnhost-2": "agnhost"}, "dirs": {"/uploads": 0}, "entrypoint": ["/agnhost"]'
nginx='"files": {"/etc/nginx/kbs.conf": "'"$CACHE/nginx.conf"'"}, "entrypoint": ["nginx", "-c", "/etc/nginx/kbs.conf", "-g", "daemon off;"]'
cat >"$CACHE/conformance-images.json" <<JSON
[
 {"ref": "kbs.local/e2e-test-images/agnhost:$AGNHOST", "base": "$CACHE/conformance-base.tar", "files": {$agnhost_files}, $agnhost_rest, "cmd": ["pause"]},
 {"ref": "kbs.local/e2e-test-images/agnhost:$AGNHOST_PREV", "base": "$CACHE/conformance-base.tar", "files": {$agnhost_files, "/.kbs-agnhost-tag": "$CACHE/agnhost-prev-tag"}, $agnhost_rest, "cmd": ["pause"]},
 {"ref": "kbs.local/e2e-test-images/nautilus:$NAUTILUS", "base": "$CACHE/conformance-base.tar", "files": {$agnhost_files, "/nautilus.jpg": "$nautilus/nautilus.jpg", "/data.json": "$nautilus/data.json"}, $agnhost_rest, "cmd": ["test-webserver"]},
 {"ref": "kbs.local/e2e-test-images/glibc-dns-testing:$GLIBC_DNS", "base": "$CACHE/conformance-base.tar", "files": {}},
 {"ref": "kbs.local/e2e-test-images/busybox:$BUSYBOX", "files": {"/bin/busybox": "$BB/busybox"}, "links": {$links}, "dirs": {"/tmp": 0}, "cmd": ["sh"]},
 {"ref": "kbs.local/e2e-test-images/nonewprivs:$NONEWPRIVS", "base": "$CACHE/nnp.tar", "files": {}, "cmd": ["/usr/local/bin/nnp"]},
 {"ref": "kbs.local/e2e-test-images/nginx:$NGINX", "base": "$CACHE/conformance-base.tar", $nginx},
 {"ref": "kbs.local/e2e-test-images/nginx:$NGINX_NEW", "base": "$CACHE/conformance-base.tar", $nginx},
 {"ref": "kbs.local/e2e-test-images/sample-apiserver:$SAMPLE_APISERVER", "base": "$CACHE/conformance-base.tar", "files": {"/sample-apiserver": "$BIN/sample-apiserver"}, "entrypoint": ["/sample-apiserver"]},
 {"ref": "kbs.local/etcd:$ETCD_IMAGE", "files": {"/usr/local/bin/etcd": "$BIN/etcd"}, "dirs": {"/var/lib/etcd": 0}, "entrypoint": ["/usr/local/bin/etcd"]}
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
