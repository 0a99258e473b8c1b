package fleet

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/kubectl-kbs/kbs/pkg/cluster"
)

// etcdView is what the members say.
type etcdView struct {
	answered bool
	healthy  int
	version  string
	problems []string
}

func readEtcd(ctx context.Context, c *cluster.Cluster, p Probes) etcdView {
	var v etcdView
	members, err := p.Etcd(ctx, c)
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("no answer in time")
		}
		v.problems = append(v.problems, fmt.Sprintf("etcd: %v", err))
		return v
	}
	var versions []string
	for _, m := range members {
		if m.Version != "" {
			v.answered = true
			if ver := "v" + strings.TrimPrefix(m.Version, "v"); !slices.Contains(versions, ver) {
				versions = append(versions, ver)
			}
		}
		switch {
		case !m.InSpec:
			v.problems = append(v.problems, fmt.Sprintf("etcd member %s is in the cluster, not in the spec", m.Name))
		case !m.Healthy:
			why := m.Error
			if why == "" {
				why = "no error given"
			}
			v.problems = append(v.problems, fmt.Sprintf("etcd member %s unhealthy: %s", m.Name, why))
		default:
			v.healthy++
		}
	}
	slices.Sort(versions) // more than one: mid-upgrade, or one left behind
	v.version = strings.Join(versions, "/")
	if want := c.Spec.Etcd.Version; len(versions) == 1 && want != "" && versions[0] != want {
		v.problems = append(v.problems, fmt.Sprintf("etcd at %s, the spec says %s", versions[0], want))
	}
	return v
}
