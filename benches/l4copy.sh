#!/usr/bin/env bash
# benches/l4copy.sh: the three layer-4 copies of benches/l4copy.rs (sluicegate's,
# tokio's copy_bidirectional, splice(2) through a pipe) side by side, with HAProxy
# mode tcp beside them, each forwarder pinned alone on one CPU:
#
#   small  wrk -c 64 through each, 6-byte and 4 KiB bodies (../shared/bench/run.sh):
#          req/s and proxy CPU µs per request, the traffic of the load benchmark;
#   bulk   iperf3 through each, one stream for BULK_SECONDS (8) each way: Gbit/s
#          and proxy CPU seconds per GiB, where splice's zero copy should tell.
#
#   benches/l4copy.sh                 # build, then both
#   benches/l4copy.sh --no-build --bulk-only
#
# Everything listens on 127.0.0.1; every process started here is stopped on exit.
# Needs: wrk, nginx, haproxy, iperf3, curl (apt-get install -y wrk nginx haproxy iperf3 curl).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN_SH=${RUN_SH:-$ROOT/../shared/bench/run.sh}
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
BULK_SECONDS=${BULK_SECONDS:-8}
BUILD=1 SMALL=1 BULK=1
for arg in "$@"; do
  case $arg in
    --no-build) BUILD=0 ;;
    --bulk-only) SMALL=0 ;;
    --small-only) BULK=0 ;;
    *) echo "usage: benches/l4copy.sh [--no-build] [--bulk-only|--small-only]" >&2; exit 2 ;;
  esac
done
die() { echo "l4copy.sh: $*" >&2; exit 1; }
for tool in wrk nginx haproxy iperf3 curl taskset; do
  command -v "$tool" >/dev/null || die "missing $tool (apt-get install -y wrk nginx haproxy iperf3 curl)"
done
if (( BUILD )); then
  cargo build --release -p sluicegate-benches --bin l4copy
fi
BIN=$TARGET/release/l4copy
[[ -x $BIN ]] || die "no binary at $BIN (drop --no-build)"
MODES=(ours tokio splice)

if (( SMALL )); then
  for path in / /4k; do
    echo "==== small: wrk -c 64, path $path"
    args=()
    port=18100
    for mode in "${MODES[@]}"; do
      args+=("l4copy-$mode=http://127.0.0.1:$port" --start "l4copy-$mode=$BIN $mode 127.0.0.1:$port 127.0.0.1:19001")
      port=$((port + 1))
    done
    bash "$RUN_SH" --peers haproxy-tcp --path "$path" -r 3 -d 8 "${args[@]}"
  done
fi

(( BULK )) || exit 0
WORK=$(mktemp -d)
PIDS=()
cleanup() {
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$WORK"
}
trap cleanup EXIT
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }
wait_port() {
  for _ in $(seq 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  die "nothing listens on 127.0.0.1:$1"
}

IPERF=15201
taskset -c 0 iperf3 -s -B 127.0.0.1 -p "$IPERF" >"$WORK/iperf-server.log" 2>&1 &
PIDS+=($!)
cat >"$WORK/haproxy.cfg" <<CFG
global
    nbthread 1
defaults
    mode tcp
    timeout connect 5s
    timeout client 60s
    timeout server 60s
listen bulk
    bind 127.0.0.1:18110
    server iperf 127.0.0.1:$IPERF
CFG
declare -A FORWARDER_PORT=([haproxy-tcp]=18110) PID_OF=()
port=18111
for mode in "${MODES[@]}"; do
  taskset -c 1 "$BIN" "$mode" "127.0.0.1:$port" "127.0.0.1:$IPERF" &
  PIDS+=($!)
  PID_OF[$mode]=$!
  FORWARDER_PORT[$mode]=$port
  port=$((port + 1))
done
taskset -c 1 haproxy -db -f "$WORK/haproxy.cfg" >"$WORK/haproxy.log" 2>&1 &
PIDS+=($!)
PID_OF[haproxy-tcp]=$!
wait_port "$IPERF"
for name in "${!FORWARDER_PORT[@]}"; do wait_port "${FORWARDER_PORT[$name]}"; done

HZ=$(getconf CLK_TCK)
printf '\n==== bulk: iperf3, one stream, %s s each way, forwarder on CPU 1\n' "$BULK_SECONDS"
printf '| forwarder | direction | Gbit/s | proxy CPU s per GiB |\n|---|---|---:|---:|\n'
for name in haproxy-tcp "${MODES[@]}"; do
  for direction in up down; do
    reverse=()
    [[ $direction == down ]] && reverse=(-R)
    before=$(cpu_ticks "${PID_OF[$name]}")
    taskset -c 0 iperf3 -c 127.0.0.1 -p "${FORWARDER_PORT[$name]}" -t "$BULK_SECONDS" "${reverse[@]}" -J \
      >"$WORK/$name-$direction.json"
    after=$(cpu_ticks "${PID_OF[$name]}")
    python3 - "$WORK/$name-$direction.json" "$((after - before))" "$HZ" "$name" "$direction" <<'PY'
import json, sys
result = json.load(open(sys.argv[1]))["end"]["sum_received"]
ticks, hz, name, direction = int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], sys.argv[5]
gib = result["bytes"] / 2**30
print(f"| {name} | {direction} | {result['bits_per_second'] / 1e9:.2f} | {ticks / hz / gib:.3f} |")
PY
  done
done
