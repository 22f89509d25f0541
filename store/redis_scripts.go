package store

import "github.com/redis/go-redis/v9"

// The Lua scripts below make each write atomic with its version bump and
// its PUBLISH: a reader that sees version N sees every write up to N, and
// a Change is never published for a write that did not happen. All keys of
// a script share one hash tag (see keys), so they also run in Cluster.
// Numbers are formatted with %d: Lua's default %.14g would print large
// values in exponent form.

// nowMS is the Redis server's clock in milliseconds: result expiry uses it
// so that the clocks of probers and readers do not matter.
const luaNow = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// luaPutEntries stores one writer's entries in an expiring hash (the
// results of a prober, the latency samples or measurements of a node):
// the triples (field, ttl ms, JSON) from ARGV[first] on go to hash
// KEYS[1] as "<expiry ms> <JSON>"; with ARGV[2] == "1" expired fields
// are dropped; the hash lives as long as its longest-lived field, so a
// writer that stops takes its data with it (PTTL is -1 for a fresh hash);
// the writer (ARGV[1]) is indexed in ZSET KEYS[2] by that expiry. It
// expects luaNow and a local `first` before it.
const luaPutEntries = `
local maxttl = 0
for i = first, #ARGV, 3 do
  local ttl = tonumber(ARGV[i+1])
  if ttl > maxttl then maxttl = ttl end
  redis.call('HSET', KEYS[1], ARGV[i], string.format('%d', now + ttl) .. ' ' .. ARGV[i+2])
end
if ARGV[2] == '1' then
  local all = redis.call('HGETALL', KEYS[1])
  for i = 1, #all, 2 do
    local exp = tonumber(string.match(all[i+1], '^%d+'))
    if exp == nil or exp <= now then redis.call('HDEL', KEYS[1], all[i]) end
  end
end
if redis.call('PTTL', KEYS[1]) < maxttl then
  redis.call('PEXPIRE', KEYS[1], maxttl)
end
redis.call('ZADD', KEYS[2], 'GT', string.format('%d', now + maxttl), ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', string.format('%d', now))
`

// putResultsScript stores one prober's results.
//
// KEYS: 1 prober hash, 2 prober index, 3 results version.
// ARGV: 1 prober id, 2 prune ("1": drop expired fields), 3 channel,
// 4 urgent ("1": a verdict changed), then triples (field, ttl ms, result
// JSON).
var putResultsScript = redis.NewScript(luaNow + "local first = 5\n" + luaPutEntries + `
local v = redis.call('INCR', KEYS[3])
local urgent = ''
if ARGV[4] == '1' then urgent = ',"urgent":true' end
redis.call('PUBLISH', ARGV[3], '{"what":"results","version":' .. string.format('%d', v) .. urgent .. '}')
return v
`)

// setDrainScript adds or removes a drain.
//
// KEYS: 1 drains hash, 2 drains version.
// ARGV: 1 drain id, 2 "1" on / "0" off, 3 drain JSON, 4 channel.
// Returns the version, or -1 when removing a drain that is not there.
var setDrainScript = redis.NewScript(`
if ARGV[2] == '1' then
  redis.call('HSET', KEYS[1], ARGV[1], ARGV[3])
elseif redis.call('HDEL', KEYS[1], ARGV[1]) == 0 then
  return -1
end
local v = redis.call('INCR', KEYS[2])
redis.call('PUBLISH', ARGV[4], '{"what":"drains","version":' .. string.format('%d', v) .. '}')
return v
`)

// luaDocState reads a document's version and whether it is a tombstone
// from the docv hash: "<version>" or "<version>d". A document that never
// existed is version 0, dead.
const luaDocState = `
local function docstate(key, name)
  local s = redis.call('HGET', key, name)
  if not s then return 0, true end
  local dead = string.sub(s, -1) == 'd'
  if dead then s = string.sub(s, 1, -2) end
  return tonumber(s), dead
end
local function docver(v, dead)
  return string.format('%d', v) .. (dead and 'd' or '')
end
`

// putDocScript writes or deletes a document with optimistic concurrency.
//
// KEYS: 1 docs hash of the kind, 2 docv hash of the kind, 3 history list,
// 4 config version.
// ARGV: 1 name, 2 ifVersion (0: unconditional), 3 "1" delete, 4 document
// JSON (without versions), 5 history depth, 6 channel.
// Returns {"ok", version, configVersion}, {"conflict", current} or
// {"notfound", current}.
var putDocScript = redis.NewScript(luaDocState + `
local cur, dead = docstate(KEYS[2], ARGV[1])
local del = ARGV[3] == '1'
if del and dead then return {'notfound', cur} end
local want = tonumber(ARGV[2])
if want ~= 0 and want ~= cur then return {'conflict', cur} end
local v = cur + 1
local cv = redis.call('INCR', KEYS[4])
local env = '{"v":' .. string.format('%d', v) .. ',"cv":' .. string.format('%d', cv) .. ',"doc":' .. ARGV[4] .. '}'
redis.call('HSET', KEYS[1], ARGV[1], env)
redis.call('HSET', KEYS[2], ARGV[1], docver(v, del))
redis.call('LPUSH', KEYS[3], env)
redis.call('LTRIM', KEYS[3], 0, tonumber(ARGV[5]) - 1)
redis.call('PUBLISH', ARGV[6], '{"what":"config","version":' .. string.format('%d', cv) .. '}')
return {'ok', v, cv}
`)

// restoreDocsScript writes back documents that are missing or older in
// Redis, then raises the config version above everything restored.
//
// KEYS: 1 config version, then per document: docs hash, docv hash,
// history list.
// ARGV: 1 history depth, 2 channel, then per document: name, version,
// config version, "1" deleted, envelope JSON.
// Returns {written, configVersion}.
var restoreDocsScript = redis.NewScript(luaDocState + `
local depth = tonumber(ARGV[1])
local maxcv, wrote = 0, 0
local n = (#KEYS - 1) / 3
for i = 0, n - 1 do
  local kd, kv, kh = KEYS[2 + 3*i], KEYS[3 + 3*i], KEYS[4 + 3*i]
  local a = 3 + 5*i
  local name, v, cv = ARGV[a], tonumber(ARGV[a+1]), tonumber(ARGV[a+2])
  if cv > maxcv then maxcv = cv end
  local cur = docstate(kv, name)
  if v > cur then
    redis.call('HSET', kd, name, ARGV[a+4])
    redis.call('HSET', kv, name, docver(v, ARGV[a+3] == '1'))
    redis.call('LPUSH', kh, ARGV[a+4])
    redis.call('LTRIM', kh, 0, depth - 1)
    wrote = wrote + 1
  end
end
local g = tonumber(redis.call('GET', KEYS[1]) or '0')
if wrote > 0 then
  if maxcv > g then g = maxcv end
  g = g + 1
  redis.call('SET', KEYS[1], string.format('%d', g))
  redis.call('PUBLISH', ARGV[2], '{"what":"config","version":' .. string.format('%d', g) .. '}')
end
return {wrote, string.format('%d', g)}
`)
