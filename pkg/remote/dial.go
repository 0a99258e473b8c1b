package remote

import (
	"context"
	"fmt"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/kevinburke/ssh_config"
	"golang.org/x/crypto/ssh"
)

// Dialer opens connections and keeps one per host: later Dials of the same
// target return the open connection, and every command runs in a new
// session on it, so a host costs one SSH handshake per kbs run.
type Dialer struct {
	HostKeys    *HostKeys
	Credentials Credentials
	// Timeout bounds each TCP connect and SSH handshake (default 15s).
	Timeout time.Duration
	// SSHConfig overrides ~/.ssh/config (tests); nil reads the user's.
	SSHConfig *ssh_config.Config

	mu      sync.Mutex
	conns   map[string]*conn
	pending map[string]*dialing // handshakes in flight, by target
	closes  int                 // how many times Close ran: a dial that outlives one closes its connection
	// setup guards what every dial shares and reads once: the host keys,
	// ssh_config; and key loading, so a passphrase is asked once at a time.
	setup    sync.Mutex
	checkKey ssh.HostKeyCallback
	rawKnown ssh.HostKeyCallback
}

// dialing is one handshake in flight: others that want the same host
// wait for it instead of opening a second connection.
type dialing struct {
	done chan struct{}
	err  error
}

// Dial returns the connection to t, opening it if needed.
//
// Handshakes with different hosts run in parallel (the lock is held only
// to look up and record connections): with --parallel N, N hosts connect
// at once, and a host that does not answer delays no other.
func (d *Dialer) Dial(ctx context.Context, t Target) (Conn, error) {
	key := t.Name + "\x00" + t.Address
	for {
		d.mu.Lock()
		if c, ok := d.conns[key]; ok && !c.closed() {
			d.mu.Unlock()
			return c, nil
		}
		if p, ok := d.pending[key]; ok {
			d.mu.Unlock()
			select {
			case <-p.done:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			if p.err != nil {
				return nil, p.err
			}
			continue // it is in conns now
		}
		p := &dialing{done: make(chan struct{})}
		if d.pending == nil {
			d.pending, d.conns = map[string]*dialing{}, map[string]*conn{}
		}
		d.pending[key] = p
		gen := d.closes
		d.mu.Unlock()
		c, err := d.open(ctx, t)
		d.mu.Lock()
		delete(d.pending, key)
		switch {
		case err == nil && gen != d.closes:
			c.Close() // nobody would ever close it
			err = fmt.Errorf("the connections were closed while this one was being made")
		case err == nil:
			d.conns[key] = c
		}
		d.mu.Unlock()
		if err != nil {
			p.err = fmt.Errorf("connecting to %s (%s): %w", t.Name, t.Address, err)
		}
		close(p.done)
		if err != nil {
			return nil, p.err
		}
		return c, nil
	}
}

// Close closes every connection the dialer opened.
func (d *Dialer) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.closes++
	for k, c := range d.conns {
		c.Close()
		delete(d.conns, k)
	}
	return nil
}

func (d *Dialer) open(ctx context.Context, t Target) (*conn, error) {
	r, auth, cleanup, cfg, err := d.prepare(t)
	if err != nil {
		return nil, err
	}
	defer cleanup()
	var client *ssh.Client
	if r.jump != "" {
		client, err = d.viaJump(ctx, r, auth)
	} else {
		client, err = d.handshake(ctx, nil, r.host, r.port, cfg)
	}
	if err != nil {
		return nil, err
	}
	return newConn(t, client, &d.Credentials), nil
}

// prepare does, one dial at a time, what dials share: host keys and
// ssh_config read once, credentials loaded (a passphrase asked once at a
// time), and the client configuration.
func (d *Dialer) prepare(t Target) (resolved, []ssh.AuthMethod, func(), *ssh.ClientConfig, error) {
	d.setup.Lock()
	defer d.setup.Unlock()
	if err := d.initHostKeys(); err != nil {
		return resolved{}, nil, nil, nil, err
	}
	if d.SSHConfig == nil {
		d.SSHConfig = loadSSHConfig()
	}
	r := resolve(t, d.SSHConfig)
	auth, cleanup, err := d.Credentials.authMethods(r.keyFiles)
	if err != nil {
		return resolved{}, nil, nil, nil, err
	}
	return r, auth, cleanup, d.clientConfig(r.user, auth, r.host, r.port), nil
}

func (d *Dialer) initHostKeys() error {
	if d.checkKey != nil {
		return nil
	}
	if d.HostKeys == nil {
		d.HostKeys = &HostKeys{Files: []string{DefaultKnownHosts()}}
	}
	var err error
	d.checkKey, d.rawKnown, err = d.HostKeys.callbacks()
	return err
}

func (d *Dialer) clientConfig(user string, auth []ssh.AuthMethod, host string, port int) *ssh.ClientConfig {
	timeout := d.Timeout
	if timeout == 0 {
		timeout = 15 * time.Second
	}
	return &ssh.ClientConfig{
		User:              user,
		Auth:              auth,
		HostKeyCallback:   d.checkKey,
		HostKeyAlgorithms: d.hostKeyAlgorithms(net.JoinHostPort(host, strconv.Itoa(port))),
		Timeout:           timeout,
	}
}

// viaJump connects to the bastion, then to the target through it.
func (d *Dialer) viaJump(ctx context.Context, r resolved, auth []ssh.AuthMethod) (*ssh.Client, error) {
	ju, jh, jp := parseJump(r.jump, r.user)
	bastion, err := d.handshake(ctx, nil, jh, jp, d.clientConfig(ju, auth, jh, jp))
	if err != nil {
		return nil, fmt.Errorf("bastion %s: %w", r.jump, err)
	}
	client, err := d.handshake(ctx, bastion, r.host, r.port, d.clientConfig(r.user, auth, r.host, r.port))
	if err != nil {
		bastion.Close()
		return nil, fmt.Errorf("through bastion %s: %w", r.jump, err)
	}
	go func() { client.Wait(); bastion.Close() }()
	return client, nil
}

// handshake dials host:port (directly or through via) and runs the SSH
// handshake, abandoning it when ctx ends.
func (d *Dialer) handshake(ctx context.Context, via *ssh.Client, host string, port int, cfg *ssh.ClientConfig) (*ssh.Client, error) {
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	dctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	var nc net.Conn
	var err error
	if via != nil {
		nc, err = via.DialContext(dctx, "tcp", addr)
	} else {
		nc, err = (&net.Dialer{}).DialContext(dctx, "tcp", addr)
	}
	if err != nil {
		return nil, err
	}
	stop := context.AfterFunc(dctx, func() { nc.Close() })
	defer stop()
	sc, chans, reqs, err := ssh.NewClientConn(nc, addr, cfg)
	if err != nil {
		nc.Close()
		if dctx.Err() != nil {
			return nil, fmt.Errorf("ssh handshake with %s: %w", addr, dctx.Err())
		}
		return nil, err
	}
	return ssh.NewClient(sc, chans, reqs), nil
}

// hostKeyAlgorithms asks a known host for a key type known_hosts holds,
// and an unknown one for a plain key (see plainHostKeyAlgorithms).
func (d *Dialer) hostKeyAlgorithms(addr string) []string {
	if algos := knownAlgorithms(d.rawKnown, addr); len(algos) > 0 {
		return algos
	}
	// Where known_hosts trusts a certificate authority, a host may be known
	// only by its certificate: it is asked for that, and checked against
	// the authority, never recorded as a new plain key.
	if d.HostKeys != nil && d.HostKeys.AcceptNew && !d.HostKeys.trustsAuthorities() {
		return plainHostKeyAlgorithms()
	}
	return nil
}
