package main

import (
	"fmt"
	"time"

	"github.com/gtm-project/gtm/store"
	"github.com/gtm-project/gtm/zones"
	"github.com/redis/go-redis/v9"
	"github.com/rs/zerolog"
)

// openStore builds the configured store; it does not wait for Redis to be
// reachable, so a node starts and serves while Redis is down.
func openStore(cfg *zones.Config, log zerolog.Logger) (store.Store, error) {
	switch cfg.State.Backend {
	case "memory":
		return store.NewMemory(time.Now), nil
	case "redis":
		r := cfg.State.Redis
		redis.SetLogger(store.RedisLogger(log))
		return store.NewRedis(store.RedisOptions{
			Addrs:        r.Addrs,
			MasterName:   r.MasterName,
			Username:     r.Username,
			PasswordFile: cfg.Resolve(r.PasswordFile),
			DB:           r.DB,
			TLS:          r.TLS,
			Prefix:       r.Prefix,
		}, log)
	}
	return nil, fmt.Errorf("state.backend %q: want memory or redis", cfg.State.Backend)
}
