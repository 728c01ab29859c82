#!/usr/bin/env bash
# benches/load/run.sh: side-by-side HTTP/1.1 load benchmark of reverse proxies on 127.0.0.1.
#
# The project's copy of the shared harness (../shared/bench/run.sh, same method:
# pinning, interleaved rounds, medians, CPU us/req, peak RSS, busy-port refusal,
# every process started and stopped by PID). benches/load.sh drives it; see there.
# The one addition: CONN_SAMPLE=1 counts each target's backend connections (below).
#
# Starts three nginx backends (one nginx process, ports 19001-19003) and the peer
# proxies (nginx :18081, HAProxy http :18082, HAProxy tcp :18083). It then runs wrk
# against the backend directly and through each proxy, interleaved over several
# rounds (A B C D, A B C D, ...), prints a table, and stops every process it
# started, by PID. Extra targets (e.g. the project's proxy) are given as
# name=url arguments.
#
# PID lists are split into words on purpose (SC2086); the pin arrays are used through
# `local -n` (SC2034); `pid_alive && kill || true` means what it says (SC2015).
# shellcheck disable=SC2086,SC2034,SC2015
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CONF="$HERE/conf"

ROUNDS=3
DURATION=10
WARMUP=2
CONNS=64
WRK_THREADS=1
PROXY_THREADS=1
URL_PATH=/
PEERS=direct,nginx,haproxy-http,haproxy-tcp
CLIENT_CPU=0
SERVER_CPU=1
PROXY_CPUS=""
PIN=1
OUT=""
PAUSE=1
# CONN_SAMPLE=1: 2 s into each wrk run (half the run when -d is 2 or less), count the
# established TCP connections to ports 19001-19003 owned by the target's processes.
CONN_SAMPLE=${CONN_SAMPLE:-0}
SAMPLER=""

declare -a EXTRA_NAMES=() EXTRA_URLS=() WRK_HEADERS=()
declare -A START_CMD=() ATTACH_PID=()

usage() {
  cat <<'TXT'
usage: benches/load/run.sh [options] [name=url | url]...

Each name=url (or bare url, named extraN) adds a target next to the built-in peers.
If the url has no path, the --path value is appended.

options:
  -r N            rounds; each round runs every target once (default 3)
  -d SEC          seconds per wrk run (default 10)
  -w SEC          warm-up seconds per target before round 1, not recorded (default 2)
  -c N            wrk connections (default 64)
  -T N            wrk threads (default 1)
  -t N            proxy workers/threads: nginx worker_processes, HAProxy nbthread (default 1)
  --path P        request path for built-in targets: / (6-byte body) or /4k (4096 bytes)
  --peers LIST    built-in targets to run, comma-separated, in this order
                  (default direct,nginx,haproxy-http,haproxy-tcp; "none" for no peers)
  --client-cpu C  CPU for wrk (default 0)
  --server-cpu C  CPU for the backends, and for the proxies when -t 1 (default 1)
  --proxy-cpus L  CPU list for the proxies (default: the server CPU when -t 1, all CPUs otherwise)
  --no-pin        do not use taskset at all
  --start NAME=CMD  start CMD (foreground, no daemonising) pinned like the proxies before the
                  runs, account its CPU and RSS to target NAME, stop it by PID at the end
  --pid NAME=PID  account the CPU and RSS of an already running process to target NAME
  --header H      send header H with every wrk request (repeatable), e.g.
                  "Connection: close" for a new connection per request
  --out DIR       also copy the results (runs.tsv, summary.md, raw wrk output) to DIR
  -h, --help      this text

environment:
  CONN_SAMPLE=1   2 s into each wrk run, count the established connections to ports
                  19001-19003 owned by the target's processes (ss -p); adds a
                  backend_conns column to runs.tsv and the summary (median over rounds).
                  Needs --start or --pid for an extra target; "-" for direct.

Every wrk run is bounded: wrk -d plus a hard `timeout`. All listeners are on 127.0.0.1.
TXT
}

die() { echo "run.sh: $*" >&2; exit 1; }

while (($#)); do
  case "$1" in
    -r) ROUNDS=$2; shift 2 ;;
    -d) DURATION=$2; shift 2 ;;
    -w) WARMUP=$2; shift 2 ;;
    -c) CONNS=$2; shift 2 ;;
    -T) WRK_THREADS=$2; shift 2 ;;
    -t) PROXY_THREADS=$2; shift 2 ;;
    --path) URL_PATH=$2; shift 2 ;;
    --peers) PEERS=$2; shift 2 ;;
    --client-cpu) CLIENT_CPU=$2; shift 2 ;;
    --server-cpu) SERVER_CPU=$2; shift 2 ;;
    --proxy-cpus) PROXY_CPUS=$2; shift 2 ;;
    --no-pin) PIN=0; shift ;;
    --start) [[ $2 == *=* ]] || die "--start wants NAME=CMD"; START_CMD[${2%%=*}]=${2#*=}; shift 2 ;;
    --pid) [[ $2 == *=* ]] || die "--pid wants NAME=PID"; ATTACH_PID[${2%%=*}]=${2#*=}; shift 2 ;;
    --out) OUT=$2; shift 2 ;;
    --header) WRK_HEADERS+=(-H "$2"); shift 2 ;;
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

for v in ROUNDS DURATION WARMUP CONNS WRK_THREADS PROXY_THREADS PAUSE; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, got '${!v}'"
done
((ROUNDS >= 1 && DURATION >= 1 && CONNS >= 1 && WRK_THREADS >= 1 && PROXY_THREADS >= 1)) ||
  die "rounds, duration, connections and threads must be at least 1"
[[ $URL_PATH == /* ]] || die "--path must start with /"
[[ $CONN_SAMPLE == [01] ]] || die "CONN_SAMPLE must be 0 or 1, got '$CONN_SAMPLE'"
for name in "${!START_CMD[@]}" "${!ATTACH_PID[@]}"; do
  found=0
  for n in "${EXTRA_NAMES[@]}"; do [[ $n == "$name" ]] && found=1; done
  ((found)) || die "--start/--pid name '$name' has no matching name=url target"
done
for name in "${!ATTACH_PID[@]}"; do
  [[ ${ATTACH_PID[$name]} =~ ^[0-9]+$ && -d /proc/${ATTACH_PID[$name]} ]] ||
    die "--pid $name=${ATTACH_PID[$name]}: no such process"
done

for tool in wrk nginx haproxy curl ss pgrep awk; do
  command -v "$tool" >/dev/null || die "missing $tool (apt-get install wrk nginx haproxy curl procps)"
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

# ---------------------------------------------------------------- process control
RUN=$(mktemp -d -t lb-bench.XXXXXX)
chmod 755 "$RUN" # nginx workers drop to user nobody and must read www/
mkdir -p "$RUN/conf" "$RUN/logs" "$RUN/tmp" "$RUN/www" "$RUN/results/wrk"
RES="$RUN/results"

declare -a STARTED=()       # PIDs this script started, in start order
declare -A GROUP=()         # target name -> PIDs whose CPU/RSS count for it
declare -A IDLE_RSS=()      # target name -> RSS (KiB) right after start

# Process control and /proc measurements, shared with h2.sh.
# shellcheck source=benches/load/procs.sh
source "$(dirname "${BASH_SOURCE[0]}")/procs.sh"
trap 'stop_all' EXIT
trap 'echo "run.sh: interrupted, stopping" >&2; exit 130' INT TERM

sample_conns() { # delay outfile pids...
  local delay=$1 out=$2
  shift 2
  sleep "$delay"
  timeout -k 1 5 "${CLIENT_PIN[@]}" ss -Htnp state established \
    '( dport = :19001 or dport = :19002 or dport = :19003 )' 2>/dev/null |
    awk -v pids=" $* " '{
        hit = 0; s = $0
        while (match(s, /pid=[0-9]+/)) {
          if (index(pids, " " substr(s, RSTART + 4, RLENGTH - 4) " ")) hit = 1
          s = substr(s, RSTART + RLENGTH)
        }
        n += hit
      } END { print n + 0 }' >"$out"
}
SAMPLE_AT=$(awk -v d="$DURATION" 'BEGIN { print (d > 2) ? 2 : d / 2 }')

# wrk output -> "rps p50_ms p99_ms requests non2xx socket_errors"
parse_wrk() {
  awk '
    function ms(v) {
      if (v ~ /us$/) return substr(v, 1, length(v) - 2) / 1000
      if (v ~ /ms$/) return substr(v, 1, length(v) - 2) + 0
      if (v ~ /m$/)  return substr(v, 1, length(v) - 1) * 60000
      if (v ~ /s$/)  return substr(v, 1, length(v) - 1) * 1000
      return v + 0
    }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    /requests in/ { req = $1 }
    /^Requests\/sec:/ { rps = $2 }
    /Non-2xx or 3xx responses:/ { bad = $NF }
    /Socket errors:/ { gsub(/,/, ""); serr = $4 + $6 + $8 + $10 }
    END { printf "%.0f %.3f %.3f %d %d %d\n", rps, p50, p99, req, bad + 0, serr + 0 }
  ' "$1"
}

# ---------------------------------------------------------------- targets
declare -a T_NAMES=() T_URLS=()
add_target() { T_NAMES+=("$1"); T_URLS+=("$2"); }

for peer in ${PEERS//,/ }; do
  case $peer in
    direct) add_target direct "http://127.0.0.1:19001$URL_PATH" ;;
    nginx) add_target nginx "http://127.0.0.1:18081$URL_PATH" ;;
    haproxy-http) add_target haproxy-http "http://127.0.0.1:18082$URL_PATH" ;;
    haproxy-tcp) add_target haproxy-tcp "http://127.0.0.1:18083$URL_PATH" ;;
    none) ;;
    *) die "unknown peer '$peer' (direct, nginx, haproxy-http, haproxy-tcp, none)" ;;
  esac
done
for i in "${!EXTRA_NAMES[@]}"; do
  u=${EXTRA_URLS[$i]}
  [[ $u == http://* || $u == https://* ]] ||
    die "target ${EXTRA_NAMES[$i]}: only http:// and https:// urls are supported, got '$u'"
  rest=${u#*://}
  [[ $rest == */* ]] || u="$u$URL_PATH"
  add_target "${EXTRA_NAMES[$i]}" "$u"
done
((${#T_NAMES[@]})) || die "no targets"

# ---------------------------------------------------------------- start
for port in 19001 19002 19003 18081 18082 18083; do
  port_busy "$port" && die "127.0.0.1:$port is already in use; stop whatever holds it first"
done

head -c 4096 /dev/zero | tr '\0' 'x' >"$RUN/www/4k"
chmod 644 "$RUN/www/4k"
for f in backend.conf nginx-proxy.conf haproxy-http.cfg haproxy-tcp.cfg; do render "$f"; done

echo "== run dir: $RUN"
echo "== pinning: wrk on CPU $CLIENT_CPU, backends on CPU $SERVER_CPU, proxies on CPU(s) $PROXY_CPUS (pin=$PIN)"
start_proc backend SERVER_PIN 19001 nginx -p "$RUN" -c "$RUN/conf/backend.conf" -e "$RUN/logs/backend-startup.log" -g 'daemon off;'
wait_port 19003 "${STARTED[0]}" backend
need() { [[ ",$PEERS," == *",$1,"* ]]; }
if need nginx; then
  start_proc nginx PROXY_PIN 18081 nginx -p "$RUN" -c "$RUN/conf/nginx-proxy.conf" -e "$RUN/logs/nginx-proxy-startup.log" -g 'daemon off;'
fi
if need haproxy-http; then
  start_proc haproxy-http PROXY_PIN 18082 haproxy -db -f "$RUN/conf/haproxy-http.cfg"
fi
if need haproxy-tcp; then
  start_proc haproxy-tcp PROXY_PIN 18083 haproxy -db -f "$RUN/conf/haproxy-tcp.cfg"
fi
for i in "${!T_NAMES[@]}"; do
  name=${T_NAMES[$i]}
  if [[ -n ${START_CMD[$name]:-} ]]; then
    start_proc "$name" PROXY_PIN "$(url_port "${T_URLS[$i]}")" bash -c "exec ${START_CMD[$name]}"
  elif [[ -n ${ATTACH_PID[$name]:-} ]]; then
    GROUP[$name]="${ATTACH_PID[$name]} $(pgrep -P "${ATTACH_PID[$name]}" | tr '\n' ' ' || true)"
  fi
done
GROUP[direct]=${GROUP[backend]}
for name in "${!GROUP[@]}"; do IDLE_RSS[$name]=$(rss_kib VmRSS ${GROUP[$name]}); done

# Check every target answers 200 with the expected body before loading it.
want=6
[[ $URL_PATH == /4k ]] && want=4096
for i in "${!T_NAMES[@]}"; do
  # -k: an https target's certificate is the run's own, self-signed.
  got=$(curl -ks -m 3 -o /dev/null -w '%{http_code} %{size_download}' "${T_URLS[$i]}" || echo "000 0")
  case " ${PEERS//,/ } " in *" ${T_NAMES[$i]} "*) exp="200 $want" ;; *) exp="200 *" ;; esac
  # shellcheck disable=SC2053
  [[ $got == $exp ]] || die "${T_NAMES[$i]} (${T_URLS[$i]}) answered '$got', expected '$exp'"
done

# ---------------------------------------------------------------- load
run_wrk() { # name url seconds outfile
  local limit=$(($3 + 15))
  timeout -k 5 "$limit" "${CLIENT_PIN[@]}" wrk -t"$WRK_THREADS" -c"$CONNS" -d"$3"s --latency "${WRK_HEADERS[@]}" "$2" >"$4" 2>&1 ||
    echo "run.sh: wrk against $1 failed or timed out (rc=$?)" >&2
}

if ((WARMUP > 0)); then
  for i in "${!T_NAMES[@]}"; do
    run_wrk "${T_NAMES[$i]}" "${T_URLS[$i]}" "$WARMUP" "$RES/wrk/warmup-${T_NAMES[$i]}.txt"
  done
fi

conns_hdr=""
if ((CONN_SAMPLE)); then conns_hdr=$'\tbackend_conns'; fi
printf 'round\ttarget\trps\tp50_ms\tp99_ms\trequests\tnon2xx\tsock_err\tclient_busy_pct\tserver_busy_pct\tproxy_cpu_us_per_req\tbackend_cpu_us_per_req%s\n' \
  "$conns_hdr" >"$RES/runs.tsv"
echo "== $ROUNDS rounds x ${#T_NAMES[@]} targets x ${DURATION}s: wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s --latency, path $URL_PATH, proxy threads $PROXY_THREADS"
for ((r = 1; r <= ROUNDS; r++)); do
  for i in "${!T_NAMES[@]}"; do
    name=${T_NAMES[$i]} url=${T_URLS[$i]}
    out="$RES/wrk/r$r-$name.txt"
    pids=${GROUP[$name]:-}
    read -r cb0 ct0 < <(core_stat "$CLIENT_CPU")
    read -r sb0 st0 < <(core_stat "$SERVER_CPU")
    pt0=$([[ -n $pids && $name != direct ]] && cpu_ticks $pids || echo 0)
    bt0=$(cpu_ticks ${GROUP[backend]})
    conns_col=""
    if ((CONN_SAMPLE)) && [[ -n $pids && $name != direct ]]; then
      rm -f "$RES/conns.tmp"
      sample_conns "$SAMPLE_AT" "$RES/conns.tmp" $pids &
      SAMPLER=$!
    fi
    run_wrk "$name" "$url" "$DURATION" "$out"
    if ((CONN_SAMPLE)); then
      if [[ -n $SAMPLER ]]; then
        wait "$SAMPLER" 2>/dev/null || true
        SAMPLER=""
      fi
      c=$(cat "$RES/conns.tmp" 2>/dev/null || true)
      conns_col=$'\t'${c:--}
      rm -f "$RES/conns.tmp"
    fi
    read -r cb1 ct1 < <(core_stat "$CLIENT_CPU")
    read -r sb1 st1 < <(core_stat "$SERVER_CPU")
    pt1=$([[ -n $pids && $name != direct ]] && cpu_ticks $pids || echo 0)
    bt1=$(cpu_ticks ${GROUP[backend]})
    read -r rps p50 p99 req bad serr < <(parse_wrk "$out")
    have_pids=0
    [[ -n $pids && $name != direct ]] && have_pids=1
    awk -v r="$r" -v n="$name" -v rps="$rps" -v p50="$p50" -v p99="$p99" -v req="$req" -v bad="$bad" -v serr="$serr" \
      -v cb=$((cb1 - cb0)) -v ct=$((ct1 - ct0)) -v sb=$((sb1 - sb0)) -v st=$((st1 - st0)) \
      -v pt=$((pt1 - pt0)) -v bt=$((bt1 - bt0)) -v hp="$have_pids" -v clk="$CLK" -v extra="$conns_col" 'BEGIN {
        pc = (hp && req > 0) ? sprintf("%.2f", pt / clk * 1e6 / req) : "-"
        bc = (req > 0) ? sprintf("%.2f", bt / clk * 1e6 / req) : "-"
        printf "%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%.0f\t%.0f\t%s\t%s%s\n", r, n, rps, p50, p99, req, bad, serr,
          ct ? 100 * cb / ct : 0, st ? 100 * sb / st : 0, pc, bc, extra }' >>"$RES/runs.tsv"
    printf '  round %d  %-14s %9s req/s  p50 %7s ms  p99 %7s ms%s\n' "$r" "$name" "$rps" "$p50" "$p99" \
      "$( ((bad + serr)) && echo "  ERRORS non2xx=$bad socket=$serr")"
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
  headers=""
  ((${#WRK_HEADERS[@]})) && headers=$(printf ' %q' "${WRK_HEADERS[@]}")
  echo "wrk -t$WRK_THREADS -c$CONNS -d${DURATION}s --latency$headers; $ROUNDS interleaved rounds; path $URL_PATH;" \
    "proxy threads $PROXY_THREADS; wrk on CPU $CLIENT_CPU, backends on CPU $SERVER_CPU, proxies on CPU(s) $PROXY_CPUS"
  echo
  echo "$(nginx -v 2>&1 | sed 's/.*version: //'), HAProxy $(haproxy -v | awk 'NR == 1 { print $3 }')," \
    "wrk $(wrk -v 2>&1 | awk 'NR == 1 { print $2 }'), kernel $(uname -r)," \
    "$(nproc --all) x $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
  echo
  awk -F'\t' -v order="${T_NAMES[*]}" -v conns="$CONN_SAMPLE" '
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
      rps[$2] = rps[$2] " " $3; p50[$2] = p50[$2] " " $4; p99[$2] = p99[$2] " " $5
      err[$2] += $7 + $8; cb[$2] = cb[$2] " " $9; sb[$2] = sb[$2] " " $10
      if ($11 != "-") pc[$2] = pc[$2] " " $11
      if ($12 != "-") bc[$2] = bc[$2] " " $12
      if (conns && $13 != "-" && $13 != "") bk[$2] = bk[$2] " " $13
      round_rps[$1, $2] = $3; rounds[$1] = 1
    }
    END {
      print "| target | req/s (median) | min-max | x direct | p50 ms | p99 ms | proxy CPU us/req | backend CPU us/req | wrk core busy % | server core busy % | peak RSS MiB | errors |" (conns ? " backend conns |" : "")
      print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|" (conns ? "---:|" : "")
      n = split(order, names, " ")
      for (k = 1; k <= n; k++) {
        t = names[k]; ratios = ""
        for (r in rounds) if (((r, "direct") in round_rps) && round_rps[r, "direct"] > 0) ratios = ratios " " round_rps[r, t] / round_rps[r, "direct"]
        ratio = (ratios == "") ? "-" : sprintf("%.2f", median(ratios))
        printf "| %s | %.0f | %s | %s | %.3f | %.3f | %s | %s | %.0f | %.0f | %s | %d |", t, median(rps[t]), minmax(rps[t]), ratio,
          median(p50[t]), median(p99[t]), (pc[t] == "" ? "-" : sprintf("%.2f", median(pc[t]))),
          (bc[t] == "" ? "-" : sprintf("%.2f", median(bc[t]))), median(cb[t]), median(sb[t]),
          ((t in rss) ? rss[t] : "-"), err[t]
        if (conns) printf " %s |", (bk[t] == "" ? "-" : sprintf("%.0f", median(bk[t])))
        printf "\n"
      }
    }' "$RES/rss.tsv" "$RES/runs.tsv"
  echo
  echo "x direct: median over rounds of (target req/s / direct req/s in the same round)."
  echo "CPU us/req: CPU time of the process group during the run / requests completed."
  echo "peak RSS: sum of VmHWM over the target's processes (nginx: master + workers), read before shutdown."
  if ((CONN_SAMPLE)); then
    echo "backend conns: established connections to 127.0.0.1:19001-19003 owned by the target's processes," \
      "counted ${SAMPLE_AT} s into each run (ss -p); median over rounds."
  fi
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
