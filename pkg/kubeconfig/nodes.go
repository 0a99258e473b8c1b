package kubeconfig

import (
	"regexp"
	"slices"

	yaml "go.yaml.in/yaml/v3"
)

func scalar(v string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v}
	quoteAmbiguous(n)
	return n
}

// yaml11Special are plain scalars that YAML 1.1 — what client-go's and
// kubectl's YAML reader speaks — takes for a bool, a null or a number,
// while the YAML 1.2 writer here leaves them bare: a context named "on" or
// a namespace "0755" would come back as true or 493.
var yaml11Special = regexp.MustCompile(`^(?:[yYnN~]|yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF|null|Null|NULL|<<|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)|[-+]?[0-9][0-9a-fA-FxXoObB_.:eE+-]*|[-+]?\.[0-9][0-9_eE+-]*)?$`)

// quoteAmbiguous double-quotes, through the tree, every string that a YAML
// 1.1 reader would not read back as that string.
func quoteAmbiguous(n *yaml.Node) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" && yaml11Special.MatchString(n.Value) {
		n.Style = yaml.DoubleQuotedStyle
	}
	for _, c := range n.Content {
		quoteAmbiguous(c)
	}
}

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
