// Command release builds the kbs release: cross-compiled, stripped and
// stamped binaries, one archive per platform (tar.gz; zip for Windows) with
// the binary, LICENSE and README, a sha256 file, and the krew manifest
// rendered with the real checksums — both on its own and in the layout of a
// custom krew index repository.
//
//	go run ./hack/release -version v0.1.0 [-out dist] [-base-url URL] [-platforms linux/amd64,…]
//
// Run it from the repository root: LICENSE, README.md and the template are
// read from there.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"
)

func main() {
	var o options
	flag.StringVar(&o.Version, "version", "", "release version, semver with a leading v (v0.1.0)")
	flag.StringVar(&o.Commit, "commit", "unknown", "commit to stamp")
	flag.StringVar(&o.BuildDate, "date", "", "build date to stamp (RFC 3339; default now)")
	flag.StringVar(&o.Out, "out", "dist", "output directory")
	flag.StringVar(&o.BaseURL, "base-url", "", "where the archives will be downloaded from (default: the GitHub release of -version)")
	flag.StringVar(&o.Template, "template", "krew/kbs.yaml.tmpl", "krew manifest template")
	platforms := flag.String("platforms", strings.Join(defaultPlatforms, ","), "comma-separated os/arch list")
	flag.Parse()
	o.Platforms = strings.Split(*platforms, ",")
	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "release: %v\n", err)
		os.Exit(1)
	}
}
