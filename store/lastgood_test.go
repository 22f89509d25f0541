package store

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// oldSnapshot is a last-known-good file exactly as nodes wrote it before
// the format moved to this package: it must load, and be written back
// byte for byte.
const oldSnapshot = `{"written_at":"2025-03-01T12:00:00Z","node":"node-a","config_version":7,` +
	`"docs":[{"kind":"zone","name":"example.com.","version":2,"config_version":7,"body":"JE9SSUdJTg==","by":"ops","at":"2025-03-01T11:00:00Z"}],` +
	`"drains":[{"kind":"endpoint","name":"gw-1","by":"ops","reason":"maintenance","at":"2025-03-01T11:30:00Z"}],` +
	`"health":{"api.example.com./gw-1":{"state":"up","drained":true},"api.example.com./gw-2":{"state":"down"}},` +
	`"latency":[{"prefix":"198.51.100.0/24","addr":"198.51.100.1","source":"eu","prober":"p1","method":"icmp","rtt":12000000,"at":"2025-03-01T11:59:00Z"}],` +
	`"latency_at":"2025-03-01T11:59:30Z"}`

func TestLastGoodFormatUnchanged(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "snapshot.json")
	if err := os.WriteFile(path, []byte(oldSnapshot), 0o644); err != nil {
		t.Fatal(err)
	}
	lg, err := ReadLastGood(path)
	if err != nil || lg == nil {
		t.Fatalf("ReadLastGood: %v, %v", lg, err)
	}
	if lg.Node != "node-a" || lg.ConfigVersion != 7 || !lg.WrittenAt.Equal(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)) {
		t.Errorf("header = %q %d %v", lg.Node, lg.ConfigVersion, lg.WrittenAt)
	}
	if len(lg.Docs) != 1 || string(lg.Docs[0].Body) != "$ORIGIN" || lg.Docs[0].Version != 2 {
		t.Errorf("docs = %+v", lg.Docs)
	}
	if len(lg.Drains) != 1 || lg.Drains[0].Kind != DrainEndpoint || lg.Drains[0].Name != "gw-1" {
		t.Errorf("drains = %+v", lg.Drains)
	}
	if h := lg.Health; h["api.example.com./gw-1"] != (SavedState{State: "up", Drained: true}) || h["api.example.com./gw-2"] != (SavedState{State: "down"}) {
		t.Errorf("health = %+v", h)
	}
	if len(lg.Latency) != 1 || lg.Latency[0].RTT != 12*time.Millisecond || lg.LatencyAt.IsZero() {
		t.Errorf("latency = %+v at %v", lg.Latency, lg.LatencyAt)
	}

	out := filepath.Join(dir, "sub", "again.json")
	if err := lg.Write(out); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != oldSnapshot {
		t.Errorf("written back:\n%s\nwant:\n%s", b, oldSnapshot)
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "sub", ".gtm-snapshot-*")); len(m) != 0 {
		t.Errorf("temporary files left: %v", m)
	}
}

// Files from before the latency map (no latency keys) load, and are
// written without them.
func TestLastGoodWithoutLatency(t *testing.T) {
	path := filepath.Join(t.TempDir(), "snapshot.json")
	old := `{"written_at":"2025-03-01T12:00:00Z","node":"n","config_version":1,"docs":null,"drains":null,"health":{}}`
	if err := os.WriteFile(path, []byte(old), 0o644); err != nil {
		t.Fatal(err)
	}
	lg, err := ReadLastGood(path)
	if err != nil || lg == nil || lg.Latency != nil || !lg.LatencyAt.IsZero() {
		t.Fatalf("ReadLastGood = %+v, %v", lg, err)
	}
	if err := lg.Write(path); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != old {
		t.Errorf("written back %s, want %s", b, old)
	}
}

func TestReadLastGoodMissingAndCorrupt(t *testing.T) {
	dir := t.TempDir()
	lg, err := ReadLastGood(filepath.Join(dir, "none.json"))
	if lg != nil || err != nil {
		t.Errorf("missing file = %v, %v; want nil, nil", lg, err)
	}
	path := filepath.Join(dir, "bad.json")
	if err := os.WriteFile(path, []byte(`{"node": `), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = ReadLastGood(path)
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("corrupt file: %v, want ErrCorrupt", err)
	}
	if !strings.HasPrefix(err.Error(), path+": ") || strings.Contains(err.Error(), ErrCorrupt.Error()) {
		t.Errorf("error text %q: want the path and the parse error, as before", err)
	}
	// An unreadable path (a directory) is not corruption.
	if _, err := ReadLastGood(dir); err == nil || errors.Is(err, ErrCorrupt) {
		t.Errorf("directory: %v, want an error that is not ErrCorrupt", err)
	}
}
