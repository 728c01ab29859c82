#!/usr/bin/env bash
# benches/instructions.sh: user-space instructions per request, counted by callgrind,
# for nginx, HAProxy (mode http), the floor, sluicegate and (--base) a previous build:
# the A/B that holds on a noisy machine. wrk figures on a shared 2-vCPU guest move ±25% between runs (nginx
# 10.8k-25.4k req/s inside one run, benches/BENCHMARKS.md), so a 3% change cannot be
# seen there; an instruction count repeats to 0.1% (two runs of the floor: 22,950 and
# 22,973 a request). It counts user space only: the kernel's share (the same system
# calls per request for every target: strace -c) is left to benches/load.sh.
#
# Method: one nginx backend (benches/load/conf/backend.conf, 127.0.0.1:19001-19003);
# each target runs under `valgrind --tool=callgrind --instr-atstart=no` pinned to one
# CPU (so sluicegate runs one worker, as in load.sh's one-core scenarios); h2load
# --h1 sends a warm-up of 2,000 requests, then instrumentation is switched on for
# exactly -n requests (-c connections, keep-alive) and switched off; the program total
# divided by -n is the figure. Callgrind output stays in the results directory, for
# callgrind_annotate (`--inclusive=yes`, `--tree=caller`).
#
# nginx runs as one process (`master_process off`, the bench's proxy config), HAProxy
# with one thread (`-db`): the same one-core shape as sluicegate's single worker.
#
# --tls puts every target behind TLS 1.3 (an ECDSA P-256 certificate made by openssl
# for the run; nginx and HAProxy on OpenSSL, sluicegate on rustls with ring; h2load
# offers ALPN http/1.1); the floor speaks no TLS and is left out. --handshakes gives
# every request a connection of its own (batches of -c connections, one request
# each), so the figure is the cost of a connection: accept, handshake, one request.
# --direct adds floor-direct (benches/floor_direct.rs): the floor with an HTTP/1
# client written into the connection's task instead of hyper's client task, which
# measures what hyper's client costs (plain HTTP, keep-alive only).
#
#   benches/instructions.sh                        # build, then all five targets
#   benches/instructions.sh --no-build --no-peers --base /tmp/sluicegate-old --top 25
#   benches/instructions.sh --no-build --tls -n 10000      # HTTPS, keep-alive
#   benches/instructions.sh --no-build --tls --handshakes -n 1000
#   benches/instructions.sh --no-build --pgo --base target/release/sluicegate
#
# --h2 sends the requests over cleartext HTTP/2 (prior knowledge; with --tls, ALPN
# h2), one stream at a time per connection, to sluicegate and --base only: the peers'
# bench configs and the floor speak HTTP/1 alone.
#
#   benches/instructions.sh --no-build --h2 --base /tmp/sluicegate-old
#
# --pgo counts the profile-guided build (benches/pgo.sh: target/pgo/sluicegate) as
# `sluicegate`. VALGRIND_OPTS="--cache-sim=yes --branch-sim=yes" adds callgrind's
# cache and branch simulation (instruction-cache misses: callgrind_annotate).
#
# Needs valgrind, nginx, haproxy, h2load and (--tls) openssl
# (apt-get install -y valgrind nginx haproxy nghttp2-client openssl).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
BIN_DIR="${CARGO_TARGET_DIR:-target}/release"
[[ $BIN_DIR == /* ]] || BIN_DIR="$ROOT/$BIN_DIR"
REQUESTS=20000
CONNS=64
URL_PATH=/
BUILD=1
BASE=""
TOP=0
PEERS=1
TLS=0
HANDSHAKES=0
DIRECT=0
PGO=0
H2=0
CPU=${CPU:-1}

die() { echo "instructions.sh: $*" >&2; exit 1; }
# The header comment above, whatever its length.
usage() { awk 'NR > 1 && /^#/ {sub(/^# ?/, ""); print; next} NR > 1 {exit}' "$0"; }

while (($#)); do
  case "$1" in
    -n) REQUESTS=${2:?-n wants a number}; shift 2 ;;
    -c) CONNS=${2:?-c wants a number}; shift 2 ;;
    --path) URL_PATH=${2:?--path wants a path}; shift 2 ;;
    --base) BASE=${2:?--base wants a binary}; shift 2 ;;
    --top) TOP=${2:?--top wants a number}; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --no-peers) PEERS=0; shift ;;
    --tls) TLS=1; shift ;;
    --handshakes) HANDSHAKES=1; shift ;;
    --direct) DIRECT=1; shift ;;
    --pgo) PGO=1; shift ;;
    --h2) H2=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done
for v in REQUESTS CONNS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a whole number of at least 1"
done
[[ $TOP =~ ^[0-9]+$ ]] || die "--top must be a whole number"
((H2 == 0 || HANDSHAKES == 0)) || die "--h2 with --handshakes is not measured"
# The peers' configs and the floor serve HTTP/1 only.
((H2)) && PEERS=0
for tool in valgrind callgrind_control callgrind_annotate nginx h2load ss taskset; do
  command -v "$tool" >/dev/null || die "missing $tool (apt-get install -y valgrind nginx haproxy nghttp2-client iproute2 util-linux)"
done
((TLS == 0)) || command -v openssl >/dev/null || die "missing openssl (apt-get install -y openssl)"
((PEERS == 0)) || command -v haproxy >/dev/null || die "missing haproxy (apt-get install -y haproxy), or pass --no-peers"
if [[ -n $BASE ]]; then
  [[ $BASE == /* ]] || BASE="$PWD/$BASE"
  [[ -x $BASE && -f $BASE ]] || die "--base $BASE: not an executable file"
fi

port_busy() { [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]; }
for port in 18081 18082 18090 18091 18095 18096 18443 18444 18453 18454 19001 19002 19003 19901 19902; do
  port_busy "$port" && die "127.0.0.1:$port is already in use; stop whatever holds it first"
done

if ((BUILD)); then
  cargo build --release -p sluicegate -p sluicegate-benches --bin sluicegate --bin floor --bin floor_direct
fi
[[ -x $BIN_DIR/sluicegate && -x $BIN_DIR/floor ]] || die "no binaries in $BIN_DIR (drop --no-build)"
SLUICEGATE=$BIN_DIR/sluicegate
if ((PGO)); then
  ((BUILD)) && benches/pgo.sh
  SLUICEGATE=$ROOT/target/pgo/sluicegate
  [[ -x $SLUICEGATE ]] || die "no $SLUICEGATE (run benches/pgo.sh, or drop --no-build)"
fi

OUT="${RESULTS_DIR:-target/bench-results}/instructions-$(date -u +%Y%m%dT%H%M%SZ)"
[[ $OUT == /* ]] || OUT="$ROOT/$OUT"
mkdir -p "$OUT/backend/logs" "$OUT/backend/tmp" "$OUT/backend/conf" "$OUT/backend/www"
head -c 4096 /dev/zero | tr '\0' x >"$OUT/backend/www/4k"
cp benches/load/conf/backend.conf "$OUT/backend/conf/"
mkdir -p "$OUT/nginx/logs" "$OUT/nginx/tmp" "$OUT/nginx/conf"
sed 's/@WORKERS@/1/' benches/load/conf/nginx-proxy.conf >"$OUT/nginx/conf/nginx-proxy.conf"
sed 's/@THREADS@/1/' benches/load/conf/haproxy-http.cfg >"$OUT/haproxy-http.cfg"
sed -e 's/127\.0\.0\.1:18090/127.0.0.1:18091/g' -e 's/127\.0\.0\.1:19901/127.0.0.1:19902/g' \
  benches/bench.yaml >"$OUT/bench-base.yaml"
if ((TLS)); then
  # The same targets on TLS ports: nginx 18443, HAProxy 18444, sluicegate 18453 (and
  # base 18454), one certificate for all (benches/load/tls.sh).
  # shellcheck source=benches/load/tls.sh
  source benches/load/tls.sh
  tls_configs "$OUT/tls" "$ROOT"
fi

PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do timeout 10 tail --pid="$pid" -f /dev/null 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true; done
}
trap cleanup EXIT

wait_port() { # port pid name
  local t
  for ((t = 0; t < 600; t++)); do
    port_busy "$1" && return 0
    [[ -d /proc/$2 ]] || die "$3 exited during start-up; see $OUT/$3.log"
    sleep 0.1
  done
  die "$3 did not listen on 127.0.0.1:$1 within 60 s"
}

nginx -p "$OUT/backend" -c "$OUT/backend/conf/backend.conf" -g 'daemon off;' >"$OUT/backend.log" 2>&1 &
PIDS+=($!)
wait_port 19001 "${PIDS[-1]}" backend

# drive URL N OUT: N requests to URL (keep-alive over -c connections, or with
# --handshakes a connection each, in batches of -c); checks that every one got a 2xx.
drive() {
  local url=$1 n=$2 out=$3 left=$2 batch ok codes proto=(--h1)
  ((H2)) && proto=()
  : >"$out"
  if ((HANDSHAKES)); then
    while ((left > 0)); do
      batch=$((left < CONNS ? left : CONNS))
      timeout 300 h2load "${proto[@]}" -n "$batch" -c "$batch" -t 1 "$url" >>"$out"
      left=$((left - batch))
    done
  else
    timeout 600 h2load "${proto[@]}" -n "$n" -c "$CONNS" -t 1 "$url" >>"$out"
  fi
  ok=$(awk '/^requests:/ {s += $(NF - 7)} END {print s + 0}' "$out")
  codes=$(awk '/^status codes:/ {s += $3} END {print s + 0}' "$out")
  [[ $ok == "$n" && $codes == "$n" ]] || die "$url: $ok of $n requests succeeded, $codes got a 2xx; see $out"
}

# count NAME PORT CMD...: prints NAME, its instructions per request, its callgrind file.
count() {
  local name=$1 port=$2 pid file total url
  shift 2
  url="http://127.0.0.1:$port$URL_PATH"
  ((TLS)) && url="https://127.0.0.1:$port$URL_PATH"
  taskset -c "$CPU" valgrind --tool=callgrind --instr-atstart=no \
    --callgrind-out-file="$OUT/callgrind.$name" "$@" >"$OUT/$name.log" 2>&1 &
  pid=$!
  PIDS+=("$pid")
  wait_port "$port" "$pid" "$name"
  drive "$url" 2000 "$OUT/$name.warmup"
  callgrind_control -i on "$pid" >/dev/null
  drive "$url" "$REQUESTS" "$OUT/$name.h2load"
  callgrind_control -i off "$pid" >/dev/null
  callgrind_control -d "$pid" >/dev/null
  kill -TERM "$pid"
  timeout 30 tail --pid="$pid" -f /dev/null || kill -KILL "$pid"
  # The dump taken while running is the largest part file (the exit dump holds only
  # what ran after instrumentation was switched off: nothing).
  file=$(ls -S "$OUT/callgrind.$name".* | head -1)
  total=$(callgrind_annotate "$file" 2>/dev/null | awk '/PROGRAM TOTALS/ {gsub(",", "", $1); print $1; exit}')
  [[ -n $total ]] || die "$name: no instruction total in $file"
  echo "$name $((total / REQUESTS)) $file"
}

RESULTS=()
if ((TLS)); then
  if ((PEERS)); then
    RESULTS+=("$(count nginx 18443 nginx -p "$OUT/tls/nginx" -c "$OUT/tls/nginx/conf/nginx.conf" -g 'daemon off; master_process off;')")
    RESULTS+=("$(count haproxy-http 18444 haproxy -db -f "$OUT/tls/haproxy.cfg")")
  fi
  RESULTS+=("$(count sluicegate 18453 "$SLUICEGATE" run -c "$OUT/tls/sluicegate.yaml")")
  if [[ -n $BASE ]]; then
    RESULTS+=("$(count base 18454 "$BASE" run -c "$OUT/tls/base.yaml")")
  fi
else
  if ((PEERS)); then
    RESULTS+=("$(count nginx 18081 nginx -p "$OUT/nginx" -c "$OUT/nginx/conf/nginx-proxy.conf" -g 'daemon off; master_process off;')")
    RESULTS+=("$(count haproxy-http 18082 haproxy -db -f "$OUT/haproxy-http.cfg")")
  fi
  if ((H2 == 0)); then
    RESULTS+=("$(count floor 18095 "$BIN_DIR/floor" 127.0.0.1:18095 127.0.0.1:19001 127.0.0.1:19002 127.0.0.1:19003)")
  fi
  if ((DIRECT && H2 == 0)); then
    RESULTS+=("$(count floor-direct 18096 "$BIN_DIR/floor_direct" 127.0.0.1:18096 127.0.0.1:19001 127.0.0.1:19002 127.0.0.1:19003)")
  fi
  RESULTS+=("$(count sluicegate 18090 "$SLUICEGATE" run -c "$ROOT/benches/bench.yaml")")
  if [[ -n $BASE ]]; then
    RESULTS+=("$(count base 18091 "$BASE" run -c "$OUT/bench-base.yaml")")
  fi
fi

floor=$(printf '%s\n' "${RESULTS[@]}" | awk '$1 == "floor" {print $2}')
nginx=$(printf '%s\n' "${RESULTS[@]}" | awk '$1 == "nginx" {print $2}')
ratio() { [[ -n $2 ]] && awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}' || echo -; }
{
  echo "# instructions per request (callgrind, user space)"
  echo
  echo "Command: benches/instructions.sh -n $REQUESTS -c $CONNS --path $URL_PATH$( ((TLS)) && echo ' --tls')$( ((HANDSHAKES)) && echo ' --handshakes')$( ((H2)) && echo ' --h2')${BASE:+ --base $BASE};" \
    "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown); $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo
  echo "| target | instructions / request | x floor | x nginx |"
  echo "|---|---:|---:|---:|"
  for r in "${RESULTS[@]}"; do
    read -r name ir _ <<<"$r"
    printf '| %s | %d | %s | %s |\n' "$name" "$ir" "$(ratio "$ir" "$floor")" "$(ratio "$ir" "$nginx")"
  done
} | tee "$OUT/summary.md"

if ((TOP)); then
  file=$(printf '%s\n' "${RESULTS[@]}" | awk '$1 == "sluicegate" {print $3}')
  echo
  echo "sluicegate, top $TOP functions by own instructions per request:"
  callgrind_annotate "$file" 2>/dev/null | awk -v n="$REQUESTS" -v top="$TOP" '
    /file:function/ {on = 1; next}
    on && /^ *[0-9,]+ / {x = $1; gsub(",", "", x); sub(/^ *[0-9,]+ +\([^)]*\) +/, ""); printf "%8d  %s\n", x / n, substr($0, 1, 150); if (++k == top) exit}'
fi
echo "results: $OUT"
