package main

import (
	"bufio"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/test/env"
)

// serveImages starts kbs-registry with the conformance images where the
// spec's nodes mirror kbs.local to (test/localcluster's specs do), for the
// specs that pull Always — the Projected PodCertificate mTLS pods, the
// ImageVolume ones — which fail on nodes without a registry. stop ends it;
// so does this process's end, which closes the registry's standard input.
func serveImages(specPath string) (stop func(), err error) {
	spec, err := cluster.LoadOne(specPath, "")
	if err != nil {
		return nil, err
	}
	mirrors := spec.Spec.Runtime.RegistryMirrors["kbs.local"]
	if len(mirrors) == 0 {
		fmt.Fprintf(os.Stderr, "conformance: %s mirrors no registry for kbs.local: the specs that pull Always will fail (make demo writes a spec that does)\n", specPath)
		return func() {}, nil
	}
	u, err := url.Parse(mirrors[0])
	if err != nil || u.Scheme != "http" || u.Port() == "" {
		return nil, fmt.Errorf("the mirror of kbs.local, %s, is not an http://HOST:PORT kbs-registry can serve (%v)", mirrors[0], err)
	}
	bin, err := env.Binary("kbs-registry")
	if err != nil {
		return nil, err
	}
	out, err := env.OutputDir()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "-listen", u.Host, "-registry", "kbs.local", filepath.Join(out, "conformance", "images.tar"))
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	stop = func() { _ = stdin.Close(); _ = cmd.Wait() }
	ready := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		ready <- line
	}()
	select {
	case line := <-ready:
		if !strings.HasPrefix(line, "serving ") {
			stop()
			return nil, fmt.Errorf("kbs-registry at %s did not start: see its error above", u.Host)
		}
		fmt.Print(line)
		return stop, nil
	case <-time.After(5 * time.Minute):
		_ = cmd.Process.Kill()
		stop()
		return nil, fmt.Errorf("kbs-registry at %s pushed nothing ready within 5m", u.Host)
	}
}
