package bootstrap

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/util/wait"
)

// The clean-up of a killed run's probe listeners ends a listener and spares
// the shell that runs it (whose own command line names the same files).
func TestStaleProbesCmdMatchesListenersOnly(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Fatalf("bash is needed to name a stand-in listener: %v", err)
	}
	// A stand-in listener: a sleep whose command line reads as the probe's.
	listener := exec.Command(bash, "-c", `exec -a "timeout 60 socat TCP-LISTEN:6443,fork,reuseaddr SYSTEM:true kbs-probe" sleep 60`)
	if err := listener.Start(); err != nil {
		t.Fatal(err)
	}
	defer listener.Process.Kill()
	// Once bash has exec'd, the process's command line is the probe's.
	cmdline := "/proc/" + strconv.Itoa(listener.Process.Pid) + "/cmdline"
	err = wait.PollUntilContextTimeout(context.Background(), 10*time.Millisecond, 10*time.Second, true, func(context.Context) (bool, error) {
		b, _ := os.ReadFile(cmdline)
		return strings.HasPrefix(string(b), "timeout 60 socat"), nil
	})
	if err != nil {
		t.Fatalf("the stand-in listener never started: %v", err)
	}
	probe := strings.Replace(staleProbesCmd, "pkill -f", "pgrep -f", 1)
	out, _ := exec.Command("sh", "-c", probe).Output()
	pids := strings.Fields(string(out))
	if len(pids) != 1 || pids[0] != strconv.Itoa(listener.Process.Pid) {
		t.Fatalf("the clean-up would end %v, want only the listener %d", pids, listener.Process.Pid)
	}
}
