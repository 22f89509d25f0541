// Package store holds gtm's shared state behind one interface: probe
// results, drains, versioned documents (zones and services), and a change
// feed. The memory implementation is the embedded default for a single
// node; the Redis one shares state across regions.
//
// The DNS answer path never calls a Store: a Store feeds the snapshot
// builder, which publishes immutable snapshots.
//
// # Versions and the change feed
//
// Results, drains and configuration each have a version counter that every
// write raises atomically with the write itself. A Change carries the
// counter's value, so a reader can tell a new state from one it already
// applied, and a counter that went down means the backend lost its data
// (Redis restarted without persistence, or a failover lost writes): the
// node then calls RestoreDocs with the newest configuration it holds.
//
// # Redis key schema
//
// P is RedisOptions.Prefix (default "gtm"). Two hash tags put everything
// in two Cluster slots (see keys in redis_keys.go for why):
//
//	{P:results}:version          STRING  results version, INCR per PutResults
//	{P:results}:probers          ZSET    prober id -> expiry (server ms) of its hash
//	{P:results}:p:<prober>       HASH    "<service>/<endpoint>" -> "<expiry ms> <ProbeResult JSON>"
//	                                     PEXPIRE = the longest TTL written: a dead
//	                                     prober's results vanish with it
//	{P:config}:version           STRING  ConfigVersion, INCR per document change
//	{P:config}:docs:<kind>       HASH    name -> {"v":N,"cv":M,"doc":{...}} (tombstones too)
//	{P:config}:docv:<kind>       HASH    name -> "N" or "Nd" (deleted): what the
//	                                     optimistic-concurrency check reads
//	{P:config}:hist:<kind>:<name> LIST   envelopes, newest first, at most HistoryDepth
//	{P:config}:drains            HASH    "<kind>/<name>" -> Drain JSON
//	{P:config}:drains:version    STRING  drains version
//	{P:cookie}:secrets           HASH    cur, prev: DNS cookie server secrets (hex);
//	                                     at: server ms cur was made (CookieSecrets)
//	P:changes                    pub/sub {"what":"results|drains|config","version":N}
//
// Result expiry uses the Redis server's clock (TIME inside the scripts),
// never a prober's or reader's: a field whose expiry has passed is ignored
// by readers and dropped by a later write of the same prober; the whole
// hash expires when its prober stops. Documents and drains never expire.
//
// Every write is one Lua script (EVALSHA, pipelined for PutResults) that
// writes, bumps the version and PUBLISHes, so a published version is
// always readable. Nothing ever runs FLUSHALL, FLUSHDB or KEYS.
package store
