package store

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// LastGood is what a node needs to serve without the store: the edits
// (documents) and drains it last read, the health it last published and
// the latency measurements it last read.
// It is written on change to state.snapshot_path and read at start, so a
// node restarted while Redis is down answers as it did before.
type LastGood struct {
	WrittenAt     time.Time   `json:"written_at"`
	Node          string      `json:"node"`
	ConfigVersion uint64      `json:"config_version"`
	Docs          []Doc       `json:"docs"`
	Drains        []Drain     `json:"drains"`
	Health        SavedHealth `json:"health"` // by "service/endpoint"
	// Latency is the latency map's measurements as last read, at
	// LatencyAt: a node restarted without the store ranks clients by what
	// was measured, not by distance alone.
	Latency   []LatencyResult `json:"latency,omitempty"`
	LatencyAt time.Time       `json:"latency_at,omitzero"`
}

// SavedHealth is the health a node last published, by "service/endpoint".
// It is plain data: the node package turns health into it and answers
// routing from it.
type SavedHealth map[string]SavedState

// SavedState is one endpoint's published health.
type SavedState struct {
	State   string `json:"state"`
	Drained bool   `json:"drained,omitempty"`
}

// ReadLastGood loads the file; a missing file is (nil, nil). A file that
// was read but cannot be understood is an error that errors.Is ErrCorrupt.
func ReadLastGood(path string) (*LastGood, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var lg LastGood
	if err := json.Unmarshal(b, &lg); err != nil {
		return nil, corruptError{fmt.Errorf("%s: %w", path, err)}
	}
	return &lg, nil
}

// ErrCorrupt marks a snapshot that was read but cannot be understood.
var ErrCorrupt = errors.New("corrupt snapshot")

// corruptError keeps the parse error's text and is ErrCorrupt.
type corruptError struct{ error }

func (e corruptError) Unwrap() error        { return e.error }
func (e corruptError) Is(target error) bool { return target == ErrCorrupt }

// Write stores lg at path atomically: a temp file in the same directory,
// fsync, rename, fsync of the directory. A crash leaves the old file or the
// new one, never half of one.
func (lg *LastGood) Write(path string) error {
	b, err := json.Marshal(lg)
	if err != nil {
		return err
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".gtm-snapshot-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer os.Remove(tmp) // a no-op after the rename
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return nil
}
