package workload

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	"k8s.io/client-go/kubernetes"
)

// ProbeResult is what a prober saw: requests, failures, and the longest
// run of consecutive failures.
type ProbeResult struct {
	Total, Failed int
	Longest       time.Duration
	// FailedAt is when each failed request was sent, to be laid beside
	// what the upgrade was doing then.
	FailedAt []time.Time
}

// Rate is the failed share of requests.
func (r ProbeResult) Rate() float64 {
	if r.Total == 0 {
		return 1
	}
	return float64(r.Failed) / float64(r.Total)
}

// Probed runs a web server of two replicas (image, CoreDNS serving its
// /health on 8080) with a PodDisruptionBudget of minAvailable 1 behind a
// NodePort in namespace ns, waits until both are ready, and probes it
// every 200 ms from this machine, round-robin over the nodes at ips; stop
// ends the prober and says what it saw. What an upgrade keeps available.
func Probed(ctx context.Context, cs kubernetes.Interface, ns, image string, ips []string) (stop func() ProbeResult, err error) {
	labels := map[string]string{"app": "web"}
	if _, err := cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	if _, err := cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "corefile"},
		Data: map[string]string{"Corefile": ".:5353 {\n    health :8080\n    errors\n}\n"}}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	replicas := int32(2)
	spread := &corev1.Affinity{PodAntiAffinity: &corev1.PodAntiAffinity{PreferredDuringSchedulingIgnoredDuringExecution: []corev1.WeightedPodAffinityTerm{{
		Weight: 100, PodAffinityTerm: corev1.PodAffinityTerm{TopologyKey: "kubernetes.io/hostname", LabelSelector: &metav1.LabelSelector{MatchLabels: labels}}}}}}
	if _, err := cs.AppsV1().Deployments(ns).Create(ctx, &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: appsv1.DeploymentSpec{Replicas: &replicas, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{
				Affinity: spread,
				Containers: []corev1.Container{{
					Name: "web", Image: image, ImagePullPolicy: corev1.PullNever,
					Args:           []string{"-conf", "/etc/coredns/Corefile"},
					Ports:          []corev1.ContainerPort{{ContainerPort: 8080}},
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/health", Port: intstr.FromInt32(8080)}}, PeriodSeconds: 1},
					VolumeMounts:   []corev1.VolumeMount{{Name: "conf", MountPath: "/etc/coredns"}},
				}},
				Volumes: []corev1.Volume{{Name: "conf", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "corefile"}}}}},
			}}},
	}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	minAvailable := intstr.FromInt32(1)
	if _, err := cs.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, &policyv1.PodDisruptionBudget{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: policyv1.PodDisruptionBudgetSpec{MinAvailable: &minAvailable, Selector: &metav1.LabelSelector{MatchLabels: labels}}}, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	svc, err := cs.CoreV1().Services(ns).Create(ctx, &corev1.Service{ObjectMeta: metav1.ObjectMeta{Name: "web"},
		Spec: corev1.ServiceSpec{Type: corev1.ServiceTypeNodePort, Selector: labels, Ports: []corev1.ServicePort{{Port: 8080, TargetPort: intstr.FromInt32(8080)}}}}, metav1.CreateOptions{})
	if err != nil {
		return nil, err
	}
	err = wait.PollUntilContextTimeout(ctx, time.Second, 3*time.Minute, true, func(ctx context.Context) (bool, error) {
		d, err := cs.AppsV1().Deployments(ns).Get(ctx, "web", metav1.GetOptions{})
		return err == nil && d.Status.ReadyReplicas == 2, nil
	})
	if err != nil {
		return nil, fmt.Errorf("the probed workload is not ready: %w", err)
	}
	var urls []string
	for _, ip := range ips {
		urls = append(urls, fmt.Sprintf("http://%s:%d/health", ip, svc.Spec.Ports[0].NodePort))
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	var i int
	return Poll(func() bool {
		resp, err := hc.Get(urls[i%len(urls)])
		i++
		if resp != nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	}), nil
}

// Poll calls probe every 200 ms until the returned stop is called, and
// stop says how many calls failed and the longest run of failures.
func Poll(probe func() bool) (stop func() ProbeResult) {
	var mu sync.Mutex
	var res ProbeResult
	quit, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		var failingSince time.Time
		for {
			select {
			case <-quit:
				return
			case <-time.After(200 * time.Millisecond):
			}
			sent := time.Now()
			ok := probe()
			mu.Lock()
			res.Total++
			if ok {
				failingSince = time.Time{}
			} else {
				res.Failed++
				res.FailedAt = append(res.FailedAt, sent)
				if failingSince.IsZero() {
					failingSince = time.Now()
				}
				res.Longest = max(res.Longest, time.Since(failingSince))
			}
			mu.Unlock()
		}
	}()
	return func() ProbeResult {
		close(quit)
		<-done
		mu.Lock()
		defer mu.Unlock()
		return res
	}
}
