package kubeconfig

import (
	"slices"

	yaml "go.yaml.in/yaml/v3"
)

func scalar(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }

func getKey(m *yaml.Node, key string) *yaml.Node {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			return m.Content[i+1]
		}
	}
	return nil
}

func setKey(m *yaml.Node, key string, v *yaml.Node) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content[i+1] = v
			return
		}
	}
	m.Content = append(m.Content, scalar(key), v)
}

func deleteKey(m *yaml.Node, key string) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == key {
			m.Content = append(m.Content[:i], m.Content[i+2:]...)
			return
		}
	}
}

func nameOf(entry *yaml.Node) string {
	if n := getKey(entry, "name"); n != nil {
		return n.Value
	}
	return ""
}

// findEntry returns the payload mapping of entry NAME, creating the payload
// if the entry exists without one.
func findEntry(list *yaml.Node, name, section string) *yaml.Node {
	for _, e := range list.Content {
		if e.Kind == yaml.MappingNode && nameOf(e) == name {
			p := getKey(e, entryKey[section])
			if p == nil || p.Kind != yaml.MappingNode {
				p = &yaml.Node{Kind: yaml.MappingNode}
				setKey(e, entryKey[section], p)
			}
			return p
		}
	}
	return nil
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
