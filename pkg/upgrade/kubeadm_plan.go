package upgrade

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/bundle"
	"github.com/kubectl-kbs/kbs/pkg/cluster"
	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/remote"
	"github.com/kubectl-kbs/kbs/pkg/shell"
)

// kubeadmPlanDir is where `upgrade plan` stages the target's kubeadm on
// the first control plane when the host's own is another release: a
// private directory of kbs's, nothing on the PATH, so the node still runs
// and upgrades with what it had; removed once the plan has run (a read
// command leaves no 70 MB binary behind).
const kubeadmPlanDir = "/var/lib/kbs/upgrade"

// KubeadmPlan is what the target's `kubeadm upgrade plan VERSION` said on
// the first control plane.
type KubeadmPlan struct {
	Host string
	// APIServer is the kube-apiserver version kubeadm would upgrade to; ""
	// when it found nothing to upgrade.
	APIServer string
	// Skipped says why kubeadm did not run; Error why it failed (its
	// message: a failed preflight check, an unhealthy control plane).
	Skipped, Error string
}

// observeKubeadmPlan runs the target's kubeadm upgrade plan on the first
// control plane, with the spec's ignored preflight checks: kubeadm's own
// health checks (control-plane nodes ready, static pod manifests, a Job
// scheduled and run) and what it computes the upgrade to be, before apply
// depends on them (kubeadm's version-skew policy runs only in its apply;
// kbs's own skew checks stand for it here). The target's kubeadm is the
// host's when it is that release, else the bundle's, staged; with packages
// it only arrives with apply. The Job runs the target's pause image, which
// a bundle cluster imports only in apply's images phase: a target whose
// pause tag differs from the running release's fails this check until
// then (v1.36 and v1.37 share pause 3.10.2).
func observeKubeadmPlan(ctx context.Context, s *host.Session, o *Observed, target string) {
	c := s.Cluster()
	cps := c.HostsWithRole(cluster.RoleControlPlane)
	if len(cps) == 0 {
		o.KubeadmPlan = KubeadmPlan{Error: "the spec has no control plane"}
		return
	}
	p := KubeadmPlan{Host: cps[0].Name}
	defer func() { o.KubeadmPlan = p }()
	h, err := s.Open(ctx, cps[0])
	if err != nil {
		p.Error = err.Error()
		return
	}
	kubeadm, skip, err := targetKubeadm(ctx, h, c, target)
	if strings.HasPrefix(kubeadm, kubeadmPlanDir) {
		defer func() {
			// Even when the plan was cut short: nothing is left behind.
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
			defer cancel()
			_ = h.Exec(ctx, "remove the staged kubeadm", "rm -rf "+shell.Quote(kubeadmPlanDir))
		}()
	}
	switch {
	case err != nil:
		p.Error = err.Error()
		return
	case skip != "":
		p.Skipped = skip
		return
	}
	start := time.Now()
	out, _, err := h.Query(ctx, shell.Quote(kubeadm)+" upgrade plan "+shell.Quote(target)+" -o json"+ignoredChecks(c))
	h.Trace("kubeadm upgrade plan", start)
	if err != nil {
		p.Error = fmt.Sprintf("%s (run %s upgrade plan %s on %s for kubeadm's whole answer)", kubeadmError(err), kubeadm, target, p.Host)
		return
	}
	p.APIServer, err = parseKubeadmPlan(out)
	if err != nil {
		p.Error = err.Error()
	}
}

// targetKubeadm is the path of the target's kubeadm on h, or why there is
// none to run yet.
func targetKubeadm(ctx context.Context, h *host.Host, c *cluster.Cluster, target string) (path, skip string, err error) {
	if out, ok, _ := h.Query(ctx, "kubeadm version -o short"); ok && out == target {
		return "kubeadm", "", nil
	}
	if c.Spec.Runtime.Source != cluster.RuntimeSourceBundle {
		return "", "the target's kubeadm comes from pkgs.k8s.io with apply, whose kubeadm upgrade apply runs the same checks first", nil
	}
	b, err := bundle.Load(c.Spec.Runtime.Bundle)
	if err != nil || b.Versions["kubernetes"] != target {
		return "", "the bundle is not the target's (see kubernetes-binaries)", nil
	}
	path = kubeadmPlanDir + "/kubeadm"
	if err := h.Exec(ctx, "stage the target's kubeadm", "install -d -m 0700 "+shell.Quote(kubeadmPlanDir)); err != nil {
		return "", "", err
	}
	// The path comes back with the error too: what was half-staged goes.
	if err := b.Upload(ctx, h, "bin/kubeadm", path, 0o755); err != nil {
		return path, "", err
	}
	return path, "", nil
}

// kubeadmError is the part of a failed kubeadm run that says why, on one
// line (it goes into a table and an error): its [ERROR …] preflight lines
// and its error line, else its stderr's last line.
func kubeadmError(err error) string {
	var exit *remote.ExitError
	if !errors.As(err, &exit) || exit.Stderr == "" {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(exit.Stderr), "\n")
	var why []string
	for _, l := range lines {
		l = strings.TrimSpace(l)
		if strings.HasPrefix(l, "[ERROR") || strings.HasPrefix(l, "error") || strings.Contains(l, "FATAL") {
			why = append(why, l)
		}
	}
	if len(why) == 0 {
		why = lines[len(lines)-1:]
	}
	return strings.Join(why, "; ")
}

// parseKubeadmPlan reads kubeadm's UpgradePlan (output.kubeadm.k8s.io):
// the kube-apiserver version it would upgrade to, "" for none (kubeadm
// prints nothing when it finds the cluster up to date). With -o json
// kubeadm writes only the object to stdout; a line before it (a future
// kubeadm's notice) is passed over.
func parseKubeadmPlan(out string) (string, error) {
	i := strings.Index("\n"+out, "\n{")
	if i < 0 {
		return "", nil
	}
	var plan struct {
		Kind              string `json:"kind"`
		AvailableUpgrades []struct {
			Components []struct {
				Name       string `json:"name"`
				NewVersion string `json:"newVersion"`
			} `json:"components"`
		} `json:"availableUpgrades"`
	}
	if err := json.NewDecoder(bytes.NewReader([]byte(out[i:]))).Decode(&plan); err != nil || plan.Kind != "UpgradePlan" {
		return "", fmt.Errorf("kubeadm upgrade plan printed no UpgradePlan: %.200q", out)
	}
	for _, u := range plan.AvailableUpgrades {
		for _, comp := range u.Components {
			if comp.Name == "kube-apiserver" {
				return comp.NewVersion, nil
			}
		}
	}
	return "", nil
}

// checkKubeadmPlan: kubeadm agrees to the move — it ran, passed its own
// checks and would take the API server to the target (or, with every API
// server there already, finds nothing to do).
func checkKubeadmPlan(p KubeadmPlan, apiservers []string, target string) Check {
	const name = "kubeadm-upgrade-plan"
	switch {
	case p.Skipped != "":
		return skipped(name, "%s", p.Skipped)
	case p.Error != "":
		return failed(name, "kubeadm %s upgrade plan on %s: %s", target, p.Host, p.Error)
	case p.APIServer == target:
		return passed(name, "kubeadm %s on %s plans the API server to %s and passed its own checks", target, p.Host, target)
	case p.APIServer == "" && anyAt(apiservers, target):
		// kubeadm counts the newest API server: once the first control
		// plane is at the target (a resumed apply) it plans nothing more;
		// kubeadm upgrade node does the rest.
		return passed(name, "kubeadm %s on %s finds nothing more to plan: an API server already runs %s", target, p.Host, target)
	case p.APIServer == "":
		return failed(name, "kubeadm %s on %s finds nothing to upgrade, but API servers run %s", target, p.Host, strings.Join(apiservers, ", "))
	}
	return failed(name, "kubeadm %s on %s would upgrade the API server to %s, not %s", target, p.Host, p.APIServer, target)
}

func anyAt(versions []string, v string) bool {
	return slices.Contains(versions, v)
}
