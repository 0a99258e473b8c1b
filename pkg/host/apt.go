package host

import (
	"strings"

	"github.com/kubectl-kbs/kbs/pkg/shell"
)

// AptLock serializes kbs's apt runs on a host: the runtime and the load
// balancer install in parallel phases, and apt fails rather than waits on
// a lock another apt holds.
const AptLock = "/run/kbs-apt.lock"

// AptLockPrefix is what AptLocked puts before a script.
const AptLockPrefix = "exec 9>" + AptLock + " && flock 9 && "

// AptLocked runs script under kbs's apt lock, held by the command's own
// shell (file descriptor 9) until it exits.
func AptLocked(script string) string {
	return AptLockPrefix + script
}

// KubernetesMinor turns v1.37.2 into v1.37: pkgs.k8s.io has one channel per
// minor release.
func KubernetesMinor(v string) string {
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return v
	}
	return parts[0] + "." + parts[1]
}

// KubernetesPackages are the steps (to join with " && ", under AptLocked,
// after DEBIAN_FRONTEND=noninteractive) that point apt at the pkgs.k8s.io
// channel of version's minor, its signing key fetched again (a channel may
// change keys), and install exactly version of tools, held afterwards so an
// unattended upgrade never moves them. Init and upgrade both install so.
// The key is fetched and dearmored beside the keyring and renamed over it
// only then: a failed download never leaves the host with an empty one.
func KubernetesPackages(version string, tools ...string) []string {
	repo := "https://pkgs.k8s.io/core:/stable:/" + KubernetesMinor(version) + "/deb/"
	v := strings.TrimPrefix(version, "v")
	pkgs := make([]string, len(tools))
	names := make([]string, len(tools))
	for i, t := range tools {
		pkgs[i] = shell.Quote(t + "=" + v + "-*")
		names[i] = shell.Quote(t)
	}
	const keyring = "/etc/apt/keyrings/kubernetes-apt-keyring.gpg"
	return []string{
		"install -d -m 0755 /etc/apt/keyrings",
		"curl -fsSL -o " + keyring + ".asc " + shell.Quote(repo+"Release.key"),
		"gpg --batch --yes --dearmor -o " + keyring + ".new " + keyring + ".asc",
		"mv " + keyring + ".new " + keyring,
		"rm -f " + keyring + ".asc",
		"echo " + shell.Quote("deb [signed-by="+keyring+"] "+repo+" /") + " > /etc/apt/sources.list.d/kubernetes.list",
		"apt-get update -qq",
		"apt-get install -y -qq --allow-change-held-packages " + strings.Join(pkgs, " ") + " >/dev/null",
		"apt-mark hold " + strings.Join(names, " ") + " >/dev/null",
	}
}
