// Package bootstrap brings clusters up over SSH: init's phases declared as
// data and run by the workflow engine (so a re-run verifies and skips
// finished work and a killed run resumes), join and reset, each remote
// change behind the host layer's dry-run guard.
package bootstrap

// KubeadmConfigPath is the configuration kbs writes for kubeadm init.
const KubeadmConfigPath = "/etc/kbs/kubeadm.yaml"
