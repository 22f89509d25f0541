package store

import (
	"errors"
	"fmt"
	"time"
)

// Errors that carry a decision for callers (the API maps them to 404/409).
var (
	// ErrNotFound: the document does not exist (or was deleted).
	ErrNotFound = errors.New("store: not found")
	// ErrConflict: a conditional write named a version that is not the
	// current one; the caller re-reads and retries or reports the conflict.
	ErrConflict = errors.New("store: version conflict")
)

// Document kinds operators edit.
const (
	KindZone    = "zone"
	KindService = "service"
)

// HistoryDepth is how many versions of each document are kept, newest
// first: enough to undo a bad afternoon of edits, small enough that a
// document's history is one cheap read.
const HistoryDepth = 50

// DocMeta says who changed a document and why.
type DocMeta struct {
	By      string
	Comment string
}

// Doc is one version of a versioned document: configuration operators edit
// (zones and services).
type Doc struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Version counts this document's changes: 1 when created, +1 on every
	// write or deletion.
	Version uint64 `json:"version"`
	// ConfigVersion is the global configuration version this change
	// produced; RestoreDocs uses it to keep the global version rising.
	ConfigVersion uint64    `json:"config_version"`
	Body          []byte    `json:"body,omitempty"`
	By            string    `json:"by,omitempty"`
	At            time.Time `json:"at"`
	Comment       string    `json:"comment,omitempty"`
	// Deleted marks a tombstone: the version that deleted the document.
	Deleted bool `json:"deleted,omitempty"`
}

// checkDocName rejects kinds and names that would make ambiguous keys.
// Kinds are short words; names are anything but empty.
func checkDocName(kind, name string) error {
	if kind == "" {
		return fmt.Errorf("store: empty document kind")
	}
	for _, c := range kind {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return fmt.Errorf("store: document kind %q: want lower-case letters, digits, - or _", kind)
		}
	}
	if name == "" {
		return fmt.Errorf("store: empty %s name", kind)
	}
	return nil
}

// ResultTTL is how long a result of a check with the given interval lives:
// three intervals (a result older than that is stale and does not vote),
// but at least min, so that fast checks survive a short pause of their
// prober (a GC, a Redis failover).
func ResultTTL(interval, min time.Duration) time.Duration {
	return max(3*interval, min)
}

// DefaultMinResultTTL is the lower bound of ResultTTL in production.
const DefaultMinResultTTL = 15 * time.Second
