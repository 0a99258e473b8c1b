//go:build integration

package controlplane_test

import (
	"slices"
	"strconv"
	"testing"

	"k8s.io/client-go/kubernetes"
)

func itoa(i int) string { return strconv.Itoa(i) }

func contains(s []string, v string) bool { return slices.Contains(s, v) }

func adminClient(t *testing.T) *kubernetes.Clientset {
	t.Helper()
	cs, err := kubernetes.NewForConfig(cp.AdminConfig)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}
