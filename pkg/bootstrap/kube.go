package bootstrap

import (
	"fmt"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// adminConfig is a REST config from the admin.conf kbs keeps in the state
// directory (fetched by the control-plane phase).
func adminConfig(d InitData) (*rest.Config, error) {
	path := d.State().AdminKubeconfig()
	cfg, err := clientcmd.BuildConfigFromFlags("", path)
	if err != nil {
		return nil, fmt.Errorf("no admin credentials for the cluster in %s (%w): run `kubectl kbs init phase control-plane` first", path, err)
	}
	cfg.QPS, cfg.Burst = 50, 100
	cfg.Timeout = 30 * time.Second
	return cfg, nil
}

func adminClient(d InitData) (kubernetes.Interface, *rest.Config, error) {
	cfg, err := adminConfig(d)
	if err != nil {
		return nil, nil, err
	}
	cs, err := kubernetes.NewForConfig(cfg)
	return cs, cfg, err
}
