package cmd

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-kbs/kbs/pkg/etcd"
	"github.com/kubectl-kbs/kbs/pkg/pki"
)

func newCmdEtcdStatus(o *EtcdOptions) *cobra.Command {
	var out *outputFlags
	cmd := &cobra.Command{
		Use:   "status -f cluster.yaml",
		Short: "Health, leader, raft term and index, database size, alarms, version and certificate expiry of every member",
		Long: templates.LongDesc(`
			Ask every etcd member of the spec over mutual TLS, in parallel: health (a
			linearizable read through the member, and no alarm), whether it leads, raft
			term and index, database size and the part in use, alarms, version, peer and
			client URLs, and when the serving and peer certificates it presents expire.
			Members the cluster lists but the spec lacks are shown too. Exits non-zero when
			a member is unhealthy.`),
		Example: templates.Examples(`
			# One line per member
			kubectl kbs etcd status -f cluster.yaml

			# Everything, for a script
			kubectl kbs etcd status -f cluster.yaml -o json`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := out.validate(); err != nil {
				return err
			}
			env, err := o.complete()
			if err != nil {
				return err
			}
			rows, err := etcd.Status(cmd.Context(), env)
			if err != nil {
				return err
			}
			if done, err := out.printObj(o.Out, "EtcdStatus", map[string]any{"members": rows}); !done {
				printEtcdStatus(o, rows)
			} else if err != nil {
				return err
			}
			return unhealthy(rows)
		},
	}
	out = o.addOutputFlag(cmd)
	return cmd
}

func printEtcdStatus(o *EtcdOptions, rows []etcd.MemberStatus) {
	w := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "MEMBER\tENDPOINT\tHEALTH\tLEADER\tVERSION\tDB\tIN USE\tRAFT TERM\tRAFT INDEX\tALARMS\tSERVER CERT\tPEER CERT")
	now := time.Now()
	for _, r := range rows {
		health := "healthy"
		if !r.Healthy {
			health = "UNHEALTHY"
		}
		role := map[bool]string{true: "leader", false: "follower"}[r.Leader]
		if r.Learner {
			role = "learner"
		}
		if r.Version == "" {
			role = "-"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\t%d\t%s\t%s\t%s\n", r.Name, r.Endpoint, health, role, dash(r.Version),
			size(r.DBSize), size(r.DBSizeInUse), r.RaftTerm, r.RaftIndex, dash(strings.Join(r.Alarms, ",")), expiry(r.ServerCert, now), expiry(r.PeerCert, now))
	}
	w.Flush()
	for _, r := range rows {
		if r.Error != "" {
			fmt.Fprintf(o.ErrOut, "%s: %s\n", r.Name, r.Error)
		}
		if !r.InSpec {
			fmt.Fprintf(o.ErrOut, "%s: a member of the cluster that the spec does not list (kubectl kbs etcd member remove %s, or add it to the spec)\n", r.Name, r.Name)
		}
	}
}

func unhealthy(rows []etcd.MemberStatus) error {
	var bad []string
	for _, r := range rows {
		if !r.Healthy {
			bad = append(bad, r.Name)
		}
	}
	if len(bad) > 0 {
		return fmt.Errorf("etcd members not healthy: %s", strings.Join(bad, ", "))
	}
	return nil
}

func expiry(e *etcd.Expiry, now time.Time) string {
	if e == nil {
		return "-"
	}
	return pki.Remaining(e.NotAfter, now)
}

// size is a byte count the way an operator reads it: 2.5 MiB.
func size(n int64) string {
	if n == 0 {
		return "-"
	}
	f, unit := float64(n), 0
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	for f >= 1024 && unit < len(units)-1 {
		f, unit = f/1024, unit+1
	}
	if unit == 0 {
		return fmt.Sprintf("%d B", n)
	}
	return fmt.Sprintf("%.1f %s", f, units[unit])
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
