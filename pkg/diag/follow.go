package diag

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/kubectl-kbs/kbs/pkg/remote"
	"github.com/kubectl-kbs/kbs/pkg/shell"
)

// FollowCommand is what `diag … --follow` runs on a node: journald's units
// and the role's log files, as they grow, newest lines only to start.
func FollowCommand(role string, o Options) string {
	units := "-u kubelet -u containerd"
	if role == "etcd" {
		units = "-u etcd"
	}
	j := "journalctl --no-pager -o short-iso-precise -f -n 10 " + units
	if o.Grep != "" {
		j += " -g " + shell.Quote(o.Grep)
	}
	var files []string
	for _, n := range logFiles[role] {
		files = append(files, "/var/log/"+n+".log")
	}
	cmd := j
	if len(files) > 0 {
		tail := "tail -q -n 0 -F " + strings.Join(files, " ") + " 2>/dev/null"
		if o.Grep != "" {
			tail += " | grep --line-buffered -E " + shell.Quote(o.Grep)
		}
		cmd = "{ " + j + " & " + tail + " & wait; }"
	}
	return cmd
}

// Follow streams every target's logs to w, each line prefixed with its node,
// like `journalctl -f` across the cluster, until ctx ends. Lines pass the
// redactor unless redact is false. Lines of different nodes never interleave
// mid-line.
func Follow(ctx context.Context, d Dialer, targets []Target, o Options, redact bool, w io.Writer) error {
	var mu sync.Mutex
	out := &lockedWriter{mu: &mu, w: w}
	var wg sync.WaitGroup
	errs := make([]error, len(targets))
	for i, t := range targets {
		if t.SSH == nil {
			errs[i] = fmt.Errorf("%s: --follow needs SSH (a spec with -f)", t.Name)
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = followOne(ctx, d, t, o, redact, out)
		}()
	}
	wg.Wait()
	if ctx.Err() != nil {
		return nil // stopped by the operator: the normal end of --follow
	}
	return errors.Join(errs...)
}

func followOne(ctx context.Context, d Dialer, t Target, o Options, redact bool, out io.Writer) error {
	conn, err := d.Dial(ctx, *t.SSH)
	if err != nil {
		return fmt.Errorf("%s: %w", t.Name, err)
	}
	defer conn.Close()
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(conn.Stream(ctx, FollowCommand(t.Role, o), pw, remote.Privileged())) }()
	prefix := []byte(t.Name + " | ")
	var sink io.Writer = &prefixWriter{prefix: prefix, w: out}
	var red *Redactor
	if redact {
		red = NewRedactor(sink)
		sink = red
	}
	sc := bufio.NewReader(pr)
	for {
		line, err := sc.ReadBytes('\n')
		if len(line) > 0 {
			if _, werr := sink.Write(line); werr != nil {
				return werr
			}
		}
		if err != nil {
			if red != nil {
				_ = red.Close()
			}
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("%s: %w", t.Name, err)
		}
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// prefixWriter writes each complete line, prefixed, in one Write.
type prefixWriter struct {
	prefix []byte
	w      io.Writer
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	for {
		i := strings.IndexByte(string(p.buf), '\n')
		if i < 0 {
			return len(b), nil
		}
		line := append(append([]byte{}, p.prefix...), p.buf[:i+1]...)
		p.buf = p.buf[i+1:]
		if _, err := p.w.Write(line); err != nil {
			return 0, err
		}
	}
}
