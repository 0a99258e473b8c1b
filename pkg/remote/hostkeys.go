package remote

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeys verifies host keys against known_hosts files. A changed key is
// always refused; an unknown host is refused unless AcceptNew is set, in
// which case its key is recorded in the first file (like OpenSSH's
// StrictHostKeyChecking=accept-new).
type HostKeys struct {
	Files     []string
	AcceptNew bool
	// Log receives a line for every key recorded.
	Log func(format string, args ...any)

	mu sync.Mutex
	// recorded are the keys this run accepted and wrote: a reconnect in
	// the same run must present the same one (the known_hosts callback
	// was read before they were written).
	recorded map[string]ssh.PublicKey
}

// DefaultKnownHosts is ~/.ssh/known_hosts.
func DefaultKnownHosts() string {
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".ssh", "known_hosts")
}

// callbacks returns the verifying callback and the plain known_hosts one
// (nil without files), which knownAlgorithms probes.
func (h *HostKeys) callbacks() (check, raw ssh.HostKeyCallback, err error) {
	files := existing(h.Files)
	if len(files) == 0 && !h.AcceptNew {
		return nil, nil, fmt.Errorf("no known_hosts file (%s): add the hosts' keys (ssh-keyscan HOST >> %s, after checking the fingerprints) or pass --accept-new-host-keys to record them on first contact",
			strings.Join(h.Files, ", "), firstOr(h.Files, DefaultKnownHosts()))
	}
	if len(files) == 0 {
		return h.verify(nil), nil, nil
	}
	raw, err = knownhosts.New(files...)
	if err != nil {
		return nil, nil, fmt.Errorf("reading known_hosts: %w", err)
	}
	return h.verify(raw), raw, nil
}

func (h *HostKeys) verify(known ssh.HostKeyCallback) ssh.HostKeyCallback {
	return func(hostname string, remote net.Addr, key ssh.PublicKey) error {
		if seen, ok := h.seen(hostname); ok {
			if !bytes.Equal(seen.Marshal(), key.Marshal()) {
				return mismatch(hostname, key, []knownhosts.KnownKey{{Key: seen, Filename: "accepted earlier in this run"}})
			}
			return nil
		}
		var keyErr *knownhosts.KeyError
		if known != nil {
			err := known(hostname, remote, key)
			if err == nil {
				return nil
			}
			if !errors.As(err, &keyErr) {
				return err
			}
			if len(keyErr.Want) > 0 {
				return mismatch(hostname, key, keyErr.Want)
			}
		}
		if !h.AcceptNew {
			return fmt.Errorf("host %s is not in known_hosts (%s); its key is %s %s: check that fingerprint, then add it or re-run with --accept-new-host-keys",
				hostname, strings.Join(h.Files, ", "), key.Type(), ssh.FingerprintSHA256(key))
		}
		return h.record(hostname, key)
	}
}

func mismatch(hostname string, got ssh.PublicKey, want []knownhosts.KnownKey) error {
	var known []string
	for _, k := range want {
		known = append(known, fmt.Sprintf("%s %s (%s:%d)", k.Key.Type(), ssh.FingerprintSHA256(k.Key), k.Filename, k.Line))
	}
	return fmt.Errorf("HOST KEY MISMATCH for %s: known_hosts has %s, but the host presented %s %s; someone may be intercepting the connection, or the host was reinstalled — verify, then remove the old key with ssh-keygen -R %s",
		hostname, strings.Join(known, ", "), got.Type(), ssh.FingerprintSHA256(got), hostname)
}

func (h *HostKeys) seen(hostname string) (ssh.PublicKey, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	k, ok := h.recorded[knownhosts.Normalize(hostname)]
	return k, ok
}

func (h *HostKeys) record(hostname string, key ssh.PublicKey) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if k, ok := h.recorded[knownhosts.Normalize(hostname)]; ok {
		// Two first connections raced: the first one's key stands.
		if !bytes.Equal(k.Marshal(), key.Marshal()) {
			return mismatch(hostname, key, []knownhosts.KnownKey{{Key: k, Filename: "accepted earlier in this run"}})
		}
		return nil
	}
	path := firstOr(h.Files, DefaultKnownHosts())
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("recording host key: %w", err)
	}
	defer f.Close()
	name := knownhosts.Normalize(hostname)
	if hashedFile(path) {
		name = knownhosts.HashHostname(name) // as ssh-keygen -H left the file
	}
	line := knownhosts.Line([]string{name}, key)
	if _, err := fmt.Fprintln(f, line); err != nil {
		return fmt.Errorf("recording host key: %w", err)
	}
	if h.recorded == nil {
		h.recorded = map[string]ssh.PublicKey{}
	}
	h.recorded[knownhosts.Normalize(hostname)] = key
	if h.Log != nil {
		h.Log("recorded new host key of %s (%s %s) in %s", hostname, key.Type(), ssh.FingerprintSHA256(key), path)
	}
	return nil
}

// knownAlgorithms returns the key types known_hosts holds for hostname, so
// the client asks the server for one of those (otherwise a server offering
// ECDSA first fails against a known Ed25519 key).
func knownAlgorithms(cb ssh.HostKeyCallback, hostname string) []string {
	if cb == nil {
		return nil
	}
	probe := probeKey{}
	var keyErr *knownhosts.KeyError
	err := cb(hostname, &net.TCPAddr{IP: net.IPv4zero}, probe)
	if !errors.As(err, &keyErr) {
		return nil
	}
	var algos []string
	for _, k := range keyErr.Want {
		switch t := k.Key.Type(); t {
		case ssh.KeyAlgoRSA:
			algos = append(algos, ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA)
		default:
			algos = append(algos, t)
		}
	}
	return algos
}

// probeKey matches no known key: verifying it reveals the known ones.
type probeKey struct{}

func (probeKey) Type() string                        { return "kbs-probe" }
func (probeKey) Marshal() []byte                     { return []byte("kbs-probe") }
func (probeKey) Verify([]byte, *ssh.Signature) error { return errors.New("probe") }

func existing(files []string) []string {
	var out []string
	for _, f := range files {
		if _, err := os.Stat(f); err == nil {
			out = append(out, f)
		}
	}
	return out
}

func firstOr(s []string, def string) string {
	if len(s) > 0 {
		return s[0]
	}
	return def
}

// hashedFile says whether a known_hosts file hashes its host names (HashKnownHosts):
// a new entry is written the same way, so the file does not give away which
// hosts this machine talks to.
func hashedFile(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(strings.TrimSpace(l), "|1|") {
			return true
		}
	}
	return false
}

// plainHostKeyAlgorithms are the host key types to ask an unknown host
// for: its key, not a certificate. Without a @cert-authority line a
// certificate cannot be checked ("no authorities"), while the key under it
// is what --accept-new-host-keys records, as OpenSSH does.
func plainHostKeyAlgorithms() []string {
	var out []string
	for _, a := range ssh.SupportedAlgorithms().HostKeys {
		if !strings.Contains(a, "-cert-") {
			out = append(out, a)
		}
	}
	return out
}

// trustsAuthorities says whether a known_hosts file has a @cert-authority
// line.
func (h *HostKeys) trustsAuthorities() bool {
	for _, f := range existing(h.Files) {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if strings.HasPrefix(strings.TrimSpace(l), "@cert-authority") {
				return true
			}
		}
	}
	return false
}
