# A kubelet log with the variety of a real one (timestamps, pod names, UIDs,
# hashes, addresses differ line by line), for the diag benchmark: run as
#   awk -v size=BYTES -f kubelet-log.awk </dev/null
# It compresses about 4x with zstd -1, as real kubelet logs do; a repeated
# line compresses a thousandfold and flatters every compressor.
BEGIN {
  srand(42)
  split("kubelet.go:2468|kubelet.go:2541|pod_workers.go:1301|kuberuntime_manager.go:1056|prober.go:107|reconciler_common.go:245|status_manager.go:890|eviction_manager.go:369|kubelet_node_status.go:549|cri_stats_provider.go:455", src, "|")
  split("kube-proxy|coredns|kube-flannel-ds|nginx-deploy|metrics-server|etcd-backup|prometheus-node-exporter|fluent-bit|ingress-nginx-controller|cert-manager", app, "|")
  split("kube-system|kube-flannel|default|monitoring|ingress-nginx|cert-manager|logging|prod", ns, "|")
  hex = "0123456789abcdef"; an = "bcdfghjklmnpqrstvwxz2456789"
  t = 1764045256; us = 0; n = 0
}
function rs(chars, k,   s, i) { s = ""; for (i = 0; i < k; i++) s = s substr(chars, int(rand() * length(chars)) + 1, 1); return s }
BEGIN {
  while (n < size) {
    us += int(rand() * 20000); if (us >= 1000000) { t += int(us / 1000000); us %= 1000000 }
    pod = ns[int(rand()*8)+1] "/" app[int(rand()*10)+1] "-" rs(an, 10) "-" rs(an, 5)
    r = rand()
    if (r < 0.3) msg = "\"SyncLoop (PLEG): event for pod\" pod=\"" pod "\" event={\"ID\":\"" rs(hex,8) "-" rs(hex,4) "-" rs(hex,4) "-" rs(hex,12) "\",\"Type\":\"ContainerStarted\",\"Data\":\"" rs(hex,64) "\"}"
    else if (r < 0.5) msg = "\"Probe failed\" probeType=\"Readiness\" pod=\"" pod "\" podUID=\"" rs(hex,8) "-" rs(hex,4) "-" rs(hex,4) "\" containerName=\"app\" probeResult=\"failure\" output=\"Get \\\"http://10.244." int(rand()*4) "." int(rand()*250) ":8080/healthz\\\": dial tcp: connect: connection refused\""
    else if (r < 0.7) msg = "\"operationExecutor.MountVolume started for volume\" volumeName=\"kubernetes.io/projected/" rs(hex,8) "-kube-api-access-" rs(an,5) "\" pod=\"" pod "\""
    else if (r < 0.85) msg = "\"Observed pod startup duration\" pod=\"" pod "\" podStartSLOduration=" int(rand()*100) "." int(rand()*1000000) " observedRunningTime=\"2026-11-25 04:" int(rand()*60) ":" int(rand()*60) "." int(rand()*1000000000) " +0000 UTC\""
    else msg = "\"Failed to update status for pod\" err=\"failed to patch status: Operation cannot be fulfilled on pods \\\"" app[int(rand()*10)+1] "\\\": the object has been modified\" pod=\"" pod "\""
    line = sprintf("I1125 %s.%06d     712 %s] %s", strftime("%H:%M:%S", t, 1), us, src[int(rand()*10)+1], msg)
    print line
    n += length(line) + 1
  }
  exit
}
