#!/usr/bin/env bash
# Builds an air-gapped node bundle for `kubectl kbs init` (spec
# runtime.source: bundle) from the test binaries, into _output/bundle:
#
#   bin/       kubelet kubeadm kubectl containerd containerd-shim-runc-v2 ctr runc
#   cni/       bridge host-local loopback portmap (all gzipped: NAME.gz)
#   images.tar kube-proxy, CoreDNS, pause and flannel images, which every
#              node runs (docker-archive, for `ctr -n k8s.io images import`)
#   images-control-plane.tar  API server, controller manager, scheduler
#   images-calico.tar  calico-node, its CNI plugin and kube-controllers, sent
#              only to the nodes of a calico cluster
#   calico/    calico's upstream manifest (calico-vxlan.yaml) of the release
#              the images are built from, out of the calico Go module; kbs
#              checks it against its pin and applies it from this machine
#   debs/      haproxy and keepalived with the libraries a Debian 12 server
#              without them lacks, for a kbs-managed control-plane endpoint
#              (spec.loadBalancer); installed on control planes with dpkg -i
#   SHA256SUMS what kbs verifies on the nodes after upload (of the plain files)
#   VERSIONS   what the bundle holds
#
# Idempotent: rebuilt when an input binary changes. runc is Debian's package
# (apt-get download); image base layer is a Debian minbase with the tools
# kube-proxy and flannel call (iptables, nftables, conntrack, ipset, iproute2).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${KBS_BIN_DIR:-$ROOT/_output/bin}
OUT=${KBS_BUNDLE_DIR:-$ROOT/_output/bundle}
BASE=$ROOT/_output/rootfs/image-base
CACHE=$ROOT/_output/cache
REPO=${KBS_IMAGE_REPOSITORY:-kbs.local}
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# calico-node needs kmod, procps and net-tools beside what kube-proxy and
# flannel call.
BASE_PACKAGES=iptables,nftables,conntrack,ipset,iproute2,kmod,procps,net-tools

log() { printf '[build-bundle] %s\n' "$*" >&2; }
# pin NAME: the version a binary was built from (without our source hash).
pin() { awk -v n="$1" '$1 == n {print $2}' "$BIN/.pins" | cut -d+ -f1; }

K8S=$(pin kubeadm) CONTAINERD=$(pin containerd) FLANNEL=$(pin flanneld) COREDNS=$(pin coredns) FLANNEL_CNI=$(pin flannel)
CALICO=$(pin calico-node)
[[ -n $K8S && -n $CONTAINERD && -n $FLANNEL && -n $COREDNS && -n $CALICO ]] || {
  log "test binaries missing: run hack/build-test-binaries.sh first"; exit 1; }
PAUSE=3.10.2 # what kubeadm $K8S deploys

start=$SECONDS
mkdir -p "$CACHE"

# The image base layer: a second, small Debian root.
base_stamp=$(echo "bookworm $BASE_PACKAGES" | sha256sum | cut -c1-16)
if [[ ! -f $BASE/.stamp || $(cat "$BASE/.stamp") != "$base_stamp" ]]; then
  log "debootstrap image base ($BASE_PACKAGES)"
  rm -rf "$BASE.tmp"
  debootstrap --variant=minbase --include="$BASE_PACKAGES" bookworm "$BASE.tmp" "$MIRROR" >"$CACHE/image-base.log" 2>&1 || {
    tail -20 "$CACHE/image-base.log" >&2; exit 1; }
  rm -rf "$BASE.tmp"/var/cache/apt/archives/*.deb "$BASE.tmp"/var/lib/apt/lists/*
  echo "$base_stamp" >"$BASE.tmp/.stamp"
  rm -rf "$BASE"; mv "$BASE.tmp" "$BASE"
fi
if [[ ! -f $CACHE/base.tar || $BASE/.stamp -nt $CACHE/base.tar ]]; then
  tar --sort=name --mtime=@0 --numeric-owner --exclude=./.stamp -C "$BASE" -cf "$CACHE/base.tar.tmp" .
  mv "$CACHE/base.tar.tmp" "$CACHE/base.tar"
fi

# runc from Debian, unpacked from its package.
if [[ ! -x $CACHE/runc/usr/sbin/runc ]]; then
  log "runc from Debian"
  rm -rf "$CACHE/runc" "$CACHE"/runc_*.deb
  (cd "$CACHE" && apt-get download runc >/dev/null)
  dpkg-deb -x "$CACHE"/runc_*.deb "$CACHE/runc"
fi

# haproxy and keepalived for spec.loadBalancer, from Debian (apt-get
# download), with what the node rootfs (a minimal bookworm) lacks: keepalived
# links net-snmp, which links perl (../shared/E2E-RECIPE.md measured the list).
LB_DEBS=(haproxy keepalived libglib2.0-0 libnl-3-200 libnl-genl-3-200 libsnmp40 libsnmp-base libperl5.36
  perl-modules-5.36 libgdbm6 libgdbm-compat4 libpci3 pci.ids libsensors5 libsensors-config liblua5.3-0
  libopentracing-c-wrapper0 libopentracing1)
lb_stamp=$(echo "${LB_DEBS[*]}" | sha256sum | cut -c1-16)
if [[ ! -f $CACHE/lb-debs/.stamp || $(cat "$CACHE/lb-debs/.stamp") != "$lb_stamp" ]]; then
  log "haproxy and keepalived from Debian"
  rm -rf "$CACHE/lb-debs.tmp"; mkdir -p "$CACHE/lb-debs.tmp"
  (cd "$CACHE/lb-debs.tmp" && apt-get download "${LB_DEBS[@]}" >/dev/null)
  echo "$lb_stamp" >"$CACHE/lb-debs.tmp/.stamp"
  rm -rf "$CACHE/lb-debs"; mv "$CACHE/lb-debs.tmp" "$CACHE/lb-debs"
fi

# calico's manifest, from the module the calico binaries were built from.
CALICO_MOD=$(cd "$ROOT/hack/tools/calico" && go mod download -json github.com/projectcalico/calico | awk -F'"' '$2 == "Dir" {print $4}')
[[ -f $CALICO_MOD/manifests/calico-vxlan.yaml ]] || { log "no calico module at $CALICO_MOD"; exit 1; }

inputs=("$ROOT/hack/images/calico-node-start" "$BIN"/calico/{calico-node,calico,install,kube-controllers,check-status} "$CALICO_MOD/manifests/calico-vxlan.yaml" "$BIN"/{kubelet,kubeadm,kubectl,containerd,containerd-shim-runc-v2,ctr,bridge,host-local,loopback,portmap,kube-apiserver,kube-controller-manager,kube-scheduler,kube-proxy,coredns,pause,flanneld,flannel} "$CACHE/base.tar" "$CACHE/runc/usr/sbin/runc" "$CACHE"/lb-debs/*.deb "$BIN/kbs-images")
# The pins of the bundle's own binaries only: a rebuilt conformance or krew
# binary does not make a new bundle.
pins=$(for f in "${inputs[@]}"; do [[ $f == "$BIN"/* ]] && grep "^${f##*/} " "$BIN/.pins"; done || true)
stamp=$( (echo "$REPO"; cat "$0"; echo "$pins"; stat -c '%n %s %Y' "${inputs[@]}") | sha256sum | cut -c1-16)
if [[ -f $OUT/.stamp && $(cat "$OUT/.stamp") == "$stamp" ]]; then
  log "up to date ($OUT)"
  exit 0
fi

tmp=$OUT.tmp
rm -rf "$tmp"; mkdir -p "$tmp/bin" "$tmp/cni" "$tmp/debs" "$tmp/calico"
cp "$CALICO_MOD/manifests/calico-vxlan.yaml" "$tmp/calico/"
cp "$CACHE"/lb-debs/*.deb "$tmp/debs/"
cp "$BIN"/{kubelet,kubeadm,kubectl,containerd,containerd-shim-runc-v2,ctr} "$CACHE/runc/usr/sbin/runc" "$tmp/bin/"
cp "$BIN"/{bridge,host-local,loopback,portmap} "$tmp/cni/"

# Two archives: what every node runs, and what only control planes run, so
# that workers are not sent the API server, controller manager and scheduler.
cat >"$CACHE/images.json" <<JSON
[
 {"ref": "$REPO/kube-proxy:$K8S", "base": "$CACHE/base.tar", "files": {"/usr/local/bin/kube-proxy": "$BIN/kube-proxy"}},
 {"ref": "$REPO/coredns:$COREDNS", "files": {"/coredns": "$BIN/coredns"}, "entrypoint": ["/coredns"]},
 {"ref": "$REPO/pause:$PAUSE", "files": {"/pause": "$BIN/pause"}, "entrypoint": ["/pause"]},
 {"ref": "$REPO/flannel:$FLANNEL", "base": "$CACHE/base.tar", "files": {"/opt/bin/flanneld": "$BIN/flanneld"}, "entrypoint": ["/opt/bin/flanneld"]},
 {"ref": "$REPO/flannel-cni-plugin:$FLANNEL_CNI", "base": "$CACHE/base.tar", "files": {"/flannel": "$BIN/flannel"}}
]
JSON
cat >"$CACHE/images-control-plane.json" <<JSON
[
 {"ref": "$REPO/kube-apiserver:$K8S", "files": {"/usr/local/bin/kube-apiserver": "$BIN/kube-apiserver"}},
 {"ref": "$REPO/kube-controller-manager:$K8S", "files": {"/usr/local/bin/kube-controller-manager": "$BIN/kube-controller-manager"}},
 {"ref": "$REPO/kube-scheduler:$K8S", "files": {"/usr/local/bin/kube-scheduler": "$BIN/kube-scheduler"}}
]
JSON
# calico's three images: the node agent on the shared base (it calls
# iptables, ipset, ip), the CNI plugin with its installer (calico-ipam is
# the same binary: a link to it, which the installer copies as a file),
# kube-controllers as a non-root user
# (the manifest says runAsNonRoot) with the directory it reports status in.
C=$BIN/calico
cat >"$CACHE/images-calico.json" <<JSON
[
 {"ref": "$REPO/calico-node:$CALICO", "base": "$CACHE/base.tar", "files": {"/usr/bin/calico-node": "$C/calico-node", "/usr/local/bin/kbs-calico-node-start": "$ROOT/hack/images/calico-node-start"}, "entrypoint": ["/usr/local/bin/kbs-calico-node-start"]},
 {"ref": "$REPO/calico-cni:$CALICO", "files": {"/opt/cni/bin/calico": "$C/calico", "/opt/cni/bin/install": "$C/install"}, "links": {"/opt/cni/bin/calico-ipam": "calico"}, "entrypoint": ["/opt/cni/bin/install"]},
 {"ref": "$REPO/calico-kube-controllers:$CALICO", "files": {"/usr/bin/kube-controllers": "$C/kube-controllers", "/usr/bin/check-status": "$C/check-status"}, "entrypoint": ["/usr/bin/kube-controllers"], "user": "999", "dirs": {"/status": 999}}
]
JSON
log "writing images ($REPO/*)"
"$BIN/kbs-images" -out "$tmp/images.tar" -spec "$CACHE/images.json"
"$BIN/kbs-images" -out "$tmp/images-control-plane.tar" -spec "$CACHE/images-control-plane.json"
"$BIN/kbs-images" -out "$tmp/images-calico.tar" -spec "$CACHE/images-calico.json"

cat >"$tmp/VERSIONS" <<V
kubernetes $K8S
containerd $CONTAINERD
runc $("$tmp/bin/runc" --version | awk 'NR==1{print $3}')
cni-plugins $(pin bridge)
flannel $FLANNEL
flannel-cni-plugin $FLANNEL_CNI
coredns $COREDNS
calico $CALICO
pause $PAUSE
haproxy $(dpkg-deb -f "$tmp"/debs/haproxy_*.deb Version)
keepalived $(dpkg-deb -f "$tmp"/debs/keepalived_*.deb Version)
image-repository $REPO
V
(cd "$tmp" && find bin cni debs calico images.tar images-control-plane.tar images-calico.tar VERSIONS -type f | sort | xargs sha256sum >SHA256SUMS)
# Binaries travel gzipped (a third of their size; nodes decompress them as
# they arrive); SHA256SUMS keeps the sums of the plain files, which the
# nodes check. Image layers are compressed already.
log "compressing binaries"
pids=()
for f in "$tmp"/bin/* "$tmp"/cni/*; do gzip -6 "$f" & pids+=($!); done
for p in "${pids[@]}"; do wait "$p"; done
echo "$stamp" >"$tmp/.stamp"
rm -rf "$OUT"; mv "$tmp" "$OUT"
log "built $OUT in $((SECONDS - start))s ($(du -sh "$OUT" | cut -f1))"
