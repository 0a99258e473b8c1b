package users

import "context"

// What `user create` leaves behind besides RBAC: the kubeconfig entry on this
// machine and the ledger record in the cluster.

// kubeconfigTarget is the file the user's entry goes to.
func (in *CreateInput) kubeconfigTarget(entry string) string {
	if in.KubeconfigOut != "" {
		return in.KubeconfigOut
	}
	return KubeconfigFile(in.Access, entry)
}

// writeKubeconfig writes the credentials and returns the file it wrote.
func (in *CreateInput) writeKubeconfig(entry string, c *Credentials) (string, error) {
	where := in.kubeconfigTarget(entry)
	if in.KubeconfigOut != "" {
		return where, Standalone(where, in.Cluster, entry, in.Request.Namespace, c)
	}
	return where, Merge(where, in.Cluster, entry, in.Request.Namespace, c)
}

// record is the user's ledger record, for the credentials res describes.
func (in *CreateInput) record(ctx context.Context, creds *Credentials, res *CreateResult) (*Record, error) {
	r := &in.Request
	requester := Requester(ctx, in.Client)
	cr := NewTokenRecord(creds, requester)
	if !r.ServiceAccount {
		var err error
		if cr, err = NewCertRecord(creds.CertPEM, r.Signer, string(r.KeyType), requester, creds.CSRName); err != nil {
			return nil, err
		}
	}
	bindings, roles := res.Objects.Refs()
	return &Record{
		User: r.Name, Groups: r.Groups, Namespace: r.Namespace, ClusterWide: r.ClusterWide, ServiceAccount: r.ServiceAccount,
		Certificates: []CertRecord{cr}, Bindings: bindings, Roles: roles, RoleRef: r.roleRef(roles),
		Kubeconfig: KubeconfigRef{File: res.Kubeconfig, Entry: res.Entry, Handout: in.KubeconfigOut != ""},
	}, nil
}

// roleRef names the role the user is bound to, as `user list` shows it:
// the Role or ClusterRole asked for, else the one kbs made.
func (r *Request) roleRef(made []ObjectRef) string {
	switch {
	case r.Role != "":
		return "Role/" + r.Role
	case len(made) > 0:
		return made[0].Kind + "/" + made[0].Name
	}
	return "ClusterRole/" + r.ClusterRole
}
