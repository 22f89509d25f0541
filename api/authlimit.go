package api

import (
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Failed bearer tokens are budgeted per client address, a token bucket: a
// burst of authFailBurst, then one more every authFailRefill. A client
// over its budget is answered 429 with Retry-After at once, before its
// token is even compared: it learns nothing from guessing faster, and no
// goroutine sleeps on its behalf. Clients are keyed by IPv4 address or
// IPv6 /64 (one host's whole allocation); at most authMaxClients are
// tracked, and new clients beyond that share one overflow bucket, so a
// flood from random sources neither grows memory nor buys fresh budgets.
const (
	authFailBurst  = 10
	authFailRefill = time.Second
	authMaxClients = 10000
	// authLogEvery is how often a client's failures are logged at most;
	// authLogBurst bounds the lines of all clients together per minute.
	authLogEvery = time.Minute
	authLogBurst = 60
)

// authLimiter budgets failed authentications.
type authLimiter struct {
	now func() time.Time
	log zerolog.Logger

	mu       sync.Mutex
	clients  map[netip.Addr]*authBucket
	overflow authBucket
	// logs is the global log-line budget: logsLeft lines until logReset.
	logsLeft     int
	logReset     time.Time
	logsDropped  int
	overflowName string
	lastSweep    time.Time
}

type authBucket struct {
	tokens float64
	last   time.Time // of the last refill
	// failures since the last log line, and when that was.
	unlogged int
	logged   time.Time
}

func newAuthLimiter(log zerolog.Logger) *authLimiter {
	return &authLimiter{now: time.Now, log: log, clients: map[netip.Addr]*authBucket{}, overflowName: "(other clients)"}
}

// clientKey is the address a budget is kept for.
func clientKey(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return netip.Addr{}
	}
	a = a.Unmap().WithZone("")
	if a.Is6() {
		p, _ := a.Prefix(64)
		a = p.Addr()
	}
	return a
}

// bucketLocked finds the bucket of key, refilled to now: its own, the
// overflow bucket once authMaxClients are tracked, or (create false) nil
// for a client never seen to fail.
func (l *authLimiter) bucketLocked(key netip.Addr, create bool) (*authBucket, string) {
	now := l.now()
	b, name := l.clients[key], key.String()
	if b == nil {
		if len(l.clients) >= authMaxClients && now.Sub(l.lastSweep) >= time.Second {
			l.sweepLocked(now)
		}
		switch {
		case len(l.clients) >= authMaxClients:
			b, name = &l.overflow, l.overflowName
		case !create:
			return nil, name
		default:
			b = &authBucket{}
			l.clients[key] = b
		}
	}
	if b.last.IsZero() {
		b.tokens, b.last = authFailBurst, now
	}
	if el := now.Sub(b.last); el > 0 {
		b.tokens = min(authFailBurst, b.tokens+float64(el)/float64(authFailRefill))
		b.last = now
	}
	return b, name
}

// sweepLocked forgets clients whose budget is whole again and whose
// failures were logged: they are as good as new.
func (l *authLimiter) sweepLocked(now time.Time) {
	l.lastSweep = now
	for k, b := range l.clients {
		full := b.tokens+float64(now.Sub(b.last))/float64(authFailRefill) >= authFailBurst
		if full && b.unlogged == 0 {
			delete(l.clients, k)
		}
	}
}

// throttled says whether r's client is over its failure budget and, if
// so, how long until it may try again.
func (l *authLimiter) throttled(r *http.Request) (time.Duration, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, _ := l.bucketLocked(clientKey(r), false)
	if b == nil || b.tokens >= 1 {
		return 0, false
	}
	return time.Duration((1 - b.tokens) * float64(authFailRefill)), true
}

// failed spends one of r's client's budget and logs it, once per client
// per authLogEvery with the count since the last line, and at most
// authLogBurst lines a minute in all.
func (l *authLimiter) failed(r *http.Request, why string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b, name := l.bucketLocked(clientKey(r), true)
	b.tokens = max(0, b.tokens-1)
	b.unlogged++
	now := l.now()
	if now.Sub(b.logged) < authLogEvery {
		return
	}
	if now.After(l.logReset) {
		l.logsLeft, l.logReset = authLogBurst, now.Add(time.Minute)
	}
	if l.logsLeft == 0 {
		l.logsDropped++
		return
	}
	l.logsLeft--
	ev := l.log.Warn().Str("client", name).Int("failures", b.unlogged).Str("reason", why).
		Str("path", r.URL.Path)
	if l.logsDropped > 0 {
		ev = ev.Int("other_clients_not_logged", l.logsDropped)
		l.logsDropped = 0
	}
	ev.Msg("api authentication failed (logged once a minute per client)")
	b.unlogged, b.logged = 0, now
}

// bearer reads an Authorization header: the auth-scheme is matched case
// insensitively (RFC 7235 §2.1), so "bearer xyz" is a bearer token.
func bearer(h string) (string, bool) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(h), " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	tok = strings.TrimSpace(tok)
	return tok, tok != ""
}

// authenticate finds the token r presents. On failure it has answered:
// 401 without a token or with a wrong one (counted and budgeted), 429
// with Retry-After when the client spent its budget of wrong tokens.
func (s *Server) authenticate(w http.ResponseWriter, r *http.Request, missing string) (Token, bool) {
	if wait, over := s.auth.throttled(r); over {
		s.metrics.authThrottled.Inc()
		w.Header().Set("Retry-After", strconv.Itoa(int(wait/time.Second)+1))
		writeError(w, http.StatusTooManyRequests, "too many failed authentications from this address: retry later")
		return Token{}, false
	}
	tok, found := bearer(r.Header.Get("Authorization"))
	if !found {
		w.Header().Set("WWW-Authenticate", `Bearer realm="gtm"`)
		writeError(w, http.StatusUnauthorized, missing)
		return Token{}, false
	}
	t, ok := s.Tokens.match(tok)
	if !ok {
		s.metrics.authFailures.Inc()
		s.auth.failed(r, "unknown token")
		w.Header().Set("WWW-Authenticate", `Bearer realm="gtm", error="invalid_token"`)
		writeError(w, http.StatusUnauthorized, "unknown token")
		return Token{}, false
	}
	return t, true
}
