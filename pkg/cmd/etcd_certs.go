package cmd

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/kubectl/pkg/util/templates"

	"github.com/kubectl-kbs/kbs/pkg/etcd"
	"github.com/kubectl-kbs/kbs/pkg/inspect"
)

func newCmdEtcdCerts(o *EtcdOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "certs",
		Short: "Check and rotate the etcd CA, server, peer and client certificates",
		Run:   func(cmd *cobra.Command, args []string) { cmd.Help() },
	}
	warnWithin := "30d"
	var out *outputFlags
	check := &cobra.Command{
		Use:   "check -f cluster.yaml [--warn-within 30d]",
		Short: "Expiry of the etcd CA and every server, peer and client certificate: in kbs's state, on the hosts, and as presented",
		Long: templates.LongDesc(`
			List the etcd CA and every leaf certificate with its expiry, from three places:
			kbs's state directory, the hosts' files (read over SSH; only certificates leave
			a host, never keys), and what each member presents in a fresh TLS handshake on
			its client and peer ports. A host file or presented certificate that is not the
			one in kbs's state is marked stale. Exits non-zero when a certificate expires
			within --warn-within, or one is stale: fit for cron.`),
		Example: templates.Examples(`
			# Warn 60 days ahead
			kubectl kbs etcd certs check -f cluster.yaml --warn-within 60d`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			warn, err := inspect.ParseWindow(warnWithin)
			if err != nil {
				return err
			}
			if err := out.validate(); err != nil {
				return err
			}
			env, err := o.complete()
			if err != nil {
				return err
			}
			closeFn, err := o.withSession(env)
			if err != nil {
				return err
			}
			defer closeFn()
			rows, err := etcd.CheckCerts(cmd.Context(), env, warn)
			if err != nil {
				fmt.Fprintf(o.ErrOut, "warning: %v\n", err)
			}
			if done, serr := out.printObj(o.Out, "EtcdCertificates", map[string]any{"certificates": rows}); !done {
				printEtcdCerts(o, rows, warnWithin)
			} else if serr != nil {
				return serr
			}
			return certProblems(rows, warnWithin, err)
		},
	}
	check.Flags().StringVar(&warnWithin, "warn-within", warnWithin, "Flag certificates expiring within this window (e.g. 30d, 720h) and exit non-zero")
	out = o.addOutputFlag(check)
	var yes, ca bool
	rotate := &cobra.Command{
		Use:   "rotate -f cluster.yaml",
		Short: "New server and peer certificates for every member, one at a time, then the API servers' client certificate, without downtime; --ca: a new etcd CA",
		Long: templates.LongDesc(`
			Rotate etcd's leaf certificates from the existing etcd CA without restarting
			anything: for one member at a time the new server and peer certificates are
			uploaded and swapped in, and kbs waits until the member presents them on both
			ports and the cluster is healthy; then the API servers' etcd client
			certificate is renewed on every control plane and checked against every member.
			etcd and the API server read these files for each new connection, so open
			connections stay up and new ones use the new certificates.

			With --ca the etcd CA itself is replaced, in three verified steps that a
			re-run resumes: a new CA is made beside the old one and every member and API
			server is restarted, one at a time, trusting a bundle of both; every leaf is
			reissued by the new CA as above; then the bundle is replaced by the new CA alone
			with a second round of restarts. etcd and the API server read their trusted CA
			only at start-up: with a single member or control plane each restart is a
			short outage.`),
		Example: templates.Examples(`
			# New leaf certificates, no restart
			kubectl kbs etcd certs rotate -f cluster.yaml --yes

			# A new etcd CA
			kubectl kbs etcd certs rotate -f cluster.yaml --ca --yes`),
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			env, err := o.complete()
			if err != nil {
				return err
			}
			what, run := "leaf certificates", etcd.RotateLeafCerts
			if ca {
				what, run = "CA and every certificate", etcd.RotateCA
			}
			if err := o.confirm(yes, "replace the etcd "+what+" of cluster "+o.spec.Metadata.Name); err != nil {
				return err
			}
			closeFn, err := o.withLockedSession(env)
			if err != nil {
				return err
			}
			defer closeFn()
			if err := run(cmd.Context(), env); err != nil {
				return err
			}
			fmt.Fprintf(o.Out, "etcd %s of cluster %s rotated\n", what, o.spec.Metadata.Name)
			return nil
		},
	}
	rotate.Flags().BoolVarP(&yes, "yes", "y", false, "Do not ask for confirmation")
	addRefusedDryRun(rotate, "kubectl kbs etcd certs check shows what it would replace")
	rotate.Flags().BoolVar(&ca, "ca", false, "Replace the etcd CA too (restarts every member and API server twice, one at a time)")
	cmd.AddCommand(check, rotate)
	return cmd
}

func printEtcdCerts(o *EtcdOptions, rows []etcd.CertRow, warnWithin string) {
	w := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "WHERE\tCERTIFICATE\tSUBJECT\tEXPIRES\tREMAINING\tCA\tSTATE")
	for _, r := range rows {
		state := "current"
		if !r.Current {
			state = "STALE"
		}
		mark := ""
		if r.Expiring {
			mark = "  <- within " + warnWithin
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s%s\t%v\t%s\n", r.Where, r.Name, r.Subject, r.NotAfter.Format(time.RFC3339), r.Remaining, mark, r.IsCA, state)
	}
	w.Flush()
}

func certProblems(rows []etcd.CertRow, warnWithin string, readErr error) error {
	expiring, stale := 0, 0
	for _, r := range rows {
		if r.Expiring {
			expiring++
		}
		if !r.Current {
			stale++
		}
	}
	switch {
	case expiring > 0:
		return fmt.Errorf("%d etcd certificates expire within %s: kubectl kbs etcd certs rotate", expiring, warnWithin)
	case stale > 0:
		return fmt.Errorf("%d etcd certificates on the hosts are not the ones in kbs's state: kubectl kbs init phase etcd puts them back, or etcd certs rotate", stale)
	case readErr != nil:
		return readErr
	}
	return nil
}
