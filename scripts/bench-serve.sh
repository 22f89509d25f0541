#!/usr/bin/env bash
# bench-serve.sh GTM_BINARY
#
# Runs gtm in the foreground the way ../shared/bench/compare.sh expects a
# project server: it serves $PEERBENCH_ZONE (example.test) on
# 127.0.0.1:$PEERBENCH_PORT, plus the traffic-managed name
# gslb.example.test (three static endpoints in three regions, latency
# policy). Nothing is probed.
set -euo pipefail
bin=${1:?usage: bench-serve.sh GTM_BINARY}
port=${PEERBENCH_PORT:?PEERBENCH_PORT not set}
zone=${PEERBENCH_ZONE:?PEERBENCH_ZONE not set}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cp "$zone" "$dir/example.test.zone"
cat > "$dir/gtm.yaml" <<YAML
node: {region: a, id: bench}
dns: {listen: ["127.0.0.1:$port"]}
api: {listen: "127.0.0.1:0"}
regions:
  a: {lat: 50, lon: 8}
  b: {lat: 40, lon: -74}
  c: {lat: 1.3, lon: 103.8}
zones:
  - {origin: example.test., file: example.test.zone}
services:
  - name: gslb.example.test.
    ttl: 30
    policy: ${GSLB_POLICY:-latency}
    endpoints:
      - {name: gw-a, region: a, zone: "1", address: 127.0.0.1}
      - {name: gw-b, region: b, zone: "1", address: 127.0.0.2}
      - {name: gw-c, region: c, zone: "1", address: 127.0.0.3}
YAML
"$bin" serve --config "$dir/gtm.yaml" --log-level warn &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$dir"' EXIT TERM INT
wait "$pid"
