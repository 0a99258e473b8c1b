package main

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

const (
	module   = "github.com/kubectl-kbs/kbs"
	homepage = "https://github.com/kubectl-kbs/kbs"
)

var defaultPlatforms = []string{
	"linux/amd64", "linux/arm64", "darwin/amd64", "darwin/arm64", "windows/amd64", "windows/arm64",
}

var semver = regexp.MustCompile(`^v(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$`)

type options struct {
	Version, Commit, BuildDate, Out, BaseURL string
	Template                                 string // the krew manifest template
	Platforms                                []string
}

// artifact is one platform's archive.
type artifact struct {
	OS, Arch, Bin, File, URI, SHA256 string
}

func (o *options) validate() error {
	if !semver.MatchString(o.Version) {
		return fmt.Errorf("-version %q is not semver with a leading v (for example v0.1.0)", o.Version)
	}
	for _, p := range o.Platforms {
		if !strings.Contains(p, "/") {
			return fmt.Errorf("platform %q: want os/arch, for example linux/amd64", p)
		}
	}
	if o.BuildDate == "" {
		o.BuildDate = time.Now().UTC().Format(time.RFC3339)
	}
	if o.BaseURL == "" {
		o.BaseURL = homepage + "/releases/download/" + o.Version
	}
	o.BaseURL = strings.TrimSuffix(o.BaseURL, "/")
	return nil
}

func run(o options) error {
	if err := o.validate(); err != nil {
		return err
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return err
	}
	var arts []artifact
	for _, p := range o.Platforms {
		a, err := buildPlatform(o, p)
		if err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "release: %s %s\n", a.File, a.SHA256)
		arts = append(arts, a)
	}
	if err := writeChecksums(o, arts); err != nil {
		return err
	}
	return writeManifests(o, arts)
}

func buildPlatform(o options, platform string) (artifact, error) {
	goos, goarch, _ := strings.Cut(platform, "/")
	a := artifact{OS: goos, Arch: goarch, Bin: "kubectl-kbs"}
	ext := ".tar.gz"
	if goos == "windows" {
		a.Bin, ext = "kubectl-kbs.exe", ".zip"
	}
	a.File = fmt.Sprintf("kbs_%s_%s_%s%s", o.Version, goos, goarch, ext)
	a.URI = o.BaseURL + "/" + a.File
	stage, err := os.MkdirTemp("", "kbs-release-")
	if err != nil {
		return a, err
	}
	defer os.RemoveAll(stage)
	if err := goBuild(o, goos, goarch, filepath.Join(stage, a.Bin)); err != nil {
		return a, err
	}
	files := []archiveFile{
		{Name: a.Bin, Path: filepath.Join(stage, a.Bin), Mode: 0o755},
		{Name: "LICENSE", Path: "LICENSE", Mode: 0o644},
		{Name: "README.md", Path: "README.md", Mode: 0o644},
	}
	path := filepath.Join(o.Out, a.File)
	if goos == "windows" {
		err = writeZip(path, files)
	} else {
		err = writeTarGz(path, files)
	}
	if err != nil {
		return a, fmt.Errorf("packing %s: %w", a.File, err)
	}
	a.SHA256, err = sha256File(path)
	return a, err
}

func goBuild(o options, goos, goarch, out string) error {
	ldflags := fmt.Sprintf("-s -w -X %[1]s/pkg/version.version=%[2]s -X %[1]s/pkg/version.commit=%[3]s -X %[1]s/pkg/version.buildDate=%[4]s",
		module, o.Version, o.Commit, o.BuildDate)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", ldflags, "-o", out, "./cmd/kubectl-kbs")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+goos, "GOARCH="+goarch)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building for %s/%s: %w", goos, goarch, err)
	}
	return nil
}

func sha256File(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:]), nil
}

// writeChecksums writes sha256sum-compatible lines for every archive.
func writeChecksums(o options, arts []artifact) error {
	var b strings.Builder
	for _, a := range arts {
		fmt.Fprintf(&b, "%s  %s\n", a.SHA256, a.File)
	}
	return os.WriteFile(filepath.Join(o.Out, fmt.Sprintf("kbs_%s_sha256sums.txt", o.Version)), []byte(b.String()), 0o644)
}
