package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// docBody is a document as stored, without its versions: a script wraps
// it in an envelope with the versions it assigns.
type docBody struct {
	Kind    string    `json:"kind"`
	Name    string    `json:"name"`
	Body    []byte    `json:"body,omitempty"`
	By      string    `json:"by,omitempty"`
	At      time.Time `json:"at"`
	Comment string    `json:"comment,omitempty"`
	Deleted bool      `json:"deleted,omitempty"`
}

// docEnvelope is what the docs hash and the history lists hold.
type docEnvelope struct {
	V   uint64  `json:"v"`
	CV  uint64  `json:"cv"`
	Doc docBody `json:"doc"`
}

func (e docEnvelope) doc() Doc {
	b := e.Doc
	return Doc{Kind: b.Kind, Name: b.Name, Version: e.V, ConfigVersion: e.CV,
		Body: b.Body, By: b.By, At: b.At, Comment: b.Comment, Deleted: b.Deleted}
}

func envelopeOf(d Doc) docEnvelope {
	return docEnvelope{V: d.Version, CV: d.ConfigVersion, Doc: docBody{
		Kind: d.Kind, Name: d.Name, Body: d.Body, By: d.By, At: d.At, Comment: d.Comment, Deleted: d.Deleted}}
}

func decodeDoc(s string) (Doc, error) {
	var e docEnvelope
	if err := json.Unmarshal([]byte(s), &e); err != nil {
		return Doc{}, err
	}
	return e.doc(), nil
}

// PutDoc implements Store.
func (r *Redis) PutDoc(ctx context.Context, kind, name string, body []byte, meta DocMeta, ifVersion uint64) (Doc, error) {
	return r.writeDoc(ctx, kind, name, body, meta, ifVersion, false)
}

// DeleteDoc implements Store.
func (r *Redis) DeleteDoc(ctx context.Context, kind, name string, meta DocMeta, ifVersion uint64) error {
	_, err := r.writeDoc(ctx, kind, name, nil, meta, ifVersion, true)
	return err
}

func (r *Redis) writeDoc(ctx context.Context, kind, name string, body []byte, meta DocMeta, ifVersion uint64, del bool) (Doc, error) {
	if err := checkDocName(kind, name); err != nil {
		return Doc{}, err
	}
	ctx, cancel := r.call(ctx)
	defer cancel()
	b := docBody{Kind: kind, Name: name, Body: body, By: meta.By, At: r.opts.Clock().UTC(),
		Comment: meta.Comment, Deleted: del}
	js, err := json.Marshal(b)
	if err != nil {
		return Doc{}, fmt.Errorf("store: encode %s %s: %w", kind, name, err)
	}
	delArg := "0"
	if del {
		delArg = "1"
	}
	res, err := putDocScript.Run(ctx, r.client,
		[]string{r.keys.docs(kind), r.keys.docv(kind), r.keys.hist(kind, name), r.keys.configVersion},
		name, strconv.FormatUint(ifVersion, 10), delArg, js, HistoryDepth, r.keys.channel).Slice()
	if err != nil {
		return Doc{}, fmt.Errorf("store: write %s %s: %w", kind, name, err)
	}
	if len(res) < 2 {
		return Doc{}, fmt.Errorf("store: write %s %s: unexpected reply %v", kind, name, res)
	}
	status, _ := res[0].(string)
	cur, _ := res[1].(int64)
	switch status {
	case "ok":
		cv, _ := res[2].(int64)
		return docEnvelope{V: uint64(cur), CV: uint64(cv), Doc: b}.doc(), nil
	case "conflict":
		return Doc{}, fmt.Errorf("%s %s is at version %d, not %d: %w", kind, name, cur, ifVersion, ErrConflict)
	case "notfound":
		return Doc{}, fmt.Errorf("delete %s %s: %w", kind, name, ErrNotFound)
	}
	return Doc{}, fmt.Errorf("store: write %s %s: unexpected reply %v", kind, name, res)
}

// Doc implements Store.
func (r *Redis) Doc(ctx context.Context, kind, name string) (Doc, error) {
	if err := checkDocName(kind, name); err != nil {
		return Doc{}, err
	}
	ctx, cancel := r.call(ctx)
	defer cancel()
	s, err := r.client.HGet(ctx, r.keys.docs(kind), name).Result()
	if errors.Is(err, redis.Nil) {
		return Doc{}, fmt.Errorf("%s %s: %w", kind, name, ErrNotFound)
	}
	if err != nil {
		return Doc{}, fmt.Errorf("store: read %s %s: %w", kind, name, err)
	}
	d, err := decodeDoc(s)
	if err != nil {
		return Doc{}, fmt.Errorf("store: decode %s %s: %w", kind, name, err)
	}
	if d.Deleted {
		return Doc{}, fmt.Errorf("%s %s: %w", kind, name, ErrNotFound)
	}
	return d, nil
}

// Docs implements Store.
func (r *Redis) Docs(ctx context.Context, kind string) ([]Doc, error) {
	if err := checkDocName(kind, "-"); err != nil {
		return nil, err
	}
	ctx, cancel := r.call(ctx)
	defer cancel()
	m, err := r.client.HGetAll(ctx, r.keys.docs(kind)).Result()
	if err != nil {
		return nil, fmt.Errorf("store: read %s documents: %w", kind, err)
	}
	out := make([]Doc, 0, len(m))
	for name, s := range m {
		key := r.keys.docs(kind) + "/" + name
		d, err := decodeDoc(s)
		if err != nil {
			r.garbage.bad(garbageDoc, key, s, err)
			continue
		}
		r.garbage.good(key)
		if !d.Deleted {
			out = append(out, d)
		}
	}
	slices.SortFunc(out, func(a, b Doc) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// History implements Store.
func (r *Redis) History(ctx context.Context, kind, name string, limit int) ([]Doc, error) {
	if err := checkDocName(kind, name); err != nil {
		return nil, err
	}
	ctx, cancel := r.call(ctx)
	defer cancel()
	stop := int64(-1)
	if limit > 0 {
		stop = int64(limit) - 1
	}
	l, err := r.client.LRange(ctx, r.keys.hist(kind, name), 0, stop).Result()
	if err != nil {
		return nil, fmt.Errorf("store: read history of %s %s: %w", kind, name, err)
	}
	if len(l) == 0 {
		return nil, fmt.Errorf("%s %s: %w", kind, name, ErrNotFound)
	}
	out := make([]Doc, len(l))
	for i, s := range l {
		if out[i], err = decodeDoc(s); err != nil {
			return nil, fmt.Errorf("store: decode history of %s %s: %w", kind, name, err)
		}
	}
	return out, nil
}

// ConfigVersion implements Store.
func (r *Redis) ConfigVersion(ctx context.Context) (uint64, error) {
	ctx, cancel := r.call(ctx)
	defer cancel()
	v, err := r.client.Get(ctx, r.keys.configVersion).Uint64()
	if errors.Is(err, redis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("store: read config version: %w", err)
	}
	return v, nil
}

// RestoreDocs implements Store: one script, so the restore is atomic and
// concurrent restores from several nodes cannot interleave.
func (r *Redis) RestoreDocs(ctx context.Context, docs []Doc) error {
	if len(docs) == 0 {
		return nil
	}
	keys := []string{r.keys.configVersion}
	args := []any{HistoryDepth, r.keys.channel}
	for _, d := range docs {
		if err := checkDocName(d.Kind, d.Name); err != nil {
			return err
		}
		env, err := json.Marshal(envelopeOf(d))
		if err != nil {
			return fmt.Errorf("store: encode %s %s: %w", d.Kind, d.Name, err)
		}
		del := "0"
		if d.Deleted {
			del = "1"
		}
		keys = append(keys, r.keys.docs(d.Kind), r.keys.docv(d.Kind), r.keys.hist(d.Kind, d.Name))
		args = append(args, d.Name, strconv.FormatUint(d.Version, 10),
			strconv.FormatUint(d.ConfigVersion, 10), del, env)
	}
	ctx, cancel := r.call(ctx)
	defer cancel()
	res, err := restoreDocsScript.Run(ctx, r.client, keys, args...).Slice()
	if err != nil {
		return fmt.Errorf("store: restore %d documents: %w", len(docs), err)
	}
	if len(res) == 2 {
		r.log.Info().Any("written", res[0]).Any("config_version", res[1]).Int("offered", len(docs)).
			Msg("restored documents")
	}
	return nil
}
