package workflow

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/kubectl-kbs/kbs/pkg/fsutil"
)

// Journal is the record of finished phases in the cluster's state
// directory. Entries carry the hash of the spec they ran with: after a spec
// change every phase runs again (each is idempotent), so the journal never
// vouches for work done against another spec.
type Journal struct {
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
	j := &Journal{path: filepath.Join(dir, JournalFile), specHash: specHash, entries: map[string]journalEntry{}}
	b, err := os.ReadFile(j.path)
	if errors.Is(err, os.ErrNotExist) {
		return j, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading journal: %w", err)
	}
	if err := json.Unmarshal(b, &j.entries); err != nil {
		return nil, fmt.Errorf("journal %s is corrupt (%v): remove it to run every phase again", j.path, err)
	}
	return j, nil
}

// Done says whether phase finished with the current spec.
func (j *Journal) Done(phase string) bool {
	j.mu.Lock()
	defer j.mu.Unlock()
	e, ok := j.entries[phase]
	return ok && e.SpecHash == j.specHash
}

// Record notes that phase finished, atomically on disk.
func (j *Journal) Record(phase string) error {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.entries[phase] = journalEntry{SpecHash: j.specHash, Finished: time.Now().UTC()}
	b, err := json.MarshalIndent(j.entries, "", "  ")
	if err != nil {
		return err
	}
	return fsutil.WriteFileAtomic(j.path, b, 0o600)
}
