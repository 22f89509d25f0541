#!/usr/bin/env bash
# bench-scale.sh
#
# gtm and Knot DNS side by side on the same generated data, at growing
# sizes, over loopback only. Prints progress on stderr and one Markdown
# table on stdout. Everything it needs is generated here, in a temp dir that
# is removed at the end: the gtm binary (go build -trimpath), the zones, the
# configs, gtm's API token file.
#
# A cell is (records, services):
#   records   one zone example.test. of hN A 10.x.y.z (N = 0 .. records-1)
#             plus SOA, NS, ns1 and www
#   services  sN.example.test. (N = 0 .. services-1). gtm: latency-policy
#             services, 3 endpoints each in regions us, eu, ap (node region
#             us, so us is the nearest). Knot has no traffic management: it
#             serves the same names as static 3 x A RRsets in the zone.
#
# Per cell and per server (both pinned to core SERVER_CPU from their start,
# one UDP worker each; gtm runs first, Knot starts once gtm is measured):
#   check      gtm: `gtm check` on the config; Knot: `knotc zone-check` on
#              the zone (offline, with the same config), or kzonecheck if
#              installed. Wall ms, pinned to SERVER_CPU.
#   startup    process start until `www.example.test A` answers with data
#              (a dig +time=1 +tries=1 every 20 ms). Wall ms.
#   RSS, HWM   VmRSS 5 s after start-up, and VmHWM (peak since start), MB.
#   idle       % of one core over IDLE seconds with no queries: utime+stime
#              from /proc/PID/stat. Both servers are idle together.
#   us/q       dnsperf pinned to CLIENT_CPU for DURATION s (after 1 s of
#              unmeasured warm-up) at `www.example.test A` and at
#              `s0.example.test A`: server CPU (utime+stime delta) divided
#              by the queries dnsperf completed, in microseconds.
#   reload     the zone file gets serial 2 and a new name reload-check; then
#              SIGHUP to gtm / `knotc zone-reload example.test` to Knot; ms
#              from the signal until reload-check answers, and the peak
#              VmRSS sampled (every ~20 ms) meanwhile. gtm also reloads by
#              itself when it sees a config or zone file change (inotify,
#              500 ms settle); its zone file is reached through a symlink
#              and the script replaces the symlink's target, in a directory
#              gtm does not watch, so the one timed reload is the SIGHUP one.
#   change     gtm: PUT /api/v1/drains/region/us (bearer token); Knot:
#              knotc zone-begin / zone-unset s0 A <us address> / zone-commit.
#              ms from the request until `dig s0.example.test` no longer
#              returns the us address (polled every 20 ms).
# Polling is a dig per ~20 ms plus dig's own start (~5-10 ms): startup,
# reload and change figures have a resolution of about 30 ms.
#
# Env (defaults):
#   SIZES="1k:10 100k:10 1M:10 1k:1k 1k:10k"   cells as RECORDS:SERVICES,
#             k and M suffixes allowed. QUICK=1 sets SIZES="1k:10 1k:1k".
#   IDLE=20 (s)  DURATION=5 (s per dnsperf run)
#   PORT=5310  gtm's DNS port; Knot uses PORT+1, gtm's API PORT+2 (127.0.0.1)
#   SERVER_CPU=0 CLIENT_CPU=1   cores for the servers and for dnsperf
#   MAX_RSS_MB=8192   stop if a server grows beyond this (checked at every
#             sample)
#   TIMEOUT=300 (s)   the longest any single wait (start-up, reload,
#             change) may take
#
# Needs: go, knotd + knotc (apt-get install knot), dnsperf, dig, curl,
# taskset, 2 cores. The 1M-record cell needs ~2 GB of RAM and a few minutes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

if [[ "${QUICK:-}" == 1 ]]; then sizes=${SIZES:-1k:10 1k:1k}; else sizes=${SIZES:-1k:10 100k:10 1M:10 1k:1k 1k:10k}; fi
idle=${IDLE:-20} dur=${DURATION:-5}
port=${PORT:-5310} kport=$((${PORT:-5310} + 1)) aport=$((${PORT:-5310} + 2))
scpu=${SERVER_CPU:-0} ccpu=${CLIENT_CPU:-1}
maxrss=${MAX_RSS_MB:-8192} tmo=${TIMEOUT:-300}
addr=127.0.0.1 # never anything but loopback

die() { echo "bench-scale: $*" >&2; exit 2; }
for t in go knotd knotc dnsperf dig curl taskset awk; do
  command -v "$t" >/dev/null || die "$t missing (knotd/knotc: apt-get install knot; dnsperf: apt-get install dnsperf)"
done
(( $(nproc) >= 2 )) || die "needs 2 cores (servers and dnsperf each pinned to one)"
[[ -n "${EPOCHREALTIME:-}" ]] || die "needs bash >= 5 (EPOCHREALTIME)"

# count 1k -> 1000, 1M -> 1000000
count() {
  case $1 in
  *[kK]) echo $((${1%?} * 1000)) ;;
  *M) echo $((${1%?} * 1000000)) ;;
  *) echo "$1" ;;
  esac
}
# human 1000 -> 1k, 1000000 -> 1M
human() {
  if (($1 >= 1000000 && $1 % 1000000 == 0)); then echo "$(($1 / 1000000))M"
  elif (($1 >= 1000 && $1 % 1000 == 0)); then echo "$(($1 / 1000))k"
  else echo "$1"; fi
}
cells=()
for s in $sizes; do
  [[ $s =~ ^[0-9]+[kM]?:[0-9]+[kM]?$ ]] || die "SIZES: '$s' is not RECORDS:SERVICES (e.g. 100k:10)"
  r=$(count "${s%%:*}") v=$(count "${s##*:}")
  ((r >= 1 && r <= 5000000)) || die "SIZES: $s: records must be 1..5M"
  ((v >= 1 && v <= 65536)) || die "SIZES: $s: services must be 1..65536"
  cells+=("$r:$v")
done

# Everything the run creates lives under $work; every process it starts is
# in $started and is stopped, by PID, on exit (also on ^C).
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-scale.XXXXXX")
started=()
stop() { # stop PID: TERM, up to 5 s, then KILL
  local i
  kill -TERM "$1" 2>/dev/null || true
  for i in $(seq 50); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
cleanup() {
  local pid
  for pid in "${started[@]}"; do stop "$pid"; done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "bench-scale: building gtm" >&2
(cd "$root" && go build -trimpath -o "$work/gtm" ./cmd/gtm)
rev=$(cd "$root" && git describe --always --dirty 2>/dev/null || echo unknown)
kver=$(knotd --version 2>/dev/null | awk '{ print $NF; exit }')

token=bench-scale-$RANDOM$RANDOM-token
echo "$token rw bench-scale" >"$work/tokens"

hz=$(getconf CLK_TCK)
now() { local t=${EPOCHREALTIME/[.,]/}; echo $((t / 1000)); } # ms
# ticks PID: utime+stime (all threads) of PID; the comm field may hold
# spaces, so cut after its closing parenthesis.
ticks() {
  local line rest
  read -r line <"/proc/$1/stat"
  rest=${line##*) }
  set -- $rest
  echo $((${12} + ${13}))
}
# vm PID: sets RSS and HWM (kB) without a fork; dies if RSS is over the cap
vm() {
  local k v rest
  RSS=0 HWM=0
  while read -r k v rest; do
    case $k in VmRSS:) RSS=$v ;; VmHWM:) HWM=$v ;; esac
  done <"/proc/$1/status"
  ((RSS / 1024 <= maxrss)) || die "pid $1 uses $((RSS / 1024)) MB, over MAX_RSS_MB=$maxrss"
}
mb() { awk -v k="$1" 'BEGIN { printf "%.0f", k / 1024 }'; }
# answer NAME PORT: the A records for NAME, one a line (empty: none yet)
answer() { dig +short +time=1 +tries=1 @"$addr" -p "$2" "$1" A 2>/dev/null | grep -E '^[0-9.]+$' || true; }
# wait_for PID SECS COND...: polls COND every 20 ms until it holds, sampling
# PID's VmRSS each time; sets PEAK (kB). Dies after SECS or if PID exits.
wait_for() {
  local pid=$1 deadline=$(($(now) + $2 * 1000))
  shift 2
  PEAK=0
  while :; do
    kill -0 "$pid" 2>/dev/null || return 3
    vm "$pid"
    ((RSS > PEAK)) && PEAK=$RSS
    "$@" && return 0
    (($(now) < deadline)) || return 4
    sleep 0.02
  done
}
# has NAME PORT [ADDR]: NAME answers (with ADDR among its A records)
has() { local a; a=$(answer "$1" "$2"); [[ -n $a ]] && { [[ -z "${3:-}" ]] || grep -qxF "$3" <<<"$a"; }; }
# lacks NAME PORT ADDR: NAME answers, without ADDR
lacks() { local a; a=$(answer "$1" "$2"); [[ -n $a ]] && ! grep -qxF "$3" <<<"$a"; }

# perf NAME PORT PID QNAME: one DURATION-s dnsperf run; prints µs/q
perf() {
  local name=$1 p=$2 pid=$3 q=$4 out=$work/dnsperf.out t0 t1
  echo "$q A" >"$work/q.txt"
  local cmd=(taskset -c "$ccpu" dnsperf -s "$addr" -p "$p" -d "$work/q.txt" -c 20 -q 100)
  "${cmd[@]}" -l 1 >/dev/null 2>&1 || true
  t0=$(ticks "$pid")
  "${cmd[@]}" -l "$dur" >"$out" 2>&1 || { cat "$out" >&2; die "dnsperf failed against $name"; }
  t1=$(ticks "$pid")
  awk -v dt="$((t1 - t0))" -v hz="$hz" -v who="$name $q" '
    /Queries completed:/ { done = $3 }
    /Queries lost:/ { lost = $4; gsub(/[()%]/, "", lost) }
    /Queries per second:/ { qps = $4 }
    /Response codes:/ { rc = $0; sub(/.*codes: */, "", rc) }
    END {
      if (done + 0 == 0) { print "-"; exit }
      printf "bench-scale:   dnsperf %s: %.0f qps, lost %s%%, %s\n", who, qps, lost, rc > "/dev/stderr"
      flag = (lost + 0 > 1 || rc !~ /^NOERROR [0-9]+ \(100/) ? "!" : ""
      printf "%.1f%s\n", 1e6 * dt / hz / done, flag
    }' "$out"
}

# --- data ----------------------------------------------------------------------
# zone RECORDS SERVICES-AS-STATIC(0/N) SERIAL EXTRA: the zone text
zone() {
  awk -v n="$1" -v svc="$2" -v serial="$3" -v extra="$4" 'BEGIN {
    print "$ORIGIN example.test."
    print "$TTL 30"
    printf "@ 3600 IN SOA ns1.example.test. hostmaster.example.test. %d 7200 3600 1209600 30\n", serial
    print "@ 3600 IN NS ns1.example.test."
    print "ns1 3600 IN A 127.0.0.1"
    print "www 30 IN A 127.0.0.10"
    for (i = 0; i < n; i++) printf "h%d 30 IN A 10.%d.%d.%d\n", i, int(i / 65536) % 256, int(i / 256) % 256, i % 256
    for (i = 0; i < svc; i++) for (r = 1; r <= 3; r++) printf "s%d 30 IN A 10.%d.%d.%d\n", i, 100 + r, int(i / 256), i % 256
    if (extra != "") print extra
  }'
}
newrec="reload-check 30 IN A 10.255.255.254"

# gtm_yaml SERVICES: gtm's config (zone file: zone/example.test.zone)
gtm_yaml() {
  cat <<EOF
node: {region: us, id: bench-scale}
dns:
  listen: ["$addr:$port"]
  workers: 1
api: {listen: "$addr:$aport", token_file: $work/tokens}
state: {backend: memory}
prober: {enabled: false}
# A million records plus SOA, NS and www: above the default cap of 1,000,000.
limits: {zone_max_records: 2000000}
regions:
  us: {lat: 40.7, lon: -74}
  eu: {lat: 50.1, lon: 8.7}
  ap: {lat: 1.3, lon: 103.8}
zones:
  - {origin: example.test., file: zone/example.test.zone}
services:
EOF
  awk -v n="$1" 'BEGIN {
    split("us eu ap", R, " ")
    for (i = 0; i < n; i++) {
      printf "  - {name: s%d.example.test., ttl: 30, policy: latency, endpoints: [", i
      for (r = 1; r <= 3; r++) printf "%s{name: s%d-%s, region: %s, zone: \"1\", address: 10.%d.%d.%d}", (r > 1 ? ", " : ""), i, R[r], R[r], 100 + r, int(i / 256), i % 256
      print "]}"
    }
  }'
}

knot_conf() {
  cat <<EOF
server:
    rundir: "$1"
    listen: $addr@$kport
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
control:
    listen: "$1/knot.sock"
    timeout: 60
database:
    storage: "$1/db"
log:
  - target: stderr
    any: warning
zone:
  - domain: example.test
    file: "$1/example.test.zone"
    zonefile-sync: -1
    journal-content: none
EOF
}

# launch NAME PORT CMD...: starts CMD pinned to the server core, waits until
# it answers www.example.test; sets PID and STARTUP (ms).
launch() {
  local name=$1 p=$2 t0
  shift 2
  [[ -z $(answer www.example.test "$p") ]] || die "something already answers on $addr:$p (set PORT)"
  t0=$(now)
  taskset -c "$scpu" "$@" >"$cell/$name.log" 2>&1 </dev/null &
  PID=$!
  started+=("$PID")
  wait_for "$PID" "$tmo" has www.example.test "$p" ||
    { tail -20 "$cell/$name.log" >&2; die "$name did not answer www.example.test on $addr:$p (log above)"; }
  STARTUP=$(($(now) - t0))
}
unstart() { # unstart PID: stop it and forget it
  local keep=() x
  stop "$1"
  for x in "${started[@]}"; do [[ $x == "$1" ]] || keep+=("$x"); done
  started=("${keep[@]}")
}

# --- the matrix ------------------------------------------------------------------
rows=$work/rows.md
: >"$rows"
echo "bench-scale: cells (records:services): $sizes; idle ${idle}s, dnsperf ${dur}s; gtm $rev, knot $kver" >&2
for c in "${cells[@]}"; do
  nrec=${c%%:*} nsvc=${c##*:}
  cell=$work/cell
  rm -rf "$cell"
  mkdir -p "$cell/gtm/zone" "$cell/data" "$cell/knot/db"
  echo "bench-scale: cell $nrec records, $nsvc services: generating" >&2

  # gtm: config and the zone symlink in gtm/ (watched), target in data/ (not)
  zone "$nrec" 0 1 "" >"$cell/data/example.test.zone"
  ln -s ../../data/example.test.zone "$cell/gtm/zone/example.test.zone"
  gtm_yaml "$nsvc" >"$cell/gtm/gtm.yaml"
  # knot: the same zone with the services as static 3 x A RRsets
  zone "$nrec" "$nsvc" 1 "" >"$cell/knot/example.test.zone"
  knot_conf "$cell/knot" >"$cell/knot/knot.conf"

  declare -A R=()
  t0=$(now)
  timeout "$tmo" taskset -c "$scpu" "$work/gtm" check --config "$cell/gtm/gtm.yaml" >"$cell/check.log" 2>&1 ||
    { cat "$cell/check.log" >&2; die "gtm check rejected the generated config"; }
  R[gtm.check]=$(($(now) - t0))
  if command -v kzonecheck >/dev/null; then
    kcheck=(kzonecheck -o example.test "$cell/knot/example.test.zone")
  else
    kcheck=(knotc -c "$cell/knot/knot.conf" zone-check example.test)
  fi
  t0=$(now)
  timeout "$tmo" taskset -c "$scpu" "${kcheck[@]}" >"$cell/kcheck.log" 2>&1 ||
    { cat "$cell/kcheck.log" >&2; die "${kcheck[0]} rejected the generated zone"; }
  R[knot.check]=$(($(now) - t0))

  # start-up and memory: gtm alone, then knot with gtm idle
  launch gtm "$port" "$work/gtm" serve --config "$cell/gtm/gtm.yaml" --log-level warn
  gpid=$PID R[gtm.startup]=$STARTUP
  sleep 5
  vm "$gpid"
  R[gtm.rss]=$(mb $RSS) R[gtm.hwm]=$(mb $HWM)
  launch knot "$kport" knotd -c "$cell/knot/knot.conf" -s "$cell/knot/knot.sock"
  kpid=$PID R[knot.startup]=$STARTUP
  sleep 5
  vm "$kpid"
  R[knot.rss]=$(mb $RSS) R[knot.hwm]=$(mb $HWM)
  echo "bench-scale:   start-up gtm ${R[gtm.startup]} ms (${R[gtm.rss]} MB), knot ${R[knot.startup]} ms (${R[knot.rss]} MB)" >&2

  # idle CPU, both servers together
  g0=$(ticks "$gpid") k0=$(ticks "$kpid") t0=$(now)
  sleep "$idle"
  g1=$(ticks "$gpid") k1=$(ticks "$kpid") t1=$(now)
  R[gtm.idle]=$(awk -v d=$((g1 - g0)) -v hz="$hz" -v ms=$((t1 - t0)) 'BEGIN { printf "%.2f", 100 * d / hz / (ms / 1000) }')
  R[knot.idle]=$(awk -v d=$((k1 - k0)) -v hz="$hz" -v ms=$((t1 - t0)) 'BEGIN { printf "%.2f", 100 * d / hz / (ms / 1000) }')

  # CPU per query
  R[gtm.www]=$(perf gtm "$port" "$gpid" www.example.test)
  R[knot.www]=$(perf knot "$kport" "$kpid" www.example.test)
  R[gtm.svc]=$(perf gtm "$port" "$gpid" s0.example.test)
  R[knot.svc]=$(perf knot "$kport" "$kpid" s0.example.test)

  # reload: new serial and a new name; gtm's through the unwatched target
  [[ -z $(answer reload-check.example.test "$port") ]] || die "gtm answers reload-check before the reload"
  zone "$nrec" 0 2 "$newrec" >"$cell/data/example.test.zone.new"
  zone "$nrec" "$nsvc" 2 "$newrec" >"$cell/knot/example.test.zone.new"
  mv "$cell/data/example.test.zone.new" "$cell/data/example.test.zone"
  t0=$(now)
  kill -HUP "$gpid"
  wait_for "$gpid" "$tmo" has reload-check.example.test "$port" 10.255.255.254 ||
    { tail -20 "$cell/gtm.log" >&2; die "gtm: reload-check did not appear after SIGHUP"; }
  R[gtm.reload]=$(($(now) - t0)) R[gtm.rpeak]=$(mb $PEAK)
  mv "$cell/knot/example.test.zone.new" "$cell/knot/example.test.zone"
  t0=$(now)
  knotc -t 60 -s "$cell/knot/knot.sock" zone-reload example.test >/dev/null
  wait_for "$kpid" "$tmo" has reload-check.example.test "$kport" 10.255.255.254 ||
    { tail -20 "$cell/knot.log" >&2; die "knot: reload-check did not appear after zone-reload"; }
  R[knot.reload]=$(($(now) - t0)) R[knot.rpeak]=$(mb $PEAK)

  # change to answer: s0's us address (10.101.0.0) leaves the answer
  us=10.101.0.0
  has s0.example.test "$port" "$us" || die "gtm does not answer s0 with its us address $us"
  t0=$(now)
  curl -fsS --max-time 10 -X PUT -H "Authorization: Bearer $token" \
    "http://$addr:$aport/api/v1/drains/region/us?reason=bench-scale" >/dev/null
  wait_for "$gpid" "$tmo" lacks s0.example.test "$port" "$us" || die "gtm: s0 still answers $us after the drain"
  R[gtm.change]=$(($(now) - t0))
  has s0.example.test "$kport" "$us" || die "knot does not answer s0 with $us"
  kc=(knotc -t 60 -s "$cell/knot/knot.sock")
  t0=$(now)
  "${kc[@]}" zone-begin example.test >/dev/null
  "${kc[@]}" zone-unset example.test s0 A "$us" >/dev/null
  "${kc[@]}" zone-commit example.test >/dev/null
  wait_for "$kpid" "$tmo" lacks s0.example.test "$kport" "$us" || die "knot: s0 still answers $us after the commit"
  R[knot.change]=$(($(now) - t0))

  # the timed reload was the only one: gtm's file watcher did not see it
  fc=$(curl -fsS --max-time 10 "http://$addr:$aport/metrics" |
    awk '/^gtm_config_reloads_total/ && !/trigger="SIGHUP"/ { n += $NF } END { print n + 0 }')
  ((fc == 0)) || { echo "bench-scale:   gtm also reloaded $fc time(s) on its own (file watcher): reload figures marked *" >&2
    R[gtm.reload]+="*"; }

  unstart "$gpid"
  unstart "$kpid"
  for s in gtm knot; do
    printf '| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n' \
      "$(human "$nrec")" "$(human "$nsvc")" "$s" "${R[$s.check]}" "${R[$s.startup]}" "${R[$s.rss]}" "${R[$s.hwm]}" "${R[$s.idle]}" \
      "${R[$s.www]}" "${R[$s.svc]}" "${R[$s.reload]}" "${R[$s.rpeak]}" "${R[$s.change]}" | tee -a "$rows" >&2
  done
  unset R
  rm -rf "$cell"
done

# --- table -------------------------------------------------------------------------
cat <<EOF

gtm $rev vs Knot DNS $kver on $(nproc) cores ($(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)), $(date -u +%Y-%m-%d)
Each server pinned to core $scpu with one UDP worker, dnsperf to core $ccpu; idle over ${idle} s, dnsperf ${dur} s per figure.
Knot has no traffic management: it serves sN as static 3 x A RRsets; gtm serves them as latency services (3 endpoints, 3 regions; answer: the nearest).

| records | services | server | check ms | start-up ms | RSS MB | HWM MB | idle % core | µs/q www | µs/q s0 | reload ms | reload peak RSS MB | change→answer ms |
| ---: | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |
EOF
cat "$rows"
cat <<EOF

check: gtm check / knotc zone-check (offline). start-up: exec until www answers. RSS: 5 s after start-up; HWM: peak since start.
reload: SIGHUP / knotc zone-reload until a new name answers; peak RSS sampled every ~20 ms meanwhile.
change→answer: gtm region drain over the API / knotc zone-begin+unset+commit, until s0 no longer returns the drained address.
Times are polled (dig every 20 ms): ~30 ms resolution. "!" after µs/q: lost queries over 1% or a non-NOERROR answer.
EOF
