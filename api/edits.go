package api

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/gtm-project/gtm/geo"
	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
	"github.com/miekg/dns"
	"github.com/rs/zerolog"
	"go.yaml.in/yaml/v3"
	"golang.org/x/sync/semaphore"
)

// DocStore is the part of the store the edit endpoints use (store.Store
// satisfies it). Zones and services written through the API are versioned
// documents there; the files stay as they are underneath.
type DocStore interface {
	PutDoc(ctx context.Context, kind, name string, body []byte, meta store.DocMeta, ifVersion uint64) (store.Doc, error)
	Docs(ctx context.Context, kind string) ([]store.Doc, error)
	DeleteDoc(ctx context.Context, kind, name string, meta store.DocMeta, ifVersion uint64) error
	History(ctx context.Context, kind, name string, limit int) ([]store.Doc, error)
}

// Editor is what the edit endpoints need from the configuration: the files
// (the base set) and the documents in the store, overlaid.
type Editor interface {
	// Effective is the configuration served now: the files with the
	// accepted documents applied. It may be nil before the first load.
	Effective() *zones.Set
	// Validate returns the configuration that edit would produce: the
	// files, overlaid (zones.Overlay) with the documents in the store, the
	// document of edit's kind and name replaced by edit, or, when
	// edit.Deleted, left out (so the files' definition of that name, if
	// any, applies again, as it will once the document is deleted).
	// Problems with the result are a zones.ErrorList; any other error
	// (the store unreachable) is returned as is.
	Validate(ctx context.Context, edit zones.Edit) (*zones.Set, error)
}

// EditChecker is what an Editor may offer besides: Check returns
// exactly the error Validate returns for edit (nil when Validate returns
// a set), without building the configuration. The edit endpoints use it
// for a zone written (not deleted), whose resulting set they do not
// need, so that validating a big zone never holds all its parsed records
// (zones.CheckOverlay).
type EditChecker interface {
	Check(ctx context.Context, edit zones.Edit) error
}

// EditOptions tune the edit endpoints; the zero value is ready to use.
type EditOptions struct {
	// ReadAuth makes the GET endpoints require a token (a read-only one
	// will do). By default they are open, like /api/v1/status.
	ReadAuth bool
	// Now is the clock for the date-based SOA serial. Default time.Now.
	Now func() time.Time
	// Timeout bounds each request's store calls and validation, and the
	// wait for an edit slot. Default 10 s.
	Timeout time.Duration
	// MaxConcurrent bounds the edits (PUT, DELETE, rollback, dry runs)
	// whose bodies are read, parsed and validated at once; the others wait
	// for a slot until their deadline (Timeout), then get 503 with
	// Retry-After. Default 4 (api.max_concurrent_edits).
	MaxConcurrent int
}

// Limits of the edit endpoints.
const (
	// maxEditBody bounds a request body: the largest zones we expect are a
	// few MB of master file.
	maxEditBody = 16 << 20
	// writeAttempts is how often a write without If-Match is retried when
	// another writer got in between our read and our conditional write.
	writeAttempts = 3
)

// HandleEdits serves zones and services as versioned documents:
//
//	GET    /api/v1/zones                      list (documents and zones from files)
//	GET    /api/v1/zones/{origin}             master file (text/dns), ETag "<version>"
//	PUT    /api/v1/zones/{origin}             text/dns or {"records": [...]}; ?dry_run=1
//	DELETE /api/v1/zones/{origin}             back to the files' definition, if any
//	GET    /api/v1/zones/{origin}/history     versions, newest first, with diffs
//	POST   /api/v1/zones/{origin}/rollback?version=N
//
// and the same under /api/v1/services/{name} with YAML or JSON of one
// services: entry. Writes take If-Match: "<version>" (409 when stale), the
// author from the bearer token and a comment from ?comment= or the
// X-Gtm-Comment header.
func (s *Server) HandleEdits(docs DocStore, ed Editor, opt EditOptions) {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Timeout <= 0 {
		opt.Timeout = 10 * time.Second
	}
	if opt.MaxConcurrent <= 0 {
		opt.MaxConcurrent = zones.DefaultMaxConcurrentEdits
	}
	h := &edits{s: s, docs: docs, ed: ed, opt: opt, slots: semaphore.NewWeighted(int64(opt.MaxConcurrent)), nslots: int64(opt.MaxConcurrent),
		busyLog: newBurstLog(s.Log, 10*time.Second), limitLog: newBurstLog(s.Log, 10*time.Second)}
	for _, k := range []*editKind{zoneKind, serviceKind} {
		base := "/api/v1/" + k.plural
		s.Mux.HandleFunc("GET "+base, h.read(h.list(k)))
		s.Mux.HandleFunc("GET "+base+"/{name}", h.read(h.get(k)))
		s.Mux.HandleFunc("GET "+base+"/{name}/history", h.read(h.history(k)))
		s.Mux.HandleFunc("PUT "+base+"/{name}", s.requireWrite(h.slot(h.put(k))))
		s.Mux.HandleFunc("DELETE "+base+"/{name}", s.requireWrite(h.slot(h.del(k))))
		s.Mux.HandleFunc("POST "+base+"/{name}/rollback", s.requireWrite(h.slot(h.rollback(k))))
	}
}

type edits struct {
	s    *Server
	docs DocStore
	ed   Editor
	opt  EditOptions
	// slots are the edit slots, nslots of them.
	slots             *semaphore.Weighted
	nslots            int64
	busyLog, limitLog *burstLog
}

// slotBytes is the body size one edit slot stands for: an edit takes one
// slot per slotBytes of its body begun (all of them for a body of unknown
// length), so that the memory edits hold at once is bounded by bytes as
// well as by count; four 16 MiB dry runs cannot run side by side.
const slotBytes = 4 << 20

// weight is how many slots r takes.
func (h *edits) weight(r *http.Request) int64 {
	if r.Method != http.MethodPut {
		return 1 // DELETE and rollback send no body
	}
	n := r.ContentLength
	if n < 0 || n > maxEditBody {
		return h.nslots
	}
	return min(h.nslots, 1+n/slotBytes)
}

// slot runs an edit once one of opt.MaxConcurrent slots is free (more
// for a body of 4 MiB or more: weight), before its body is even read: a
// thousand concurrent PUTs hold a thousand small goroutines, not a
// thousand bodies and parses. An edit that finds no slot before its
// deadline (opt.Timeout from arrival) is answered 503 with Retry-After.
// Reading the body is bounded by the same deadline, so a client
// trickling it cannot keep a slot; a body announced above the cap is
// refused before it takes one.
func (h *edits) slot(f func(http.ResponseWriter, *http.Request, string)) func(http.ResponseWriter, *http.Request, string) {
	m := h.s.metrics
	return func(w http.ResponseWriter, r *http.Request, who string) {
		arrived := time.Now() // the request's header was just read
		if r.ContentLength > maxEditBody {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body above %d bytes", maxEditBody))
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), h.opt.Timeout)
		defer cancel()
		n := h.weight(r)
		if !h.slots.TryAcquire(n) {
			m.editsWaiting.Inc()
			err := h.slots.Acquire(ctx, n)
			m.editsWaiting.Dec()
			if err != nil {
				m.editsRejected.Inc()
				h.busyLog.note(func(e *zerolog.Event) *zerolog.Event {
					return e.Int64("max_concurrent_edits", h.nslots)
				}, "edits refused: no edit slot freed up before their deadline")
				w.Header().Set("Retry-After", "1")
				writeError(w, http.StatusServiceUnavailable, fmt.Sprintf(
					"too many edits in progress (api.max_concurrent_edits: %d): retry later", h.nslots))
				return
			}
		}
		m.editsRunning.Inc()
		defer func() {
			m.editsRunning.Dec()
			h.slots.Release(n)
		}()
		if dl, ok := ctx.Deadline(); ok {
			// The body must arrive by the edit's deadline, and never later
			// than the server's own read timeout allows (a slow body is
			// closed at api.read_timeout, slot or not).
			if rd := arrived.Add(h.s.Limits.withDefaults().ReadTimeout); rd.Before(dl) {
				dl = rd
			}
			_ = http.NewResponseController(w).SetReadDeadline(dl)
		}
		f(w, r.WithContext(ctx), who)
	}
}

// editKind holds what differs between zones and services.
type editKind struct {
	kind   string // store and zones kind
	plural string // URL segment
	mime   string // Content-Type of a document
	// render returns the text of name's definition in set.
	render func(set *zones.Set, name string) ([]byte, bool)
	// decode turns a request body into the document stored; pathOf, when
	// not nil, names the request element an error line is in.
	decode func(mediaType string, body []byte) (doc []byte, pathOf func(line int) string, err error)
	// describe adds what set says about name to a list entry.
	describe func(set *zones.Set, name string, e *listEntry) bool
}

var zoneKind = &editKind{
	kind: zones.KindZone, plural: "zones", mime: "text/dns; charset=utf-8",
	render: func(set *zones.Set, name string) ([]byte, bool) {
		if z := setZone(set, name); z != nil {
			return renderZone(z), true
		}
		return nil, false
	},
	decode: decodeZone,
	describe: func(set *zones.Set, name string, e *listEntry) bool {
		z := setZone(set, name)
		if z == nil {
			return false
		}
		e.Records = len(z.Records)
		if z.SOA != nil {
			e.Serial = z.SOA.Serial
		}
		return true
	},
}

var serviceKind = &editKind{
	kind: zones.KindService, plural: "services", mime: "application/yaml; charset=utf-8",
	render: func(set *zones.Set, name string) ([]byte, bool) {
		if svc := setService(set, name); svc != nil {
			b, err := renderService(svc)
			return b, err == nil
		}
		return nil, false
	},
	decode: decodeService,
	describe: func(set *zones.Set, name string, e *listEntry) bool {
		svc := setService(set, name)
		if svc == nil {
			return false
		}
		e.Policy, e.Endpoints = svc.Policy, len(svc.Endpoints)
		return true
	},
}

func setZone(set *zones.Set, origin string) *zones.Zone {
	if set == nil {
		return nil
	}
	for _, z := range set.Zones {
		if z.Origin == origin {
			return z
		}
	}
	return nil
}

func setService(set *zones.Set, name string) *zones.Service {
	if set == nil {
		return nil
	}
	for _, svc := range set.Config.Services {
		if svc.Name == name {
			return svc
		}
	}
	return nil
}

// renderZone writes a zone's records as a master file, one RR per line in
// miekg/dns presentation format (absolute names), so that what GET returns
// for a zone from files can be edited and PUT back.
func renderZone(z *zones.Zone) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "$ORIGIN %s\n", z.Origin)
	for _, rr := range z.Records {
		b.WriteString(rr.String())
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// renderService writes one service as YAML, leaving out unset keys (null,
// empty) that would only be noise.
func renderService(svc *zones.Service) ([]byte, error) {
	var n yaml.Node
	if err := n.Encode(svc); err != nil {
		return nil, err
	}
	pruneYAML(&n)
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		return nil, err
	}
	return b.Bytes(), enc.Close()
}

func pruneYAML(n *yaml.Node) {
	if n.Kind == yaml.MappingNode {
		kept := n.Content[:0]
		for i := 0; i+1 < len(n.Content); i += 2 {
			v := n.Content[i+1]
			empty := (v.Kind == yaml.ScalarNode && (v.Tag == "!!null" || v.Tag == "!!str" && v.Value == "")) ||
				(v.Kind == yaml.SequenceNode || v.Kind == yaml.MappingNode) && len(v.Content) == 0
			if empty {
				continue
			}
			kept = append(kept, n.Content[i], v)
		}
		n.Content = kept
	}
	for _, c := range n.Content {
		pruneYAML(c)
	}
}

// decodeZone accepts a master file (text/dns, RFC 4027; text/plain) or
// {"records": ["www 300 IN A 192.0.2.1", ...]}, one record per string and
// relative to the origin, which becomes a master file of one record per
// line so that an error's line names its record.
func decodeZone(mt string, body []byte) ([]byte, func(int) string, error) {
	switch mt {
	case "", "text/dns", "text/plain", "application/octet-stream":
		return body, nil, nil
	case "application/json":
		var in struct {
			Records []string `json:"records"`
		}
		dec := json.NewDecoder(bytes.NewReader(body))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&in); err != nil {
			return nil, nil, fmt.Errorf("JSON body: %w", err)
		}
		var b bytes.Buffer
		for i, r := range in.Records {
			if strings.ContainsAny(r, "\r\n") {
				return nil, nil, fmt.Errorf("records[%d]: one record per string, without line breaks", i)
			}
			b.WriteString(r)
			b.WriteByte('\n')
		}
		n := len(in.Records)
		return b.Bytes(), func(line int) string {
			if line >= 1 && line <= n {
				return fmt.Sprintf("records[%d]", line-1)
			}
			return ""
		}, nil
	}
	return nil, nil, errUnsupported{mt, "text/dns or application/json"}
}

// decodeService accepts YAML or JSON (which is YAML) of one services:
// entry, stored as written so that error lines match what was sent.
func decodeService(mt string, body []byte) ([]byte, func(int) string, error) {
	switch mt {
	case "", "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "text/plain", "application/json":
		return body, nil, nil
	}
	return nil, nil, errUnsupported{mt, "application/yaml or application/json"}
}

type errUnsupported struct{ got, want string }

func (e errUnsupported) Error() string {
	return fmt.Sprintf("Content-Type %s: want %s", e.got, e.want)
}

// read wraps a GET handler: open unless ReadAuth asks for a token.
func (h *edits) read(f http.HandlerFunc) http.HandlerFunc {
	if !h.opt.ReadAuth {
		return f
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if _, ok := h.s.authenticate(w, r, "a bearer token is required to read configuration"); !ok {
			return
		}
		f(w, r)
	}
}

// name reads and canonicalises the {name} path element.
func (h *edits) name(w http.ResponseWriter, r *http.Request, k *editKind) (string, bool) {
	name := dns.CanonicalName(r.PathValue("name"))
	if _, ok := dns.IsDomainName(name); !ok || name == "." {
		writeError(w, http.StatusBadRequest, fmt.Sprintf("%q is not a %s name", r.PathValue("name"), k.kind))
		return "", false
	}
	return name, true
}

// docState is what is known about one name before a change.
type docState struct {
	// version is the document's current version, a deletion's included
	// (0 when it was never written): what If-Match is compared with.
	version uint64
	live    bool // a document is in force
	doc     store.Doc
	// text is what is served now: the document, or the files' definition
	// rendered; source says which ("api", "file", or "" when neither).
	text   []byte
	source string
}

func (h *edits) state(ctx context.Context, k *editKind, name string) (docState, error) {
	var st docState
	hist, err := h.docs.History(ctx, k.kind, name, 1)
	switch {
	case errors.Is(err, store.ErrNotFound):
	case err != nil:
		return st, err
	case len(hist) > 0:
		st.version = hist[0].Version
		if !hist[0].Deleted {
			st.live, st.doc, st.text, st.source = true, hist[0], hist[0].Body, "api"
		}
	}
	if !st.live {
		if t, ok := k.render(h.ed.Effective(), name); ok {
			st.text, st.source = t, "file"
		}
	}
	return st, nil
}

// listEntry is one row of GET /api/v1/zones or /api/v1/services.
type listEntry struct {
	Origin string `json:"origin,omitempty"` // zones
	Name   string `json:"name,omitempty"`   // services
	// Source is "api" for a document, "file" for what the files define.
	Source  string    `json:"source"`
	Version uint64    `json:"version"`
	By      string    `json:"by,omitempty"`
	At      time.Time `json:"at,omitzero"`
	Comment string    `json:"comment,omitempty"`
	// Served says the configuration in force holds it (a document just
	// written may not be applied yet).
	Served    bool   `json:"served"`
	Serial    uint32 `json:"serial,omitempty"`
	Records   int    `json:"records,omitempty"`
	Policy    string `json:"policy,omitempty"`
	Endpoints int    `json:"endpoints,omitempty"`
}

func (h *edits) list(k *editKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), h.opt.Timeout)
		defer cancel()
		docs, err := h.docs.Docs(ctx, k.kind)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "store: "+err.Error())
			return
		}
		set := h.ed.Effective()
		byName := map[string]*listEntry{}
		if set != nil {
			var names []string
			if k == zoneKind {
				for _, z := range set.Zones {
					names = append(names, z.Origin)
				}
			} else {
				for _, svc := range set.Config.Services {
					names = append(names, svc.Name)
				}
			}
			for _, n := range names {
				byName[n] = &listEntry{Source: "file"}
			}
		}
		for _, d := range docs {
			byName[d.Name] = &listEntry{Source: "api", Version: d.Version, By: d.By, At: d.At, Comment: d.Comment}
		}
		out := make([]*listEntry, 0, len(byName))
		for n, e := range byName {
			if k == zoneKind {
				e.Origin = n
			} else {
				e.Name = n
			}
			e.Served = k.describe(set, n, e)
			out = append(out, e)
		}
		sort.Slice(out, func(i, j int) bool { return out[i].Origin+out[i].Name < out[j].Origin+out[j].Name })
		writeJSON(w, http.StatusOK, out)
	}
}

func (h *edits) get(k *editKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name, ok := h.name(w, r, k)
		if !ok {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), h.opt.Timeout)
		defer cancel()
		st, err := h.state(ctx, k, name)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "store: "+err.Error())
			return
		}
		if st.source == "" {
			writeError(w, http.StatusNotFound, fmt.Sprintf("no %s %s", k.kind, name))
			return
		}
		w.Header().Set("ETag", etag(st.version))
		w.Header().Set("X-Gtm-Source", st.source)
		if strings.Contains(r.Header.Get("Accept"), "application/json") {
			doc := map[string]any{"kind": k.kind, "name": name, "version": st.version, "source": st.source, "text": string(st.text)}
			if st.live {
				doc["by"], doc["at"], doc["comment"] = st.doc.By, st.doc.At, st.doc.Comment
			}
			writeJSON(w, http.StatusOK, doc)
			return
		}
		w.Header().Set("Content-Type", k.mime)
		_, _ = w.Write(st.text)
	}
}

func (h *edits) put(k *editKind) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, who string) {
		name, ok := h.name(w, r, k)
		if !ok {
			return
		}
		raw, err := readBody(w, r)
		if err != nil {
			return
		}
		mt := ""
		if ct := r.Header.Get("Content-Type"); ct != "" {
			if mt, _, err = mime.ParseMediaType(ct); err != nil {
				writeError(w, http.StatusBadRequest, "Content-Type: "+err.Error())
				return
			}
		}
		body, pathOf, err := k.decode(mt, raw)
		if err != nil {
			code := http.StatusBadRequest
			if errors.As(err, new(errUnsupported)) {
				code = http.StatusUnsupportedMediaType
			}
			writeError(w, code, err.Error())
			return
		}
		h.change(w, r, change{k: k, name: name, body: body, owned: true, pathOf: pathOf, who: who, comment: comment(r)})
	}
}

func (h *edits) del(k *editKind) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, who string) {
		if name, ok := h.name(w, r, k); ok {
			h.change(w, r, change{k: k, name: name, del: true, who: who, comment: comment(r)})
		}
	}
}

func (h *edits) rollback(k *editKind) func(http.ResponseWriter, *http.Request, string) {
	return func(w http.ResponseWriter, r *http.Request, who string) {
		name, ok := h.name(w, r, k)
		if !ok {
			return
		}
		v, err := strconv.ParseUint(r.URL.Query().Get("version"), 10, 64)
		if err != nil || v == 0 {
			writeError(w, http.StatusBadRequest, "?version=N: the version to roll back to, a positive number")
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), h.opt.Timeout)
		defer cancel()
		hist, err := h.docs.History(ctx, k.kind, name, 0)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			writeError(w, http.StatusServiceUnavailable, "store: "+err.Error())
			return
		}
		i := slices.IndexFunc(hist, func(d store.Doc) bool { return d.Version == v })
		switch {
		case i < 0:
			writeError(w, http.StatusNotFound, fmt.Sprintf("%s %s has no version %d (the last %d are kept)", k.kind, name, v, store.HistoryDepth))
			return
		case hist[i].Deleted:
			writeError(w, http.StatusBadRequest, fmt.Sprintf("version %d of %s %s is a deletion: DELETE it instead", v, k.kind, name))
			return
		}
		c := comment(r)
		if c == "" {
			c = fmt.Sprintf("rollback to v%d", v)
		}
		h.change(w, r, change{k: k, name: name, body: hist[i].Body, who: who, comment: c})
	}
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	var b bytes.Buffer
	// Sized from Content-Length (within the cap), a big body is read into
	// one buffer rather than a series of doublings.
	if n := r.ContentLength; n > 0 {
		b.Grow(int(min(n, maxEditBody)) + bytes.MinRead)
	}
	_, err := b.ReadFrom(http.MaxBytesReader(w, r.Body, maxEditBody))
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			writeError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("body above %d bytes", maxEditBody))
		} else {
			writeError(w, http.StatusBadRequest, "reading body: "+err.Error())
		}
	}
	return b.Bytes(), err
}

func comment(r *http.Request) string {
	if c := r.URL.Query().Get("comment"); c != "" {
		return c
	}
	return r.Header.Get("X-Gtm-Comment")
}

func etag(v uint64) string { return `"` + strconv.FormatUint(v, 10) + `"` }

// ifMatch is a parsed If-Match header.
type ifMatch struct {
	set     bool
	any     bool // "*": the document must exist
	version uint64
}

// parseIfMatch reads `"3"`, `W/"3"`, a bare 3, or `*`. Only one version
// may be named: a document has one current version.
func parseIfMatch(v string) (ifMatch, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return ifMatch{}, nil
	}
	if v == "*" {
		return ifMatch{set: true, any: true}, nil
	}
	n, err := strconv.ParseUint(strings.Trim(strings.TrimPrefix(v, "W/"), `"`), 10, 64)
	if err != nil {
		return ifMatch{}, fmt.Errorf("If-Match %s: want the version from the ETag, such as \"3\"", v)
	}
	return ifMatch{set: true, version: n}, nil
}

func (m ifMatch) ok(st docState) bool {
	switch {
	case !m.set:
		return true
	case m.any:
		return st.live
	}
	return m.version == st.version
}

// change is one write, deletion or rollback.
type change struct {
	k    *editKind
	name string
	body []byte
	// owned says body was read for this request alone: a zone's serial
	// may be raised in place (the buffer has room), not in a copy.
	owned   bool
	del     bool
	pathOf  func(int) string
	who     string
	comment string
}

// Problem is one validation error in a 400 answer.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Path    string `json:"path"`
	Message string `json:"message"`
}

// ChangeResult answers a write, deletion or rollback (or its dry run).
type ChangeResult struct {
	Kind string `json:"kind"`
	Name string `json:"name"`
	// Version is the new version (the current one on a dry run);
	// Previous the one replaced.
	Version  uint64 `json:"version"`
	Previous uint64 `json:"previous"`
	DryRun   bool   `json:"dry_run,omitempty"`
	Deleted  bool   `json:"deleted,omitempty"`
	// Source is what serves the name afterwards: "api", "file" (after a
	// deletion, the files' definition) or "".
	Source string `json:"source"`
	// Serial is a zone's SOA serial as stored; SerialWritten the serial
	// sent, when it had to be raised.
	Serial        uint32 `json:"serial,omitempty"`
	SerialWritten uint32 `json:"serial_written,omitempty"`
	// Diff is a unified diff from the text served before to the new one.
	Diff string `json:"diff"`
	// ChangedRegions lists, for a service, the regions whose clients would
	// get a different set of endpoints.
	ChangedRegions []RegionChange `json:"changed_regions,omitempty"`
}

// RegionChange is how one region's answer changes: the endpoints ("name
// address") a client located there may get, before and after.
type RegionChange struct {
	Region string   `json:"region"`
	Before []string `json:"before"`
	After  []string `json:"after"`
}

func (h *edits) change(w http.ResponseWriter, r *http.Request, c change) {
	dry := truthy(r.URL.Query().Get("dry_run"))
	cond, err := parseIfMatch(r.Header.Get("If-Match"))
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opt.Timeout)
	defer cancel()
	for attempt := 1; ; attempt++ {
		st, err := h.state(ctx, c.k, c.name)
		if err != nil {
			writeError(w, http.StatusServiceUnavailable, "store: "+err.Error())
			return
		}
		if c.del && !st.live {
			if st.source == "file" {
				writeError(w, http.StatusConflict, fmt.Sprintf("%s %s is defined in the config files, not through the API: remove it there", c.k.kind, c.name))
			} else {
				writeError(w, http.StatusNotFound, fmt.Sprintf("no %s %s", c.k.kind, c.name))
			}
			return
		}
		if !cond.ok(st) {
			h.conflict(w, c, st.version)
			return
		}
		res := ChangeResult{Kind: c.k.kind, Name: c.name, Previous: st.version, Deleted: c.del, DryRun: dry}
		body := c.body
		var undo func() // gives c.body back what raiseSerial rewrote in it
		if !c.del && c.k == zoneKind {
			body, res.Serial, res.SerialWritten, undo = h.raiseSerial(c.name, body, st.text, c.owned)
		}
		edit := zones.Edit{Kind: c.k.kind, Name: c.name, Body: body, Deleted: c.del}
		// The set an edit produces is needed to render what a deletion
		// leaves and to compare a service's answers; a zone written needs
		// the verdict alone.
		var after *zones.Set
		if ck, ok := h.ed.(EditChecker); ok && c.k == zoneKind && !c.del {
			err = ck.Check(ctx, edit)
		} else {
			after, err = h.ed.Validate(ctx, edit)
		}
		if err != nil {
			var list zones.ErrorList
			if errors.As(err, &list) {
				h.countLimits(list, c)
				writeProblems(w, list, zones.EditName(edit), c.pathOf)
			} else {
				writeError(w, http.StatusServiceUnavailable, "validating: "+err.Error())
			}
			return
		}
		next := body
		res.Source = "api"
		if c.del {
			next, _ = c.k.render(after, c.name)
			if next != nil {
				res.Source = "file"
			} else {
				res.Source = ""
			}
		}
		res.Diff = unifiedDiff(diffLabel(c.name, st.version, st.source), diffLabel(c.name, 0, res.Source), st.text, next)
		if c.k == serviceKind {
			res.ChangedRegions = changedRegions(h.ed.Effective(), after, c.name)
		}
		if dry {
			res.Version = st.version
			writeJSON(w, http.StatusOK, res)
			return
		}
		// The write is conditional on the version read above even without
		// If-Match, so that the diff and the serial are computed against
		// what is really replaced; a concurrent writer makes us start over.
		meta := store.DocMeta{By: c.who, Comment: c.comment}
		if c.del {
			err = h.docs.DeleteDoc(ctx, c.k.kind, c.name, meta, st.version)
			res.Version = st.version + 1
		} else {
			var d store.Doc
			d, err = h.docs.PutDoc(ctx, c.k.kind, c.name, body, meta, st.version)
			res.Version = d.Version
		}
		switch {
		case errors.Is(err, store.ErrConflict) && !cond.set && attempt < writeAttempts:
			if undo != nil {
				undo()
			}
			continue
		case errors.Is(err, store.ErrConflict):
			h.conflict(w, c, 0)
			return
		case errors.Is(err, store.ErrNotFound):
			writeError(w, http.StatusNotFound, fmt.Sprintf("no %s %s", c.k.kind, c.name))
			return
		case err != nil:
			writeError(w, http.StatusServiceUnavailable, "store: "+err.Error())
			return
		}
		h.s.Log.Info().Str("kind", c.k.kind).Str("name", c.name).Str("by", c.who).Uint64("version", res.Version).
			Bool("deleted", c.del).Str("comment", c.comment).Msg("configuration document written")
		writeJSON(w, http.StatusOK, res)
		return
	}
}

// countLimits counts (and logs, once per burst) an edit refused for a
// zone limit: an operator should see someone sending zone bombs.
func (h *edits) countLimits(list zones.ErrorList, c change) {
	for _, e := range list {
		if e.IsLimit() {
			h.s.metrics.editsLimited.Inc()
			h.limitLog.note(func(ev *zerolog.Event) *zerolog.Event {
				return ev.Str("kind", c.k.kind).Str("name", c.name).Str("by", c.who).Int("line", e.Line).Str("limit", e.Msg)
			}, "edit refused: over a zone limit")
			return
		}
	}
}

// conflict answers 409 with the current version (0: unknown, re-read it).
func (h *edits) conflict(w http.ResponseWriter, c change, current uint64) {
	msg := fmt.Sprintf("%s %s changed since it was read (If-Match): fetch it again, re-apply the change and retry", c.k.kind, c.name)
	body := map[string]any{"error": msg}
	if current > 0 {
		body["version"] = current
	}
	writeJSON(w, http.StatusConflict, body)
}

func diffLabel(name string, version uint64, source string) string {
	switch {
	case source == "":
		return name + " (none)"
	case source == "file":
		return name + " (files)"
	case version == 0:
		return name + " (new)"
	}
	return fmt.Sprintf("%s (v%d)", name, version)
}

func truthy(s string) bool {
	b, err := strconv.ParseBool(s)
	return err == nil && b
}

// writeProblems answers 400 with every validation error, each located by
// file (the edit, or the config file a clash is found in) and line; for
// records sent as JSON, path names the record.
func writeProblems(w http.ResponseWriter, list zones.ErrorList, editFile string, pathOf func(int) string) {
	out := make([]Problem, len(list))
	for i, e := range list {
		out[i] = Problem{File: e.File, Line: e.Line, Path: e.Path, Message: e.Msg}
		if pathOf != nil && e.File == editFile && e.Path == "" {
			out[i].Path = pathOf(e.Line)
		}
	}
	writeJSON(w, http.StatusBadRequest, map[string]any{
		"error":  fmt.Sprintf("%d problem(s): nothing was written", len(out)),
		"errors": out,
	})
}

// raiseSerial makes a zone edit's SOA serial greater (RFC 1982) than the
// serial served now. Secondaries transferring the zone, and anything that
// caches SOA, notice a change only by a rising serial; an edit that keeps
// or lowers it (an operator who forgot, or a rollback to an older text)
// would go unseen. A serial that already rises is left as written; one
// that does not becomes max(current+1, today's YYYYMMDD00), the common
// date convention, without ever going backwards. It returns the text, the
// serial it holds, and the serial sent when it was replaced (else 0).
//
// With inPlace, the serial is rewritten in text's own array when its
// spare capacity allows (readBody leaves some), so that a big zone is
// not held twice; undo, then not nil, puts the text sent back.
func (h *edits) raiseSerial(origin string, text, current []byte, inPlace bool) (out []byte, serial, sentSerial uint32, undo func()) {
	var lim zones.Limits
	if set := h.ed.Effective(); set != nil {
		lim = set.Config.Limits
	}
	// Only the SOA of each text is parsed: validation parses the zone
	// whole, once, after this.
	soa, line, ok := lim.FirstSOA(origin, "new", text)
	if !ok || dns.CanonicalName(soa.Header().Name) != dns.CanonicalName(origin) {
		return text, 0, 0, nil // validation reports it
	}
	sent := soa.Serial
	if len(current) == 0 {
		return text, sent, 0, nil
	}
	cur, _, ok := lim.FirstSOA(origin, "current", current)
	if !ok || zones.SerialGreater(sent, cur.Serial) {
		return text, sent, 0, nil
	}
	next := zones.NextSerial(cur.Serial, h.opt.Now())
	if i, j, ok := findSerial(text, line, sent); ok {
		digits := strconv.AppendUint(nil, uint64(next), 10)
		n, d := len(text), len(digits)-(j-i)
		if !inPlace || d > cap(text)-n {
			out := make([]byte, 0, n+d)
			out = append(out, text[:i]...)
			out = append(out, digits...)
			return append(out, text[j:]...), next, sent, nil
		}
		full, old := text[:cap(text)], bytes.Clone(text[i:j])
		copy(full[i+len(digits):], full[j:n])
		copy(full[i:], digits)
		return full[:n+d], next, sent, func() {
			copy(full[j:], full[i+len(digits):n+d])
			copy(full[i:], old)
		}
	}
	// The serial could not be found in the text (written in an unusual
	// way): store the zone re-rendered instead, losing its comments.
	z, errs := lim.ParseZoneText(origin, "new", text)
	if len(errs) > 0 || z == nil || z.SOA == nil {
		return text, 0, 0, nil
	}
	z.SOA.Serial = next
	return renderZone(z), next, sent, nil
}

// replaceSerial rewrites the serial of the SOA record starting on line in
// place, keeping the rest of the text (comments, layout, line numbers). It
// finds the third field after the SOA type, across parentheses and
// comments, and checks that it holds old.
func replaceSerial(text []byte, line int, old, serial uint32) ([]byte, bool) {
	i, j, ok := findSerial(text, line, old)
	if !ok {
		return nil, false
	}
	out := make([]byte, 0, len(text)+10)
	out = append(out, text[:i]...)
	out = strconv.AppendUint(out, uint64(serial), 10)
	return append(out, text[j:]...), true
}

// findSerial finds the serial of the SOA record starting on line, as
// replaceSerial describes: it is text[i:j].
func findSerial(text []byte, line int, old uint32) (i, j int, ok bool) {
	off := 0
	for l := 1; l < line; l++ {
		k := bytes.IndexByte(text[off:], '\n')
		if k < 0 {
			return 0, 0, false
		}
		off += k + 1
	}
	isSep := func(c byte) bool { return strings.IndexByte(" \t\r\n();\"", c) >= 0 }
	afterSOA, fields := false, 0
	for i, tokens := off, 0; i < len(text) && tokens < 16; {
		c := text[i]
		switch {
		case c == ';':
			for i < len(text) && text[i] != '\n' {
				i++
			}
		case c == '"':
			return 0, 0, false
		case isSep(c):
			i++
		default:
			j := i
			for j < len(text) && !isSep(text[j]) {
				if text[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j, len(text))
			tok := text[i:j]
			tokens++
			if !afterSOA {
				afterSOA = bytes.EqualFold(tok, []byte("SOA"))
			} else if fields++; fields == 3 {
				if v, err := strconv.ParseUint(string(tok), 10, 32); err != nil || uint32(v) != old {
					return 0, 0, false
				}
				return i, j, true
			}
			i = j
		}
	}
	return 0, 0, false
}

// changedRegions compares, for a client in each configured region, the
// endpoints a service may answer before and after. Health is left out: a
// dry run says what the configuration changes, whatever is up now.
func changedRegions(before, after *zones.Set, name string) []RegionChange {
	set := after
	if set == nil {
		set = before
	}
	if set == nil {
		return nil
	}
	var out []RegionChange
	for _, region := range set.Config.RegionOrder() {
		b, a := regionAnswer(before, name, region), regionAnswer(after, name, region)
		if !slices.Equal(a, b) {
			out = append(out, RegionChange{Region: region, Before: b, After: a})
		}
	}
	return out
}

// regionAnswer is the set of endpoints ("name address", sorted) a client
// in region may be answered for service name, both address families. It
// follows routing's grouping: the first non-empty group of the policy
// (latency and geo: the client's region, else the nearest region with
// endpoints; failover: the lowest priority; weighted: every endpoint of
// non-zero weight).
func regionAnswer(set *zones.Set, name, region string) []string {
	svc := setService(set, name)
	if svc == nil {
		return []string{}
	}
	out := []string{}
	for _, v4 := range []bool{true, false} {
		var eps []*zones.Endpoint
		for _, e := range svc.Endpoints {
			if e.Addr.IsValid() && e.Addr.Is4() == v4 {
				eps = append(eps, e)
			}
		}
		for _, e := range firstGroup(set.Config, svc, eps, region) {
			out = append(out, e.Name+" "+e.Addr.String())
		}
	}
	sort.Strings(out)
	return out
}

func firstGroup(cfg *zones.Config, svc *zones.Service, eps []*zones.Endpoint, region string) []*zones.Endpoint {
	if len(eps) == 0 {
		return nil
	}
	var g []*zones.Endpoint
	switch svc.Policy {
	case "weighted":
		for _, e := range eps {
			if e.EffectiveWeight() > 0 {
				g = append(g, e)
			}
		}
		if len(g) == 0 {
			g = eps // weight 0 everywhere: the load is shared evenly
		}
	case "failover":
		low := eps[0].Priority
		for _, e := range eps {
			low = min(low, e.Priority)
		}
		for _, e := range eps {
			if e.Priority == low {
				g = append(g, e)
			}
		}
	default:
		for _, r := range nearest(cfg, region) {
			for _, e := range eps {
				if e.Region == r {
					g = append(g, e)
				}
			}
			if len(g) > 0 {
				break
			}
		}
	}
	return g
}

// nearest lists the regions from region outwards: region itself, then by
// great-circle distance, ties in config order.
func nearest(cfg *zones.Config, region string) []string {
	from := cfg.Regions[region]
	order := []string{region}
	for _, r := range cfg.RegionOrder() {
		if r != region {
			order = append(order, r)
		}
	}
	dist := func(r string) float64 {
		to := cfg.Regions[r]
		return geo.Distance(from.Lat, from.Lon, to.Lat, to.Lon)
	}
	sort.SliceStable(order[1:], func(i, j int) bool { return dist(order[1+i]) < dist(order[1+j]) })
	return order
}

// maxDiffCells bounds the LCS table (4 bytes a cell): past it, the changed
// middle of two texts is shown as removed and re-added rather than spend
// more than 16 MB on a diff.
const maxDiffCells = 4 << 20

// maxDiffText is the largest text (either side) a diff is computed for:
// a diff holds a copy of both texts and a few words per line, and its
// JSON answer more copies: for a 4 MB zone, the diff doubled the heap an
// edit holds at its peak. Nobody reviews a megabyte of diff.
const maxDiffText = 1 << 20

// diffContext is the number of unchanged lines around each change.
const diffContext = 3

// unifiedDiff is a line-based unified diff (diff -u) from a to b, empty
// when they are equal.
func unifiedDiff(aName, bName string, a, b []byte) string {
	if len(a) > maxDiffText || len(b) > maxDiffText {
		if bytes.Equal(a, b) {
			return ""
		}
		return fmt.Sprintf("--- %s\n+++ %s\ndiff omitted: too large (%d bytes before, %d after; diffs are computed up to %d)\n",
			aName, bName, len(a), len(b), maxDiffText)
	}
	ops := diffLines(splitLines(a), splitLines(b))
	var changes []int
	for i, op := range ops {
		if op.kind != ' ' {
			changes = append(changes, i)
		}
	}
	if len(changes) == 0 {
		return ""
	}
	// aAt[i] and bAt[i] count the lines of a and b before ops[i].
	aAt, bAt := make([]int, len(ops)+1), make([]int, len(ops)+1)
	for i, op := range ops {
		aAt[i+1], bAt[i+1] = aAt[i], bAt[i]
		if op.kind != '+' {
			aAt[i+1]++
		}
		if op.kind != '-' {
			bAt[i+1]++
		}
	}
	var out strings.Builder
	fmt.Fprintf(&out, "--- %s\n+++ %s\n", aName, bName)
	for i := 0; i < len(changes); {
		j := i
		// Changes closer than twice the context share a hunk.
		for j+1 < len(changes) && changes[j+1]-changes[j]-1 <= 2*diffContext {
			j++
		}
		lo, hi := max(0, changes[i]-diffContext), min(len(ops), changes[j]+1+diffContext)
		fmt.Fprintf(&out, "@@ -%s +%s @@\n", hunkRange(aAt[lo], aAt[hi]-aAt[lo]), hunkRange(bAt[lo], bAt[hi]-bAt[lo]))
		for _, op := range ops[lo:hi] {
			out.WriteByte(op.kind)
			out.WriteString(op.text)
			out.WriteByte('\n')
		}
		i = j + 1
	}
	return out.String()
}

// hunkRange writes a hunk's range as diff -u does: "start,count", the
// count left out when 1, and an empty range named by the line before it.
func hunkRange(start, count int) string {
	switch count {
	case 0:
		return fmt.Sprintf("%d,0", start)
	case 1:
		return strconv.Itoa(start + 1)
	}
	return fmt.Sprintf("%d,%d", start+1, count)
}

func splitLines(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\n")
	if s == "" && len(b) <= 1 {
		return nil
	}
	return strings.Split(s, "\n")
}

type diffOp struct {
	kind byte // ' ', '-' or '+'
	text string
}

// diffLines is the edit script from a to b: common prefix and suffix
// first (most edits touch a few lines), then a longest common subsequence
// over the middle.
func diffLines(a, b []string) []diffOp {
	p := 0
	for p < len(a) && p < len(b) && a[p] == b[p] {
		p++
	}
	s := 0
	for s < len(a)-p && s < len(b)-p && a[len(a)-1-s] == b[len(b)-1-s] {
		s++
	}
	ops := make([]diffOp, 0, len(a)+len(b))
	for _, l := range a[:p] {
		ops = append(ops, diffOp{' ', l})
	}
	ops = append(ops, lcsOps(a[p:len(a)-s], b[p:len(b)-s])...)
	for _, l := range a[len(a)-s:] {
		ops = append(ops, diffOp{' ', l})
	}
	return ops
}

func lcsOps(a, b []string) []diffOp {
	n, m := len(a), len(b)
	var ops []diffOp
	if n == 0 || m == 0 || n*m > maxDiffCells {
		for _, l := range a {
			ops = append(ops, diffOp{'-', l})
		}
		for _, l := range b {
			ops = append(ops, diffOp{'+', l})
		}
		return ops
	}
	// Lines become small integers so the table fill compares ints.
	ids := map[string]int32{}
	id := func(l string) int32 {
		v, ok := ids[l]
		if !ok {
			v = int32(len(ids))
			ids[l] = v
		}
		return v
	}
	ai, bi := make([]int32, n), make([]int32, m)
	for i, l := range a {
		ai[i] = id(l)
	}
	for j, l := range b {
		bi[j] = id(l)
	}
	// t[i*w+j] is the LCS length of a[i:] and b[j:].
	w := m + 1
	t := make([]int32, (n+1)*w)
	for i := n - 1; i >= 0; i-- {
		for j := m - 1; j >= 0; j-- {
			if ai[i] == bi[j] {
				t[i*w+j] = t[(i+1)*w+j+1] + 1
			} else {
				t[i*w+j] = max(t[(i+1)*w+j], t[i*w+j+1])
			}
		}
	}
	i, j := 0, 0
	for i < n && j < m {
		switch {
		case ai[i] == bi[j]:
			ops = append(ops, diffOp{' ', a[i]})
			i, j = i+1, j+1
		case t[(i+1)*w+j] >= t[i*w+j+1]:
			ops = append(ops, diffOp{'-', a[i]})
			i++
		default:
			ops = append(ops, diffOp{'+', b[j]})
			j++
		}
	}
	for ; i < n; i++ {
		ops = append(ops, diffOp{'-', a[i]})
	}
	for ; j < m; j++ {
		ops = append(ops, diffOp{'+', b[j]})
	}
	return ops
}

// historyEntry is one version in GET .../history.
type historyEntry struct {
	Version uint64    `json:"version"`
	By      string    `json:"by,omitempty"`
	At      time.Time `json:"at"`
	Comment string    `json:"comment,omitempty"`
	Deleted bool      `json:"deleted,omitempty"`
	// Diff is from the version before; absent for the oldest version kept
	// when older ones were dropped.
	Diff string `json:"diff,omitempty"`
}

func (h *edits) history(k *editKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		name, ok := h.name(w, r, k)
		if !ok {
			return
		}
		limit := 0
		if l := r.URL.Query().Get("limit"); l != "" {
			n, err := strconv.Atoi(l)
			if err != nil || n < 1 {
				writeError(w, http.StatusBadRequest, "?limit=N: a positive number")
				return
			}
			limit = n
		}
		ctx, cancel := context.WithTimeout(r.Context(), h.opt.Timeout)
		defer cancel()
		// One more than asked, for the diff of the oldest shown.
		hl := 0
		if limit > 0 {
			hl = limit + 1
		}
		hist, err := h.docs.History(ctx, k.kind, name, hl)
		switch {
		case errors.Is(err, store.ErrNotFound):
			writeError(w, http.StatusNotFound, fmt.Sprintf("%s %s was never written through the API", k.kind, name))
			return
		case err != nil:
			writeError(w, http.StatusServiceUnavailable, "store: "+err.Error())
			return
		}
		out := []historyEntry{}
		for i, d := range hist {
			if limit > 0 && i == limit {
				break
			}
			e := historyEntry{Version: d.Version, By: d.By, At: d.At, Comment: d.Comment, Deleted: d.Deleted}
			switch {
			case i+1 < len(hist):
				p := hist[i+1]
				e.Diff = unifiedDiff(docLabel(name, p), docLabel(name, d), p.Body, d.Body)
			case d.Version == 1:
				e.Diff = unifiedDiff(name+" (none)", docLabel(name, d), nil, d.Body)
			}
			out = append(out, e)
		}
		writeJSON(w, http.StatusOK, map[string]any{"kind": k.kind, "name": name, "versions": out})
	}
}

func docLabel(name string, d store.Doc) string {
	if d.Deleted {
		return fmt.Sprintf("%s (v%d, deleted)", name, d.Version)
	}
	return fmt.Sprintf("%s (v%d)", name, d.Version)
}
