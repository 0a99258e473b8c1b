// Command kbs-registry serves the images of docker-archive tarballs (what
// kbs-images writes) over the registry API, for test nodes whose
// containerd mirrors kbs.local to it (spec.runtime.registryMirrors). The
// images are imported on the nodes already; the registry is for the specs
// that pull Always (the Projected PodCertificate mTLS pods, ImageVolume),
// which a node without a registry fails.
//
//	kbs-registry -listen 10.77.0.1:5000 -registry kbs.local images.tar...
//
// The registry is go-containerregistry's, in memory. Every image named
// REGISTRY/REPO:TAG in the tarballs is pushed as REPO:TAG before the
// "serving" line is printed; it serves until its standard input closes
// (the parent that started it is gone) or it is signalled — by hand, keep
// its input open: sleep infinity | kbs-registry …
package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

func main() {
	listen := flag.String("listen", "", "address to serve on, host:port")
	from := flag.String("registry", "kbs.local", "registry the tarballs' image names start with")
	flag.Parse()
	if *listen == "" || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: kbs-registry -listen HOST:PORT [-registry NAME] TARBALL...")
		os.Exit(2)
	}
	if err := run(*listen, *from, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "kbs-registry:", err)
		os.Exit(1)
	}
}

func run(listen, from string, tarballs []string) error {
	ln, err := net.Listen("tcp", listen)
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: registry.New(registry.Logger(log.New(io.Discard, "", 0)))}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	n := 0
	for _, tb := range tarballs {
		pushed, err := push(tb, from, ln.Addr().String())
		if err != nil {
			return err
		}
		n += pushed
	}
	fmt.Printf("serving %d images of %s at %s\n", n, from, ln.Addr())
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop <- syscall.SIGTERM
	}()
	select {
	case <-stop:
		return srv.Close()
	case err := <-served:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return err
	}
}

// direct reaches the registry on the bridge as it is: no proxy from the
// environment in between.
var direct = &http.Transport{Proxy: nil, ForceAttemptHTTP2: false, MaxIdleConnsPerHost: 4}

// push copies every image of the tarball named from/REPO:TAG to
// addr/REPO:TAG; shared layers go once.
func push(path, from, addr string) (int, error) {
	opener := func() (io.ReadCloser, error) { return os.Open(path) }
	m, err := tarball.LoadManifest(opener)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", path, err)
	}
	n := 0
	for _, d := range m {
		for _, rt := range d.RepoTags {
			src, err := name.NewTag(rt)
			if err != nil || src.RegistryStr() != from {
				continue
			}
			img, err := tarball.Image(opener, &src)
			if err != nil {
				return n, fmt.Errorf("%s: %s: %w", path, rt, err)
			}
			dst, err := name.NewTag(addr+"/"+src.RepositoryStr()+":"+src.TagStr(), name.Insecure)
			if err != nil {
				return n, err
			}
			if err := remote.Write(dst, img, remote.WithTransport(direct)); err != nil {
				return n, fmt.Errorf("pushing %s: %w", rt, err)
			}
			n++
		}
	}
	return n, nil
}
