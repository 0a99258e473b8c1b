// Package remotetest provides in-memory fakes of remote.Conn and of the
// Dial method phases use to reach hosts, so that unit tests of bootstrap
// and etcd phases (and of their dry-run plans) never touch a real host — the
// approach k0sctl takes: what a phase does to a host is asserted from the
// commands and files it sent, and what the host says back is scripted.
//
// A Conn records every call in order (Calls, Commands, Writes) and answers
// commands from rules registered with On, OnFunc and Fail: each rule's
// pattern is a regular expression matched, unanchored, against the command
// as the caller wrote it (before any sudo wrapping), and the first rule
// registered that matches wins. Commands no rule matches get the default
// answer (empty output, nil error; see SetDefault). Quote literal commands
// with regexp.QuoteMeta: kbs commands are full of |, ( and $.
//
// Files are an in-memory map: WriteFile stores into it, ReadFile serves
// from it, SetFile seeds it. The fake is not a shell: a command such as
// "sha256sum 'PATH' | cut -d' ' -f1" is answered by a rule, typically an
// OnFunc that looks at File.
//
// Options are opaque: remote.RunOption and remote.WriteOption are funcs
// over unexported structs, so the fake records only how many were given
// (Call.Opts). It cannot tell Privileged from Stderr, does not read a
// Stdin option's reader (OnFunc's stdin is always nil), does not gunzip a
// Gunzip write (the stored content is the bytes as sent), does not verify
// SHA256 and does not run a Tee command.
//
// A Dialer hands out one Conn per target name and records dial order; a
// dry-run plan that dials nothing shows as an empty Dials.
//
//	d := new(remotetest.Dialer) // the zero value is ready
//	d.Configure(func(c *remotetest.Conn) {
//		c.On(`^systemctl is-active etcd`, "active\n", nil)
//	})
//	d.Down("etcd-2", errors.New("no route to host"))
//	// ... run the phase with d as its SSH dialer ...
//	if got := d.Conn("etcd-0").Commands(); ... {
//	}
package remotetest
