package diag

import (
	"regexp"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

const ruleEnvSecret = "env-secret"

// secretEnvName is an environment variable whose name says it holds a
// secret.
var secretEnvName = regexp.MustCompile(`(?i)secret|passw|pwd|token|key|credential`)

// lastApplied is kubectl apply's copy of an object, a second spec with
// every environment value in it, as one JSON string.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// secretFlag is a command-line flag whose next argument is a secret.
var secretFlag = regexp.MustCompile(`(?i)^--?(?:password|passwd|pass|token|secret|client-secret|api-key|apikey)$`)

// redactPodEnv blanks, on the objects themselves, what pods carry in the
// clear: the values of environment variables whose names say secret, the
// argument after a --password-like flag in args and command, and kubectl
// apply's copy of the spec. In the indented JSON a variable's name and
// value, or a flag and its argument, sit on different lines, where no line
// rule could pair them. It returns how many it replaced.
func redactPodEnv(pods *corev1.PodList) int {
	if pods == nil {
		return 0
	}
	n := 0
	mark := "[REDACTED:" + ruleEnvSecret + "]"
	args := func(list []string) {
		for i := 0; i+1 < len(list); i++ {
			if secretFlag.MatchString(list[i]) {
				list[i+1] = mark
				n++
			}
		}
	}
	redact := func(c *corev1.Container) {
		for j := range c.Env {
			if e := &c.Env[j]; e.Value != "" && secretEnvName.MatchString(e.Name) {
				e.Value = mark
				n++
			}
		}
		args(c.Args)
		args(c.Command)
	}
	for i := range pods.Items {
		pod := &pods.Items[i]
		if _, ok := pod.Annotations[lastApplied]; ok {
			pod.Annotations[lastApplied] = mark
			n++
		}
		for j := range pod.Spec.InitContainers {
			redact(&pod.Spec.InitContainers[j])
		}
		for j := range pod.Spec.Containers {
			redact(&pod.Spec.Containers[j])
		}
		for j := range pod.Spec.EphemeralContainers {
			c := corev1.Container(pod.Spec.EphemeralContainers[j].EphemeralContainerCommon)
			redact(&c)
			pod.Spec.EphemeralContainers[j].EphemeralContainerCommon = corev1.EphemeralContainerCommon(c)
		}
	}
	return n
}

// RedactString redacts a message that is not a source — an error kept in
// manifest.json, a node's error — with the same rules.
func RedactString(s string) string {
	if s == "" {
		return s
	}
	var b strings.Builder
	r := NewRedactor(&b)
	_, _ = r.Write([]byte(s))
	_ = r.Close()
	return b.String()
}
