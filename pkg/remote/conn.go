package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/crypto/ssh"

	"github.com/kubectl-kbs/kbs/pkg/shell"
)

// maxSessions stays under OpenSSH's default MaxSessions (10), which refuses
// further sessions on a connection; callers beyond it wait their turn. sshd
// frees a closed session's slot a little late, so opening also retries.
const maxSessions = 8

type conn struct {
	t      Target
	client *ssh.Client
	creds  *Credentials

	sessions chan struct{} // bounds open sessions below sshd's MaxSessions

	sudoOnce sync.Once
	sudoPass []byte // nil: passwordless sudo
	sudoErr  error
	done     chan struct{}
	// shut is set by Close before the client closes: the Dialer must not
	// hand out a connection its user closed, and done closes only when the
	// reader goroutine notices, a moment later.
	shut atomic.Bool
}

func newConn(t Target, client *ssh.Client, creds *Credentials) *conn {
	c := &conn{t: t, client: client, creds: creds, done: make(chan struct{}), sessions: make(chan struct{}, maxSessions)}
	go func() { client.Wait(); close(c.done) }()
	return c
}

func (c *conn) Name() string { return c.t.Name }

func (c *conn) Close() error {
	c.shut.Store(true)
	return c.client.Close()
}

func (c *conn) closed() bool {
	if c.shut.Load() {
		return true
	}
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// ExitError is a remote command that ran and failed.
type ExitError struct {
	Host   string
	Cmd    string
	Code   int
	Stderr string
}

func (e *ExitError) Error() string {
	msg := fmt.Sprintf("%s: %q exited %d", e.Host, e.Cmd, e.Code)
	if e.Stderr != "" {
		msg += ": " + e.Stderr
	}
	return msg
}

func (c *conn) Run(ctx context.Context, cmd string, opts ...RunOption) ([]byte, error) {
	var o runOptions
	for _, opt := range opts {
		opt(&o)
	}
	var stdout bytes.Buffer
	err := c.run(ctx, cmd, &o, &stdout)
	return stdout.Bytes(), err
}

func (c *conn) Stream(ctx context.Context, cmd string, w io.Writer, opts ...RunOption) error {
	var o runOptions
	for _, opt := range opts {
		opt(&o)
	}
	return c.run(ctx, cmd, &o, w)
}

func (c *conn) run(ctx context.Context, cmd string, o *runOptions, stdout io.Writer) error {
	full, stdin, err := c.wrap(ctx, cmd, o)
	if err != nil {
		return err
	}
	select {
	case c.sessions <- struct{}{}:
		defer func() { <-c.sessions }()
	case <-ctx.Done():
		return fmt.Errorf("%s: %q: %w", c.t.Name, shorten(cmd), ctx.Err())
	}
	s, err := c.newSession(ctx)
	if err != nil {
		return fmt.Errorf("%s: opening a session: %w", c.t.Name, err)
	}
	defer s.Close()
	var stderr tailBuffer
	pg := &pgidSniffer{next: &stderr}
	if o.stderr != nil {
		pg.next = io.MultiWriter(&stderr, o.stderr)
	}
	if stdout == nil {
		stdout = io.Discard
	}
	s.Stdout, s.Stdin, s.Stderr = bigReads{stdout}, stdin, pg
	// The login shell is the session leader, so its PID is the process
	// group of everything the command starts: reported first on stderr, it
	// lets a cancellation kill the remote work (sshd ignores SSH signal
	// requests for sessions without a terminal).
	if err := s.Start("echo " + pgidMarker + "$$ >&2; " + full); err != nil {
		return fmt.Errorf("%s: %q: %w", c.t.Name, shorten(cmd), err)
	}
	waited := make(chan error, 1)
	go func() { waited <- s.Wait() }()
	select {
	case err = <-waited:
	case <-ctx.Done():
		c.kill(pg.pgid(), o.privileged)
		s.Close()
		return fmt.Errorf("%s: %q: %w", c.t.Name, shorten(cmd), ctx.Err())
	}
	var exit *ssh.ExitError
	if errors.As(err, &exit) {
		return &ExitError{Host: c.t.Name, Cmd: shorten(cmd), Code: exit.ExitStatus(), Stderr: stderr.String()}
	}
	var missing *ssh.ExitMissingError
	if errors.As(err, &missing) || errors.Is(err, io.EOF) {
		return fmt.Errorf("%s: the connection was lost while %q ran (the host went down, or sshd was stopped): check that %s is up, then run the same command again: %w", c.t.Name, shorten(cmd), c.t.Name, err)
	}
	if err != nil {
		return fmt.Errorf("%s: %q: %w", c.t.Name, shorten(cmd), err)
	}
	return nil
}

// kill ends a cancelled command's process group on the host, with the
// privileges it ran with (a sudo'ed command is root's to kill).
func (c *conn) kill(pgid int, privileged bool) {
	if pgid <= 1 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	opts := []RunOption{}
	if privileged {
		opts = append(opts, Privileged())
	}
	_, _ = c.Run(ctx, fmt.Sprintf("kill -KILL -- -%d 2>/dev/null || true", pgid), opts...)
}

// newSession opens a session, retrying briefly while sshd refuses for lack
// of a free session slot.
func (c *conn) newSession(ctx context.Context) (*ssh.Session, error) {
	delay := 5 * time.Millisecond
	for {
		s, err := c.client.NewSession()
		var open *ssh.OpenChannelError
		if err == nil || !errors.As(err, &open) || delay > time.Second {
			return s, err
		}
		select {
		case <-time.After(delay):
			delay *= 2
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// wrap turns cmd into what the session runs: as is, or through sudo. With a
// sudo password, the password is the first line of stdin (sudo -S), so it
// never appears in a command line; -k makes sudo always read it, so a cached
// credential can never leave the password line to the command instead.
func (c *conn) wrap(ctx context.Context, cmd string, o *runOptions) (string, io.Reader, error) {
	if !o.privileged || !c.t.Sudo {
		return cmd, o.stdin, nil
	}
	pass, err := c.sudoPassword(ctx)
	if err != nil {
		return "", nil, err
	}
	if pass == nil {
		return "sudo -n -- sh -c " + shell.Quote(cmd), o.stdin, nil
	}
	in := io.Reader(bytes.NewReader(append(append([]byte{}, pass...), '\n')))
	if o.stdin != nil {
		in = io.MultiReader(in, o.stdin)
	}
	return "sudo -S -k -p '' -- sh -c " + shell.Quote(cmd), in, nil
}

// sudoPassword finds out once per connection whether sudo needs a password
// and, if so, checks the one given before any real command uses it.
func (c *conn) sudoPassword(ctx context.Context) ([]byte, error) {
	c.sudoOnce.Do(func() {
		// The probe runs what every privileged command runs (sudo sh -c):
		// a sudoers rule that lets sh run without a password while true
		// needs one would otherwise send the password line to the
		// command's standard input — into a file being written.
		if _, err := c.Run(ctx, "sudo -n -- sh -c true"); err == nil {
			return
		}
		pass, err := c.creds.sudoPassword(c.t.Name)
		if err != nil || len(pass) == 0 {
			c.sudoErr = fmt.Errorf("%s: sudo needs a password for user %s: set KBS_SUDO_PASSWORD or run interactively", c.t.Name, c.t.User)
			return
		}
		in := bytes.NewReader(append(append([]byte{}, pass...), '\n'))
		if _, err := c.Run(ctx, "sudo -S -k -p '' -- sh -c true", Stdin(in)); err != nil {
			c.sudoErr = fmt.Errorf("%s: sudo refused the password for user %s (or the user may not use sudo)", c.t.Name, c.t.User)
			return
		}
		c.sudoPass = pass
	})
	return c.sudoPass, c.sudoErr
}

// checksumExit is WriteFile's exit code for a file that arrived corrupted.
const checksumExit = 97

func (c *conn) WriteFile(ctx context.Context, path string, r io.Reader, mode os.FileMode, owner string, opts ...WriteOption) error {
	var o writeOptions
	for _, opt := range opts {
		opt(&o)
	}
	decode := "cat"
	if o.gunzip {
		decode = "gzip -dc"
	}
	check := ""
	if o.sha256 != "" {
		check = fmt.Sprintf(`echo "%s  $tmp" | sha256sum --quiet -c - >/dev/null 2>&1 || exit %d`, o.sha256, checksumExit)
	}
	script := fmt.Sprintf(`set -e
dst=%s
dir=$(dirname "$dst")
mkdir -p "$dir"
base=$(basename "$dst")
rm -f "$dir/.kbs-tmp.$base."*
tmp=$(mktemp "$dir/.kbs-tmp.$base.XXXXXX")
trap 'rm -f "$tmp"' EXIT
trap 'exit 1' HUP INT TERM PIPE
%s%s
chmod %04o "$tmp"
%s
sync "$tmp" 2>/dev/null || true
%s
mv -f "$tmp" "$dst"
trap - EXIT`, shell.Quote(path), decode, teeTo(o.tee), mode.Perm(), chownLine(owner), check)
	if _, err := c.Run(ctx, script, Privileged(), Stdin(r)); err != nil {
		var exit *ExitError
		if errors.As(err, &exit) && exit.Code == checksumExit {
			err = ErrChecksum
		}
		return fmt.Errorf("writing %s on %s: %w", path, c.t.Name, err)
	}
	return nil
}

// teeTo writes the decoded stream to $tmp and, with a command, to that
// command too. sh has no pipefail: only the command's status counts, so a
// short write to $tmp is caught by the checksum (Tee asks for one).
func teeTo(cmd string) string {
	if cmd == "" {
		return ` > "$tmp"`
	}
	return ` | tee "$tmp" | { ` + cmd + "\n}"
}

func chownLine(owner string) string {
	if owner == "" {
		return ""
	}
	return "chown " + shell.Quote(owner) + ` "$tmp"`
}

func (c *conn) ReadFile(ctx context.Context, path string, w io.Writer) error {
	o := runOptions{privileged: true}
	if err := c.run(ctx, "cat -- "+shell.Quote(path), &o, w); err != nil {
		return fmt.Errorf("reading %s on %s: %w", path, c.t.Name, err)
	}
	return nil
}

func shorten(cmd string) string {
	if i := strings.IndexByte(cmd, '\n'); i >= 0 {
		cmd = cmd[:i] + " …"
	}
	if len(cmd) > 120 {
		cmd = cmd[:117] + "…"
	}
	return cmd
}

// tailBuffer keeps the last 4 KiB written: enough stderr to explain a
// failure without holding a chatty command's whole output.
type tailBuffer struct{ b []byte }

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > 4096 {
		t.b = t.b[len(t.b)-4096:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return strings.TrimSpace(string(t.b)) }
