//go:build tools

// Package tools records the flannel CNI plugin built for the test nodes.
package tools

import _ "github.com/containernetworking/plugins/plugins/meta/flannel"
