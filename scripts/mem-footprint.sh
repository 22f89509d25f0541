#!/usr/bin/env bash
# mem-footprint.sh [CASE...]
#
# Measures gtm serve's resident memory on large configurations, idle.
# CASEs (default: both):
#   svc10k   one small zone example.com. plus 10,000 latency-policy services
#            s{i}.example.com., each with 3 static endpoints in us/eu/ap
#   zone1m   one zone with 1,000,000 A records hN (+ SOA/NS) and 10 services
# Everything is generated in a temp dir removed at the end: the gtm binary
# (go build -trimpath) and the configs. gtm runs with memory state, no
# prober, the API and DNS on free loopback ports. The script waits for the
# log line "serving", sleeps SETTLE seconds (10), and prints VmRSS and VmHWM
# (the peak) from /proc/PID/status. With RELOAD=1 it then sends SIGHUP, waits
# for the reload to end (the log line "configuration reloaded" or "reload
# refused", or RELOAD_WAIT s), 2 s more, and prints VmRSS and VmHWM again:
# the peak of a reload, which holds two configurations at once.
# Only the gtm process this script started is killed, by its PID.
#
# Env: SETTLE=10  RELOAD=0  RELOAD_WAIT=120  GTM=path (a prebuilt binary)
#      GEN_ONLY=dir  only write the configs, to dir/CASE/gtm.yaml, and exit
#                    (for profiling them in a test or under another tool)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
settle=${SETTLE:-10}
cases=${*:-svc10k zone1m}

die() { echo "mem-footprint: $*" >&2; exit 2; }
for c in $cases; do
  case $c in svc10k | zone1m) ;; *) die "unknown case '$c' (svc10k zone1m)" ;; esac
done

work=$(mktemp -d)
pid=""
cleanup() {
  [[ -n "$pid" ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

header() {
  cat <<EOF
node: {region: us, id: memfoot}
dns: {listen: ["127.0.0.1:0"]}
api: {listen: "127.0.0.1:0"}
state: {backend: memory}
prober: {enabled: false}
# A million records plus SOA, NS and www: above the default cap of 1,000,000.
limits: {zone_max_records: 2000000}
regions:
  us: {lat: 38.9, lon: -77.0}
  eu: {lat: 53.3, lon: -6.3}
  ap: {lat: 1.35, lon: 103.8}
zones:
  - {origin: example.com., file: example.com.zone}
services:
EOF
}

# services N: N latency services s{i}.example.com. with 3 endpoints each
services() {
  awk -v n="$1" 'BEGIN { for (i = 0; i < n; i++) {
    printf "  - name: s%d.example.com.\n    policy: latency\n    endpoints:\n", i
    printf "      - {name: s%d-us, region: us, zone: \"1\", address: 10.1.%d.%d}\n", i, int(i / 250) % 250, i % 250 + 1
    printf "      - {name: s%d-eu, region: eu, zone: \"1\", address: 10.2.%d.%d}\n", i, int(i / 250) % 250, i % 250 + 1
    printf "      - {name: s%d-ap, region: ap, zone: \"1\", address: 10.3.%d.%d}\n", i, int(i / 250) % 250, i % 250 + 1
  } }'
}

zonehead() {
  cat <<'EOF'
$ORIGIN example.com.
$TTL 300
@ 3600 IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300
@ 3600 IN NS ns1.example.com.
ns1 3600 IN A 127.0.0.1
EOF
}

gen() {
  local c=$1 d=$work/$1
  mkdir -p "$d"
  case $c in
  svc10k)
    zonehead >"$d/example.com.zone"
    { header; services 10000; } >"$d/gtm.yaml"
    ;;
  zone1m)
    { zonehead; awk 'BEGIN { for (i = 0; i < 1000000; i++)
        printf "h%d A 10.%d.%d.%d\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256 }'; } >"$d/example.com.zone"
    { header; services 10; } >"$d/gtm.yaml"
    ;;
  esac
}

if [[ -n "${GEN_ONLY:-}" ]]; then
  for c in $cases; do gen "$c"; mkdir -p "$GEN_ONLY"; rm -rf "${GEN_ONLY:?}/$c"; cp -r "$work/$c" "$GEN_ONLY/"; done
  exit 0
fi

if [[ -n "${GTM:-}" ]]; then
  bin=$GTM
else
  bin=$work/gtm
  (cd "$root" && go build -trimpath -o "$bin" ./cmd/gtm)
fi

status() { awk '/^VmRSS:|^VmHWM:/ { printf "%s %d MB  ", $1, $2 / 1024 }' "/proc/$1/status"; }

for c in $cases; do
  gen "$c"
  d=$work/$c
  log=$d/gtm.log
  t0=$(date +%s.%N)
  "$bin" serve --config "$d/gtm.yaml" >"$log" 2>&1 </dev/null &
  pid=$!
  for _ in $(seq 600); do
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; die "$c: gtm exited at start (log above)"; }
    grep -q '"serving"' "$log" && break
    sleep 0.2
  done
  grep -q '"serving"' "$log" || { kill "$pid"; die "$c: no \"serving\" within 120 s"; }
  t1=$(date +%s.%N)
  sleep "$settle"
  printf '%-7s start %5.1f s  after %ss idle: %s\n' "$c" "$(echo "$t1 - $t0" | bc)" "$settle" "$(status "$pid")"
  if [[ "${RELOAD:-0}" == 1 ]]; then
    n=$(grep -c "configuration reloaded\|reload refused" "$log" || true)
    kill -HUP "$pid"
    for _ in $(seq $((${RELOAD_WAIT:-120} * 5))); do
      (( $(grep -c "configuration reloaded\|reload refused" "$log" || true) > n )) && break
      sleep 0.2
    done
    sleep 2
    printf '%-7s after SIGHUP reload:    %s\n' "$c" "$(status "$pid")"
  fi
  kill "$pid"
  wait "$pid" 2>/dev/null || true
  pid=""
done
