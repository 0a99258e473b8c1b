package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"io"
	"os"
	"time"
)

// archiveFile is one file to pack: its name in the archive and where it is.
type archiveFile struct {
	Name, Path string
	Mode       int64
}

// epoch is the fixed modification time of every archived file, so the same
// inputs give byte-identical archives and checksums.
var epoch = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)

func writeTarGz(path string, files []archiveFile) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	gz := gzip.NewWriter(f) // no name or time in the header: reproducible
	tw := tar.NewWriter(gz)
	for _, af := range files {
		if err := addTar(tw, af); err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := gz.Close(); err != nil {
		return err
	}
	return f.Close()
}

func addTar(tw *tar.Writer, af archiveFile) error {
	src, err := os.Open(af.Path)
	if err != nil {
		return err
	}
	defer src.Close()
	fi, err := src.Stat()
	if err != nil {
		return err
	}
	hdr := &tar.Header{Name: af.Name, Mode: af.Mode, Size: fi.Size(), ModTime: epoch, Typeflag: tar.TypeReg, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err = io.Copy(tw, src)
	return err
}

func writeZip(path string, files []archiveFile) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	for _, af := range files {
		if err := addZip(zw, af); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}

func addZip(zw *zip.Writer, af archiveFile) error {
	src, err := os.Open(af.Path)
	if err != nil {
		return err
	}
	defer src.Close()
	hdr := &zip.FileHeader{Name: af.Name, Method: zip.Deflate, Modified: epoch}
	hdr.SetMode(os.FileMode(af.Mode))
	w, err := zw.CreateHeader(hdr)
	if err != nil {
		return err
	}
	_, err = io.Copy(w, src)
	return err
}
