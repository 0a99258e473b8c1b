#!/usr/bin/env bash
# make demo: the operator's k8s cluster (etcd0, master-0, worker-0, worker-1)
# on local systemd-nspawn nodes, brought up by `kubectl kbs init` over SSH,
# then the day-to-day commands against it. Everything it needs is built
# first (cached). `make demo-down` removes it. KBS_DEMO_HA=1 (make demo-ha)
# boots the HA shape instead: etcd0-2, master-0 and master-1 behind a VIP,
# worker-0.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/_output
DEMO=$OUT/demo
KBS=$OUT/kubectl-kbs
export PATH=$OUT/bin:$PATH
export KUBECONFIG=$DEMO/kubeconfig

step() { printf '\n\033[1m== %s\033[0m\n' "$*" >&2; }

start=$SECONDS
step "local nodes (systemd-nspawn, one bridge)"
go run ./test/demo up "$DEMO"
booted=$SECONDS

step "kubectl kbs init -f $DEMO/cluster.yaml"
"$KBS" init -f "$DEMO/cluster.yaml" --known-hosts "$DEMO/known_hosts" --state-dir "$DEMO/state"
ready=$SECONDS

step "kubectl get nodes -o wide"
kubectl get nodes -o wide
kubectl get pods -A -o wide

step "kubectl kbs user create mikeadmin -n prod (client certificate from the cluster's CSR API, Role, RoleBinding, verified)"
"$KBS" user create mikeadmin --group robotnik.io -n prod --create-namespace \
  --verb get,list,watch,create --resource deployments,pods
kubectl --context mikeadmin@k8s -n prod auth can-i create deployments
kubectl --context mikeadmin@k8s -n prod auth can-i delete deployments || true

step "kubectl kbs inspect"
"$KBS" inspect
"$KBS" inspect static-pods

if "$KBS" diag --help >/dev/null 2>&1; then
  step "kubectl kbs diag node worker-0"
  "$KBS" diag node worker-0 -f "$DEMO/cluster.yaml" --known-hosts "$DEMO/known_hosts" --bundle "$DEMO/worker-0-diag.tar.gz" || true
fi

step "done"
cat >&2 <<MSG
nodes booted in $((booted - start))s, kbs init took $((ready - booted))s, demo $((SECONDS - start))s in all.
Use it:   export KUBECONFIG=$KUBECONFIG PATH=$OUT/bin:\$PATH; kubectl get nodes
Remove:   make demo-down
MSG
