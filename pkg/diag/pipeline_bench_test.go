package diag

import (
	"bytes"
	"path/filepath"
	"testing"
)

const benchLine = `2026-11-25T04:34:16.627685+00:00 worker-0 kubelet[712]: I1125 04:34:16.627685     712 kubelet.go:2468] "SyncLoop (PLEG): event for pod" pod="kube-system/kube-proxy-x8k2p" event={"ID":"0f9a","Type":"ContainerStarted"}` + "\n"

func benchLog(size int) []byte {
	return bytes.Repeat([]byte(benchLine), size/len(benchLine))
}

// BenchmarkBundleAdd is collection's local cost per byte: redaction, spool,
// gzip.
func BenchmarkBundleAdd(b *testing.B) {
	data := benchLog(64 << 20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		bu, err := NewBundle(filepath.Join(b.TempDir(), "b.tar.gz"), true, 0)
		if err != nil {
			b.Fatal(err)
		}
		bu.Add("n", "journal/kubelet.log", "ssh", bytes.NewReader(data))
		bu.Close()
	}
}

// BenchmarkAnalyze is the analyzers' and timeline's cost per byte.
func BenchmarkAnalyze(b *testing.B) {
	data := benchLog(64 << 20)
	path := filepath.Join(b.TempDir(), "b.tar.gz")
	bu, _ := NewBundle(path, false, 0)
	bu.Add("n", "journal/kubelet.log", "ssh", bytes.NewReader(data))
	bu.SetNode("n", NodeInfo{Role: "worker"})
	bu.Close()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Analyze(path); err != nil {
			b.Fatal(err)
		}
	}
}
