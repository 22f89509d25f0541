package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/gtm-project/gtm/health"
	"github.com/gtm-project/gtm/store"
)

// lastGood is what a node needs to serve without the store: the edits
// (documents) and drains it last read, the health it last published and
// the latency measurements it last read.
// It is written on change to state.snapshot_path and read at start, so a
// node restarted while Redis is down answers at once, as before.
type lastGood struct {
	WrittenAt     time.Time             `json:"written_at"`
	Node          string                `json:"node"`
	ConfigVersion uint64                `json:"config_version"`
	Docs          []store.Doc           `json:"docs"`
	Drains        []store.Drain         `json:"drains"`
	Health        map[string]savedState `json:"health"` // by "service/endpoint"
	// Latency is the latency map's measurements as last read, at
	// LatencyAt: a node restarted without the store ranks clients by what
	// was measured, not by distance alone.
	Latency   []store.LatencyResult `json:"latency,omitempty"`
	LatencyAt time.Time             `json:"latency_at,omitzero"`
}

type savedState struct {
	State   string `json:"state"`
	Drained bool   `json:"drained,omitempty"`
}

// savedHealth answers routing from a lastGood's health.
type savedHealth map[string]savedState

// Usable implements routing.Health: unknown endpoints are usable, as with
// live health, so a restart never blanks an answer.
func (h savedHealth) Usable(service, endpoint string) bool {
	s, ok := h[service+"/"+endpoint]
	return !ok || (!s.Drained && s.State != "down")
}

func healthOf(st *health.Status) map[string]savedState {
	out := map[string]savedState{}
	for _, svc := range st.Services() {
		for _, ep := range svc.Endpoints {
			out[ep.Service+"/"+ep.Endpoint] = savedState{State: ep.State.String(), Drained: ep.Drained}
		}
	}
	return out
}

// readLastGood loads the file; a missing file is (nil, nil).
func readLastGood(path string) (*lastGood, error) {
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var lg lastGood
	if err := json.Unmarshal(b, &lg); err != nil {
		return nil, errCorrupt{fmt.Errorf("%s: %w", path, err)}
	}
	return &lg, nil
}

// errCorrupt is a snapshot that was read but cannot be understood.
type errCorrupt struct{ error }

func (e errCorrupt) Unwrap() error { return e.error }

// write stores lg at path atomically: a temp file in the same directory,
// fsync, rename, fsync of the directory. A crash leaves the old file or the
// new one, never half of one.
func (lg *lastGood) write(path string) error {
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
