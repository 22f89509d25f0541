package node

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gtm-project/gtm/store"
)

// Durable is st as the API should see it: with a snapshot file
// (state.snapshot_path), a write is acknowledged only once the snapshot
// file holding it is fsynced. Use it with the memory store; with Redis the
// store's own acknowledgement is the durable one. Without a snapshot file
// st is returned as is.
func (s *Syncer) Durable(st store.Store) store.Store {
	if s.path == "" {
		return st
	}
	return durableStore{Store: st, s: s}
}

// durableStore is the memory store as the API sees it when
// state.snapshot_path is set: a write is acknowledged only once the
// snapshot file holding it is fsynced, so a crash right after a 2xx loses
// nothing. With Redis the store's own acknowledgement is the durable one.
type durableStore struct {
	store.Store
	s *Syncer
}

func (d durableStore) durable(ctx context.Context, err error) error {
	if err != nil {
		return err
	}
	if err := d.s.flush(ctx); err != nil {
		return fmt.Errorf("the change is applied on this node but could not be made durable (snapshot %s): %w; retry once the disk is fixed", d.s.path, err)
	}
	return nil
}

func (d durableStore) PutDoc(ctx context.Context, kind, name string, body []byte, meta store.DocMeta, ifVersion uint64) (store.Doc, error) {
	doc, err := d.Store.PutDoc(ctx, kind, name, body, meta, ifVersion)
	return doc, d.durable(ctx, err)
}

func (d durableStore) DeleteDoc(ctx context.Context, kind, name string, meta store.DocMeta, ifVersion uint64) error {
	return d.durable(ctx, d.Store.DeleteDoc(ctx, kind, name, meta, ifVersion))
}

func (d durableStore) SetDrain(ctx context.Context, dr store.Drain, on bool) error {
	return d.durable(ctx, d.Store.SetDrain(ctx, dr, on))
}

// flush writes the store's documents and drains to the snapshot now and
// returns once they are on disk. Concurrent callers share one write (group
// commit): a caller whose change was made before a write began is covered
// by it, since that write reads the store after.
func (s *Syncer) flush(ctx context.Context) error {
	want := s.flushAsked.Add(1)
	s.wmu.Lock()
	defer s.wmu.Unlock()
	if s.flushDone >= want {
		return s.flushErr
	}
	upto := s.flushAsked.Load()
	err := s.flushLocked(ctx)
	s.flushDone, s.flushErr = upto, err
	return err
}

func (s *Syncer) flushLocked(ctx context.Context) error {
	ver, err := s.st.ConfigVersion(ctx)
	if err != nil {
		return err
	}
	docs, err := s.readDocs(ctx)
	if err != nil {
		return err
	}
	drains, err := s.st.Drains(ctx)
	if err != nil {
		return err
	}
	s.mu.Lock()
	cur := s.held
	cur.Latency, cur.LatencyAt = s.latency, s.latencyAt
	fp := s.latencyFP
	s.mu.Unlock()
	cur.Node, cur.ConfigVersion, cur.Docs, cur.Drains = s.node, ver, docs, drains
	return s.writeLocked(cur, fp)
}

// writeLocked writes cur (s.wmu held) and records the outcome.
func (s *Syncer) writeLocked(cur store.LastGood, fp [3]int64) error {
	cur.WrittenAt = s.now().UTC()
	err := cur.Write(s.path)
	s.mu.Lock()
	wasOK := s.snapErr == nil
	s.snapErr = err
	if err == nil {
		s.written = cur
		s.latencyWrittenFP = fp
	}
	s.mu.Unlock()
	if err != nil {
		s.snapOK.Set(0)
		s.storeErrors.WithLabelValues("snapshot_write").Inc()
		if wasOK {
			s.log.Error().Err(err).Str("path", s.path).Msg("cannot write the last-known-good snapshot; edits get 503 until it can be written")
		}
		return err
	}
	s.snapOK.Set(1)
	if !wasOK {
		s.log.Info().Str("path", s.path).Msg("last-known-good snapshot written again")
	}
	return nil
}

// removeStrayTemps deletes the temporary files of snapshot writes that a
// crash interrupted (the rename never happened, so nothing refers to them).
func removeStrayTemps(path string) (removed []string) {
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(path), ".gtm-snapshot-*"))
	for _, m := range matches {
		if os.Remove(m) == nil {
			removed = append(removed, m)
		}
	}
	return removed
}

// corruptName is where a snapshot that cannot be read is moved, so the
// evidence survives the next write.
func corruptName(path string, now time.Time) string {
	return path + ".corrupt-" + now.UTC().Format("20060102T150405Z")
}

// corruptSnapshots lists the snapshots moved aside and not yet
// acknowledged: an operator acknowledges one by removing (or moving) it.
func corruptSnapshots(path string) []string {
	if path == "" {
		return nil
	}
	matches, _ := filepath.Glob(path + ".corrupt-*")
	var out []string
	for _, m := range matches {
		if !strings.HasSuffix(m, ".tmp") {
			out = append(out, m)
		}
	}
	return out
}
