package env

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Journaled says whether the journal in a kbs state directory records
// phase as finished (with whatever spec): the tests look at it from
// outside, as an operator would, rather than through kbs's own reader.
func Journaled(stateDir, phase string) (bool, error) {
	b, err := os.ReadFile(filepath.Join(stateDir, "journal.json"))
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	var entries map[string]json.RawMessage
	if err := json.Unmarshal(b, &entries); err != nil {
		return false, fmt.Errorf("journal: %w\n%s", err, b)
	}
	_, ok := entries[phase]
	return ok, nil
}
