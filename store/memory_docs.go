package store

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// PutDoc implements Store.
func (m *Memory) PutDoc(ctx context.Context, kind, name string, body []byte, meta DocMeta, ifVersion uint64) (Doc, error) {
	return m.writeDoc(ctx, kind, name, body, meta, ifVersion, false)
}

// DeleteDoc implements Store.
func (m *Memory) DeleteDoc(ctx context.Context, kind, name string, meta DocMeta, ifVersion uint64) error {
	_, err := m.writeDoc(ctx, kind, name, nil, meta, ifVersion, true)
	return err
}

func (m *Memory) writeDoc(ctx context.Context, kind, name string, body []byte, meta DocMeta, ifVersion uint64, del bool) (Doc, error) {
	if err := ctx.Err(); err != nil {
		return Doc{}, err
	}
	if err := checkDocName(kind, name); err != nil {
		return Doc{}, err
	}
	now := m.clock()
	m.mu.Lock()
	defer m.mu.Unlock()
	k := docKey{kind, name}
	hist := m.docs[k]
	var cur uint64
	dead := true
	if len(hist) > 0 {
		cur, dead = hist[0].Version, hist[0].Deleted
	}
	if del && dead {
		return Doc{}, fmt.Errorf("delete %s %s: %w", kind, name, ErrNotFound)
	}
	if ifVersion != 0 && ifVersion != cur {
		return Doc{}, fmt.Errorf("%s %s is at version %d, not %d: %w", kind, name, cur, ifVersion, ErrConflict)
	}
	d := Doc{
		Kind: kind, Name: name, Version: cur + 1,
		Body: slices.Clone(body), By: meta.By, At: now, Comment: meta.Comment, Deleted: del,
	}
	d.ConfigVersion = m.bump(WhatConfig)
	m.docs[k] = pushHistory(hist, d)
	return cloneDoc(d), nil
}

// pushHistory puts d in front, keeping HistoryDepth versions.
func pushHistory(hist []Doc, d Doc) []Doc {
	hist = slices.Insert(hist, 0, d)
	if len(hist) > HistoryDepth {
		hist = hist[:HistoryDepth]
	}
	return hist
}

// cloneDoc copies the body so callers cannot change what is stored.
func cloneDoc(d Doc) Doc {
	d.Body = slices.Clone(d.Body)
	return d
}

// Doc implements Store.
func (m *Memory) Doc(ctx context.Context, kind, name string) (Doc, error) {
	if err := ctx.Err(); err != nil {
		return Doc{}, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	hist := m.docs[docKey{kind, name}]
	if len(hist) == 0 || hist[0].Deleted {
		return Doc{}, fmt.Errorf("%s %s: %w", kind, name, ErrNotFound)
	}
	return cloneDoc(hist[0]), nil
}

// Docs implements Store.
func (m *Memory) Docs(ctx context.Context, kind string) ([]Doc, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	var out []Doc
	for k, hist := range m.docs {
		if k.kind == kind && !hist[0].Deleted {
			out = append(out, cloneDoc(hist[0]))
		}
	}
	m.mu.Unlock()
	slices.SortFunc(out, func(a, b Doc) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// History implements Store.
func (m *Memory) History(ctx context.Context, kind, name string, limit int) ([]Doc, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	hist := m.docs[docKey{kind, name}]
	if len(hist) == 0 {
		return nil, fmt.Errorf("%s %s: %w", kind, name, ErrNotFound)
	}
	if limit > 0 && limit < len(hist) {
		hist = hist[:limit]
	}
	out := make([]Doc, len(hist))
	for i, d := range hist {
		out[i] = cloneDoc(d)
	}
	return out, nil
}

// ConfigVersion implements Store.
func (m *Memory) ConfigVersion(ctx context.Context) (uint64, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.versions[WhatConfig], nil
}

// RestoreDocs implements Store.
func (m *Memory) RestoreDocs(ctx context.Context, docs []Doc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for _, d := range docs {
		if err := checkDocName(d.Kind, d.Name); err != nil {
			return err
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	var maxCV uint64
	wrote := false
	for _, d := range docs {
		maxCV = max(maxCV, d.ConfigVersion)
		k := docKey{d.Kind, d.Name}
		hist := m.docs[k]
		if len(hist) > 0 && hist[0].Version >= d.Version {
			continue // what is stored is as new or newer
		}
		m.docs[k] = pushHistory(hist, cloneDoc(d))
		wrote = true
	}
	if wrote {
		m.versions[WhatConfig] = max(m.versions[WhatConfig], maxCV)
		m.bump(WhatConfig)
	}
	return nil
}
