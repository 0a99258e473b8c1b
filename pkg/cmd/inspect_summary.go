package cmd

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/inspect"
)

func (o *InspectOptions) summary(ctx context.Context) error {
	line := func(view, format string, args ...any) {
		fmt.Fprintf(o.Out, "%-15s "+format+"\n", append([]any{view}, args...)...)
	}
	cfg, err := inspect.ReadKubeadmConfig(ctx, o.client)
	if err != nil {
		line("kubeadm-config", "%v", err)
	} else {
		line("kubeadm-config", "%s, %s, endpoint %s, etcd %s, pods %s, services %s", cfg.APIVersion, cfg.KubernetesVersion,
			cfg.ControlPlaneEndpoint, cfg.Etcd.Mode, cfg.Networking["podSubnet"], cfg.Networking["serviceSubnet"])
	}
	if pods, err := inspect.ReadStaticPods(ctx, o.client, cfg); err != nil {
		line("static-pods", "%v", err)
	} else {
		var parts []string
		for _, p := range pods {
			parts = append(parts, fmt.Sprintf("%s@%s %s %s", p.Component, p.Node, p.Version, p.Phase))
		}
		line("static-pods", "%d: %s", len(pods), strings.Join(parts, ", "))
		if cfg != nil {
			line("drift", "%d differences (kubectl kbs inspect drift)", len(inspect.FindDrift(cfg, pods)))
		}
	}
	if t, err := inspect.ReadTokens(ctx, o.client, o.anon, false, time.Now()); err != nil {
		line("tokens", "%v", err)
	} else {
		problems := len(t.OrphanSignatures)
		for _, tk := range t.Tokens {
			problems += len(tk.Problems)
		}
		line("tokens", "%d bootstrap tokens, %d problems; cluster-info %s", len(t.Tokens), problems, t.ClusterInfo)
	}
	if r, err := inspect.ReadRBAC(ctx, o.client); err != nil {
		line("rbac", "%v", err)
	} else {
		var off []string
		for _, e := range r.Expected {
			if e.Status != "present" {
				off = append(off, e.Name+" "+e.Status)
			}
		}
		line("rbac", "%d of %d kubeadm objects as expected %v; %d cluster-admin subjects", len(r.Expected)-len(off), len(r.Expected), off, len(r.Admins))
	}
	rc, err := o.flags.ToRESTConfig()
	if err != nil {
		return err
	}
	if certs, err := inspect.ReadCerts(ctx, o.client, rc, 30*24*time.Hour, time.Now()); err != nil {
		line("certs", "%v", err)
	} else if len(certs) > 0 {
		line("certs", "%d checked; soonest: %s %s in %s", len(certs), certs[0].Name, certs[0].Info.CommonName, certs[0].Remaining)
	}
	return nil
}
