package store

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

func newCookieSecret() ([]byte, error) {
	b := make([]byte, CookieSecretLen)
	if _, err := rand.Read(b); err != nil {
		return nil, fmt.Errorf("store: cookie secret: %w", err)
	}
	return b, nil
}

// CookieSecrets implements Store.
func (m *Memory) CookieSecrets(ctx context.Context, rotate time.Duration) (cur, prev []byte, err error) {
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	now := m.clock()
	if m.cookie.cur == nil || now.Sub(m.cookie.at) >= rotate {
		fresh, err := newCookieSecret()
		if err != nil {
			return nil, nil, err
		}
		m.cookie.prev, m.cookie.cur, m.cookie.at = m.cookie.cur, fresh, now
	}
	return clone(m.cookie.cur), clone(m.cookie.prev), nil
}

func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return append([]byte(nil), b...)
}

// memCookie is Memory's cookie secret pair.
type memCookie struct {
	cur, prev []byte
	at        time.Time
}

// cookieSecretsScript returns the cookie secrets, creating or rotating
// them. The new secret comes from the caller (Lua has no good random
// source); it is used only when one is needed. Times are the Redis
// server's.
//
// KEYS: 1 the secrets hash (cur, prev: hex; at: server ms).
// ARGV: 1 rotate ms, 2 a fresh secret in hex.
// Returns {cur, prev} ("" for no previous secret).
var cookieSecretsScript = redis.NewScript(luaNow + `
local cur = redis.call('HGET', KEYS[1], 'cur')
local at = tonumber(redis.call('HGET', KEYS[1], 'at') or '0')
if not cur then
  redis.call('HSET', KEYS[1], 'cur', ARGV[2], 'at', string.format('%d', now))
  return {ARGV[2], ''}
end
if now - at >= tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'cur', ARGV[2], 'prev', cur, 'at', string.format('%d', now))
  return {ARGV[2], cur}
end
return {cur, redis.call('HGET', KEYS[1], 'prev') or ''}
`)

// CookieSecrets implements Store.
func (r *Redis) CookieSecrets(ctx context.Context, rotate time.Duration) (cur, prev []byte, err error) {
	ctx, cancel := r.call(ctx)
	defer cancel()
	fresh, err := newCookieSecret()
	if err != nil {
		return nil, nil, err
	}
	key := "{" + r.opts.Prefix + ":cookie}:secrets"
	res, err := cookieSecretsScript.Run(ctx, r.client, []string{key}, rotate.Milliseconds(), hex.EncodeToString(fresh)).StringSlice()
	if err != nil {
		return nil, nil, fmt.Errorf("store: cookie secrets: %w", err)
	}
	if len(res) != 2 {
		return nil, nil, fmt.Errorf("store: cookie secrets: %d values from the script", len(res))
	}
	if cur, err = decodeSecret(res[0]); err != nil || cur == nil {
		return nil, nil, fmt.Errorf("store: cookie secret in redis is malformed")
	}
	if prev, err = decodeSecret(res[1]); err != nil {
		return nil, nil, fmt.Errorf("store: previous cookie secret in redis is malformed")
	}
	return cur, prev, nil
}

func decodeSecret(s string) ([]byte, error) {
	if s == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != CookieSecretLen {
		return nil, fmt.Errorf("malformed")
	}
	return b, nil
}
