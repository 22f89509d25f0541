#!/usr/bin/env bash
# bench-dns.sh [PEER...]
#
# Measures gtm's DNS answer path beside established authoritative servers
# (PEERs: knot (default), nsd) on this machine, over loopback only.
# Everything it needs is generated here, in a temp dir that is removed at
# the end: the gtm binary (go build -trimpath), a zone example.test, the
# query files, gtm's and the peers' configs.
#
# What is compared, per query kind (KINDS):
#   static    www.example.test A          a zone record
#   gslb      gslb.example.test A         gtm: a latency-policy service with
#                                         three endpoints in three regions;
#                                         peers (no GSLB feature): a 3 x A RRset
#   nxdomain  <random-ish>.example.test A names that do not exist
#
# How: every server runs with one UDP worker pinned to core SERVER_CPU (0),
# dnsperf is pinned to core CLIENT_CPU (1). One dnsperf core tops out near
# 110k qps on loopback, so the fast servers never saturate theirs: qps alone
# cannot rank them. The capacity figure is us/q, the server's CPU time per
# answered query: utime+stime from /proc/PID/stat (summed over its process
# tree) before and after the run, divided by the queries dnsperf completed.
# Runs are interleaved (gtm, peer, gtm, peer, ...) because the machine
# drifts by up to 30% over minutes: compare ratios from one invocation, not
# numbers across invocations. Each run prints one line; the summary gives
# per kind the medians of qps, us/q and memory (RSS, and PSS: the fair
# figure for a server that forks, like NSD), and the gtm/peer ratios.
# core0/core1 in a run line are the busy % of the two cores: core0 well
# above srv_cpu means something else ran on the server's core (noise).
#
# Env (defaults):
#   ROUNDS=3  DURATION=10 (s per run)  WARMUP=1 (s of unmeasured traffic
#   before each run)  KINDS="static gslb nxdomain"
#   PORT=5300     gtm's port; knot uses PORT+1, nsd PORT+2 (127.0.0.1, UDP+TCP)
#   SERVER_CPU=0 CLIENT_CPU=1   cores for the servers and for dnsperf.
#                (Core 0 for servers because knotd sets its UDP workers'
#                affinity itself and lands on core 0 regardless.)
#   CLIENTS=20 OUTSTANDING=100  dnsperf -c and -q
#   GTM_EXTRA_YAML  YAML appended under gtm's `dns:` key, e.g.
#                'rrl: {rate: 1000000}' or 'cookies: {enabled: false}'
#                (several lines are fine; each is indented under dns:)
#   RRL=on       adds `rrl: {rate: 1000000, slip: 2}` and
#                `cookies: {enabled: true}` under dns:, so the rate limiter
#                (a bucket lookup per response) and the cookie code run on
#                every query without ever limiting: 1,000,000 responses/s
#                per bucket is the config's maximum and about 10x what the
#                single dnsperf source can send (a limited run would show
#                lost queries). dnsperf sends no EDNS, so the cookie code sees
#                queries without a cookie. Compare with RRL unset (RRL off,
#                cookies at their default) for the cost. Do not repeat rrl:
#                or cookies: in GTM_EXTRA_YAML with RRL=on.
#
# Needs: go, dnsperf (apt-get install dnsperf; exit 2 without it), dig,
# taskset, 2 cores, and the peers' binaries: knotd (apt-get install knot),
# nsd (apt-get install nsd). A missing peer is skipped with a message.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)

rounds=${ROUNDS:-3} dur=${DURATION:-10} warmup=${WARMUP:-1}
kinds=${KINDS:-static gslb nxdomain}
port=${PORT:-5300}
scpu=${SERVER_CPU:-0} ccpu=${CLIENT_CPU:-1}
addr=127.0.0.1 # never anything but loopback

die() { echo "bench-dns: $*" >&2; exit 2; }
command -v dnsperf >/dev/null || die "dnsperf missing: apt-get install dnsperf"
for t in go dig taskset pgrep; do command -v "$t" >/dev/null || die "$t missing"; done
(( $(nproc) >= 2 )) || die "needs 2 cores (server and dnsperf each pinned to one)"
for k in $kinds; do
  case $k in static | gslb | nxdomain) ;; *) die "unknown kind '$k' (static gslb nxdomain)" ;; esac
done

# Peers that exist here, each with its port and binary.
declare -A peerport=([knot]=$((port + 1)) [nsd]=$((port + 2)))
declare -A peerbin=([knot]=knotd [nsd]=nsd)
peers=()
for p in "${@:-knot}"; do
  [[ -n "${peerport[$p]:-}" ]] || die "unknown peer '$p' (knot nsd)"
  if command -v "${peerbin[$p]}" >/dev/null; then
    peers+=("$p")
  else
    echo "bench-dns: ${peerbin[$p]} not found, skipping $p (apt-get install $p)" >&2
  fi
done

# Everything the run creates lives under $work; every process it starts is
# in $started and is stopped, by PID, on exit (also on ^C).
work=$(mktemp -d "${TMPDIR:-/tmp}/bench-dns.XXXXXX")
started=()
cleanup() {
  local pid i
  for pid in "${started[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${started[@]}"; do
    for i in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "bench-dns: building gtm" >&2
(cd "$root" && go build -trimpath -o "$work/gtm" ./cmd/gtm)

# --- zone and query files ----------------------------------------------------
# The zone every server serves; the peers get gslb as a static 3 x A RRset
# appended, gtm serves gslb as a service (below).
cat >"$work/example.test.zone" <<'EOF'
$ORIGIN example.test.
$TTL 30
@     3600 IN SOA ns1.example.test. hostmaster.example.test. 1 7200 3600 1209600 30
@     3600 IN NS  ns1.example.test.
ns1   3600 IN A   127.0.0.1
www     30 IN A   127.0.0.10
mail    30 IN A   127.0.0.20
@       30 IN MX  10 mail.example.test.
@       30 IN TXT "v=spf1 -all"
api     30 IN CNAME www.example.test.
EOF
{
  cat "$work/example.test.zone"
  printf 'gslb 30 IN A 127.0.0.11\ngslb 30 IN A 127.0.0.12\ngslb 30 IN A 127.0.0.13\n'
} >"$work/peer.zone"

echo "www.example.test A" >"$work/static.txt"
echo "gslb.example.test A" >"$work/gslb.txt"
# 1000 distinct names under the zone that do not exist (dnsperf cycles them)
awk 'BEGIN { srand(1); for (i = 0; i < 1000; i++) printf "nx%d-%06x.example.test A\n", i, int(rand() * 16777216) }' \
  >"$work/nxdomain.txt"

# --- servers -----------------------------------------------------------------
# answers NAME PORT: true if something answers NAME A on 127.0.0.1:PORT
answers() { dig +short +time=1 +tries=1 @"$addr" -p "$2" "$1" A 2>/dev/null | grep -q .; }

# start NAME PORT CMD...: runs CMD pinned to the server core, waits until it
# answers www.example.test, and sets $pid (taskset execs, so it is the
# server's own PID).
start() {
  local name=$1 p=$2 i
  shift 2
  answers www.example.test "$p" && die "something already answers on $addr:$p (set PORT)"
  taskset -c "$scpu" "$@" >"$work/$name.log" 2>&1 </dev/null &
  pid=$!
  started+=("$pid")
  for i in $(seq 100); do
    kill -0 "$pid" 2>/dev/null || { cat "$work/$name.log" >&2; die "$name exited at start (log above)"; }
    answers www.example.test "$p" && return 0
    sleep 0.2
  done
  cat "$work/$name.log" >&2
  die "$name does not answer on $addr:$p"
}

# gtm: the same zone, plus gslb as a latency-policy service over three static
# endpoints (no checks, so always up) in three regions; memory state, no
# prober, the API on a free loopback port, one UDP worker like the peers.
rrl_yaml=""
[[ "${RRL:-}" == on ]] && rrl_yaml=$'rrl: {rate: 1000000, slip: 2}\ncookies: {enabled: true}'
{
  cat <<EOF
node: {region: a, id: bench}
dns:
  listen: ["$addr:$port"]
  workers: 1
EOF
  printf '%s\n%s\n' "$rrl_yaml" "${GTM_EXTRA_YAML:-}" | sed '/^[[:space:]]*$/d; s/^/  /'
  cat <<EOF
api: {listen: "$addr:0"}
state: {backend: memory}
prober: {enabled: false}
regions:
  a: {lat: 50, lon: 8}
  b: {lat: 40, lon: -74}
  c: {lat: 1.3, lon: 103.8}
zones:
  - {origin: example.test., file: example.test.zone}
services:
  - name: gslb.example.test.
    ttl: 30
    policy: latency
    endpoints:
      - {name: gw-a, region: a, zone: "1", address: 127.0.0.11}
      - {name: gw-b, region: b, zone: "1", address: 127.0.0.12}
      - {name: gw-c, region: c, zone: "1", address: 127.0.0.13}
EOF
} >"$work/gtm.yaml"

declare -A pidof=()
"$work/gtm" check --config "$work/gtm.yaml" >/dev/null 2>"$work/check.log" ||
  { cat "$work/check.log" >&2; die "generated gtm.yaml rejected (GTM_EXTRA_YAML?)"; }
start gtm "$port" "$work/gtm" serve --config "$work/gtm.yaml" --log-level warn
pidof[gtm]=$pid

for p in "${peers[@]}"; do
  pp=${peerport[$p]}
  d=$work/$p
  mkdir -p "$d"
  case $p in
  knot)
    cat >"$d/knot.conf" <<EOF
server:
    rundir: "$d"
    listen: $addr@$pp
    udp-workers: 1
    tcp-workers: 1
    background-workers: 1
control:
    listen: "$d/knot.sock"
database:
    storage: "$d/db"
log:
  - target: stderr
    any: warning
zone:
  - domain: example.test
    file: "$work/peer.zone"
    zonefile-sync: -1
    journal-content: none
EOF
    start knot "$pp" knotd -c "$d/knot.conf" -s "$d/knot.sock"
    ;;
  nsd)
    # NSD's RRL (on by default, 200 qps per /24) would drop dnsperf: off.
    cat >"$d/nsd.conf" <<EOF
server:
    ip-address: $addr@$pp
    port: $pp
    server-count: 1
    do-ip6: no
    username: ""
    chroot: ""
    zonesdir: "$d"
    database: ""
    zonelistfile: "$d/zonelist"
    xfrdfile: "$d/xfrd.state"
    xfrdir: "$d"
    pidfile: "$d/nsd.pid"
    verbosity: 1
    rrl-ratelimit: 0
    rrl-whitelist-ratelimit: 0
remote-control:
    control-enable: no
zone:
    name: example.test
    zonefile: "$work/peer.zone"
EOF
    start nsd "$pp" nsd -d -c "$d/nsd.conf"
    ;;
  esac
  pidof[$p]=$pid
done

# Sanity: every server gives the answers the kinds expect.
for s in gtm "${peers[@]}"; do
  sp=$port; [[ $s == gtm ]] || sp=${peerport[$s]}
  n=$(dig +short @"$addr" -p "$sp" gslb.example.test A | grep -c . || true)
  rc=$(dig @"$addr" -p "$sp" nx0-0.example.test A | awk '/status:/ { sub(/,/, "", $6); print $6 }')
  echo "bench-dns: $s on $addr:$sp (pid ${pidof[$s]}): gslb -> $n A, missing name -> $rc" >&2
done

# --- measuring -----------------------------------------------------------------
hz=$(getconf CLK_TCK)
tree() { echo "$1"; local c; for c in $(pgrep -P "$1"); do tree "$c"; done; }
# CPU ticks (utime+stime, fields 14+15) of PID and its children (NSD forks);
# the comm field may hold spaces, so cut after its closing parenthesis.
ticks() { local t=0 x; for x in $(tree "$1"); do
  t=$((t + $(sed 's/^.*) //' "/proc/$x/stat" | awk '{ print $12 + $13 }'))); done; echo "$t"; }
# RSS and PSS of the tree in kB (PSS is the fair figure for forked servers)
mem() { local x; for x in $(tree "$1"); do
  awk '/^Rss:/ { r = $2 } /^Pss:/ { p = $2 } END { print r + 0, p + 0 }' "/proc/$x/smaps_rollup"; done |
  awk '{ r += $1; p += $2 } END { print r, p }'; }
# busy and total jiffies of one core from /proc/stat
core() { awk -v c="cpu$1" '$1 == c { b = $2 + $3 + $4 + $7 + $8 + $9; print b, b + $5 + $6 }' /proc/stat; }
pct() { awk -v a="$1" -v b="$2" 'BEGIN { split(a, x, " "); split(b, y, " "); t = y[2] - x[2]; printf "%.0f", (t > 0 ? 100 * (y[1] - x[1]) / t : 0) }'; }

# run KIND NAME PORT PID: one measured dnsperf run, one result line on stdout
run() {
  local kind=$1 name=$2 p=$3 spid=$4 out=$work/dnsperf.out
  local perf=(taskset -c "$ccpu" dnsperf -s "$addr" -p "$p" -d "$work/$kind.txt"
    -c "${CLIENTS:-20}" -q "${OUTSTANDING:-100}")
  ((warmup > 0)) && { "${perf[@]}" -l "$warmup" >/dev/null 2>&1 || true; }
  local t0 t1 s0 s1 c00 c01 c10 c11
  s0=$(ticks "$spid") c00=$(core "$scpu") c10=$(core "$ccpu")
  "${perf[@]}" -l "$dur" >"$out" 2>&1 || { cat "$out" >&2; die "dnsperf failed against $name"; }
  s1=$(ticks "$spid") c01=$(core "$scpu") c11=$(core "$ccpu")
  local m
  m=$(mem "$spid")
  # dnsperf 2.x summary lines, e.g.
  #   Queries completed:    1086446 (100.00%)      Queries lost: 0 (0.00%)
  #   Response codes:       NOERROR 1086446 (100.00%)
  #   Average packet size:  request 34, response 50
  #   Run time (s):         10.000412              Queries per second: 108640.1
  #   Average Latency (s):  0.000912 (min 0.000021, max 0.005102)
  awk -v kind="$kind" -v name="$name" -v dt="$((s1 - s0))" -v hz="$hz" -v mem="$m" \
    -v c0="$(pct "$c00" "$c01")" -v c1="$(pct "$c10" "$c11")" '
    /Queries completed:/ { done = $3 }
    /Queries lost:/ { lost = $4; gsub(/[()]/, "", lost) }
    /Queries per second:/ { qps = $4 }
    /Run time \(s\):/ { secs = $4 }
    /Average Latency \(s\):/ { lat = $4 * 1000 }
    /Average packet size:/ { resp = $NF }
    /Response codes:/ { s = $0; sub(/.*codes: */, "", s); gsub(/ \([^)]*\)/, "", s); gsub(/, /, ",", s); gsub(/ /, ":", s); rc = s }
    END {
      if (done == "") exit 1
      split(mem, m, " ")
      cpu = dt / hz
      printf "%-8s %-5s qps=%.0f avg_ms=%.3f lost=%s rcodes=%s resp_b=%s us_per_q=%.2f srv_cpu=%.0f%% rss_mb=%.1f pss_mb=%.1f core%s=%s%% core%s=%s%%\n",
        kind, name, qps, lat, lost, rc, resp, (done > 0 ? 1e6 * cpu / done : 0), (secs > 0 ? 100 * cpu / secs : 0),
        m[1] / 1024, m[2] / 1024, ENVIRON["SCPU"], c0, ENVIRON["CCPU"], c1
    }' "$out" || { cat "$out" >&2; die "could not read dnsperf output"; }
}
export SCPU=$scpu CCPU=$ccpu

results=$work/results.txt
: >"$results"
echo "bench-dns: $rounds round(s) x ${dur}s, kinds: $kinds; gtm vs ${peers[*]:-nothing}${RRL:+; RRL=$RRL}" >&2
for kind in $kinds; do
  for r in $(seq "$rounds"); do
    run "$kind" gtm "$port" "${pidof[gtm]}" | tee -a "$results"
    for p in "${peers[@]}"; do
      run "$kind" "$p" "${peerport[$p]}" "${pidof[$p]}" | tee -a "$results"
    done
  done
done

# --- summary -------------------------------------------------------------------
# Medians per kind and server; then gtm/peer ratios (us/q above 1: gtm spends
# more CPU per query than the peer). An unexpected rcode (anything but
# NOERROR for static/gslb, NXDOMAIN for nxdomain) or lost queries are flagged.
echo
echo "summary: medians of $rounds run(s) of ${dur}s${RRL:+, RRL=$RRL}${GTM_EXTRA_YAML:+, GTM_EXTRA_YAML set}"
awk -v peers="${peers[*]}" '
function med(s,   a, n, i, j, t) {
  n = split(s, a, " ")
  for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
  return n == 0 ? 0 : (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
}
{
  k = $1; s = $2; if (!((k, s) in seen)) { seen[k, s] = 1; if (!(k in kseen)) { kseen[k] = 1; order[++nk] = k } }
  for (i = 3; i <= NF; i++) {
    split($i, kv, "="); v = kv[2]
    if (kv[1] == "rcodes") {
      want = (k == "nxdomain") ? "NXDOMAIN" : "NOERROR"
      n = split(v, codes, ","); for (j = 1; j <= n; j++) { split(codes[j], c, ":"); if (c[1] != want) bad[k, s] = bad[k, s] " " codes[j] }
      rcs[k, s] = want; continue
    }
    if (kv[1] == "lost") { sub(/%/, "", v); if (v + 0 > 0.1) badlost[k, s] = 1 }
    vals[k, s, kv[1]] = vals[k, s, kv[1]] " " v
  }
}
END {
  printf "%-8s %-14s %9s %7s %7s %7s  %s\n", "kind", "server", "qps", "us/q", "RSS MB", "PSS MB", "rcodes"
  np = split(peers, P, " ")
  for (i = 1; i <= nk; i++) {
    k = order[i]
    for (j = 0; j <= np; j++) {
      s = j ? P[j] : "gtm"
      if (!((k, s) in seen)) continue
      q[s] = med(vals[k, s, "qps"]); u[s] = med(vals[k, s, "us_per_q"])
      note = rcs[k, s]; if ((k, s) in bad) note = note " UNEXPECTED:" bad[k, s]
      if ((k, s) in badlost) note = note " LOST>0.1%"
      printf "%-8s %-14s %9.0f %7.2f %7.1f %7.1f  %s\n", k, s, q[s], u[s], med(vals[k, s, "rss_mb"]), med(vals[k, s, "pss_mb"]), note
    }
    for (j = 1; j <= np; j++) {
      s = P[j]
      if (!((k, s) in seen)) continue
      printf "%-8s %-14s %9s %7s\n", k, "gtm/" s, (q[s] > 0 ? sprintf("%.2f", q["gtm"] / q[s]) : "-"), (u[s] > 0 ? sprintf("%.2f", u["gtm"] / u[s]) : "-")
    }
  }
  if (np) print "(gtm/PEER rows: ratios of the medians, qps and us/q; us/q above 1 = gtm spends more CPU per query)"
}' "$results"
