package cluster

import (
	"fmt"
	"path"
	"regexp"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

func validateEtcd(p *field.Path, e Etcd) field.ErrorList {
	errs := validateVersion(p.Child("version"), e.Version, minEtcd, false)
	if e.Version != "" && e.Binary != "" {
		errs = append(errs, field.Forbidden(p.Child("binary"), "give either version (download) or binary (a local file to upload), not both"))
	}
	errs = append(errs, validateDataDir(p.Child("dataDir"), e.DataDir)...)
	if d, err := time.ParseDuration(e.CertValidity); err != nil || d < time.Hour {
		errs = append(errs, field.Invalid(p.Child("certValidity"), e.CertValidity, "must be a duration of at least 1h, such as 8760h"))
	}
	return errs
}

// dataDirRE is what an etcd data directory may be spelled with: it reaches
// root shells (quoted) and etcd's systemd unit, where spaces, quotes, %
// and $ mean something.
var dataDirRE = regexp.MustCompile(`^(/[A-Za-z0-9._-]+)+$`)

// systemDirs are never an etcd data directory, nor anything below them:
// reset deletes the data directory and restore moves it aside.
var systemDirs = []string{"/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/root", "/run", "/sbin", "/sys", "/tmp", "/usr", "/var/log", "/var/lib/kubelet", "/var/lib/containerd"}

// validateDataDir wants a directory dedicated to etcd: absolute and clean,
// named for etcd (/var/lib/etcd, /data/etcd-k8s), and no system directory.
func validateDataDir(p *field.Path, dir string) field.ErrorList {
	switch {
	case !dataDirRE.MatchString(dir) || path.Clean(dir) != dir:
		return field.ErrorList{field.Invalid(p, dir, "must be a clean absolute path of letters, digits, '.', '_' and '-', such as /var/lib/etcd")}
	case !strings.Contains(path.Base(dir), "etcd"):
		return field.ErrorList{field.Invalid(p, dir, "must be a directory dedicated to etcd, named for it (such as /var/lib/etcd): kbs reset deletes it")}
	}
	for _, sys := range systemDirs {
		if dir == sys || strings.HasPrefix(dir, sys+"/") {
			return field.ErrorList{field.Invalid(p, dir, fmt.Sprintf("must not be in %s: kbs reset deletes the data directory and restore moves it aside", sys))}
		}
	}
	return nil
}
