package pki

import (
	"fmt"
	"time"

	"github.com/cloudflare/cfssl/config"
)

// Signing profiles, named as in the operator's cfssl ca-config.json.
const (
	// ProfileServer is for servers that are also clients of their peers
	// (etcd's own server cert): server and client auth.
	ProfileServer = "server"
	// ProfileClient is for clients only (kube-apiserver to etcd, users).
	ProfileClient = "client"
	// ProfilePeer is for etcd members talking to each other.
	ProfilePeer = "peer"
)

// DefaultExpiry is the leaf lifetime of the operator's ca-config.json: 5 years.
const DefaultExpiry = 43800 * time.Hour

// DefaultCAExpiry is how long a CA made by kbs lives, as kubeadm's CAs do.
const DefaultCAExpiry = 10 * 365 * 24 * time.Hour

// caConfigJSON is the operator's ca-config.json, kept as cfssl reads it so the
// profiles are exactly theirs.
const caConfigJSON = `{
  "signing": {
    "default": {"expiry": "43800h"},
    "profiles": {
      "server": {"expiry": "43800h", "usages": ["signing", "key encipherment", "server auth", "client auth"]},
      "client": {"expiry": "43800h", "usages": ["signing", "key encipherment", "client auth"]},
      "peer":   {"expiry": "43800h", "usages": ["signing", "key encipherment", "server auth", "client auth"]}
    }
  }
}`

// signingPolicy returns the policy for one request: the notes' profiles, with
// the chosen profile's expiry replaced when expiry is non-zero.
func signingPolicy(profile string, expiry time.Duration) (*config.Signing, error) {
	cfg, err := config.LoadConfig([]byte(caConfigJSON))
	if err != nil {
		return nil, fmt.Errorf("loading signing profiles: %w", err)
	}
	p, ok := cfg.Signing.Profiles[profile]
	if !ok {
		return nil, fmt.Errorf("unknown certificate profile %q: want %s, %s or %s",
			profile, ProfileServer, ProfileClient, ProfilePeer)
	}
	if expiry < 0 {
		return nil, fmt.Errorf("certificate expiry %s is negative: give a positive duration such as 8760h", expiry)
	}
	if expiry > 0 {
		p.Expiry = expiry
		p.ExpiryString = expiry.String()
	}
	return cfg.Signing, nil
}
