package cluster

import (
	"net/url"
	"regexp"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// registryHost is a registry as the first element of an image name spells
// it: a DNS name (lowercase letters, digits, dots, hyphens) with an
// optional port, or an IPv4 address with one. Nothing else reaches the
// file name and the TOML kbs writes for it.
var registryHost = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*(:[0-9]{1,5})?$`)

// validateMirrors wants registry names as image names spell them and
// mirrors that are plain http(s) base URLs: no credentials (they would sit
// in a world-readable file on every node), no query or fragment, no
// quotes or spaces that could leave the TOML string they end up in.
func validateMirrors(p *field.Path, mirrors map[string][]string) field.ErrorList {
	var errs field.ErrorList
	for reg, urls := range mirrors {
		rp := p.Key(reg)
		if !registryHost.MatchString(reg) {
			errs = append(errs, field.Invalid(rp, reg, "must be a registry host[:port] as image names spell it, such as docker.io or registry.example.com:5000"))
		}
		if len(urls) == 0 {
			errs = append(errs, field.Required(rp, "list at least one mirror, or leave the registry out"))
		}
		for i, raw := range urls {
			if msg := mirrorURLProblem(raw); msg != "" {
				errs = append(errs, field.Invalid(rp.Index(i), raw, msg))
			}
		}
	}
	return errs
}

func mirrorURLProblem(raw string) string {
	u, err := url.Parse(raw)
	switch {
	case err != nil || (u.Scheme != "http" && u.Scheme != "https"):
		return "must be an http:// or https:// URL such as https://mirror.example.com"
	case u.User != nil:
		return "must not carry credentials: configure them on the mirror's side or in containerd's own files"
	case !registryHost.MatchString(u.Host):
		return "must name the mirror by a lowercase host name or IPv4 address, with an optional port"
	case u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" || (u.Path != "" && u.Path != "/") || u.ForceQuery:
		return "must be the mirror's base URL, without path, query or fragment (containerd adds /v2/)"
	}
	return ""
}
