package main

import (
	"fmt"
	"os"
	"time"

	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// openStore builds the configured store; it does not wait for Redis to be
// reachable, so a node starts and serves while Redis is down.
func openStore(cfg *zones.Config, log zerolog.Logger, reg prometheus.Registerer) (store.Store, error) {
	switch cfg.State.Backend {
	case "memory":
		return store.NewMemory(time.Now), nil
	case "redis":
		r := cfg.State.Redis
		// Name the config key of a file that cannot be read; the store's
		// own errors only say what kind of file it was.
		for _, f := range []struct{ key, path string }{
			{"password_file", r.PasswordFile}, {"sentinel_password_file", r.SentinelPasswordFile},
			{"tls_ca_file", r.TLSCAFile}, {"tls_cert_file", r.TLSCertFile}, {"tls_key_file", r.TLSKeyFile},
		} {
			if f.path == "" {
				continue
			}
			if _, err := os.ReadFile(cfg.Resolve(f.path)); err != nil {
				return nil, fmt.Errorf("state.redis.%s: %w", f.key, err)
			}
		}
		redis.SetLogger(store.RedisLogger(log))
		return store.NewRedis(store.RedisOptions{
			Addrs:        r.Addrs,
			MasterName:   r.MasterName,
			Username:     r.Username,
			PasswordFile: cfg.Resolve(r.PasswordFile),
			DB:           r.DB,
			Prefix:       r.Prefix,

			SentinelUsername:     r.SentinelUsername,
			SentinelPasswordFile: cfg.Resolve(r.SentinelPasswordFile),

			TLS:           r.TLS,
			TLSCAFile:     cfg.Resolve(r.TLSCAFile),
			TLSCertFile:   cfg.Resolve(r.TLSCertFile),
			TLSKeyFile:    cfg.Resolve(r.TLSKeyFile),
			TLSServerName: r.TLSServerName,
			Registerer:    reg,
		}, log)
	}
	return nil, fmt.Errorf("state.backend %q: want memory or redis", cfg.State.Backend)
}
