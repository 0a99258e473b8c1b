package controlplane

import (
	"context"
	"fmt"

	"github.com/kubectl-kbs/kbs/test/env"
)

func (cp *ControlPlane) startEtcd(ctx context.Context) error {
	bin, p, err := binaryAndPorts("etcd", 2)
	if err != nil {
		return err
	}
	client, peer := "https://127.0.0.1:"+p[0], "https://127.0.0.1:"+p[1]
	k := cp.PKI
	cp.Etcd, err = cp.Run.Start("etcd", bin,
		"--name=etcd0",
		"--data-dir="+cp.Run.Join("etcd-data"),
		"--listen-client-urls="+client, "--advertise-client-urls="+client,
		"--listen-peer-urls="+peer, "--initial-advertise-peer-urls="+peer,
		"--initial-cluster=etcd0="+peer, "--initial-cluster-state=new",
		"--initial-cluster-token=kbs-test",
		"--cert-file="+k.EtcdServer, "--key-file="+k.EtcdServerKey,
		"--client-cert-auth=true", "--trusted-ca-file="+k.EtcdCA,
		"--peer-cert-file="+k.EtcdPeer, "--peer-key-file="+k.EtcdPeerKey,
		"--peer-client-cert-auth=true", "--peer-trusted-ca-file="+k.EtcdCA,
		"--log-level=warn",
	)
	if err != nil {
		return err
	}
	cp.EtcdURL = client
	return waitHealthy(ctx, cp.Etcd, cp.EtcdURL+"/health", k.EtcdCA, k.EtcdClient, k.EtcdClientKey)
}

func (cp *ControlPlane) startAPIServer(ctx context.Context) error {
	bin, p, err := binaryAndPorts("kube-apiserver", 1)
	if err != nil {
		return err
	}
	k := cp.PKI
	cp.APIServerURL = "https://127.0.0.1:" + p[0]
	cp.API, err = cp.Run.Start("kube-apiserver", bin,
		"--etcd-servers="+cp.EtcdURL,
		"--etcd-cafile="+k.EtcdCA, "--etcd-certfile="+k.EtcdClient, "--etcd-keyfile="+k.EtcdClientKey,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port="+p[0],
		// Loopback may not be advertised in the kubernetes Endpoints; nothing
		// in-cluster needs them here.
		"--endpoint-reconciler-type=none",
		"--tls-cert-file="+k.APIServer, "--tls-private-key-file="+k.APIServerKey,
		"--client-ca-file="+k.CA,
		"--kubelet-client-certificate="+k.KubeletClient, "--kubelet-client-key="+k.KubeletClientK,
		"--authorization-mode=Node,RBAC",
		"--enable-bootstrap-token-auth=true",
		"--enable-admission-plugins=NodeRestriction",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file="+k.SAPub, "--service-account-signing-key-file="+k.SAKey,
		"--service-cluster-ip-range="+ServiceCIDR,
		"--allow-privileged=true",
		"--cert-dir="+cp.Run.Join("apiserver-certs"),
		"--profiling=false",
	)
	if err != nil {
		return err
	}
	admin, err := k.IssueClient("kbs-test-admin", "system:masters")
	if err != nil {
		return err
	}
	cp.AdminKubeconfig = cp.Run.Join("admin.kubeconfig")
	if cp.AdminConfig, err = writeKubeconfig(cp.AdminKubeconfig, cp.APIServerURL, k.CA, admin); err != nil {
		return err
	}
	return waitAPIReady(ctx, cp.API, cp.AdminConfig)
}

func (cp *ControlPlane) startKCM(ctx context.Context) error {
	bin, p, err := binaryAndPorts("kube-controller-manager", 1)
	if err != nil {
		return err
	}
	k := cp.PKI
	kp, err := k.IssueClient("system:kube-controller-manager")
	if err != nil {
		return err
	}
	kc := cp.Run.Join("controller-manager.kubeconfig")
	if _, err := writeKubeconfig(kc, cp.APIServerURL, k.CA, kp); err != nil {
		return err
	}
	cp.KCMURL = "https://127.0.0.1:" + p[0]
	args := []string{
		"--kubeconfig=" + kc, "--authentication-kubeconfig=" + kc, "--authorization-kubeconfig=" + kc,
		"--bind-address=127.0.0.1", "--secure-port=" + p[0],
		"--tls-cert-file=" + k.KCMServing, "--tls-private-key-file=" + k.KCMServingKey,
		"--client-ca-file=" + k.CA,
		"--root-ca-file=" + k.CA,
		"--service-account-private-key-file=" + k.SAKey,
		"--use-service-account-credentials=true",
		"--leader-elect=false",
		"--profiling=false",
	}
	if cp.opts.NoSigner {
		args = append(args, "--controllers=*,bootstrapsigner,tokencleaner,-csrsigning")
	} else {
		args = append(args, "--controllers=*,bootstrapsigner,tokencleaner")
		args = append(args, "--cluster-signing-cert-file="+k.CA, "--cluster-signing-key-file="+k.CAKey)
	}
	cp.KCM, err = cp.Run.Start("kube-controller-manager", bin, args...)
	if err != nil {
		return err
	}
	if err := waitHealthy(ctx, cp.KCM, cp.KCMURL+"/healthz", k.CA, "", ""); err != nil {
		return err
	}
	return waitControllersRunning(ctx, cp)
}

// describe adds a component's last log lines to an error about it.
func describe(p *env.Process, err error) error {
	return fmt.Errorf("%w\nlast lines of %s:\n%s", err, p.LogPath, p.LogTail(15))
}

// binaryAndPorts finds a component's test binary and n free ports for it.
func binaryAndPorts(name string, n int) (string, []string, error) {
	bin, err := env.Binary(name)
	if err != nil {
		return "", nil, err
	}
	p, err := ports(n)
	return bin, p, err
}
