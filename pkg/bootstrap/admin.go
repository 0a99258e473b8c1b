package bootstrap

import (
	"encoding/base64"
	"fmt"

	"k8s.io/client-go/tools/clientcmd"

	"github.com/kubectl-kbs/kbs/pkg/kubeconfig"
)

// MergeAdmin puts the cluster's admin.conf into the kubeconfig at path as
// cluster NAME, user NAME-admin and context NAME, keeping everything else in
// the file. The current context is set only when the file has none: kbs
// does not switch an operator's kubectl to another cluster behind their back.
func MergeAdmin(path, name string, adminConf []byte) error {
	cfg, err := clientcmd.Load(adminConf)
	if err != nil {
		return fmt.Errorf("admin.conf: %w", err)
	}
	ctx := cfg.Contexts[cfg.CurrentContext]
	if ctx == nil || cfg.Clusters[ctx.Cluster] == nil || cfg.AuthInfos[ctx.AuthInfo] == nil {
		return fmt.Errorf("admin.conf has no usable current context")
	}
	cl, user := cfg.Clusters[ctx.Cluster], cfg.AuthInfos[ctx.AuthInfo]
	b64 := base64.StdEncoding.EncodeToString
	return kubeconfig.Update(path, func(d *kubeconfig.Doc) error {
		if err := d.Set(kubeconfig.Clusters, name, map[string]any{
			"server": cl.Server, "certificate-authority-data": b64(cl.CertificateAuthorityData),
		}); err != nil {
			return err
		}
		if err := d.Set(kubeconfig.Users, name+"-admin", map[string]any{
			"client-certificate-data": b64(user.ClientCertificateData), "client-key-data": b64(user.ClientKeyData),
		}); err != nil {
			return err
		}
		if err := d.Set(kubeconfig.Contexts, name, map[string]any{"cluster": name, "user": name + "-admin"}); err != nil {
			return err
		}
		if d.CurrentContext() == "" {
			d.SetCurrentContext(name)
		}
		return nil
	})
}
