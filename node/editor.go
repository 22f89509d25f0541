package node

import (
	"context"
	"sync"

	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
	"github.com/miekg/dns"
)

// DocReader is the part of the store Validate reads (store.Store
// satisfies it).
type DocReader interface {
	ConfigVersion(ctx context.Context) (uint64, error)
	Docs(ctx context.Context, kind string) ([]store.Doc, error)
}

// editor validates API edits against the files this node serves and the
// documents in the store, as api.Editor asks; the Engine answers with it.
//
// An edit's cost does not grow with the other documents stored: they are
// read from the store again only when its configuration version moved,
// and parsed only when their own version did (the engine's
// zones.ParseCache, shared with the overlays it serves). Only the edited
// document is parsed on every request; the cross-checks (zones.NewSet)
// run over the whole result as before, so what is accepted is unchanged.
type editor struct {
	eng *Engine
	st  DocReader // nil: no store

	mu sync.Mutex
	// docs are the store's live documents as read at configuration
	// version docsVer (or later).
	docs    []zones.Edit
	docsVer uint64
	haveDoc bool
}

// Validate overlays the store's documents, with edit in place of its own
// kind and name (or without it, for a delete), on the files. It implements
// api.Editor.
func (e *Engine) Validate(ctx context.Context, edit zones.Edit) (*zones.Set, error) {
	return e.ed.validate(ctx, edit)
}

// Check is Validate for its error alone (api.EditChecker): the edited
// zone is checked record by record as it is parsed, never held whole, so
// a zone edit's peak memory stays a small multiple of its body.
func (e *Engine) Check(ctx context.Context, edit zones.Edit) error {
	edits, err := e.ed.overlayEdits(ctx, edit)
	if err != nil {
		return err
	}
	return zones.CheckOverlay(e.Base(), edits, &e.cache)
}

func (e *editor) validate(ctx context.Context, edit zones.Edit) (*zones.Set, error) {
	edits, err := e.overlayEdits(ctx, edit)
	if err != nil {
		return nil, err
	}
	return zones.OverlayCached(e.eng.Base(), edits, &e.eng.cache)
}

// overlayEdits are the store's documents with edit in place of its own
// kind and name, or without it for a delete.
func (e *editor) overlayEdits(ctx context.Context, edit zones.Edit) ([]zones.Edit, error) {
	stored, err := e.storeEdits(ctx)
	if err != nil {
		return nil, err
	}
	edits := make([]zones.Edit, 0, len(stored)+1)
	for _, d := range stored {
		if d.Kind == edit.Kind && d.Name == dns.CanonicalName(edit.Name) {
			continue
		}
		edits = append(edits, d)
	}
	if !edit.Deleted {
		edits = append(edits, edit)
	}
	return edits, nil
}

// storeEdits are the store's live documents, read again only when the
// store's configuration version is not the one they were read at.
func (e *editor) storeEdits(ctx context.Context) ([]zones.Edit, error) {
	if e.st == nil {
		return nil, nil
	}
	ver, err := e.st.ConfigVersion(ctx)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	if e.haveDoc && e.docsVer == ver {
		docs := e.docs
		e.mu.Unlock()
		return docs, nil
	}
	e.mu.Unlock()
	var edits []zones.Edit
	for _, kind := range []string{store.KindZone, store.KindService} {
		docs, err := e.st.Docs(ctx, kind)
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			if d.Deleted {
				continue
			}
			edits = append(edits, zones.Edit{Kind: d.Kind, Name: d.Name, Body: d.Body, Version: d.Version})
		}
	}
	// The documents were read after ver: they are at least that new, so
	// keyed by ver they are re-read as soon as anything changes again.
	e.mu.Lock()
	if !e.haveDoc || ver >= e.docsVer {
		e.docs, e.docsVer, e.haveDoc = edits, ver, true
	}
	e.mu.Unlock()
	return edits, nil
}
