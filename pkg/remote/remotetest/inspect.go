package remotetest

import (
	"bytes"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// What a test reads back from a Conn, and the files it seeds.

// SetFile seeds the filesystem with data at path (mode 0644, owner
// root:root), the host's state before the code under test runs. It is not
// recorded as a call.
func (c *Conn) SetFile(path string, data []byte) {
	c.SetFileEntry(path, FileEntry{Data: data, Mode: 0o644, Owner: "root:root"})
}

// SetFileEntry is SetFile with mode and owner, for code that compares them.
func (c *Conn) SetFileEntry(path string, f FileEntry) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.files == nil {
		c.files = map[string]FileEntry{}
	}
	f.Data = bytes.Clone(f.Data)
	c.files[path] = f
}

// RemoveFile deletes path from the filesystem, for OnFunc rules that
// emulate a command removing a file.
func (c *Conn) RemoveFile(path string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.files, path)
}

// File returns path's content, seeded or written, and whether it exists.
func (c *Conn) File(path string) ([]byte, bool) {
	f, ok := c.Stat(path)
	return f.Data, ok
}

// Stat returns path's entry (content, mode, owner) and whether it exists.
func (c *Conn) Stat(path string) (FileEntry, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f, ok := c.files[path]
	f.Data = bytes.Clone(f.Data)
	return f, ok
}

// Calls returns a copy of every recorded call, in the order they started.
func (c *Conn) Calls() []Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Call, len(c.calls))
	for i, call := range c.calls {
		call.Data = bytes.Clone(call.Data)
		out[i] = call
	}
	return out
}

// Commands returns the commands of the recorded runs and streams, in
// order: the usual thing to compare with a golden list.
func (c *Conn) Commands() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, call := range c.calls {
		if call.Kind == KindRun || call.Kind == KindStream {
			out = append(out, call.Cmd)
		}
	}
	return out
}

// Writes returns what WriteFile stored since the last Reset, by path (the
// last write of a path wins); seeded files are not included, so a test can
// tell what the code changed from what was already there.
func (c *Conn) Writes() map[string][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string][]byte, len(c.writes))
	for p, d := range c.writes {
		out[p] = bytes.Clone(d)
	}
	return out
}

// Unmatched returns the commands, in order, that no rule matched and the
// default answered: the commands a test forgot to script.
func (c *Conn) Unmatched() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.unmatched)
}

// Ran reports whether a recorded run or stream matched pattern (a regular
// expression, unanchored). An invalid pattern panics.
func (c *Conn) Ran(pattern string) bool {
	re := regexp.MustCompile(pattern)
	return slices.ContainsFunc(c.Commands(), re.MatchString)
}

// Reset forgets the recorded calls, writes and unmatched commands but keeps
// the rules, the default and the filesystem: a test can set a host up by
// running one phase, then assert on the next phase alone.
func (c *Conn) Reset() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = nil
	c.unmatched = nil
	c.writes = nil
}

// String describes the connection for test failure messages.
func (c *Conn) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return fmt.Sprintf("remotetest.Conn(%s: %d calls, files %v)", c.name, len(c.calls), slices.Sorted(maps.Keys(c.files)))
}

// shorten is package remote's, so that the errors the fake builds read as
// a real Conn's.
func shorten(cmd string) string {
	if i := strings.IndexByte(cmd, '\n'); i >= 0 {
		cmd = cmd[:i] + " …"
	}
	if len(cmd) > 120 {
		cmd = cmd[:117] + "…"
	}
	return cmd
}
