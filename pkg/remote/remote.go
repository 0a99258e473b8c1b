// Package remote runs commands and moves files on hosts over SSH. Capability
// code sees only the Conn interface; x/crypto/ssh stays in this package.
// Host keys are always verified against known_hosts; privileged work goes
// through sudo when the login user is not root, with a password that never
// appears in argv, logs or errors.
package remote

import (
	"context"
	"errors"
	"io"
	"os"
)

// Target says which host to reach and how.
type Target struct {
	// Name labels the host in logs and errors (e.g. etcd-0).
	Name string
	// Address is an IP, a DNS name or a ~/.ssh/config alias.
	Address string
	Port    int    // 0: from ssh_config, else 22
	User    string // "": from ssh_config, else the local user
	KeyFile string // "": ssh-agent and ssh_config's IdentityFile
	// Bastion is a jump host, [user@]host[:port], reached with the same
	// credentials; "": ssh_config's ProxyJump, if any.
	Bastion string
	// Sudo runs privileged commands through sudo.
	Sudo bool
}

// Conn is an open connection to one host. It is safe for concurrent use:
// each call runs in its own SSH session over the one connection.
type Conn interface {
	// Name is the target's name, for log prefixes.
	Name() string
	// Run runs a shell command and returns its standard output. A non-zero
	// exit is an error carrying the exit code and the end of stderr.
	Run(ctx context.Context, cmd string, opts ...RunOption) ([]byte, error)
	// WriteFile replaces path atomically: a temporary file beside it is
	// written, given mode and owner, synced and renamed over path.
	WriteFile(ctx context.Context, path string, r io.Reader, mode os.FileMode, owner string, opts ...WriteOption) error
	// Stream runs a command and copies its standard output into w as it
	// comes, for outputs too large to hold (logs).
	Stream(ctx context.Context, cmd string, w io.Writer, opts ...RunOption) error
	// ReadFile streams path into w.
	ReadFile(ctx context.Context, path string, w io.Writer) error
	Close() error
}

// WriteOption changes how WriteFile writes.
type WriteOption func(*writeOptions)

type writeOptions struct {
	gunzip bool
	sha256 string
	tee    string
}

// Gunzip says r is gzip-compressed: the host decompresses it as it arrives.
func Gunzip() WriteOption { return func(o *writeOptions) { o.gunzip = true } }

// SHA256 has the host check the written file against sum (hex) before it
// replaces path; a mismatch is ErrChecksum and leaves path as it was.
func SHA256(sum string) WriteOption { return func(o *writeOptions) { o.sha256 = sum } }

// Tee has the host also feed the data, as it arrives, to cmd's standard
// input — an image archive is imported while it uploads instead of after.
// cmd's failure fails the write and leaves path as it was. Give SHA256 as
// well: cmd sees the data before the checksum is checked.
func Tee(cmd string) WriteOption { return func(o *writeOptions) { o.tee = cmd } }

// ErrChecksum is a written file whose SHA-256 is not the one asked for.
var ErrChecksum = errors.New("checksum mismatch")

// RunOption changes how Run runs a command.
type RunOption func(*runOptions)

type runOptions struct {
	privileged bool
	stdin      io.Reader
	stderr     io.Writer
}

// Privileged runs the command as root (through sudo when the target asks).
func Privileged() RunOption { return func(o *runOptions) { o.privileged = true } }

// Stdin feeds r to the command.
func Stdin(r io.Reader) RunOption { return func(o *runOptions) { o.stdin = r } }

// Stderr copies the command's standard error to w as it comes.
func Stderr(w io.Writer) RunOption { return func(o *runOptions) { o.stderr = w } }

// WriteInfo is what a set of WriteOptions asks for: for fakes of Conn,
// which must honour them as a real host does.
type WriteInfo struct {
	Gunzip bool
	SHA256 string
	Tee    string
}

// WriteOptionsOf reads a set of WriteOptions.
func WriteOptionsOf(opts ...WriteOption) WriteInfo {
	var o writeOptions
	for _, f := range opts {
		f(&o)
	}
	return WriteInfo{Gunzip: o.gunzip, SHA256: o.sha256, Tee: o.tee}
}
