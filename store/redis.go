package store

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gtm-project/gtm/internal/certpool"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/rs/zerolog"
)

// RedisOptions configures the Redis Store. The zero value of every duration
// is a documented default; the connection fields mirror the config keys
// under state.redis.
type RedisOptions struct {
	// Addrs: one address is a standalone server, several the seed nodes
	// of a Cluster; with MasterName they are Sentinel addresses.
	Addrs []string
	// MasterName selects Sentinel: the name of the monitored master.
	MasterName string
	// Cluster forces Cluster mode with a single seed address.
	Cluster bool
	// Username is the ACL user (empty: the default user).
	Username string
	// PasswordFile holds the password, read once by NewRedis; a trailing
	// newline is trimmed. Empty: no password.
	PasswordFile string
	// DB selects a database (standalone and Sentinel only; Cluster has
	// only db 0).
	DB int
	// SentinelUsername and SentinelPasswordFile authenticate to the
	// sentinels themselves (Sentinel's own requirepass), which may differ
	// from the data nodes' credentials.
	SentinelUsername     string
	SentinelPasswordFile string
	// TLS dials with TLS 1.2+, verifying the server against the system
	// roots, or TLSCAFile's, and each address's host (or TLSServerName).
	// TLSCertFile and TLSKeyFile present a client certificate (Redis asks
	// for one unless tls-auth-clients is no). TLSConfig, when set,
	// replaces all of that.
	TLS           bool
	TLSCAFile     string
	TLSCertFile   string
	TLSKeyFile    string
	TLSServerName string
	TLSConfig     *tls.Config
	// Prefix starts every key and the change channel. Default "gtm".
	Prefix string

	// DialTimeout, ReadTimeout and WriteTimeout bound each socket
	// operation. Default 500 ms each: Redis answers in well under a
	// millisecond, so anything slower is an outage to report, not to wait
	// for (the DNS path never waits on the store anyway).
	DialTimeout  time.Duration
	ReadTimeout  time.Duration
	WriteTimeout time.Duration
	// CallTimeout bounds every Store method, retries included. Default 2 s.
	CallTimeout time.Duration
	// MinResultTTL is the lower bound of a result's lifetime (see
	// ResultTTL). Default DefaultMinResultTTL; tests shorten it.
	MinResultTTL time.Duration
	// SafetyInterval is how often a subscriber re-reads the version
	// counters in case a published message was lost. Default 5 s.
	SafetyInterval time.Duration
	// Clock stamps documents (Doc.At). Default time.Now. Result expiry
	// uses the Redis server's clock, so prober clock skew cannot expire or
	// keep results.
	Clock func() time.Time
	// Registerer, when set, gets gtm_store_decode_errors_total.
	Registerer prometheus.Registerer
}

// Option defaults.
const (
	DefaultRedisPrefix    = "gtm"
	DefaultSocketTimeout  = 500 * time.Millisecond
	DefaultCallTimeout    = 2 * time.Second
	DefaultSafetyInterval = 5 * time.Second
)

func (o *RedisOptions) applyDefaults() {
	if o.Prefix == "" {
		o.Prefix = DefaultRedisPrefix
	}
	for _, d := range []*time.Duration{&o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout} {
		if *d <= 0 {
			*d = DefaultSocketTimeout
		}
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = DefaultCallTimeout
	}
	if o.MinResultTTL <= 0 {
		o.MinResultTTL = DefaultMinResultTTL
	}
	if o.SafetyInterval <= 0 {
		o.SafetyInterval = DefaultSafetyInterval
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
}

// Redis is the Store shared by every node through one Redis deployment
// (standalone, Sentinel or Cluster). It is safe for concurrent use.
type Redis struct {
	opts   RedisOptions
	log    zerolog.Logger
	client redis.UniversalClient
	keys   keys

	// base ends when Close is called, which also ends subscriptions.
	base   context.Context
	cancel context.CancelFunc

	// puts counts PutResults calls, to prune expired fields now and then.
	puts atomic.Uint64

	// decoded keeps the results of the last Results call by their stored
	// JSON: a result is rewritten once per check interval, while nodes
	// read several times a second, so most are decoded once, not on every
	// read.
	decodedMu sync.Mutex
	decoded   map[string]ProbeResult

	// garbage reports entries that do not decode.
	garbage *garbage
}

// readSecret reads a password file ("" for none); a trailing newline is
// trimmed.
func readSecret(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(string(b), "\r\n"), nil
}

// tlsConfig builds the client TLS configuration. The server name is left
// empty unless TLSServerName sets it: crypto/tls then checks each
// connection against the host it dials, which is right for the several
// hosts of Sentinel and Cluster.
func (o RedisOptions) tlsConfig() (*tls.Config, error) {
	if o.TLSConfig != nil {
		return o.TLSConfig, nil
	}
	c := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.TLSServerName}
	if o.TLSCAFile != "" {
		pool, _, err := certpool.Load(o.TLSCAFile)
		if err != nil {
			return nil, fmt.Errorf("CA file: %w", err)
		}
		c.RootCAs = pool
	}
	if (o.TLSCertFile == "") != (o.TLSKeyFile == "") {
		return nil, errors.New("a client certificate needs both a certificate file and a key file")
	}
	if o.TLSCertFile != "" {
		cert, err := tls.LoadX509KeyPair(o.TLSCertFile, o.TLSKeyFile)
		if err != nil {
			return nil, fmt.Errorf("client certificate: %w", err)
		}
		c.Certificates = []tls.Certificate{cert}
	}
	return c, nil
}

// NewRedis builds a Redis Store. It reads the password file but does not
// connect: the first call does, and every call reconnects as needed.
func NewRedis(opts RedisOptions, log zerolog.Logger) (*Redis, error) {
	opts.applyDefaults()
	if len(opts.Addrs) == 0 {
		return nil, errors.New("store: redis: no address")
	}
	password, err := readSecret(opts.PasswordFile)
	if err != nil {
		return nil, fmt.Errorf("store: redis password: %w", err)
	}
	sentinelPassword, err := readSecret(opts.SentinelPasswordFile)
	if err != nil {
		return nil, fmt.Errorf("store: redis sentinel password: %w", err)
	}
	var tlsConf *tls.Config
	if opts.TLS {
		if tlsConf, err = opts.tlsConfig(); err != nil {
			return nil, fmt.Errorf("store: redis tls: %w", err)
		}
	}
	client := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:         opts.Addrs,
		MasterName:    opts.MasterName,
		IsClusterMode: opts.Cluster,
		Username:      opts.Username,
		Password:      password,
		// Sentinel's own credentials (go-redis uses them for the
		// sentinels only).
		SentinelUsername: opts.SentinelUsername,
		SentinelPassword: sentinelPassword,
		DB:               opts.DB,
		TLSConfig:        tlsConf,
		// RESP2: no HELLO round trip per connection, and the simplest
		// pub/sub framing; we use nothing RESP3 adds.
		Protocol:     2,
		DialTimeout:  opts.DialTimeout,
		ReadTimeout:  opts.ReadTimeout,
		WriteTimeout: opts.WriteTimeout,
		// Honour ctx deadlines on the socket, so CallTimeout really bounds
		// a call.
		ContextTimeoutEnabled: true,
		PoolTimeout:           opts.CallTimeout,
		// One retry covers a connection the server closed while idle;
		// more would only delay reporting an outage.
		MaxRetries:    1,
		DialerRetries: 2,
		// No CLIENT SETINFO / MAINT_NOTIFICATIONS on connect: fewer
		// commands, and Redis 7.0 rejects both anyway.
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
	base, cancel := context.WithCancel(context.Background())
	log = log.With().Str("component", "store").Str("backend", "redis").Logger()
	return &Redis{
		opts:    opts,
		log:     log,
		client:  client,
		keys:    newKeys(opts.Prefix),
		base:    base,
		cancel:  cancel,
		garbage: newGarbage(log, opts.Registerer),
	}, nil
}

// call bounds one Store method by CallTimeout.
func (r *Redis) call(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, r.opts.CallTimeout)
}

// Ping implements Store. In Cluster mode every master must answer.
func (r *Redis) Ping(ctx context.Context) error {
	ctx, cancel := r.call(ctx)
	defer cancel()
	var err error
	if c, ok := r.client.(*redis.ClusterClient); ok {
		err = c.ForEachMaster(ctx, func(ctx context.Context, n *redis.Client) error {
			return n.Ping(ctx).Err()
		})
	} else {
		err = r.client.Ping(ctx).Err()
	}
	if err != nil {
		return fmt.Errorf("store: redis ping: %w", err)
	}
	return nil
}

// Close implements Store: it ends subscriptions and closes connections.
func (r *Redis) Close() error {
	r.cancel()
	if err := r.client.Close(); err != nil {
		return fmt.Errorf("store: redis close: %w", err)
	}
	return nil
}

var _ Store = (*Redis)(nil)
