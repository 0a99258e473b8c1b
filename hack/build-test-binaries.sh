#!/usr/bin/env bash
# Builds the binaries the test environment runs, from pinned Go modules, into
# _output/bin. Idempotent: a binary is rebuilt only when it is missing or was
# built from another pin (recorded in _output/bin/.pins). Prints what it builds
# and how long it took.
#
#   hack/build-test-binaries.sh            # everything
#   hack/build-test-binaries.sh kubernetes # one group: kubernetes | etcd | krew |
#                                          # runtime | network | images | calico |
#                                          # conformance | previous
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=${KBS_BIN_DIR:-$ROOT/_output/bin}
PINS=$OUT/.pins
mkdir -p "$OUT"
touch "$PINS"

K8S_VERSION=v1.37.2
ETCD_VERSION=v3.7.3
KREW_VERSION=v0.4.3
CONTAINERD_VERSION=v2.4.2
CNI_PLUGINS_VERSION=v1.9.1
FLANNEL_VERSION=v0.28.10
FLANNEL_CNI_VERSION=v0.9.1 # containernetworking/plugins, where the flannel meta-plugin last lived
COREDNS_VERSION=v1.14.6
GGCR_VERSION=v0.22.1
CALICO_VERSION=v3.31.0 # the module pseudo-version in hack/tools/calico/go.mod is this release's commit
# The release the upgrade test starts from: Kubernetes one minor back, the
# etcd and CoreDNS its kubeadm pairs with.
PREVIOUS_K8S_VERSION=v1.36.3
PREVIOUS_ETCD_VERSION=v3.6.16
PREVIOUS_COREDNS_VERSION=v1.14.2

K8S_CMDS=(kube-apiserver kube-controller-manager kube-scheduler kube-proxy kubeadm kubectl kubelet)
ETCD_CMDS=(etcd etcdctl etcdutl)
KREW_CMDS=(krew validate-krew-manifest)

# Pinned: go.sum is committed and must not change during a build.
export CGO_ENABLED=0 GOFLAGS=-mod=readonly

log() { printf '[build-test-binaries] %s\n' "$*" >&2; }

# up_to_date NAME PIN: the binary exists and was built from PIN.
up_to_date() {
  [[ -x $OUT/$1 ]] && grep -qxF "$1 $2" "$PINS"
}

# srchash DIR: a short hash of our own sources in a tools module, so a change
# to a main we wrote rebuilds its binary even when the upstream pin stays.
srchash() {
  (cd "$1" && find . -name '*.go' -o -name go.sum | sort | xargs cat) | sha256sum | cut -c1-8
}

record() {
  local name=$1 pin=$2 tmp
  tmp=$(mktemp "$PINS.XXXX")
  grep -v "^$name " "$PINS" >"$tmp" || true
  echo "$name $pin" >>"$tmp"
  mv "$tmp" "$PINS"
}

# build GROUP PIN MODULE_DIR LDFLAGS PKG... : builds the packages whose
# binaries are stale, all in one go invocation so they share compilation.
build() {
  local group=$1 pin=$2 dir=$3 ldflags=$4
  shift 4
  local pkgs=() names=() p name start
  for p in "$@"; do
    name=${p##*/}
    [[ $name == v3 ]] && { name=${p%/v3}; name=${name##*/}; } # go.etcd.io/etcd/etcdctl/v3, etcdutl/v3
    if up_to_date "$name" "$pin"; then continue; fi
    pkgs+=("$p"); names+=("$name")
  done
  if ((${#pkgs[@]} == 0)); then
    log "$group $pin: up to date"
    return
  fi
  log "$group $pin: building ${names[*]}"
  start=$SECONDS
  (cd "$dir" && go build -trimpath -tags "${BUILD_TAGS:-}" -ldflags "$ldflags" -o "$OUT/" "${pkgs[@]}")
  for name in "${names[@]}"; do record "$name" "$pin"; done
  log "$group $pin: built ${names[*]} in $((SECONDS - start))s"
}

# k8s_ldflags stamps the release version where Kubernetes binaries read it:
# component-base serves `--version` and kubeadm's own checks; client-go
# keeps a copy that kubectl reports as its client version.
k8s_ldflags() {
  local v=${K8S_VERSION#v} major minor date ld=""
  major=${v%%.*}; minor=${v#*.}; minor=${minor%%.*}
  date=$(date -u +%Y-%m-%dT%H:%M:%SZ)
  for pkg in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
    ld+=" -X $pkg.gitVersion=$K8S_VERSION -X $pkg.gitMajor=$major -X $pkg.gitMinor=$minor"
    ld+=" -X $pkg.gitTreeState=clean -X $pkg.buildDate=$date"
  done
  echo "-s -w$ld"
}

build_kubernetes() {
  build kubernetes "$K8S_VERSION" "$ROOT/hack/tools/kubernetes" "$(k8s_ldflags)" \
    "${K8S_CMDS[@]/#/k8s.io/kubernetes/cmd/}"
}

# The conformance suite (e2e.test, compiled with go test -c), the ginkgo
# CLI, and what its images run — agnhost, nonewprivs' nnp and the sample API
# server — from the same release; the Kubernetes packages they share with
# the binaries above come from the build cache.
build_conformance() {
  local dir=$ROOT/hack/tools/conformance start
  build conformance "$K8S_VERSION" "$dir" "$(k8s_ldflags)" k8s.io/kubernetes/test/images/agnhost \
    k8s.io/kubernetes/test/images/nonewprivs k8s.io/sample-apiserver
  # The ginkgo CLI of the version e2e.test links, to run specs in parallel
  # processes.
  build conformance "$K8S_VERSION" "$dir" "-s -w" github.com/onsi/ginkgo/v2/ginkgo
  if ! up_to_date e2e.test "$K8S_VERSION"; then
    log "conformance $K8S_VERSION: building e2e.test"
    start=$SECONDS
    (cd "$dir" && go test -c -trimpath -ldflags "$(k8s_ldflags)" -o "$OUT/e2e.test.partial" k8s.io/kubernetes/test/e2e)
    mv "$OUT/e2e.test.partial" "$OUT/e2e.test"
    record e2e.test "$K8S_VERSION"
    log "conformance $K8S_VERSION: built e2e.test in $((SECONDS - start))s"
  fi
}

build_etcd() {
  build etcd "$ETCD_VERSION" "$ROOT/hack/tools/etcd" "-s -w" \
    kbs.test/tools/etcd/cmd/etcd go.etcd.io/etcd/etcdctl/v3 go.etcd.io/etcd/etcdutl/v3
}

build_krew() {
  local ld="-s -w -X sigs.k8s.io/krew/internal/version.gitTag=$KREW_VERSION"
  build krew "$KREW_VERSION" "$ROOT/hack/tools/krew" "$ld" \
    sigs.k8s.io/krew/cmd/krew sigs.k8s.io/krew/cmd/validate-krew-manifest
}

# The node runtime: containerd (btrfs snapshotter off: it needs cgo headers)
# and the CNI plugins flannel delegates to.
build_runtime() {
  BUILD_TAGS=no_btrfs build runtime "$CONTAINERD_VERSION" "$ROOT/hack/tools/containerd" "-s -w" \
    github.com/containerd/containerd/v2/cmd/containerd \
    github.com/containerd/containerd/v2/cmd/containerd-shim-runc-v2 \
    github.com/containerd/containerd/v2/cmd/ctr
  build cni "$CNI_PLUGINS_VERSION" "$ROOT/hack/tools/containerd" "-s -w" \
    github.com/containernetworking/plugins/plugins/main/bridge \
    github.com/containernetworking/plugins/plugins/main/loopback \
    github.com/containernetworking/plugins/plugins/ipam/host-local \
    github.com/containernetworking/plugins/plugins/meta/portmap
}

# The cluster's add-ons: flanneld (our own small main), the flannel CNI
# plugin and CoreDNS with kubeadm's plugins only.
build_network() {
  build flannel "$FLANNEL_VERSION+$(srchash "$ROOT/hack/tools/flannel")" "$ROOT/hack/tools/flannel" "-s -w" kbs.test/tools/flannel/cmd/flanneld
  build flannel-cni "$FLANNEL_CNI_VERSION" "$ROOT/hack/tools/flannel-cni" "-s -w" \
    github.com/containernetworking/plugins/plugins/meta/flannel
  build coredns "$COREDNS_VERSION+$(srchash "$ROOT/hack/tools/coredns")" "$ROOT/hack/tools/coredns" "-s -w" kbs.test/tools/coredns/cmd/coredns
}

# The image writer, the conformance run's registry and the pause binary (C, static, from the kubernetes
# module's own source).
build_images() {
  # Each pinned by its own sources and the module's go.sum: the bundle is
  # rebuilt when kbs-images changes, and must not be for the registry.
  local sums
  sums=$(sha256sum "$ROOT/hack/tools/images/go.sum" | cut -c1-8)
  build images "$GGCR_VERSION+$(srchash "$ROOT/hack/tools/images/cmd/kbs-images")+$sums" "$ROOT/hack/tools/images" "-s -w" kbs.test/tools/images/cmd/kbs-images
  build registry "$GGCR_VERSION+$(srchash "$ROOT/hack/tools/images/cmd/kbs-registry")+$sums" "$ROOT/hack/tools/images" "-s -w" kbs.test/tools/images/cmd/kbs-registry
  if ! up_to_date pause "$K8S_VERSION"; then
    local src
    src=$(cd "$ROOT/hack/tools/kubernetes" && go list -m -f '{{.Dir}}' k8s.io/kubernetes)/build/pause/linux/pause.c
    [[ -f $src ]] || (cd "$ROOT/hack/tools/kubernetes" && go mod download k8s.io/kubernetes)
    log "pause $K8S_VERSION: gcc -static $src"
    gcc -Os -static -o "$OUT/pause" "$src"
    strip "$OUT/pause"
    record pause "$K8S_VERSION"
  fi
}

# Calico's node agent, CNI plugin and installer, and kube-controllers with
# its health check, into their own directory (install and check-status are
# too generic to sit beside the others). CGO off: felix's eBPF data plane
# needs a newer libbpf than Debian 12's, and kbs runs calico in iptables
# mode with VXLAN.
build_calico() {
  local OUT=$OUT/calico
  mkdir -p "$OUT"
  build calico "$CALICO_VERSION" "$ROOT/hack/tools/calico" "-s -w -X github.com/projectcalico/calico/pkg/buildinfo.Version=$CALICO_VERSION" \
    github.com/projectcalico/calico/node/cmd/calico-node \
    github.com/projectcalico/calico/cni-plugin/cmd/calico \
    github.com/projectcalico/calico/cni-plugin/cmd/install \
    github.com/projectcalico/calico/kube-controllers/cmd/kube-controllers \
    github.com/projectcalico/calico/kube-controllers/cmd/check-status
}

# The previous release, into _output/bin/previous with its own pins: its
# Kubernetes, etcd and CoreDNS built from their own tool modules, and links
# to the shared binaries (runtime, CNI, flannel, calico, pause, the image
# writer), so that hack/build-bundle.sh makes its bundle from that folder.
build_previous() {
  local shared=$OUT
  local OUT=$OUT/previous
  local PINS=$OUT/.pins
  local K8S_VERSION=$PREVIOUS_K8S_VERSION
  mkdir -p "$OUT"; touch "$PINS"
  build kubernetes "$K8S_VERSION" "$ROOT/hack/tools/kubernetes-previous" "$(k8s_ldflags)" \
    "${K8S_CMDS[@]/#/k8s.io/kubernetes/cmd/}"
  build etcd "$PREVIOUS_ETCD_VERSION" "$ROOT/hack/tools/etcd-previous" "-s -w" \
    kbs.test/tools/etcd-previous/cmd/etcd go.etcd.io/etcd/etcdctl/v3 go.etcd.io/etcd/etcdutl/v3
  build coredns "$PREVIOUS_COREDNS_VERSION+$(srchash "$ROOT/hack/tools/coredns-previous")" "$ROOT/hack/tools/coredns-previous" "-s -w" \
    kbs.test/tools/coredns-previous/cmd/coredns
  local name
  for name in containerd containerd-shim-runc-v2 ctr bridge host-local loopback portmap flanneld flannel pause kbs-images calico; do
    [[ -e $shared/$name ]] || { log "previous: $shared/$name missing: build the other groups first"; exit 1; }
    # Touched only when wrong: the bundle script's stamp reads their times.
    [[ $(readlink "$OUT/$name" 2>/dev/null) == "../$name" ]] || ln -sfn "../$name" "$OUT/$name"
    grep -E "^$name " "$shared/.pins" >>"$PINS.tmp" || true
  done
  grep -E "^calico-node " "$shared/.pins" >>"$PINS.tmp" || true
  grep -vE "^(containerd|containerd-shim-runc-v2|ctr|bridge|host-local|loopback|portmap|flanneld|flannel|pause|kbs-images|calico|calico-node) " "$PINS" >>"$PINS.tmp" || true
  if cmp -s "$PINS.tmp" "$PINS"; then rm "$PINS.tmp"; else mv "$PINS.tmp" "$PINS"; fi
}

groups=("$@")
((${#groups[@]})) || groups=(kubernetes etcd krew runtime network images calico conformance previous)
total=$SECONDS
for g in "${groups[@]}"; do
  case $g in
    kubernetes) build_kubernetes ;;
    etcd) build_etcd ;;
    krew) build_krew ;;
    runtime) build_runtime ;;
    network) build_network ;;
    images) build_images ;;
    calico) build_calico ;;
    conformance) build_conformance ;;
    previous) build_previous ;;
    *) log "unknown group $g: want kubernetes, etcd, krew, runtime, network, images, calico, conformance or previous"; exit 2 ;;
  esac
done
log "done in $((SECONDS - total))s; binaries in $OUT"
