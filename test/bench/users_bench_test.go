//go:build integration

package bench

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kubectl-kbs/kbs/test/env"
	"github.com/kubectl-kbs/kbs/test/kbsrun"
)

// BenchmarkUserCreate makes the notes' mikeadmin (a user who may get, list,
// watch and create deployments and pods in prod) once per iteration, with
// `kubectl kbs user create` (CSR API, RBAC, kubeconfig, verification) and with
// the notes' manual flow (openssl key, CSR and x509 with the cluster CA,
// kubectl config set-credentials and set-context, kubectl create role and
// rolebinding).
func BenchmarkUserCreate(b *testing.B) {
	needControlPlane(b)
	kubectl, err := env.Binary("kubectl")
	if err != nil {
		b.Fatal(err)
	}
	kc := filepath.Join(b.TempDir(), "config")
	data, _ := os.ReadFile(cp.AdminKubeconfig)
	os.WriteFile(kc, data, 0o600)
	run := func(name string, args ...string) {
		out, err := exec.Command(name, args...).CombinedOutput()
		if err != nil {
			b.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	run(kubectl, "--kubeconfig", kc, "create", "namespace", "prod")
	i := 0
	b.Run("kbs", func(b *testing.B) {
		for b.Loop() {
			i++
			_, errOut, err := kbsrun.Run(context.Background(), "user", "create", fmt.Sprintf("kbs-%d", i), "--group", "robotnik.io", "-n", "prod",
				"--verb", "get,list,watch,create", "--resource", "deployments,pods", "--kubeconfig", kc)
			if err != nil {
				b.Fatalf("%v\n%s", err, errOut)
			}
		}
	})
	dir := b.TempDir()
	b.Run("manual", func(b *testing.B) {
		for b.Loop() {
			i++
			u := fmt.Sprintf("manual-%d", i)
			key, csr, crt := filepath.Join(dir, u+".key"), filepath.Join(dir, u+".csr"), filepath.Join(dir, u+".crt")
			k := func(args ...string) { run(kubectl, append([]string{"--kubeconfig", kc}, args...)...) }
			run("openssl", "genrsa", "-out", key, "2048")
			run("openssl", "req", "-new", "-key", key, "-out", csr, "-subj", "/CN="+u+"/O=robotnik.io")
			run("openssl", "x509", "-req", "-in", csr, "-CA", cp.PKI.CA, "-CAkey", cp.PKI.CAKey, "-CAcreateserial", "-out", crt, "-days", "30")
			k("config", "set-credentials", u, "--client-certificate="+crt, "--client-key="+key, "--embed-certs=true")
			k("config", "set-context", u+"-context", "--cluster=kbs-test", "--namespace=prod", "--user="+u)
			k("create", "role", u, "-n", "prod", "--verb=get,list,watch,create", "--resource=deployments,pods")
			k("create", "rolebinding", u, "-n", "prod", "--role="+u, "--user="+u)
		}
	})
}
