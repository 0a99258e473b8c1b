//go:build tools

// Package tools pins the calico commands the test environment builds: the
// node agent (felix and its helpers), the CNI plugin (calico-ipam is the same
// binary under another name) and its installer, and kube-controllers with
// its health check.
package tools

import (
	_ "github.com/projectcalico/calico/cni-plugin/cmd/calico"
	_ "github.com/projectcalico/calico/cni-plugin/cmd/install"
	_ "github.com/projectcalico/calico/kube-controllers/cmd/check-status"
	_ "github.com/projectcalico/calico/kube-controllers/cmd/kube-controllers"
	_ "github.com/projectcalico/calico/node/cmd/calico-node"
)
