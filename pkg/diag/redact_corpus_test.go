package diag

import (
	"encoding/json"
	"io"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// corpus plants secrets of every class, in two or more spellings each, as
// logs, configs and shells write them. secret is what must not survive.
var corpus = []struct{ class, text, secret string }{
	{"url query", "GET https://bucket.s3.amazonaws.com/o.tar?X-Amz-Credential=AKIDKBS%2F20261202&X-Amz-Signature=kbsq1signature0123 HTTP/1.1\n", "kbsq1signature0123"},
	{"url query", "redirect to https://app.example.com/cb?code=x&access_token=kbsq2accesstoken&state=y\n", "kbsq2accesstoken"},
	{"url query", "fetch http://api.example.com/v1/data?API_KEY=kbsq3apikey42 failed\n", "kbsq3apikey42"},
	{"registry auth", `{"auths":{"registry.example.com":{"auth":"a2JzOnJlZzFzZWNyZXQ="}}}` + "\n", "a2JzOnJlZzFzZWNyZXQ="},
	{"registry auth", "        \"auth\": \"a2JzOnJlZzJzZWNyZXQ=\",\n", "a2JzOnJlZzJzZWNyZXQ="},
	{"registry auth", `{"auths":{"r.example.com":{"identitytoken":"kbsreg3identitytoken"}}}` + "\n", "kbsreg3identitytoken"},
	{"encryption key", "      - name: key1\n        secret: a2JzZW5jMXNlY3JldGtleTEyMzQ1Njc4OTBhYmNkZWY=\n", "a2JzZW5jMXNlY3JldGtleTEy"},
	{"encryption key", `{"keys":[{"name":"key1","secret":"a2JzZW5jMnNlY3JldGtleTEyMzQ1Njc4OTBhYmNkZWY="}]}` + "\n", "a2JzZW5jMnNlY3JldGtleTEy"},
	{"command line", "etcdctl --user=root --password=kbscli1pass get /\n", "kbscli1pass"},
	{"command line", "mysql --host db --password 'kbs cli2 pass' -e 'select 1'\n", "kbs cli2 pass"},
	{"command line", "vault login --token kbscli3token\n", "kbscli3token"},
	{"pipe", "echo kbspipe1pass | sudo -S apt-get update\n", "kbspipe1pass"},
	{"pipe", `echo "kbspipe2pass" | docker login registry.example.com -u ops --password-stdin` + "\n", "kbspipe2pass"},
	{"pipe", "printf 'ops:kbspipe3pass' | chpasswd\n", "kbspipe3pass"},
	{"basic auth", "curl -H 'Authorization: Basic a2JzOmJhc2ljMXBhc3M=' https://x\n", "a2JzOmJhc2ljMXBhc3M="},
	{"basic auth", `"authorization":"basic a2JzOmJhc2ljMnBhc3M="` + "\n", "a2JzOmJhc2ljMnBhc3M="},
	{"basic auth", "Proxy-Authorization: BASIC a2JzOmJhc2ljM3Bhc3M=\n", "a2JzOmJhc2ljM3Bhc3M="},
	{"base64 private key", "  tls.key: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCmticzFiNjRrZXk=\n", "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCmticzFi"},
	{"base64 private key", `"ssh-privatekey":"LS0tLS1CRUdJTiBPUEVOU1NIIFBSSVZBVEUgS0VZLS0tLS0Ka2JzMmI2NGtleQ=="` + "\n", "LS0tLS1CRUdJTiBPUEVOU1NIIFBSSVZBVEUgS0VZ"},
	{"base64 private key", "    client-key-data: LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0tLS0tCmticzNiNjRrZXk=\n", "LS0tLS1CRUdJTiBFQyBQUklWQVRFIEtFWS0t"},
	{"kubeconfig token", "users:\n- name: ops\n  user:\n    token: kbstok1opaquetokenvalue\n", "kbstok1opaquetokenvalue"},
	{"kubeconfig token", `{"name":"ops","user":{"token":"kbstok2opaquetokenvalue"}}` + "\n", "kbstok2opaquetokenvalue"},
	{"quoted password", "password: \"kbs quoted1 pass\"\n", "kbs quoted1 pass"},
	{"quoted password", "db_password: 'kbs quoted2 pass'\n", "kbs quoted2 pass"},
	{"quoted password", "PASSWORD: kbs quoted3 pass\n", "kbs quoted3 pass"},
	{"quoted password", `{"password":"kbs \"quoted4\" pass"}` + "\n", `quoted4`},
	{"yaml block", "stringData:\n  password: |\n    kbsblock1line1\n    kbsblock1line2\nkind: Secret\n", "kbsblock1line"},
	{"yaml block", "data:\n  tls.key: |-\n    kbsblock2line1\n\n    kbsblock2line2\n  tls.crt: abc\n", "kbsblock2line"},
	{"yaml block", "- name: api\n  token: >\n    kbsblock3folded\n", "kbsblock3folded"},
	{"yaml block", "  tls.key:\t>-\n    kbsblock4folded\n", "kbsblock4folded"},
	{"yaml block", "private_key:  >\n  kbsblock5folded\n", "kbsblock5folded"},
	{"yaml block", "  password: |  \n    kbsblock6trailing\n", "kbsblock6trailing"},
	{"yaml block", "  api_key: | # rotated monthly\n    kbsblock7commented\n", "kbsblock7commented"},
	{"kubeconfig token", "    token : kbstok3spacedtokenvalue\n", "kbstok3spacedtokenvalue"},
	{"base64 private key", "bundle: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJrVENCK3dJSkFLSHMKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQotLS0tLUJFR0lOIFBSSVZBVEUgS0VZLS0tLS0Ka2JzYnVuZGxla2V5\n", "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0t"},
	{"base64 private key", "LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2UUlCQURBTkJna3Foa2lHOXcwQkFRRUZBQVND\nQktjd2dnU2pBZ0VBQW9JQkFRQ2ticzB3cmFwcGVkMGtleTBtYXRlcmlhbDBBQUFBQUFBQUFBQUFBQUFB\nQUFBQT09\n", "Ktcwgg"},
	{"pipe", "echo 'root:kbspipe4pass' | sudo chpasswd\n", "kbspipe4pass"},
	{"pipe", "printf '%s' 'kbspipe5pass' | docker login -u ops --password-stdin r.example.com\n", "kbspipe5pass"},
	{"pgp key", "-----BEGIN PGP PRIVATE KEY BLOCK-----\n\nlQOYBkbspgp1secret\n=abcd\n-----END PGP PRIVATE KEY BLOCK-----\n", "kbspgp1secret"},
	{"pgp key", "key: -----BEGIN PGP PRIVATE KEY BLOCK-----\nkbspgp2secret\n-----END PGP PRIVATE KEY BLOCK-----\n", "kbspgp2secret"},
}

// benign are look-alikes that must come through unchanged.
var benign = []string{
	"GET /api/v1/namespaces/kube-system/pods?watch=true&resourceVersion=12345&timeoutSeconds=300 200\n",
	"GET /api/v1/pods?limit=500&labelSelector=app%3Dkey 200\n",
	`{"authorization-mode":"Node,RBAC","authenticated":true}` + "\n",
	"    secretName: kube-root-ca-tls\n",
	`E1202 secret "default-token-abcde" not found` + "\n",
	"kubeadm init phase upload-certs --skip-token-print\n",
	"kubelet --bootstrap-kubeconfig=/etc/kubernetes/bootstrap-kubelet.conf --token-ttl 1h0m0s\n",
	"echo hello | grep h\n",
	"Basic auth is disabled for this endpoint\n",
	"Www-Authenticate: Basic realm=\"registry\"\n",
	"    certificate-authority-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUM=\n",
	"    client-certificate-data: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUQ=\n",
	"  tokenFile: /var/run/secrets/tokens/vault\n",
	"    description: |\n      not a secret, just text\n",
	"-----BEGIN PGP PUBLIC KEY BLOCK-----\n",
	"-----BEGIN CERTIFICATE-----\n",
	"I1202 12:00:00.000000 1 controller.go:42] \"Syncing\" key=\"kube-system/coredns\"\n",
	"level=info password=[REDACTED:password] user=bob\n",
}

// Every planted secret goes, every look-alike stays, and every class is
// counted — fed in one piece and in small pieces (the fast path and the
// line-by-line path).
func TestRedactionCorpus(t *testing.T) {
	for _, c := range corpus {
		for _, split := range []bool{false, true} {
			out, counts := redactSplit(t, c.text, split)
			if strings.Contains(out, c.secret) {
				t.Errorf("%s: %q survived (split %v):\n%s", c.class, c.secret, split, out)
			}
			if len(counts) == 0 {
				t.Errorf("%s: nothing counted for %q", c.class, c.text)
			}
		}
	}
	for _, b := range benign {
		for _, split := range []bool{false, true} {
			if out, counts := redactSplit(t, b, split); out != b {
				t.Errorf("a look-alike changed (%v):\n in  %q\n out %q", counts, b, out)
			}
		}
	}
}

func redactSplit(t *testing.T, in string, split bool) (string, map[string]int) {
	t.Helper()
	if split {
		return redact(t, in)
	}
	var b strings.Builder
	r := NewRedactor(&b)
	if _, err := r.Write([]byte(in)); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	return b.String(), r.Counts()
}

// A password in logfmt keeps the next key=value.
func TestPasswordKeepsTheNextKey(t *testing.T) {
	out, _ := redactSplit(t, "msg=login password=kbslogfmt1 user=bob\n", false)
	if out != "msg=login password=[REDACTED:password] user=bob\n" {
		t.Fatalf("got %q", out)
	}
}

// Pods' environment variables named like secrets lose their values in
// pods.json, where name and value sit on different lines; errors kept in
// manifest.json are redacted like the sources.
func TestStructuredAndErrorRedaction(t *testing.T) {
	pods := &corev1.PodList{Items: []corev1.Pod{{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Annotations: map[string]string{lastApplied: `{"spec":{"containers":[{"env":[{"name":"DB_PASSWORD","value":"kbsenv5applied"}]}]}}`}},
		Spec: corev1.PodSpec{
			InitContainers: []corev1.Container{{Name: "init", Env: []corev1.EnvVar{{Name: "API_TOKEN", Value: "kbsenv1token"}}}},
			Containers: []corev1.Container{{Name: "app", Args: []string{"--db", "x", "--password", "kbsenv4arg"}, Env: []corev1.EnvVar{
				{Name: "DB_PASSWORD", Value: "kbsenv2pass"}, {Name: "aws_secret_access_key", Value: "kbsenv3secret"},
				{Name: "LOG_LEVEL", Value: "debug"},
			}}},
		},
	}}}
	path := filepath.Join(t.TempDir(), "b.tar.gz")
	b, err := NewBundle(path, true, 0)
	if err != nil {
		t.Fatal(err)
	}
	if s := addJSON(b, "worker-0", "api/pods.json", pods, nil); s.Redactions[ruleEnvSecret] != 5 {
		t.Errorf("env-secret counted %d, want 5 (%v)", s.Redactions[ruleEnvSecret], s.Redactions)
	}
	b.Add("worker-0", "journal/x.log", "ssh", errReader{errString("ssh: exit 1: mysql --password kbserr1pass: access denied")})
	b.SetNode("worker-0", NodeInfo{Role: "worker", Error: "dial: echo kbserr2pass | sudo -S true failed"})
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	err = WalkBundle(path, func(name string, r io.Reader) error {
		data, err := io.ReadAll(r)
		files[name] = string(data)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"kbserr1pass", "kbserr2pass"} {
		if !strings.Contains(files["manifest.json"], "[REDACTED:") || strings.Contains(files["manifest.json"], secret) {
			t.Errorf("manifest.json holds %q or no redaction", secret)
		}
	}
	for _, v := range []string{"kbsenv1token", "kbsenv2pass", "kbsenv3secret", "kbsenv4arg", "kbsenv5applied"} {
		if strings.Contains(files["worker-0/api/pods.json"], v) {
			t.Errorf("pods.json holds %s", v)
		}
	}
	var back corev1.PodList
	if err := json.Unmarshal([]byte(files["worker-0/api/pods.json"]), &back); err != nil {
		t.Fatalf("pods.json is not JSON after redaction: %v", err)
	}
	if pods.Items[0].Spec.Containers[0].Env[2].Value != "debug" {
		t.Error("LOG_LEVEL was redacted")
	}
}

type errString string

func (e errString) Error() string { return string(e) }
