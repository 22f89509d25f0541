package node

import (
	"bytes"
	"context"
	"net/netip"
	"strings"
	"time"

	"github.com/gtm-project/gtm/dnsserver"
	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/rs/zerolog"
)

// cookieRefreshEvery is how often the cookie secrets are re-read from
// their file or the store. A rotation in the store is seen within this
// time by every node; until then the nodes that have not seen it still
// accept the cookies of those that have (the previous secret), and the
// other way round.
const cookieRefreshEvery = time.Minute

// CookieKeeper owns the DNS server's cookie secrets: it loads them at
// start and refreshes them in the background, so the DNS server never
// waits on a file or the store.
type CookieKeeper struct {
	log       zerolog.Logger
	secrets   *dnsserver.CookieSecrets
	file      string      // dns.cookies.secret_file, resolved
	st        store.Store // when the secret lives in the store
	rotate    time.Duration
	cur       []byte // what secrets holds, to log changes only
	lastErr   string
	refreshes *prometheus.CounterVec
}

// NewCookieKeeper returns nil when cookies are off. A store that cannot
// be reached at start is not fatal: a random secret serves until it can.
func NewCookieKeeper(ctx context.Context, cfg *zones.Config, st store.Store, log zerolog.Logger, reg prometheus.Registerer) (*CookieKeeper, error) {
	c := cfg.DNS.Cookies
	if !c.CookiesEnabled() {
		return nil, nil
	}
	k := &CookieKeeper{log: log, rotate: c.Rotate.D()}
	k.refreshes = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gtm", Subsystem: "dns", Name: "cookie_secret_refreshes_total",
		Help: "Reads of the shared DNS cookie secret (dns.cookies.secret_file, or the state store), by result: ok or error (the secret in use is kept).",
	}, []string{"result"})
	reg.MustRegister(k.refreshes)
	k.refreshes.WithLabelValues("ok")
	k.refreshes.WithLabelValues("error")
	var err error
	switch {
	case c.SecretFile != "":
		k.file = cfg.Resolve(c.SecretFile)
		cur, prev, err := zones.LoadCookieSecrets(k.file)
		if err != nil {
			return nil, err // validated at load: gone since
		}
		k.secrets, err = dnsserver.NewCookieSecrets(cur, prev)
		k.cur = cur
		if err != nil {
			return nil, err
		}
		log.Info().Str("secret_file", k.file).Bool("previous", prev != nil).Msg("dns cookies: secret from file")
		return k, nil
	case cfg.State.Backend == "redis":
		k.st = st
		if k.secrets, err = dnsserver.NewCookieSecrets(nil, nil); err != nil {
			return nil, err
		}
		// The store's secret is read by run, in the background: a node
		// started while Redis is away must answer at once (from its
		// snapshot), and a random secret serves until then (a cookie of
		// another node is then answered as any unknown cookie is, with a
		// fresh one of ours).
		return k, nil
	}
	if k.secrets, err = dnsserver.NewCookieSecrets(nil, nil); err != nil {
		return nil, err
	}
	log.Info().Msg("dns cookies: random secret for this process (memory backend, no secret_file): cookies are valid at this node only")
	return k, nil
}

// Secrets are the secrets the DNS server checks cookies with
// (dnsserver.Config.Cookies).
func (k *CookieKeeper) Secrets() *dnsserver.CookieSecrets { return k.secrets }

// refresh reads the secrets once and installs them if they changed.
func (k *CookieKeeper) refresh(ctx context.Context) {
	var cur, prev []byte
	var err error
	src := "store"
	if k.file != "" {
		src = k.file
		cur, prev, err = zones.LoadCookieSecrets(k.file)
	} else {
		cur, prev, err = k.st.CookieSecrets(ctx, k.rotate)
	}
	if err == nil {
		err = k.secrets.Set(cur, prev)
	}
	if err != nil {
		k.refreshes.WithLabelValues("error").Inc()
		// One line per distinct error, not one a minute.
		if msg := err.Error(); msg != k.lastErr {
			k.lastErr = msg
			k.log.Warn().Err(err).Str("source", src).Msg("dns cookies: cannot read the shared secret; keeping the one in use")
		}
		return
	}
	k.refreshes.WithLabelValues("ok").Inc()
	if k.lastErr != "" {
		k.log.Info().Str("source", src).Msg("dns cookies: shared secret readable again")
		k.lastErr = ""
	}
	if !bytes.Equal(cur, k.cur) {
		k.cur = cur
		k.log.Info().Str("source", src).Bool("previous", prev != nil).Msg("dns cookies: new shared secret in use")
	}
}

// cookieRetryEvery is how often a node that has not read the shared
// secret from the store yet tries again.
const cookieRetryEvery = 2 * time.Second

func (k *CookieKeeper) refreshFor(ctx context.Context) {
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	k.refresh(sctx)
}

// Run refreshes the secrets until ctx ends.
func (k *CookieKeeper) Run(ctx context.Context) error {
	if k.file == "" && k.st == nil {
		return nil
	}
	every := cookieRefreshEvery
	if k.st != nil {
		// Read the shared secret at once, and retry quickly until it has
		// been read: until then this node's cookies are its own.
		k.refreshFor(ctx)
		if k.cur == nil {
			every = cookieRetryEvery
		}
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
			k.refreshFor(ctx)
			if every == cookieRetryEvery && k.cur != nil {
				every = cookieRefreshEvery
				t.Reset(every)
			}
		}
	}
}

// RRLConfig is dns.rrl for the DNS server (validated at load).
func RRLConfig(r zones.RRL) dnsserver.RRLConfig {
	out := dnsserver.RRLConfig{
		Rate: r.Rate, Window: r.Window.D(), IPv4Prefix: r.IPv4Prefix, IPv6Prefix: r.IPv6Prefix,
		TableSize: r.TableSize, LogOnly: r.LogOnly, Slip: 2,
	}
	if r.Slip != nil {
		out.Slip = *r.Slip
	}
	for _, e := range r.Exempt {
		if p, err := netip.ParsePrefix(strings.TrimSpace(e)); err == nil {
			out.Exempt = append(out.Exempt, p.Masked())
		}
	}
	return out
}
