package cluster

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	sigsjson "sigs.k8s.io/json"
	"sigs.k8s.io/yaml"
)

// typeMeta is read first so that a wrong document gets a precise message.
type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// Decode reads every Cluster document in data (YAML, separated by ---).
// Decoding is strict: an unknown or duplicated field is an error, so a typo
// never silently falls back to a default. Empty documents are skipped.
func Decode(data []byte) ([]*Cluster, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(data)))
	var out []*Cluster
	for i := 1; ; i++ {
		doc, err := r.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		c, err := decodeOne(doc)
		if err != nil {
			return nil, fmt.Errorf("document %d: %w", i, err)
		}
		if c != nil {
			out = append(out, c)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no Cluster document found: want apiVersion %s, kind %s", APIVersion, Kind)
	}
	return out, nil
}

func decodeOne(doc []byte) (*Cluster, error) {
	var generic any
	if err := yaml.Unmarshal(doc, &generic); err != nil {
		return nil, fmt.Errorf("not valid YAML: %w", err)
	}
	if generic == nil {
		return nil, nil // only comments or whitespace
	}
	var tm typeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, fmt.Errorf("not a kbs cluster document (want a mapping with apiVersion and kind): %w", err)
	}
	if err := checkTypeMeta(tm); err != nil {
		return nil, err
	}
	js, err := yaml.YAMLToJSONStrict(doc) // duplicate keys are errors
	if err != nil {
		return nil, fmt.Errorf("cluster %q: %w", nameOf(doc), err)
	}
	c := &Cluster{}
	strict, err := sigsjson.UnmarshalStrict(js, c, sigsjson.DisallowUnknownFields, sigsjson.DisallowDuplicateFields)
	if err != nil {
		return nil, fmt.Errorf("cluster %q: %w", nameOf(doc), err)
	}
	if len(strict) > 0 {
		// These name the full field path: unknown field "spec.networking.podCidr".
		return nil, fmt.Errorf("cluster %q: %w", nameOf(doc), errors.Join(strict...))
	}
	return c, nil
}

func checkTypeMeta(tm typeMeta) error {
	if strings.HasPrefix(tm.APIVersion, "kubeadm.k8s.io/") {
		return fmt.Errorf("apiVersion %s kind %s is a kubeadm configuration, not a kbs cluster: kbs writes kubeadm's configuration itself from a %s %s", tm.APIVersion, tm.Kind, APIVersion, Kind)
	}
	if tm.APIVersion != APIVersion {
		return fmt.Errorf("apiVersion: Unsupported value %q: supported value is %q", tm.APIVersion, APIVersion)
	}
	if tm.Kind != Kind {
		return fmt.Errorf("kind: Unsupported value %q: supported value is %q", tm.Kind, Kind)
	}
	return nil
}

// nameOf digs the cluster's name out of a document that failed to decode,
// so the error says which cluster of an inventory is wrong.
func nameOf(doc []byte) string {
	var m struct {
		Metadata struct {
			Name string `json:"name"`
		} `json:"metadata"`
	}
	_ = yaml.Unmarshal(doc, &m)
	return m.Metadata.Name
}

// Load reads, defaults and validates every cluster of the file at path. A
// file with several clusters is an inventory; cluster names must be unique.
func Load(path string) ([]*Cluster, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading cluster spec: %w", err)
	}
	clusters, err := Decode(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	seen := map[string]bool{}
	for _, c := range clusters {
		SetDefaults(c)
		if err := Validate(c); err != nil {
			return nil, fmt.Errorf("%s: cluster %q is invalid: %w", path, c.Metadata.Name, err)
		}
		if seen[c.Metadata.Name] {
			return nil, fmt.Errorf("%s: cluster name %q appears twice: names must be unique in an inventory", path, c.Metadata.Name)
		}
		seen[c.Metadata.Name] = true
	}
	return clusters, nil
}

// LoadOne loads the file and returns the cluster called name, or the only
// cluster when name is empty.
func LoadOne(path, name string) (*Cluster, error) {
	clusters, err := Load(path)
	if err != nil {
		return nil, err
	}
	if name == "" {
		if len(clusters) > 1 {
			return nil, fmt.Errorf("%s holds %d clusters: name one with --cluster-name (%s)", path, len(clusters), strings.Join(names(clusters), ", "))
		}
		return clusters[0], nil
	}
	for _, c := range clusters {
		if c.Metadata.Name == name {
			return c, nil
		}
	}
	return nil, fmt.Errorf("%s has no cluster %q: it holds %s", path, name, strings.Join(names(clusters), ", "))
}

func names(cs []*Cluster) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = c.Metadata.Name
	}
	return out
}
