#!/usr/bin/env bash
# bench-dns.sh [PEER...]
#
# Builds gtm, then for a static name and a traffic-managed (service) name
# runs ../shared/bench/compare.sh: gtm and each PEER (default: knot)
# interleaved in one run, server pinned to core 0 and dnsperf to core 1,
# 10 s per run. Prints QPS, latency and server CPU µs per query, and the
# ratio to the peer. Loopback only.
#
# Env: ROUNDS (3), KINDS ("static gslb"), BENCH_DIR (../shared/bench),
#      PORT (5300), RATE (set to a number for p50/p99 latency at that rate).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bench=${BENCH_DIR:-$root/../shared/bench}
[[ -x "$bench/compare.sh" ]] || { echo "bench-dns: no $bench/compare.sh (set BENCH_DIR)" >&2; exit 2; }
command -v dnsperf >/dev/null || { echo "bench-dns: dnsperf missing: apt-get install dnsperf" >&2; exit 2; }
peers=("$@"); [[ ${#peers[@]} -gt 0 ]] || peers=(knot)
bin=$(mktemp -d)/gtm
(cd "$root" && go build -trimpath -o "$bin" ./cmd/gtm)
for kind in ${KINDS:-static gslb}; do
  for peer in "${peers[@]}"; do
    echo "== $kind: gtm vs $peer"
    ROUNDS=${ROUNDS:-3} KIND=$kind PROJECT_NAME=gtm "$bench/compare.sh" "$peer" "${PORT:-5300}" \
      "$root/scripts/bench-serve.sh" "$bin"
  done
done
