package diag

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"regexp"
	"strings"
	"testing"
)

func redact(t *testing.T, in string) (string, map[string]int) {
	t.Helper()
	var out bytes.Buffer
	r := NewRedactor(&out)
	// Odd-sized writes: lines must be reassembled across them.
	for len(in) > 0 {
		n := min(7, len(in))
		if _, err := r.Write([]byte(in[:n])); err != nil {
			t.Fatal(err)
		}
		in = in[n:]
	}
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	return out.String(), r.Counts()
}

// Planted secrets of every kind never come out; the lines around them do.
func TestRedactsPlantedSecrets(t *testing.T) {
	secrets := map[string]string{
		"private-key":        "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIBx9secretsecretsecretsecretsecretAoGCCqGSM49\n-----END EC PRIVATE KEY-----\n",
		"bearer-token":       "curl -H 'Authorization: Bearer s3cr3tT0kenValue123456'\n",
		"jwt":                "token=eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhZG1pbiJ9.c2lnbmF0dXJlc2VjcmV0\n",
		"bootstrap-token":    "kubeadm join 10.0.0.20:6443 --token abcdef.0123456789abcdef --discovery-token-ca-cert-hash sha256:00\n",
		"url-password":       "proxy=https://ops:hunter2pass@proxy.example.com:3128\n",
		"password-field":     `{"user":"ops","password":"hunter3pass"}` + "\n",
		"kubeconfig-key":     "    client-key-data: QUJDREVGR0hJSktMTU5PUAkbsplanted==\n",
		"private-key-base64": "  tls.key: LS0tLS1CRUdJTiBQUklWQVRFIEtFWS0tLS0tCk1JSUV2\n",
		"yaml-block-secret":  "stringData:\n  password: |\n    hunter9 multi line\n    second line\nkind: Secret\n",
		"aws-access-key":     "AWS_ACCESS_KEY_ID=AKIAABCDEFGHIJKLMNOP\n",
		"aws-secret-key":     "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY0\n",
		"gcp-api-key":        "key=AIzaSyA-abcdefghijklmnopqrstuvwxyz012345\n",
		"basic-auth":         "Authorization: Basic b3BzOmh1bnRlcjVwYXNz\n",
		"url-query-secret":   "GET https://s3.example.com/b/o?X-Amz-Signature=feedfacecafe0123 200\n",
		"piped-password":     "echo 'hunter6pass' | sudo -S systemctl restart kubelet\n",
		"cli-secret":         "etcdctl --user root --password hunter7pass member list\n",
		"token-field":        "    token: opaqueT0kenValue98765\n",
		"registry-auth":      `{"auths":{"reg.example.com":{"auth":"b3BzOmh1bnRlcjhwYXNz"}}}` + "\n",
		"encryption-key":     "        secret: c2VjcmV0aXMzMmJ5dGVzbG9uZ2Zvcm1lMTIzNDU2Nzg=\n",
	}
	values := []string{"MHcCAQEEIBx9secret", "s3cr3tT0kenValue123456", "eyJhbGciOiJSUzI1NiJ9.eyJzdWIi", "0123456789abcdef", "hunter2pass",
		"hunter3pass", "LS0tLS1CRUdJTiBQUklWQVRF", "QUJDREVGR0hJSktMTU5PUAkbsplanted", "hunter9", "second line", "AKIAABCDEFGHIJKLMNOP", "wJalrXUtnFEMI", "AIzaSyA-abcdef",
		"b3BzOmh1bnRlcjVwYXNz", "feedfacecafe0123", "hunter6pass", "hunter7pass", "opaqueT0kenValue98765", "b3BzOmh1bnRlcjhwYXNz", "c2VjcmV0aXMzMmJ5"}
	var in strings.Builder
	in.WriteString("Nov 25 kubelet[42]: starting\n")
	for _, name := range RuleNames() {
		in.WriteString(secrets[name])
	}
	in.WriteString("Nov 25 kubelet[42]: done")
	out, counts := redact(t, in.String())
	for _, v := range values {
		if strings.Contains(out, v) {
			t.Errorf("secret %q survived:\n%s", v, out)
		}
	}
	for _, name := range RuleNames() {
		// env-secret works on pods' objects, not lines (TestStructuredAndErrorRedaction).
		if counts[name] == 0 && name != ruleEnvSecret {
			t.Errorf("rule %s counted nothing", name)
		}
	}
	for _, keep := range []string{"kubelet[42]: starting", "kubelet[42]: done", "--discovery-token-ca-cert-hash", "proxy.example.com:3128", `"user":"ops"`} {
		if !strings.Contains(out, keep) {
			t.Errorf("lost %q:\n%s", keep, out)
		}
	}
}

// The (?i) rules catch secrets in capitals too, as environment dumps and
// HTTP headers write them.
func TestRedactsUpperCaseSecrets(t *testing.T) {
	in := "AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY0\nDB_PASSWORD=hunter4pass\nAUTHORIZATION: BEARER s3cr3tT0kenValue654321\n"
	out, counts := redact(t, in)
	for _, v := range []string{"wJalrXUtnFEMI", "hunter4pass", "s3cr3tT0kenValue654321"} {
		if strings.Contains(out, v) {
			t.Errorf("secret %q survived:\n%s", v, out)
		}
	}
	for _, name := range []string{"aws-secret-key", "password-field", "bearer-token"} {
		if counts[name] != 1 {
			t.Errorf("rule %s counted %d, want 1 (%v)", name, counts[name], counts)
		}
	}
}

func TestLeavesOrdinaryLinesAlone(t *testing.T) {
	in := "I1125 03:00:00.123456 1 server.go:42] Version: v1.37.2 on 10.96.0.1:443, image registry.k8s.io/pause:3.10\n"
	out, counts := redact(t, in)
	if out != in || len(counts) != 0 {
		t.Fatalf("changed an ordinary line: %q %v", out, counts)
	}
}

// BenchmarkRedact measures throughput on journal-like text with a secret
// now and then; the goal is at least 500 MB/s on one core.
//
//	go test -run '^$' -bench Redact -cpu 1 ./pkg/diag
//
// variedLog is kubelet-like lines whose IDs, names and hashes vary as real
// ones do: hex and base-36 strings make bytes such as 'b', '-' and '.'
// common, which is what costs the needle search.
func variedLog(size int) []byte {
	rnd := rand.New(rand.NewPCG(1, 2))
	const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"
	str := func(n int, set string) string {
		b := make([]byte, n)
		for i := range b {
			b[i] = set[rnd.IntN(len(set))]
		}
		return string(b)
	}
	files := []string{"kubelet.go:2468", "cri_stats_provider.go:455", "reconciler_common.go:245", "eviction_manager.go:369"}
	var out bytes.Buffer
	for out.Len() < size {
		fmt.Fprintf(&out, "I1125 04:34:%02d.%06d     712 %s] \"SyncLoop (PLEG): event for pod\" pod=\"kube-system/coredns-%s-%s\" event={\"ID\":\"%s-%s-%s\",\"Data\":\"%s\"}\n",
			rnd.IntN(60), rnd.IntN(1e6), files[rnd.IntN(len(files))], str(10, alnum), str(5, alnum),
			str(8, "0123456789abcdef"), str(4, "0123456789abcdef"), str(12, "0123456789abcdef"), str(64, "0123456789abcdef"))
	}
	return out.Bytes()
}

// BenchmarkRedactVaried is redaction of lines that vary (see variedLog).
func BenchmarkRedactVaried(b *testing.B) {
	data := variedLog(4 << 20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r := NewRedactor(io.Discard)
		r.Write(data)
		r.Close()
	}
}

func BenchmarkRedact(b *testing.B) {
	var sample bytes.Buffer
	for i := 0; sample.Len() < 4<<20; i++ {
		sample.WriteString("Nov 25 03:00:01 worker-0 kubelet[812]: I1125 03:00:01.123456 812 kubelet.go:2400] \"SyncLoop (PLEG): event for pod\" pod=\"kube-system/kube-proxy-abcde\" event={\"ID\":\"1234\"}\n")
		if i%1000 == 0 {
			sample.WriteString("Nov 25 03:00:01 worker-0 sh[1]: kubeadm join 10.0.0.20:6443 --token abcdef.0123456789abcdef\n")
		}
	}
	data := sample.Bytes()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		r := NewRedactor(io.Discard)
		r.Write(data)
		r.Close()
	}
}

var tokenRE = regexp.MustCompile(`(^|[^a-z0-9])[a-z0-9]{6}\.[a-z0-9]{16}($|[^a-z0-9])`)

// FuzzRedact: any input, written in any split, never panics and never lets
// a bootstrap token or a private key header through.
//
//	go test -fuzz FuzzRedact ./pkg/diag
func FuzzRedact(f *testing.F) {
	f.Add([]byte("join --token abcdef.0123456789abcdef now\n"), 3)
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\nAAAA\n-----END RSA PRIVATE KEY-----\nafter\n"), 5)
	f.Add([]byte("a.b\n"), 1)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		var out bytes.Buffer
		r := NewRedactor(&out)
		if split < 1 {
			split = 1
		}
		for p := data; len(p) > 0; {
			n := min(split, len(p))
			r.Write(p[:n])
			p = p[n:]
		}
		r.Close()
		if tokenRE.Match(out.Bytes()) {
			t.Fatalf("a bootstrap token survived: %q -> %q", data, out.Bytes())
		}
		if bytes.Contains(out.Bytes(), []byte("PRIVATE KEY-----")) && bytes.Contains(out.Bytes(), []byte("-----BEGIN ")) {
			for _, line := range bytes.Split(out.Bytes(), []byte("\n")) {
				if bytes.Contains(line, []byte("-----BEGIN ")) && bytes.Contains(line, []byte("PRIVATE KEY-----")) {
					t.Fatalf("a private key header survived: %q", line)
				}
			}
		}
	})
}

// FuzzRedactFastPathMatchesLineByLine: the whole-chunk search changes
// nothing but speed: any input, in any split, gives the same output and
// the same counts as redacting every line one by one.
//
//	go test -fuzz FuzzRedactFastPathMatchesLineByLine ./pkg/diag
func FuzzRedactFastPathMatchesLineByLine(f *testing.F) {
	for _, s := range plantedSecretsCorpus() {
		f.Add([]byte(s), 7)
	}
	for _, c := range corpus {
		f.Add([]byte(c.text), 5)
	}
	for _, b := range benign {
		f.Add([]byte(b), 3)
	}
	f.Add([]byte("ok line\n-----BEGIN EC PRIVATE KEY-----\nMHcC\n-----END EC PRIVATE KEY-----\nafter a.b abcdef.0123456789abcdef\n"), 11)
	f.Add([]byte("partial line with pass"), 3)
	f.Fuzz(func(t *testing.T, data []byte, split int) {
		if split < 1 {
			split = 1
		}
		run := func(lineByLine bool) (string, map[string]int) {
			var out bytes.Buffer
			r := NewRedactor(&out)
			r.lineByLine = lineByLine
			for p := data; len(p) > 0; {
				n := min(split, len(p))
				r.Write(p[:n])
				p = p[n:]
			}
			r.Close()
			return out.String(), r.counts
		}
		fast, fastCounts := run(false)
		slow, slowCounts := run(true)
		if fast != slow {
			t.Fatalf("fast path differs:\n in   %q\n fast %q\n slow %q", data, fast, slow)
		}
		if !maps.Equal(fastCounts, slowCounts) {
			t.Fatalf("counts differ: fast %v, slow %v", fastCounts, slowCounts)
		}
	})
}

// plantedSecretsCorpus is a log with one secret of every kind among
// ordinary lines, for the fuzzers' seeds.
func plantedSecretsCorpus() []string {
	lines := []string{
		"I1125 kubelet.go:1] ordinary line with a.b and https://10.0.0.1:6443/healthz",
		"Authorization: Bearer abcdefghijklmnop0123",
		"token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlZm9v",
		"kubeadm join 10.0.0.20:6443 --token abcdef.0123456789abcdef",
		"url https://admin:hunter2@example.com/x",
		"password: s3cret",
		"client-key-data: QUJDREVGR0hJSktMTU5PUA==",
		"AKIAABCDEFGHIJKLMNOP in env",
		"aws_secret_access_key = abcdefghijklmnopqrstuvwxyz0123456789ABCD",
		"AIzaSyA-abcdefghijklmnopqrstuvwxyz012345",
		"a secret word and a class pass",
	}
	all := strings.Join(lines, "\n") + "\n"
	return []string{all, all[:len(all)/2], strings.Repeat(lines[0]+"\n", 50) + all}
}
