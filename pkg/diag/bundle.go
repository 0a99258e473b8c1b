package diag

import (
	"archive/tar"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"sort"
	"sync"
	"time"

	gzip "github.com/klauspost/compress/gzip"
)

// Source is what the bundle's manifest.json says about one collected source.
// Field names are stable.
type Source struct {
	Node string `json:"node"`
	Name string `json:"name"`
	Path string `json:"path"` // inside the bundle, as WalkBundle names it
	// Stored is the archive entry, each source compressed on its own so
	// that it is spooled compressed (see Add): Path + ".gz", or Path +
	// ".zst" for a log kept as the node compressed it (see AddZstd).
	Stored    string `json:"stored"`
	Transport string `json:"transport"`
	// Compression is how the source travelled from the node ("zstd"), if
	// it was compressed there.
	Compression string         `json:"compression,omitempty"`
	Status      string         `json:"status"` // ok, failed
	Bytes       int64          `json:"bytes"`
	Duration    string         `json:"duration"`
	Truncated   bool           `json:"truncated,omitempty"`
	Error       string         `json:"error,omitempty"`
	Redactions  map[string]int `json:"redactions,omitempty"`

	pre map[string]int // redactions made before the redactor (structural)
}

// Bundle writes a diagnostics bundle as a tar.gz, one folder per node and a
// manifest.json. Each source is streamed through the redactor into a spool
// file on disk (tar needs a size before the data), so memory stays flat
// however large a log is. Safe for concurrent Add calls; entries are
// written one at a time.
type Bundle struct {
	f        *os.File
	gz       *gzip.Writer
	tw       *tar.Writer
	redact   bool
	maxBytes int64

	an *Analyzer // sees each source as it is written; nil: none

	mu       sync.Mutex
	sources  []Source
	nodes    map[string]NodeInfo
	manifest Manifest
}

// Analyze hands every source added from now on to a, as it is written: the
// analysis of a fresh bundle costs no second read of it.
func (b *Bundle) Analyze(a *Analyzer) { b.an = a }

// NodeInfo is what the manifest says about one node as a whole.
type NodeInfo struct {
	Role    string `json:"role,omitempty"`
	Address string `json:"address,omitempty"`
	// Transport served the node's logs: ssh, api or pod ("" if none did).
	Transport string `json:"transport,omitempty"`
	// ClockOffsetSeconds is the node's clock minus the collector's.
	ClockOffsetSeconds *float64 `json:"clockOffsetSeconds,omitempty"`
	// Fallback says why the preferred transports failed, when another served.
	Fallback string `json:"fallback,omitempty"`
	Error    string `json:"error,omitempty"`
}

// SetNode records a node's facts for the manifest.
func (b *Bundle) SetNode(name string, info NodeInfo) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.nodes == nil {
		b.nodes = map[string]NodeInfo{}
	}
	if b.redact {
		info.Error, info.Fallback = RedactString(info.Error), RedactString(info.Fallback)
	}
	b.nodes[name] = info
}

// NewBundle creates the bundle file. maxBytes caps each source (0: no cap);
// redact is on unless the operator said --no-redact.
func NewBundle(path string, redact bool, maxBytes int64) (*Bundle, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating bundle: %w", err)
	}
	// The entries are compressed already: the outer gzip only wraps them.
	gz, _ := gzip.NewWriterLevel(f, gzip.NoCompression)
	return &Bundle{f: f, gz: gz, tw: tar.NewWriter(gz), redact: redact, maxBytes: maxBytes}, nil
}

// Add streams one source into NODE/NAME. A source that fails part-way is
// kept with what arrived, and recorded as failed: one broken source never
// costs the others.
func (b *Bundle) Add(node, name, transport string, r io.Reader) Source {
	return b.AddSource(Source{Node: node, Name: name, Transport: transport}, r)
}

// AddSource is Add with more of the manifest entry given: its node, name,
// transport and compression.
func (b *Bundle) AddSource(src Source, r io.Reader) Source { return b.add(src, r, nil) }

// add streams r through the redactor into the source's entry: gzip, or —
// with kept, the node's zstd stream of r — that stream itself, as long as
// redaction changes nothing in it.
func (b *Bundle) add(src Source, r io.Reader, kept *keptStream) Source {
	start := time.Now()
	src.Path, src.Status = path.Join(src.Node, src.Name), "ok"
	spool, err := os.CreateTemp("", "kbs-diag-")
	if err != nil {
		return b.record(src, start, err)
	}
	defer os.Remove(spool.Name())
	defer spool.Close()
	var feed io.WriteCloser
	if b.an != nil {
		feed = b.an.feed(src.Path)
	}
	es := &entrySink{spool: spool, feed: feed}
	if kept == nil {
		es.startGzip(nil)
	} else {
		es.kept = kept
	}
	var sink io.Writer = es
	if b.redact {
		es.red = NewRedactor(es)
		sink = es.red
	}
	in := r
	if b.maxBytes > 0 {
		in = io.LimitReader(r, b.maxBytes)
	}
	n, copyErr := io.Copy(sink, in)
	if b.maxBytes > 0 && n == b.maxBytes && copyErr == nil {
		var one [1]byte
		if k, _ := r.Read(one[:]); k > 0 {
			src.Truncated = true // more was there; the cap keeps bundles bounded
		}
	}
	if es.red != nil {
		if err := es.red.Close(); err != nil && copyErr == nil {
			copyErr = err
		}
		src.Redactions = es.red.Counts()
		for k, v := range src.pre {
			src.Redactions[k] += v
		}
	}
	entry := spool
	if es.kept != nil && !src.Truncated && copyErr == nil {
		// Nothing was changed, cut or lost: the node's stream is the entry.
		src.Stored = src.Path + ".zst"
		entry, err = es.kept.finish()
	} else {
		src.Stored = src.Path + ".gz"
		if es.kept != nil {
			err = es.toGzip() // what arrived, as far as it was read
		}
		err = errors.Join(err, es.closeGzip())
	}
	if feed != nil {
		_ = feed.Close() // a scan's own failure is the analyzer's to report
	}
	src.Bytes = n
	if entry == nil { // the kept stream could not be written here
		src.Stored = ""
		return b.record(src, start, err)
	}
	if err != nil && copyErr == nil {
		copyErr = err
	}
	if _, err = b.writeEntry(src.Stored, entry); err != nil {
		return b.record(src, start, err)
	}
	return b.record(src, start, copyErr)
}

// writeEntry copies the spooled (redacted) source into the archive.
func (b *Bundle) writeEntry(name string, spool *os.File) (int64, error) {
	size, err := spool.Seek(0, io.SeekCurrent)
	if err != nil {
		return 0, err
	}
	if _, err := spool.Seek(0, io.SeekStart); err != nil {
		return 0, err
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	hdr := &tar.Header{Name: name, Mode: 0o600, Size: size, ModTime: time.Now(), Typeflag: tar.TypeReg}
	if err := b.tw.WriteHeader(hdr); err != nil {
		return 0, err
	}
	_, err = io.CopyN(b.tw, spool, size)
	return size, err
}

func (b *Bundle) record(src Source, start time.Time, err error) Source {
	src.Duration = time.Since(start).Round(time.Millisecond).String()
	if err != nil {
		// Errors carry remote stderr: they are redacted like the sources.
		src.Status, src.Error = "failed", err.Error()
		if b.redact {
			src.Error = RedactString(src.Error)
		}
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.sources = append(b.sources, src)
	return src
}

// Manifest is manifest.json: when, whether redacted, the nodes and every
// source. Field names are stable.
type Manifest struct {
	Created  time.Time           `json:"created"`
	Redacted bool                `json:"redacted"`
	Nodes    map[string]NodeInfo `json:"nodes,omitempty"`
	Sources  []Source            `json:"sources"`
}

// Failed lists the sources that did not complete.
func (m Manifest) Failed() []Source {
	var out []Source
	for _, s := range m.Sources {
		if s.Status != "ok" {
			out = append(out, s)
		}
	}
	return out
}

// Manifest is what Close wrote as manifest.json.
func (b *Bundle) Manifest() Manifest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.manifest
}

// Close writes manifest.json and finishes the archive.
func (b *Bundle) Close() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	sort.Slice(b.sources, func(i, j int) bool { return b.sources[i].Path < b.sources[j].Path })
	b.manifest = Manifest{Created: time.Now().UTC(), Redacted: b.redact, Nodes: b.nodes, Sources: b.sources}
	data, err := json.MarshalIndent(b.manifest, "", "  ")
	if err != nil {
		return err
	}
	hdr := &tar.Header{Name: "manifest.json", Mode: 0o600, Size: int64(len(data)), ModTime: time.Now(), Typeflag: tar.TypeReg}
	if err := b.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if _, err := b.tw.Write(data); err != nil {
		return err
	}
	if err := b.tw.Close(); err != nil {
		return err
	}
	if err := b.gz.Close(); err != nil {
		return err
	}
	return b.f.Close()
}
