// Package shell builds the text of POSIX shell commands that kbs runs on
// hosts. Every value that reaches a remote shell — paths, names, addresses,
// patterns — goes through Quote, so no spec field or flag can end a word or
// start a command.
package shell

import "strings"

// Quote returns s as one single-quoted shell word: inside single quotes
// nothing is special, so only the single quote itself needs care (close the
// quote, an escaped quote, reopen).
func Quote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Join quotes each argument and joins them with spaces: a whole command
// line of literal words.
func Join(args ...string) string {
	q := make([]string, len(args))
	for i, a := range args {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}
