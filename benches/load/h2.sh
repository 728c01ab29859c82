#!/usr/bin/env bash
# benches/load/h2.sh: side-by-side cleartext HTTP/2 (h2c, prior knowledge) load benchmark
# on 127.0.0.1, with h2load instead of wrk. Same method as benches/load/run.sh:
# the same backends (conf/backend.conf, one nginx on 19001-19003), h2load pinned on
# the client CPU, backends and (with -t 1) proxies on the server CPU, interleaved
# rounds (A B, A B, ...), medians, proxy CPU us/req from /proc/PID/stat, peak RSS
# (VmHWM), busy-port refusal, every process started and stopped by PID.
#
# Built-in peer: nginx taking h2c on 127.0.0.1:18084 (conf/nginx-h2.conf), HTTP/1.1
# keep-alive pool to the backends. Extra targets (sluicegate's cleartext listener takes
# h2c by prior knowledge) are given as name=url with --start NAME=CMD, as for run.sh.
# benches/load.sh runs this as its `h2` scenario.
#
# PID lists are split into words on purpose (SC2086); the pin arrays are used through
# `local -n` (SC2034); `pid_alive && kill || true` means what it says (SC2015).
# shellcheck disable=SC2086,SC2034,SC2015
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CONF="$HERE/conf"

ROUNDS=3
REQUESTS=200000
WARMUP=""
CLIENTS=64
STREAMS=10
H2_THREADS=1
PROXY_THREADS=1
URL_PATH=/
PEERS=nginx
CLIENT_CPU=0
SERVER_CPU=1
PROXY_CPUS=""
PIN=1
OUT=""
PAUSE=1
LIMIT=300

declare -a EXTRA_NAMES=() EXTRA_URLS=()
declare -A START_CMD=() ATTACH_PID=()

usage() {
  cat <<'TXT'
usage: benches/load/h2.sh [options] [name=url | url]...

Each name=url (or bare url, named extraN) adds an h2c target next to nginx. If the url
has no path, the --path value is appended. Each run is
  h2load -n N -c C -m M -t T URL      (h2c by prior knowledge: http:// urls)

options:
  -r N            rounds; each round runs every target once (default 3)
  -n N            requests per h2load run (default 200000)
  -w N            warm-up requests per target before round 1, not recorded
                  (default n/10, at least 1000; 0 for none)
  -c N            h2load clients (connections) (default 64)
  -m N            h2load streams in flight per client (default 10)
  -T N            h2load threads (default 1)
  -t N            proxy workers/threads: nginx worker_processes (default 1)
  --path P        request path: / (6-byte body) or /4k (4096 bytes)
  --peers LIST    built-in targets: nginx (default) or none
  --client-cpu C  CPU for h2load (default 0)
  --server-cpu C  CPU for the backends, and for the proxies when -t 1 (default 1)
  --proxy-cpus L  CPU list for the proxies (default: the server CPU when -t 1, all CPUs otherwise)
  --no-pin        do not use taskset at all
  --start NAME=CMD  start CMD (foreground) pinned like the proxies, account its CPU and
                  RSS to target NAME, stop it by PID at the end
  --pid NAME=PID  account the CPU and RSS of an already running process to target NAME
  --limit SEC     hard time limit of one h2load run (default 300)
  --out DIR       also copy the results (runs.tsv, summary.md, rss.tsv, raw output) to DIR
  -h, --help      this text
TXT
}

die() { echo "h2.sh: $*" >&2; exit 1; }

while (($#)); do
  case "$1" in
    -r) ROUNDS=$2; shift 2 ;;
    -n) REQUESTS=$2; shift 2 ;;
    -w) WARMUP=$2; shift 2 ;;
    -c) CLIENTS=$2; shift 2 ;;
    -m) STREAMS=$2; shift 2 ;;
    -T) H2_THREADS=$2; shift 2 ;;
    -t) PROXY_THREADS=$2; shift 2 ;;
    --path) URL_PATH=$2; shift 2 ;;
    --peers) PEERS=$2; shift 2 ;;
    --client-cpu) CLIENT_CPU=$2; shift 2 ;;
    --server-cpu) SERVER_CPU=$2; shift 2 ;;
    --proxy-cpus) PROXY_CPUS=$2; shift 2 ;;
    --no-pin) PIN=0; shift ;;
    --start) [[ $2 == *=* ]] || die "--start wants NAME=CMD"; START_CMD[${2%%=*}]=${2#*=}; shift 2 ;;
    --pid) [[ $2 == *=* ]] || die "--pid wants NAME=PID"; ATTACH_PID[${2%%=*}]=${2#*=}; shift 2 ;;
    --limit) LIMIT=$2; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *)
      if [[ $1 == *=* && ${1%%=*} != *[:/]* ]]; then
        EXTRA_NAMES+=("${1%%=*}"); EXTRA_URLS+=("${1#*=}")
      else
        EXTRA_NAMES+=("extra$((${#EXTRA_NAMES[@]} + 1))"); EXTRA_URLS+=("$1")
      fi
      shift ;;
  esac
done

[[ -z $WARMUP ]] && WARMUP=$((REQUESTS / 10 > 1000 ? REQUESTS / 10 : 1000))
for v in ROUNDS REQUESTS WARMUP CLIENTS STREAMS H2_THREADS PROXY_THREADS PAUSE LIMIT; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
((ROUNDS >= 1 && REQUESTS >= 1 && CLIENTS >= 1 && STREAMS >= 1 && H2_THREADS >= 1 && PROXY_THREADS >= 1)) ||
  die "rounds, requests, clients, streams and threads must be at least 1"
((REQUESTS >= CLIENTS)) || die "-n must be at least -c (h2load gives every client a share)"
[[ $URL_PATH == /* ]] || die "--path must start with /"
for name in "${!START_CMD[@]}" "${!ATTACH_PID[@]}"; do
  found=0
  for n in "${EXTRA_NAMES[@]}"; do [[ $n == "$name" ]] && found=1; done
  ((found)) || die "--start/--pid name '$name' has no matching name=url target"
done
for name in "${!ATTACH_PID[@]}"; do
  [[ ${ATTACH_PID[$name]} =~ ^[0-9]+$ && -d /proc/${ATTACH_PID[$name]} ]] ||
    die "--pid $name=${ATTACH_PID[$name]}: no such process"
done

for tool in h2load nginx curl ss pgrep awk timeout; do
  command -v "$tool" >/dev/null || die "missing $tool (apt-get install nghttp2-client nginx curl procps)"
done
if ((PIN)); then
  command -v taskset >/dev/null || die "missing taskset (util-linux); or pass --no-pin"
  NCPU=$(nproc --all)
  [[ -z $PROXY_CPUS ]] && { ((PROXY_THREADS == 1)) && PROXY_CPUS=$SERVER_CPU || PROXY_CPUS="0-$((NCPU - 1))"; }
  CLIENT_PIN=(taskset -c "$CLIENT_CPU")
  SERVER_PIN=(taskset -c "$SERVER_CPU")
  PROXY_PIN=(taskset -c "$PROXY_CPUS")
else
  CLIENT_PIN=() SERVER_PIN=() PROXY_PIN=()
  PROXY_CPUS=unpinned
fi

# ---------------------------------------------------------------- process control (as run.sh)
RUN=$(mktemp -d -t lb-bench-h2.XXXXXX)
chmod 755 "$RUN" # nginx workers drop to user nobody and must read www/
mkdir -p "$RUN/conf" "$RUN/logs" "$RUN/tmp" "$RUN/www" "$RUN/results/h2load"
RES="$RUN/results"

declare -a STARTED=()       # PIDs this script started, in start order
declare -A GROUP=()         # target name -> PIDs whose CPU/RSS count for it
declare -A IDLE_RSS=()      # target name -> RSS (KiB) right after start

# Process control and /proc measurements, shared with run.sh.
# shellcheck source=benches/load/procs.sh
source "$(dirname "${BASH_SOURCE[0]}")/procs.sh"
trap 'stop_all' EXIT
trap 'echo "h2.sh: interrupted, stopping" >&2; exit 130' INT TERM

# h2load output -> "rps mean_ms succeeded failed non2xx protocol"
#   finished in 1.23s, 81234.56 req/s, 3.45MB/s
#   requests: N total, N started, N done, N succeeded, N failed, N errored, N timeout
#   status codes: N 2xx, N 3xx, N 4xx, N 5xx
#   time for request:    min    max    mean    sd    +/- sd
parse_h2load() {
  awk '
    function ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /s$/)  return substr(v, 1, length(v) - 1) * 1000
      return v + 0
    }
    /^finished in/ { for (i = 1; i <= NF; i++) if ($(i + 1) ~ /^req\/s/) rps = $i }
    /^requests:/ { gsub(/,/, ""); ok = $8; failed = $10 } # errored and timeout are part of failed
    /^status codes:/ { gsub(/,/, ""); bad = $5 + $7 + $9 }
    /^time for request:/ { mean = ms($6) }
    /^Application protocol:/ { proto = $3 }
    END { printf "%.0f %.3f %d %d %d %s\n", rps, mean, ok, failed, bad, (proto == "" ? "none" : proto) }
  ' "$1"
}

# ---------------------------------------------------------------- targets
declare -a T_NAMES=() T_URLS=()
add_target() { T_NAMES+=("$1"); T_URLS+=("$2"); }

for peer in ${PEERS//,/ }; do
  case $peer in
    nginx) add_target nginx "http://127.0.0.1:18084$URL_PATH" ;;
    none) ;;
    *) die "unknown peer '$peer' (nginx, none)" ;;
  esac
done
for i in "${!EXTRA_NAMES[@]}"; do
  u=${EXTRA_URLS[$i]}
  [[ $u == http://* ]] || die "target ${EXTRA_NAMES[$i]}: only http:// (h2c) urls are supported, got '$u'"
  rest=${u#http://}
  [[ $rest == */* ]] || u="$u$URL_PATH"
  add_target "${EXTRA_NAMES[$i]}" "$u"
done
((${#T_NAMES[@]})) || die "no targets"

# ---------------------------------------------------------------- start
for port in 19001 19002 19003 18084; do
  port_busy "$port" && die "127.0.0.1:$port is already in use; stop whatever holds it first"
done
for i in "${!T_NAMES[@]}"; do
  if [[ -n ${START_CMD[${T_NAMES[$i]}]:-} ]]; then
    port=$(url_port "${T_URLS[$i]}")
    port_busy "$port" && die "127.0.0.1:$port (${T_NAMES[$i]}) is already in use; stop whatever holds it first"
  fi
done

head -c 4096 /dev/zero | tr '\0' 'x' >"$RUN/www/4k"
chmod 644 "$RUN/www/4k"
for f in backend.conf nginx-h2.conf; do render "$f"; done

echo "== run dir: $RUN"
echo "== pinning: h2load on CPU $CLIENT_CPU, backends on CPU $SERVER_CPU, proxies on CPU(s) $PROXY_CPUS (pin=$PIN)"
start_proc backend SERVER_PIN 19001 nginx -p "$RUN" -c "$RUN/conf/backend.conf" -e "$RUN/logs/backend-startup.log" -g 'daemon off;'
wait_port 19003 "${STARTED[0]}" backend
if [[ ",$PEERS," == *",nginx,"* ]]; then
  start_proc nginx PROXY_PIN 18084 nginx -p "$RUN" -c "$RUN/conf/nginx-h2.conf" -e "$RUN/logs/nginx-h2-startup.log" -g 'daemon off;'
fi
for i in "${!T_NAMES[@]}"; do
  name=${T_NAMES[$i]}
  if [[ -n ${START_CMD[$name]:-} ]]; then
    start_proc "$name" PROXY_PIN "$(url_port "${T_URLS[$i]}")" bash -c "exec ${START_CMD[$name]}"
  elif [[ -n ${ATTACH_PID[$name]:-} ]]; then
    GROUP[$name]="${ATTACH_PID[$name]} $(pgrep -P "${ATTACH_PID[$name]}" | tr '\n' ' ' || true)"
  fi
done
for name in "${!GROUP[@]}"; do IDLE_RSS[$name]=$(rss_kib VmRSS ${GROUP[$name]}); done

# Every target answers 200 over HTTP/2 (prior knowledge) before any load.
want=6
[[ $URL_PATH == /4k ]] && want=4096
for i in "${!T_NAMES[@]}"; do
  got=$(curl -s -m 3 --http2-prior-knowledge -o /dev/null -w '%{http_code} %{http_version} %{size_download}' \
    "${T_URLS[$i]}" || echo "000 0 0")
  [[ $got == "200 2 $want" ]] ||
    die "${T_NAMES[$i]} (${T_URLS[$i]}) answered '$got' (status, HTTP version, bytes), expected '200 2 $want'"
done

# ---------------------------------------------------------------- load
run_h2load() { # name url requests outfile
  timeout -k 5 "$LIMIT" "${CLIENT_PIN[@]}" h2load -n "$3" -c "$CLIENTS" -m "$STREAMS" -t "$H2_THREADS" "$2" >"$4" 2>&1 ||
    echo "h2.sh: h2load against $1 failed or timed out (rc=$?)" >&2
}

if ((WARMUP > 0)); then
  ((WARMUP >= CLIENTS)) || WARMUP=$CLIENTS
  for i in "${!T_NAMES[@]}"; do
    run_h2load "${T_NAMES[$i]}" "${T_URLS[$i]}" "$WARMUP" "$RES/h2load/warmup-${T_NAMES[$i]}.txt"
  done
fi

printf 'round\ttarget\trps\tmean_ms\trequests\tfailed\tnon2xx\tclient_busy_pct\tserver_busy_pct\tproxy_cpu_us_per_req\tbackend_cpu_us_per_req\tprotocol\n' >"$RES/runs.tsv"
echo "== $ROUNDS rounds x ${#T_NAMES[@]} targets: h2load -n $REQUESTS -c $CLIENTS -m $STREAMS -t $H2_THREADS, path $URL_PATH, proxy threads $PROXY_THREADS"
for ((r = 1; r <= ROUNDS; r++)); do
  for i in "${!T_NAMES[@]}"; do
    name=${T_NAMES[$i]} url=${T_URLS[$i]}
    out="$RES/h2load/r$r-$name.txt"
    pids=${GROUP[$name]:-}
    read -r cb0 ct0 < <(core_stat "$CLIENT_CPU")
    read -r sb0 st0 < <(core_stat "$SERVER_CPU")
    pt0=$([[ -n $pids ]] && cpu_ticks $pids || echo 0)
    bt0=$(cpu_ticks ${GROUP[backend]})
    run_h2load "$name" "$url" "$REQUESTS" "$out"
    read -r cb1 ct1 < <(core_stat "$CLIENT_CPU")
    read -r sb1 st1 < <(core_stat "$SERVER_CPU")
    pt1=$([[ -n $pids ]] && cpu_ticks $pids || echo 0)
    bt1=$(cpu_ticks ${GROUP[backend]})
    read -r rps mean ok failed bad proto < <(parse_h2load "$out")
    have_pids=0
    [[ -n $pids ]] && have_pids=1
    awk -v r="$r" -v n="$name" -v rps="$rps" -v mean="$mean" -v req="$ok" -v failed="$failed" -v bad="$bad" \
      -v proto="$proto" -v cb=$((cb1 - cb0)) -v ct=$((ct1 - ct0)) -v sb=$((sb1 - sb0)) -v st=$((st1 - st0)) \
      -v pt=$((pt1 - pt0)) -v bt=$((bt1 - bt0)) -v hp="$have_pids" -v clk="$CLK" 'BEGIN {
        pc = (hp && req > 0) ? sprintf("%.2f", pt / clk * 1e6 / req) : "-"
        bc = (req > 0) ? sprintf("%.2f", bt / clk * 1e6 / req) : "-"
        printf "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f\t%.0f\t%s\t%s\t%s\n", r, n, rps, mean, req, failed, bad,
          ct ? 100 * cb / ct : 0, st ? 100 * sb / st : 0, pc, bc, proto }' >>"$RES/runs.tsv"
    note=""
    if ((failed + bad)) || [[ $proto != h2c || $ok != "$REQUESTS" ]]; then
      note="  ERRORS failed=$failed non2xx=$bad succeeded=$ok/$REQUESTS protocol=$proto"
    fi
    printf '  round %d  %-14s %9s req/s  mean %7s ms%s\n' "$r" "$name" "$rps" "$mean" "$note"
    sleep "$PAUSE"
  done
done

# ---------------------------------------------------------------- memory, then stop
printf 'target\tpeak_rss_mib\tidle_rss_mib\tprocesses\n' >"$RES/rss.tsv"
for name in "${T_NAMES[@]}"; do
  pids=${GROUP[$name]:-}
  [[ -n $pids ]] || continue
  set -- $pids
  awk -v n="$name" -v h="$(rss_kib VmHWM "$@")" -v i="${IDLE_RSS[$name]:-0}" -v c=$# \
    'BEGIN { printf "%s\t%.1f\t%.1f\t%d\n", n, h / 1024, i / 1024, c }' >>"$RES/rss.tsv"
done
stop_all

# ---------------------------------------------------------------- summary
{
  echo "h2load -n $REQUESTS -c $CLIENTS -m $STREAMS -t $H2_THREADS (h2c, prior knowledge); $ROUNDS interleaved rounds;" \
    "path $URL_PATH; proxy threads $PROXY_THREADS; h2load on CPU $CLIENT_CPU, backends on CPU $SERVER_CPU," \
    "proxies on CPU(s) $PROXY_CPUS"
  echo
  echo "$(nginx -v 2>&1 | sed 's/.*version: //'), $(h2load --version 2>&1 | head -n 1), kernel $(uname -r)," \
    "$(nproc --all) x $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
  echo
  awk -F'\t' -v order="${T_NAMES[*]}" -v want="$REQUESTS" '
    function median(s,   a, n, i, j, t) {
      n = split(s, a, " ")
      for (i = 2; i <= n; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] + 0 > t + 0; j--) a[j + 1] = a[j]; a[j + 1] = t }
      if (n == 0) return "-"
      return (n % 2) ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    function minmax(s,   a, n, i, lo, hi) {
      n = split(s, a, " "); lo = hi = a[1]
      for (i = 2; i <= n; i++) { if (a[i] + 0 < lo + 0) lo = a[i]; if (a[i] + 0 > hi + 0) hi = a[i] }
      return lo "-" hi
    }
    FILENAME ~ /rss/ { if (FNR > 1) rss[$1] = $2; next }
    FNR == 1 { next }
    {
      rps[$2] = rps[$2] " " $3; mean[$2] = mean[$2] " " $4
      err[$2] += (want - $5 > 0 ? want - $5 : 0) + $7
      if ($12 != "h2c") badproto[$2] = 1
      cb[$2] = cb[$2] " " $8; sb[$2] = sb[$2] " " $9
      if ($10 != "-") pc[$2] = pc[$2] " " $10
      if ($11 != "-") bc[$2] = bc[$2] " " $11
      round_rps[$1, $2] = $3; rounds[$1] = 1
    }
    END {
      print "| target | req/s (median) | min-max | x nginx | mean request ms | proxy CPU us/req | backend CPU us/req | h2load core busy % | server core busy % | peak RSS MiB | errors |"
      print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
      n = split(order, names, " ")
      for (k = 1; k <= n; k++) {
        t = names[k]; ratios = ""
        for (r in rounds) if (((r, "nginx") in round_rps) && round_rps[r, "nginx"] > 0) ratios = ratios " " round_rps[r, t] / round_rps[r, "nginx"]
        ratio = (ratios == "") ? "-" : sprintf("%.2f", median(ratios))
        printf "| %s | %.0f | %s | %s | %.3f | %s | %s | %.0f | %.0f | %s | %d%s |\n", t, median(rps[t]), minmax(rps[t]), ratio,
          median(mean[t]), (pc[t] == "" ? "-" : sprintf("%.2f", median(pc[t]))),
          (bc[t] == "" ? "-" : sprintf("%.2f", median(bc[t]))), median(cb[t]), median(sb[t]),
          ((t in rss) ? rss[t] : "-"), err[t], ((t in badproto) ? " (not h2c)" : "")
      }
    }' "$RES/rss.tsv" "$RES/runs.tsv"
  echo
  echo "x nginx: median over rounds of (target req/s / nginx req/s in the same round)."
  echo "mean request ms: h2load's mean time per request (closed loop: at saturation mostly queueing)."
  echo "CPU us/req: CPU time of the process group during the run / requests that succeeded."
  echo "errors: requests that did not succeed (failed, errored, timed out, never done) plus non-2xx responses, over all rounds."
  echo "peak RSS: sum of VmHWM over the target's processes (nginx: master + workers), read before shutdown."
} >"$RES/summary.md"

echo
cat "$RES/summary.md"
if [[ -n $OUT ]]; then
  mkdir -p "$OUT"
  cp -r "$RES/." "$OUT/"
  rm -rf "$RUN"
  echo
  echo "== results in $OUT"
else
  echo "== results (and configs, logs) in $RES"
fi
