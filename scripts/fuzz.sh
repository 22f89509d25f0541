#!/usr/bin/env bash
# fuzz.sh [FUZZTIME]
#
# Runs every fuzz target for FUZZTIME each (default 60s): the DNS packet
# path, zone files, the config, and the API's zone and service bodies.
# Each starts from its corpus committed under testdata/fuzz/ (inputs that
# once found a bug, and coverage seeds), plus the seeds its test adds.
# A failure prints the input, which `go test` saves under testdata/fuzz/:
# commit it with the fix so it stays a regression test.
#
# Env: FUZZ_TARGETS ("pkg:Name ..." to run a subset).
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${1:-${FUZZTIME:-60s}}
targets=${FUZZ_TARGETS:-"./dnsserver:FuzzServe ./zones:FuzzParseZone ./zones:FuzzParseConfig ./api:FuzzZoneBody ./api:FuzzServiceBody"}
failed=0 ran=0
for t in $targets; do
  pkg=${t%%:*} name=${t##*:}
  echo "== fuzz $name ($pkg) for $fuzztime"
  ran=$((ran + 1))
  if ! go test -run '^$' -fuzz "^${name}\$" -fuzztime "$fuzztime" "$pkg"; then
    failed=$((failed + 1))
  fi
done
echo "fuzz: $((ran - failed)) of $ran targets clean"
[[ $failed -eq 0 ]]
