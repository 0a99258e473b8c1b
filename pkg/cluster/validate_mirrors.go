package cluster

import (
	"maps"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// registryHost is a registry as the first element of an image name spells
// it: a DNS name (lowercase letters, digits, dots, hyphens) with an
// optional port, or an IPv4 address with one. Nothing else reaches the
// file name and the TOML kbs writes for it.
var registryHost = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$`)

// dockerHubAliases are names containerd never looks up: it files every
// Docker Hub image under docker.io.
var dockerHubAliases = []string{"index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"}

// validateMirrors wants registry names as image names spell them and
// mirrors that are plain http(s) base URLs in their canonical form (what
// kbs writes into containerd's TOML as they are), once each: no
// credentials (they would sit in a world-readable file on every node), no
// path, query or fragment.
func validateMirrors(p *field.Path, mirrors map[string][]string) field.ErrorList {
	var errs field.ErrorList
	for _, reg := range slices.Sorted(maps.Keys(mirrors)) {
		urls, rp := mirrors[reg], p.Key(reg)
		switch {
		case slices.Contains(dockerHubAliases, reg):
			errs = append(errs, field.Invalid(rp, reg, "containerd files Docker Hub's images under docker.io: use that name"))
		case !validHostPort(reg):
			errs = append(errs, field.Invalid(rp, reg, "must be a registry host[:port] as image names spell it, such as docker.io or registry.example.com:5000"))
		}
		if len(urls) == 0 {
			errs = append(errs, field.Required(rp, "list at least one mirror, or leave the registry out"))
		}
		seen := map[string]bool{}
		for i, raw := range urls {
			canon, msg := MirrorURL(raw)
			switch {
			case msg != "":
				errs = append(errs, field.Invalid(rp.Index(i), raw, msg))
			case seen[canon]:
				errs = append(errs, field.Duplicate(rp.Index(i), raw))
			}
			seen[canon] = true
		}
	}
	return errs
}

// MirrorURL is a mirror's canonical form, scheme://host[:port], or why raw
// is not a mirror kbs writes.
func MirrorURL(raw string) (canonical, problem string) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return "", "must be an http:// or https:// URL such as https://mirror.example.com"
	}
	if u.User != nil {
		return "", "must not carry credentials: configure them on the mirror's side or in containerd's own files"
	}
	if !validHostPort(u.Host) {
		return "", "must name the mirror by a lowercase host name or IPv4 address, with an optional port (1-65535)"
	}
	canonical = u.Scheme + "://" + u.Host
	if raw != canonical && raw != canonical+"/" {
		return "", "must be the mirror's base URL, " + canonical + ", without path, query or fragment (containerd adds /v2/)"
	}
	return canonical, ""
}

func validHostPort(s string) bool {
	if !registryHost.MatchString(s) {
		return false
	}
	if _, port, ok := strings.Cut(s, ":"); ok {
		n, err := strconv.Atoi(port)
		return err == nil && n >= 1 && n <= 65535
	}
	return true
}
