package remote

import (
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kevinburke/ssh_config"
)

// resolved is a Target after ~/.ssh/config: where to connect and as whom.
type resolved struct {
	host     string // what known_hosts and the TCP dial use
	port     int
	user     string
	keyFiles []string
	jump     string
}

// resolve applies ~/.ssh/config (the user's, if readable) to t: the spec's
// explicit settings win, ssh_config fills the rest, then defaults.
func resolve(t Target, cfg *ssh_config.Config) resolved {
	get := func(key string) string {
		if cfg == nil {
			return ""
		}
		v, _ := cfg.Get(t.Address, key)
		return v
	}
	r := resolved{host: t.Address, port: t.Port, user: t.User, jump: t.Bastion}
	if hn := get("HostName"); hn != "" {
		r.host = hn
	}
	if r.port == 0 {
		r.port, _ = strconv.Atoi(get("Port"))
	}
	if r.port == 0 {
		r.port = 22
	}
	if r.user == "" {
		r.user = get("User")
	}
	if r.user == "" {
		if u, err := user.Current(); err == nil {
			r.user = u.Username
		}
	}
	if t.KeyFile != "" {
		r.keyFiles = []string{t.KeyFile}
	} else if cfg != nil {
		if ids, _ := cfg.GetAll(t.Address, "IdentityFile"); len(ids) > 0 && ids[0] != "~/.ssh/identity" {
			r.keyFiles = existingKeys(ids)
		}
	}
	if r.jump == "" {
		if j := get("ProxyJump"); j != "" && j != "none" {
			r.jump = strings.Split(j, ",")[0] // one hop is what kbs supports
		}
	}
	return r
}

// loadSSHConfig reads ~/.ssh/config; a missing or unreadable file is no
// config at all, as for ssh(1).
func loadSSHConfig() *ssh_config.Config {
	home, err := os.UserHomeDir()
	if err != nil {
		return nil
	}
	f, err := os.Open(filepath.Join(home, ".ssh", "config"))
	if err != nil {
		return nil
	}
	defer f.Close()
	cfg, err := ssh_config.Decode(f)
	if err != nil {
		return nil
	}
	return cfg
}

func existingKeys(paths []string) []string {
	var out []string
	for _, p := range paths {
		p = expandHome(p)
		if _, err := os.Stat(p); err == nil {
			out = append(out, p)
		}
	}
	return out
}

// parseJump splits [user@]host[:port].
func parseJump(s, defUser string) (user, host string, port int) {
	user, host = defUser, s
	if u, h, ok := strings.Cut(s, "@"); ok {
		user, host = u, h
	}
	port = 22
	if i := strings.LastIndexByte(host, ':'); i > 0 && !strings.Contains(host[i+1:], "]") {
		if p, err := strconv.Atoi(host[i+1:]); err == nil {
			host, port = host[:i], p
		}
	}
	return user, strings.Trim(host, "[]"), port
}
