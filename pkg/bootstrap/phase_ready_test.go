package bootstrap

import (
	"context"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/fake"
)

// logOnly is an InitData whose Log is all that waitClusterDNS uses.
type logOnly struct {
	InitData
	lines []string
}

func (l *logOnly) Log(phase, host, format string, args ...any) { l.lines = append(l.lines, format) }

func coredns(available corev1.ConditionStatus, observed int64) *appsv1.Deployment {
	two := int32(2)
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "coredns", Namespace: "kube-system", Generation: 1},
		Spec:       appsv1.DeploymentSpec{Replicas: &two},
		Status: appsv1.DeploymentStatus{
			ObservedGeneration: observed, Replicas: 2, AvailableReplicas: 1,
			Conditions: []appsv1.DeploymentCondition{{Type: appsv1.DeploymentAvailable, Status: available}},
		},
	}
}

// Cluster DNS counts as available by the Deployment's Available condition
// (one of kubeadm's two replicas is enough), for the generation asked for.
func TestWaitClusterDNS(t *testing.T) {
	for _, tc := range []struct {
		name string
		dep  *appsv1.Deployment
		ok   bool
	}{
		{"one of two replicas ready", coredns(corev1.ConditionTrue, 1), true},
		{"not available", coredns(corev1.ConditionFalse, 1), false},
		{"an older generation's status", coredns(corev1.ConditionTrue, 0), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := waitClusterDNS(context.Background(), &logOnly{}, fake.NewClientset(tc.dep), 600*time.Millisecond)
			if (err == nil) != tc.ok {
				t.Fatalf("waitClusterDNS: %v, want ok=%v", err, tc.ok)
			}
		})
	}
	d := &logOnly{}
	if err := waitClusterDNS(context.Background(), d, fake.NewClientset(), time.Second); err != nil || len(d.lines) != 1 {
		t.Fatalf("no CoreDNS deployment: %v, %q; want no error and a note", err, d.lines)
	}
}
