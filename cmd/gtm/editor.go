package main

import (
	"context"

	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
	"github.com/miekg/dns"
)

// editor validates API edits against the files this node serves and the
// documents in the store, as api.Editor asks.
type editor struct {
	eng *engine
	st  store.Store
}

func (e *editor) Effective() *zones.Set {
	_, set := e.eng.effective()
	return set
}

// Validate overlays the store's documents, with edit in place of its own
// kind and name (or without it, for a delete), on the files.
func (e *editor) Validate(ctx context.Context, edit zones.Edit) (*zones.Set, error) {
	var edits []zones.Edit
	for _, kind := range []string{store.KindZone, store.KindService} {
		docs, err := e.st.Docs(ctx, kind)
		if err != nil {
			return nil, err
		}
		for _, d := range docs {
			if d.Deleted || (d.Kind == edit.Kind && d.Name == dns.CanonicalName(edit.Name)) {
				continue
			}
			edits = append(edits, zones.Edit{Kind: d.Kind, Name: d.Name, Body: d.Body, Version: d.Version})
		}
	}
	if !edit.Deleted {
		edits = append(edits, edit)
	}
	base, _ := e.eng.effective()
	return zones.Overlay(base, edits)
}
