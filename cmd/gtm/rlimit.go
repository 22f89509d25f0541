package main

import (
	"syscall"

	"github.com/rs/zerolog"
)

// raiseFileLimit raises the soft RLIMIT_NOFILE to the hard limit (every
// TCP connection, probe and Redis connection is a descriptor) and returns
// the soft limit in force, logged once at info; 0 if it cannot be read.
func raiseFileLimit(log zerolog.Logger) uint64 {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		log.Warn().Err(err).Msg("cannot read the open file limit")
		return 0
	}
	was := rl.Cur
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			log.Warn().Err(err).Uint64("soft", was).Uint64("hard", rl.Max).Msg("cannot raise the open file limit")
			rl.Cur = was
		}
	}
	log.Info().Uint64("limit", rl.Cur).Uint64("hard", rl.Max).Uint64("was", was).Msg("open file limit")
	return rl.Cur
}

// connCaps are the connection caps of a node.
type connCaps struct {
	dnsPerListener int // dns.tcp.max_connections
	dnsPerClient   int // dns.tcp.max_per_client
	api            int // api.max_connections
}

// fitConnCaps lowers the caps so that, all full, the DNS listeners and
// the API hold at most 3/4 of the open file limit: the rest (at least 64)
// stays for UDP sockets, probes, Redis and files. Connections then meet a
// cap, which closes idle ones, before accept meets EMFILE. The DNS and API
// shares keep their configured proportion.
func fitConnCaps(log zerolog.Logger, nofile uint64, listeners int, want connCaps) connCaps {
	if nofile == 0 {
		return want
	}
	reserve := max(nofile/4, 64)
	if nofile <= reserve {
		reserve = nofile / 2
	}
	budget := int(min(nofile-reserve, 1<<30))
	dnsTotal := want.dnsPerListener * listeners
	if dnsTotal+want.api <= budget {
		return want
	}
	got := want
	if listeners > 0 {
		got.dnsPerListener = max(1, budget*dnsTotal/(dnsTotal+want.api)/listeners)
	}
	got.api = max(1, budget*want.api/(dnsTotal+want.api))
	got.dnsPerClient = min(want.dnsPerClient, got.dnsPerListener)
	log.Warn().Uint64("open_file_limit", nofile).
		Int("dns_tcp_max_connections", got.dnsPerListener).Int("dns_tcp_max_per_client", got.dnsPerClient).
		Int("api_max_connections", got.api).
		Str("hint", "raise the limit (systemd LimitNOFILE, ulimit -n) to keep the configured caps").
		Msg("connection caps lowered to fit the open file limit")
	return got
}
