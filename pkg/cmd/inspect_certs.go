package cmd

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/host"
	"github.com/kubectl-kbs/kbs/pkg/inspect"
	"github.com/kubectl-kbs/kbs/pkg/pki"
	"github.com/kubectl-kbs/kbs/pkg/users"
)

func (o *InspectOptions) certs(ctx context.Context) error {
	warn, err := inspect.ParseWindow(o.WarnWithin)
	if err != nil {
		return err
	}
	cfg, err := o.flags.ToRESTConfig()
	if err != nil {
		return err
	}
	certs, err := inspect.ReadCerts(ctx, o.client, cfg, warn, time.Now())
	if err != nil {
		if o.File == "" {
			return err
		}
		// With -f the hosts are the point; a down API server is no reason
		// not to read them.
		fmt.Fprintf(o.ErrOut, "warning: %v; reading the hosts only\n", err)
	}
	certs = append(certs, ledgerCerts(ctx, o, warn)...)
	var nodes []host.NodeCert
	if o.File != "" {
		if nodes, err = o.readNodeCerts(ctx, warn); err != nil {
			return err
		}
	}
	expiring := inspect.Expiring(certs, nodes)
	done, err := o.out.printObj(o.Out, "Certificates", map[string]any{"certificates": certs, "nodeCertificates": nodes})
	if err != nil {
		return err
	}
	if !done {
		o.printCerts(certs)
		printNodeCerts(o.Out, nodes, o.WarnWithin)
	}
	if expiring > 0 {
		return fmt.Errorf("%d certificates expire within %s", expiring, o.WarnWithin)
	}
	return nil
}

func (o *InspectOptions) printCerts(certs []inspect.Cert) {
	if len(certs) == 0 {
		return
	}
	w := tabwriter.NewWriter(o.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "CERTIFICATE\tSUBJECT\tEXPIRES\tREMAINING\tSOURCE")
	for _, c := range certs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s%s\t%s\n", c.Name, c.Info.Subject, c.Info.NotAfter.Format(time.RFC3339), c.Remaining, mark(c.Expiring, o.WarnWithin), c.Source)
	}
	w.Flush()
}

func printNodeCerts(out io.Writer, certs []host.NodeCert, window string) {
	if len(certs) == 0 {
		return
	}
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "HOST\tFILE\tSUBJECT\tEXPIRES\tREMAINING\tCA")
	for _, c := range certs {
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s%s\t%v\n", c.Host, c.File, c.Subject, c.NotAfter.Format(time.RFC3339), c.Remaining, mark(c.Expiring, window), c.IsCA)
	}
	w.Flush()
}

// mark points at a certificate that expires within the window.
func mark(expiring bool, window string) string {
	if expiring {
		return "  <- within " + window
	}
	return ""
}

func (o *InspectOptions) readNodeCerts(ctx context.Context, warn time.Duration) ([]host.NodeCert, error) {
	spec, err := o.specFlags.load(o.ErrOut)
	if err != nil {
		return nil, err
	}
	if err := o.sshFlags.validate(); err != nil {
		return nil, err
	}
	d := o.sshFlags.dialer(o.IOStreams)
	defer d.Close()
	return inspect.NodeCerts(ctx, d, spec, o.Parallel, warn, time.Now())
}

// ledgerCerts are the current certificates of the users kbs issued (from
// its ledger), so their expiry is watched with the cluster's own.
func ledgerCerts(ctx context.Context, o *InspectOptions, warn time.Duration) []inspect.Cert {
	recs, err := users.ListRecords(ctx, o.client)
	if err != nil {
		return nil // no ledger, or no right to read it: nothing to add
	}
	var out []inspect.Cert
	now := time.Now()
	for _, r := range recs {
		c := r.Current()
		out = append(out, inspect.Cert{Name: "kbs user " + r.User, Source: "kbs ledger (kube-system/" + users.ObjectName(r.User) + ")",
			Info:      pki.CertInfo{Subject: "CN=" + r.User, CommonName: r.User, Organizations: r.Groups, Serial: c.Serial, NotBefore: c.NotBefore, NotAfter: c.NotAfter},
			Remaining: pki.Remaining(c.NotAfter, now), Expiring: !now.Add(warn).Before(c.NotAfter)})
	}
	return out
}
