// Command kbs-images writes container images built from local files into one
// docker-archive tarball, the format `ctr images import` loads. The images
// the test clusters run (control plane, kube-proxy, CoreDNS, pause, flannel)
// are the test binaries on a shared base layer; no registry or daemon is
// involved.
//
//	kbs-images -out images.tar -spec images.json
//
// The spec is a JSON list of {"ref", "base", "files": {dest: src},
// "entrypoint", "cmd", "user", "dirs": {path: owner uid}, "links": {path:
// target}}: "dirs" are empty directories a non-root "user" may write to,
// "links" symbolic links (a busybox's applets).
// "base" names a tar file used as the first layer (shared between images, so
// containerd stores it once).
package main

import (
	"archive/tar"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

type imageSpec struct {
	Ref        string            `json:"ref"`
	Base       string            `json:"base,omitempty"`
	Files      map[string]string `json:"files"`
	Entrypoint []string          `json:"entrypoint,omitempty"`
	Cmd        []string          `json:"cmd,omitempty"`
	User       string            `json:"user,omitempty"`
	Dirs       map[string]int    `json:"dirs,omitempty"`
	Links      map[string]string `json:"links,omitempty"`
}

func main() {
	out := flag.String("out", "", "docker-archive tarball to write")
	specPath := flag.String("spec", "", "JSON image list")
	flag.Parse()
	if *out == "" || *specPath == "" {
		fmt.Fprintln(os.Stderr, "usage: kbs-images -out FILE -spec FILE")
		os.Exit(2)
	}
	if err := run(*out, *specPath); err != nil {
		fmt.Fprintln(os.Stderr, "kbs-images:", err)
		os.Exit(1)
	}
}

func run(out, specPath string) error {
	raw, err := os.ReadFile(specPath)
	if err != nil {
		return err
	}
	var specs []imageSpec
	if err := json.Unmarshal(raw, &specs); err != nil {
		return fmt.Errorf("%s: %w", specPath, err)
	}
	tmp, err := os.MkdirTemp("", "kbs-images-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	bases := map[string]v1.Layer{}
	refs := map[name.Reference]v1.Image{}
	for i, s := range specs {
		img, err := build(s, bases, fmt.Sprintf("%s/layer-%d.tar", tmp, i))
		if err != nil {
			return fmt.Errorf("%s: %w", s.Ref, err)
		}
		ref, err := name.ParseReference(s.Ref)
		if err != nil {
			return err
		}
		refs[ref] = img
	}
	partial := out + ".partial"
	if err := tarball.MultiRefWriteToFile(partial, refs); err != nil {
		os.Remove(partial)
		return err
	}
	return os.Rename(partial, out)
}

func build(s imageSpec, bases map[string]v1.Layer, layerPath string) (v1.Image, error) {
	var layers []v1.Layer
	if s.Base != "" {
		l, ok := bases[s.Base]
		if !ok {
			var err error
			if l, err = tarball.LayerFromFile(s.Base); err != nil {
				return nil, err
			}
			bases[s.Base] = l
		}
		layers = append(layers, l)
	}
	if err := writeLayer(layerPath, s.Files, s.Dirs, s.Links); err != nil {
		return nil, err
	}
	top, err := tarball.LayerFromFile(layerPath)
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, append(layers, top)...)
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "amd64"
	cf.Config.Entrypoint = s.Entrypoint
	cf.Config.User = s.User
	cf.Config.Cmd = s.Cmd
	cf.Config.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	return mutate.ConfigFile(img, cf)
}

// writeLayer writes the files (dest path in the image → local source), their
// parent directories and the owned empty directories into an uncompressed
// layer tar.
func writeLayer(p string, files map[string]string, owned map[string]int, links map[string]string) error {
	f, err := os.Create(p)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	dests := make([]string, 0, len(files))
	for d := range files {
		dests = append(dests, d)
	}
	sort.Strings(dests)
	epoch := time.Unix(0, 0)
	dirs := map[string]bool{}
	parentsOf := append([]string{}, dests...)
	for l := range links {
		parentsOf = append(parentsOf, l)
	}
	for _, dest := range parentsOf {
		dest = strings.TrimPrefix(path.Clean("/"+dest), "/")
		for dir := path.Dir(dest); dir != "."; dir = path.Dir(dir) {
			if dirs[dir] {
				break
			}
			dirs[dir] = true
		}
	}
	uid := map[string]int{}
	for d, owner := range owned {
		d = strings.TrimPrefix(path.Clean("/"+d), "/")
		dirs[d], uid[d] = true, owner
	}
	dirList := make([]string, 0, len(dirs))
	for d := range dirs {
		dirList = append(dirList, d)
	}
	sort.Strings(dirList)
	for _, d := range dirList {
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755, ModTime: epoch, Uid: uid[d], Gid: uid[d]}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
	}
	for _, dest := range dests {
		if err := addFile(tw, strings.TrimPrefix(path.Clean("/"+dest), "/"), files[dest], epoch); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(links))
	for l := range links {
		names = append(names, l)
	}
	sort.Strings(names)
	for _, l := range names {
		hdr := &tar.Header{Typeflag: tar.TypeSymlink, Name: strings.TrimPrefix(path.Clean("/"+l), "/"), Linkname: links[l], Mode: 0o777, ModTime: epoch}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func addFile(tw *tar.Writer, dest, src string, mtime time.Time) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	st, err := in.Stat()
	if err != nil {
		return err
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: dest, Mode: int64(st.Mode().Perm()), Size: st.Size(), ModTime: mtime}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.Copy(tw, in)
	return err
}
