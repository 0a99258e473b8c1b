package users

import (
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"

	"github.com/kubectl-kbs/kbs/pkg/fsutil"
	"github.com/kubectl-kbs/kbs/pkg/kubeconfig"
)

// ClusterInfo is the cluster the caller's kubeconfig points at.
type ClusterInfo struct {
	Name   string
	Server string
	CAData []byte
}

// CurrentCluster reads the cluster of the chosen context (--context, else
// current-context).
func CurrentCluster(raw clientcmdapi.Config, contextName string) (ClusterInfo, error) {
	if contextName == "" {
		contextName = raw.CurrentContext
	}
	ctx := raw.Contexts[contextName]
	if ctx == nil {
		return ClusterInfo{}, fmt.Errorf("kubeconfig has no context %q: pass --context or set current-context", contextName)
	}
	c := raw.Clusters[ctx.Cluster]
	if c == nil {
		return ClusterInfo{}, fmt.Errorf("context %q names cluster %q, which the kubeconfig does not define", contextName, ctx.Cluster)
	}
	ca := c.CertificateAuthorityData
	if len(ca) == 0 && c.CertificateAuthority != "" {
		var err error
		if ca, err = os.ReadFile(c.CertificateAuthority); err != nil {
			return ClusterInfo{}, fmt.Errorf("reading the cluster CA of %q: %w", ctx.Cluster, err)
		}
	}
	return ClusterInfo{Name: ctx.Cluster, Server: c.Server, CAData: ca}, nil
}

// KubeconfigFile picks the file to write: --kubeconfig when given, else the
// file of the $KUBECONFIG chain that already holds the user, else the first
// existing file of the chain (as kubectl does).
func KubeconfigFile(access clientcmd.ConfigAccess, userEntry string) string {
	if access.IsExplicitFile() {
		return access.GetExplicitFile()
	}
	for _, f := range access.GetLoadingPrecedence() {
		if cfg, err := clientcmd.LoadFromFile(f); err == nil && cfg.AuthInfos[userEntry] != nil {
			return f
		}
	}
	return access.GetDefaultFilename()
}

func userFields(c *Credentials) map[string]any {
	if c.Token != "" {
		return map[string]any{"token": c.Token, "client-certificate-data": nil, "client-key-data": nil}
	}
	return map[string]any{"token": nil,
		"client-certificate-data": base64.StdEncoding.EncodeToString(c.CertPEM),
		"client-key-data":         base64.StdEncoding.EncodeToString(c.KeyPEM),
	}
}

// Merge adds the user and its context to the kubeconfig at path (the
// cluster stanza is added only if missing; an existing one is left alone).
func Merge(path string, ci ClusterInfo, entry, namespace string, c *Credentials) error {
	return kubeconfig.Update(path, func(d *kubeconfig.Doc) error {
		if !d.Has(kubeconfig.Clusters, ci.Name) {
			if err := d.Set(kubeconfig.Clusters, ci.Name, clusterFields(ci)); err != nil {
				return err
			}
		}
		if err := d.Set(kubeconfig.Users, entry, userFields(c)); err != nil {
			return err
		}
		return d.Set(kubeconfig.Contexts, entry, map[string]any{"cluster": ci.Name, "user": entry, "namespace": namespaceOrNil(namespace)})
	})
}

// Standalone writes a new kubeconfig holding only this user, with the
// certificates embedded, mode 0600 — the file to hand to the user.
func Standalone(path string, ci ClusterInfo, entry, namespace string, c *Credentials) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("--kubeconfig-out %s exists: remove it or choose another path (kbs does not overwrite a file it did not make)", path)
	}
	d, err := kubeconfig.Parse(nil)
	if err != nil {
		return err
	}
	if err := d.Set(kubeconfig.Clusters, ci.Name, clusterFields(ci)); err != nil {
		return err
	}
	if err := d.Set(kubeconfig.Users, entry, userFields(c)); err != nil {
		return err
	}
	if err := d.Set(kubeconfig.Contexts, entry, map[string]any{"cluster": ci.Name, "user": entry, "namespace": namespaceOrNil(namespace)}); err != nil {
		return err
	}
	d.SetCurrentContext(entry)
	data, err := d.Bytes()
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(path, data, 0o600)
}

// RemoveEntry removes the user and context entry from the kubeconfig at
// path, and clears current-context when it names the entry. It reports
// whether the file was edited: false when it is not on this machine.
func RemoveEntry(path, entry string) (bool, error) {
	if _, err := os.Stat(path); err != nil {
		return false, nil
	}
	err := kubeconfig.Update(path, func(d *kubeconfig.Doc) error {
		d.Remove(kubeconfig.Users, entry)
		d.Remove(kubeconfig.Contexts, entry)
		if d.CurrentContext() == entry {
			d.SetCurrentContext("")
		}
		return nil
	})
	return err == nil, err
}

func clusterFields(ci ClusterInfo) map[string]any {
	return map[string]any{"server": ci.Server, "certificate-authority-data": base64.StdEncoding.EncodeToString(ci.CAData)}
}

func namespaceOrNil(ns string) any {
	if ns == "" {
		return nil
	}
	return ns
}

// KubeconfigFiles are the files this kubectl reads, as kubectl resolves
// them: --kubeconfig alone, else the $KUBECONFIG chain, else
// ~/.kube/config; each also as an absolute path.
func KubeconfigFiles(access clientcmd.ConfigAccess) []string {
	files := access.GetLoadingPrecedence()
	if access.IsExplicitFile() {
		files = []string{access.GetExplicitFile()}
	}
	var out []string
	for _, f := range files {
		out = append(out, f)
		if abs, err := filepath.Abs(f); err == nil && abs != f {
			out = append(out, abs)
		}
	}
	return out
}

// isOneOf says whether file names one of files (as given or absolute).
func isOneOf(file string, files []string) bool {
	if file == "" {
		return false
	}
	abs, _ := filepath.Abs(file)
	return slices.Contains(files, file) || slices.Contains(files, abs)
}
