package remotetest

import (
	"fmt"
	"regexp"
)

// How a test scripts a Conn's answers.

// On answers commands matching pattern (a regular expression, unanchored)
// with out and err. Rules are tried in the order they were registered and
// the first match wins, so register specific patterns before general ones.
// An invalid pattern panics: it is a bug in the test.
func (c *Conn) On(pattern string, out string, err error) {
	c.OnFunc(pattern, func(string, []byte) ([]byte, error) { return []byte(out), err })
}

// OnFunc answers commands matching pattern with what fn returns, for
// answers that depend on the command or on earlier calls. fn runs without
// the Conn's lock held, so it may call the Conn (File, SetFile, Calls).
func (c *Conn) OnFunc(pattern string, fn Handler) {
	re, err := regexp.Compile(pattern)
	if err != nil {
		panic(fmt.Sprintf("remotetest: rule pattern %q: %v", pattern, err))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.rules = append(c.rules, rule{re: re, fn: fn})
}

// Fail makes commands matching pattern fail with err and no output; it is
// On(pattern, "", err). Use Exit for a command that exits non-zero.
func (c *Conn) Fail(pattern string, err error) { c.On(pattern, "", err) }

// SetDefault sets the answer to commands no rule matches (initially empty
// output and nil error). SetDefault("", err) makes the fake strict: every
// command a test did not script fails.
func (c *Conn) SetDefault(out string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.def = func(string, []byte) ([]byte, error) { return []byte(out), err }
}

// FailWrite makes every WriteFile of exactly path fail with err (wrapped as
// the real Conn wraps its errors) and leave the file as it was. A nil err
// removes the failure.
func (c *Conn) FailWrite(path string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failWrite = setErr(c.failWrite, path, err)
}

// FailRead makes every ReadFile of exactly path fail with err, whether or
// not the file exists. A nil err removes the failure.
func (c *Conn) FailRead(path string, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.failRead = setErr(c.failRead, path, err)
}

func setErr(m map[string]error, path string, err error) map[string]error {
	if err == nil {
		delete(m, path)
		return m
	}
	if m == nil {
		m = map[string]error{}
	}
	m[path] = err
	return m
}
