package workflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/fsutil"
)

// Journal is the record of finished phases in the cluster's state
// directory. Entries carry the hash of the spec they ran with: after a spec
// change every phase runs again (each is idempotent), so the journal never
// vouches for work done against another spec.
//
// Init's phases are recorded at the top level: they describe the cluster
// as it converged. An operation (join these hosts, renew certificates,
// rotate the etcd CA, …) records its phases in a Scope of its own, which a
// finished run forgets: an interrupted operation resumes where it stopped,
// and the next one starts from the beginning.
type Journal struct {
	file   *journalFile
	prefix string // "" at the top level, "SCOPE/" in a scope
}

type journalFile struct {
	path     string
	specHash string

	mu      sync.Mutex
	entries map[string]journalEntry
}

type journalEntry struct {
	SpecHash string    `json:"specHash"`
	Finished time.Time `json:"finished"`
}

// JournalFile is the journal's name in the state directory.
const JournalFile = "journal.json"

// OpenJournal reads DIR/journal.json (missing is empty).
func OpenJournal(dir, specHash string) (*Journal, error) {
	f := &journalFile{path: filepath.Join(dir, JournalFile), specHash: specHash, entries: map[string]journalEntry{}}
	b, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return &Journal{file: f}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading journal: %w", err)
	}
	if err := json.Unmarshal(b, &f.entries); err != nil {
		return nil, fmt.Errorf("journal %s is corrupt (%v): remove it to run every phase again", f.path, err)
	}
	return &Journal{file: f}, nil
}

// Scope is the part of the journal that one operation writes, named for
// the operation and what it works on ("join worker-2", "certs-renew").
func (j *Journal) Scope(name string) *Journal {
	return &Journal{file: j.file, prefix: j.prefix + name + "/"}
}

// Done says whether phase finished with the current spec.
func (j *Journal) Done(phase string) bool {
	j.file.mu.Lock()
	defer j.file.mu.Unlock()
	e, ok := j.file.entries[j.prefix+phase]
	return ok && e.SpecHash == j.file.specHash
}

// Started says whether any phase of this scope is recorded: an earlier run
// of the operation stopped half-way.
func (j *Journal) Started() bool {
	j.file.mu.Lock()
	defer j.file.mu.Unlock()
	for k, e := range j.file.entries {
		if j.prefix != "" && strings.HasPrefix(k, j.prefix) && e.SpecHash == j.file.specHash {
			return true
		}
	}
	return false
}

// Record notes that phase finished, atomically on disk.
func (j *Journal) Record(phase string) error {
	j.file.mu.Lock()
	defer j.file.mu.Unlock()
	j.file.entries[j.prefix+phase] = journalEntry{SpecHash: j.file.specHash, Finished: time.Now().UTC()}
	return j.file.save()
}

// Forget removes every entry of this scope (of the whole journal at the
// top level), atomically on disk.
func (j *Journal) Forget() error {
	j.file.mu.Lock()
	defer j.file.mu.Unlock()
	for k := range j.file.entries {
		if strings.HasPrefix(k, j.prefix) {
			delete(j.file.entries, k)
		}
	}
	return j.file.save()
}

func (f *journalFile) save() error {
	b, err := json.MarshalIndent(f.entries, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(f.path, b, 0o600)
}
