// Package version reports the build's version, stamped by the linker:
//
//	-X github.com/kubectl-kbs/kbs/pkg/version.version=v0.1.0
//	-X github.com/kubectl-kbs/kbs/pkg/version.commit=abc123
//	-X github.com/kubectl-kbs/kbs/pkg/version.buildDate=2026-11-25T00:00:00Z
package version

import (
	"fmt"
	"runtime"
)

// Set by the linker; the defaults say plainly that a build was not stamped.
var (
	version   = "v0.0.0-dev"
	commit    = "unknown"
	buildDate = "unknown"
)

// Info is what `kubectl kbs version` prints.
type Info struct {
	Version   string `json:"version"`
	Commit    string `json:"commit"`
	BuildDate string `json:"buildDate"`
	GoVersion string `json:"goVersion"`
	Platform  string `json:"platform"`
}

// Get returns the stamped build information of this binary.
func Get() Info {
	return Info{
		Version:   version,
		Commit:    commit,
		BuildDate: buildDate,
		GoVersion: runtime.Version(),
		Platform:  fmt.Sprintf("%s/%s", runtime.GOOS, runtime.GOARCH),
	}
}

// String is the one-line human form.
func (i Info) String() string {
	return fmt.Sprintf("kbs %s (commit %s, built %s, %s, %s)", i.Version, i.Commit, i.BuildDate, i.GoVersion, i.Platform)
}
