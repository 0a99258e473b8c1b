package remotetest

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/kubectl-kbs/kbs/pkg/remote"
)

// ErrUnreachable is the error Down uses when given none.
var ErrUnreachable = errors.New("remotetest: host unreachable")

// Dialer is a fake of the Dial method phases use (the interface that
// *remote.Dialer satisfies): one Conn per target name, created on first
// use and kept, as the real Dialer keeps one connection per host. It is
// safe for concurrent use; the zero value is ready to use.
type Dialer struct {
	mu      sync.Mutex
	conns   map[string]*Conn
	dials   []string
	targets map[string]remote.Target
	down    map[string]error
	setups  []func(*Conn)
}

// Dial returns the Conn for t.Name, creating it on first use and reopening
// it if it was closed. It fails for a host marked Down, with the error
// wrapped as the real Dialer wraps it. Every attempt, failed or not, is
// recorded in Dials, except one whose ctx was already cancelled.
func (d *Dialer) Dial(ctx context.Context, t remote.Target) (remote.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("connecting to %s (%s): %w", t.Name, t.Address, err)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	d.dials = append(d.dials, t.Name)
	if d.targets == nil {
		d.targets = map[string]remote.Target{}
	}
	d.targets[t.Name] = t
	if err := d.down[t.Name]; err != nil {
		return nil, fmt.Errorf("connecting to %s (%s): %w", t.Name, t.Address, err)
	}
	c := d.connLocked(t.Name)
	c.reopen()
	return c, nil
}

// Conn returns the Conn for the host called name, creating it if needed:
// a test scripts a host before the code under test dials it, and inspects
// it afterwards. Creating it here does not count as a dial.
func (d *Dialer) Conn(name string) *Conn {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.connLocked(name)
}

func (d *Dialer) connLocked(name string) *Conn {
	if c, ok := d.conns[name]; ok {
		return c
	}
	c := NewConn(name)
	for _, fn := range d.setups {
		fn(c)
	}
	if d.conns == nil {
		d.conns = map[string]*Conn{}
	}
	d.conns[name] = c
	return c
}

// Configure runs fn on every Conn, those that exist now and those created
// later (before any caller gets them), for scripting that is the same on
// every host. fn runs with the Dialer locked: it must configure the Conn it
// is given and not call the Dialer.
func (d *Dialer) Configure(fn func(*Conn)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.setups = append(d.setups, fn)
	for _, name := range slices.Sorted(maps.Keys(d.conns)) {
		fn(d.conns[name])
	}
}

// Down makes later dials of the host called name fail with err
// (ErrUnreachable when nil), for tests of how phases treat an unreachable
// host. A Conn already handed out keeps working.
func (d *Dialer) Down(name string, err error) {
	if err == nil {
		err = ErrUnreachable
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.down == nil {
		d.down = map[string]error{}
	}
	d.down[name] = err
}

// Up undoes Down: the host can be dialed again, for tests of retries.
func (d *Dialer) Up(name string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.down, name)
}

// Dials returns the target names of every dial, in order, failed ones
// included: a dry-run plan should leave it empty.
func (d *Dialer) Dials() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return slices.Clone(d.dials)
}

// Target returns the target last dialed under name, for tests of how a
// spec host becomes an SSH target (user, port, bastion, sudo).
func (d *Dialer) Target(name string) (remote.Target, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	t, ok := d.targets[name]
	return t, ok
}

// Close closes every Conn, as *remote.Dialer's Close does; a later Dial
// reopens the host's Conn with its files and rules intact.
func (d *Dialer) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, c := range d.conns {
		c.Close()
	}
	return nil
}
