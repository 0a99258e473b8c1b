// Package kubeconfig edits kubeconfig files the way an operator would want:
// only the stanzas kbs owns change, everything else — other entries, unknown
// fields, comments, order — stays as it was; writes are atomic, take
// client-go's lock, keep the file's mode and a symlink, and leave a backup.
package kubeconfig

import (
	"bytes"
	"fmt"

	yaml "go.yaml.in/yaml/v3"
)

// Sections of a kubeconfig that hold named entries.
const (
	Clusters = "clusters"
	Users    = "users"
	Contexts = "contexts"
)

// entryKey is the key of each section's payload (clusters[].cluster, …).
var entryKey = map[string]string{Clusters: "cluster", Users: "user", Contexts: "context"}

// Doc is a kubeconfig held as a YAML node tree, so a round trip keeps what
// kbs does not touch.
type Doc struct {
	root *yaml.Node // the top-level mapping
}

// Parse reads a kubeconfig; empty input is a new, empty one.
func Parse(data []byte) (*Doc, error) {
	var n yaml.Node
	if len(bytes.TrimSpace(data)) > 0 {
		if err := yaml.Unmarshal(data, &n); err != nil {
			return nil, fmt.Errorf("parsing kubeconfig: %w", err)
		}
	}
	if n.Kind == 0 {
		n = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	if n.Kind != yaml.DocumentNode || len(n.Content) != 1 || n.Content[0].Kind != yaml.MappingNode {
		return nil, fmt.Errorf("parsing kubeconfig: the document is not a mapping")
	}
	d := &Doc{root: n.Content[0]}
	d.ensureScalar("apiVersion", "v1")
	d.ensureScalar("kind", "Config")
	return d, nil
}

// Bytes renders the document.
func (d *Doc) Bytes() ([]byte, error) {
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{d.root}}); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

// Set upserts entry NAME in section with the given fields of its payload
// (e.g. Users, "alice", {"client-certificate-data": …}). Fields of an
// existing entry that are not given are kept; a nil value deletes a field.
func (d *Doc) Set(section, name string, fields map[string]any) error {
	list := d.list(section)
	payload := findEntry(list, name, section)
	if payload == nil {
		entry := &yaml.Node{Kind: yaml.MappingNode}
		payload = &yaml.Node{Kind: yaml.MappingNode}
		setKey(entry, "name", scalar(name))
		setKey(entry, entryKey[section], payload)
		list.Content = append(list.Content, entry)
	}
	for _, k := range sortedKeys(fields) {
		v := fields[k]
		if v == nil {
			deleteKey(payload, k)
			continue
		}
		var n yaml.Node
		if err := n.Encode(v); err != nil {
			return fmt.Errorf("encoding %s.%s: %w", name, k, err)
		}
		quoteAmbiguous(&n)
		setKey(payload, k, &n)
	}
	return nil
}

// Remove deletes entry NAME from section; it reports whether it was there.
func (d *Doc) Remove(section, name string) bool {
	list := d.list(section)
	for i, e := range list.Content {
		if nameOf(e) == name {
			list.Content = append(list.Content[:i], list.Content[i+1:]...)
			return true
		}
	}
	return false
}

// Has says whether section holds entry NAME.
func (d *Doc) Has(section, name string) bool { return findEntry(d.list(section), name, section) != nil }

// Names lists the entries of a section, in file order.
func (d *Doc) Names(section string) []string {
	var out []string
	for _, e := range d.list(section).Content {
		out = append(out, nameOf(e))
	}
	return out
}

// CurrentContext returns current-context.
func (d *Doc) CurrentContext() string {
	if v := getKey(d.root, "current-context"); v != nil {
		return v.Value
	}
	return ""
}

// SetCurrentContext sets current-context ("" removes it).
func (d *Doc) SetCurrentContext(name string) {
	if name == "" {
		deleteKey(d.root, "current-context")
		return
	}
	setKey(d.root, "current-context", scalar(name))
}

func (d *Doc) ensureScalar(key, value string) {
	if getKey(d.root, key) == nil {
		setKey(d.root, key, scalar(value))
	}
}

// list returns the section's sequence node, creating it (a null section,
// as kubectl writes "users: null", becomes an empty list).
func (d *Doc) list(section string) *yaml.Node {
	n := getKey(d.root, section)
	if n == nil || n.Kind != yaml.SequenceNode {
		n = &yaml.Node{Kind: yaml.SequenceNode}
		setKey(d.root, section, n)
	}
	return n
}
