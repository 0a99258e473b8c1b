package state

import (
	"errors"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// One mutating command at a time: a second Lock is refused and told who
// holds the directory; once released, the next one gets it.
func TestLockIsExclusive(t *testing.T) {
	dir := t.TempDir()
	release, err := Lock(dir, "kbs init -f k8s.yaml")
	if err != nil {
		t.Fatal(err)
	}
	_, err = Lock(dir, "kbs etcd certs rotate")
	if !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "kbs init -f k8s.yaml") || !strings.Contains(err.Error(), "pid ") {
		t.Fatalf("second lock: %v, want ErrLocked naming the holder", err)
	}
	release()
	again, err := Lock(dir, "kbs etcd certs rotate")
	if err != nil {
		t.Fatalf("after release: %v", err)
	}
	again()
}

// A lock held by another process is refused, and dies with that process:
// a killed kbs leaves no stale lock behind.
func TestLockHeldByAnotherProcess(t *testing.T) {
	if os.Getenv("KBS_LOCK_CHILD") != "" {
		if _, err := Lock(os.Getenv("KBS_LOCK_CHILD"), "child"); err != nil {
			os.Exit(3)
		}
		os.Stdout.WriteString("locked\n")
		os.Stdin.Read(make([]byte, 1)) // hold it until the parent kills us
		os.Exit(0)
	}
	dir := t.TempDir()
	child := exec.Command(os.Args[0], "-test.run", "^TestLockHeldByAnotherProcess$")
	child.Env = append(os.Environ(), "KBS_LOCK_CHILD="+dir)
	stdin, _ := child.StdinPipe()
	defer stdin.Close()
	out, _ := child.StdoutPipe()
	if err := child.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := out.Read(buf); err != nil || string(buf) != "locked\n" {
		t.Fatalf("child: %q %v", buf, err)
	}
	if _, err := Lock(dir, "parent"); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "child") {
		t.Fatalf("while the child holds it: %v", err)
	}
	child.Process.Kill()
	child.Wait()
	release, err := Lock(dir, "parent")
	if err != nil {
		t.Fatalf("after the holder was killed: %v", err)
	}
	release()
}
