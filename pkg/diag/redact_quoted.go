package diag

import "bytes"

// apply replaces the rule's matches in line.
func (ru rule) apply(line []byte) []byte {
	if !ru.quoted {
		return ru.re.ReplaceAll(line, ru.repl)
	}
	mark := []byte("[REDACTED:" + ru.name + "]")
	if ru.name == "password-field" {
		mark = []byte("[REDACTED:password]")
	}
	var out []byte
	last := 0
	for _, loc := range ru.re.FindAllSubmatchIndex(line, -1) {
		end, prefixEnd := loc[1], loc[3]
		value := line[prefixEnd:end]
		// A value of several words ends before a word that is the next
		// key=value (logfmt): "password=x user=bob" keeps "user=bob".
		if end < len(line) && line[end] == '=' {
			if sp := bytes.LastIndexAny(value, " \t"); sp > 0 {
				end = prefixEnd + len(bytes.TrimRight(value[:sp], " \t"))
				value = line[prefixEnd:end]
			}
		}
		out = append(out, line[last:prefixEnd]...)
		if len(value) > 0 && bytes.IndexByte([]byte(`"'`), value[0]) >= 0 { // a quoted value keeps its quotes
			out = append(append(append(out, value[0]), mark...), value[0])
		} else {
			out = append(out, mark...)
		}
		last = end
	}
	if out == nil {
		return line
	}
	return append(out, line[last:]...)
}
