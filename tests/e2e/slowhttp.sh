#!/usr/bin/env bash
# Slow clients against sluicegate with slowhttptest (RELIABILITY.md LIM-04, LIM-05),
# while a well-behaved client keeps asking:
#   1. slowloris (-H): 300 connections trickling a header line every second, past
#      the listener's header_read_timeout (3 s here, a total deadline for the head);
#   2. slow body (-B): 200 POSTs sending a body piece every 5 s, past its
#      request_body_timeout (3 s between reads).
# Each phase passes when the proxy cut the slow connections (slowhttptest's own CSV
# counts them as closed: at least 90% of those it opened) and the control client, a
# curl every 0.1 s through the same listener, got 200 every time. The control
# client's count is printed next to a run of the same length without attackers.
# Everything listens on 127.0.0.1; every process started here is stopped on exit.
# Needs: slowhttptest, python3, curl. Usage: tests/e2e/slowhttp.sh [path/to/sluicegate]
set -euo pipefail

cd "$(dirname "$0")/../.."
BIN=${1:-${CARGO_TARGET_DIR:-target}/debug/sluicegate}
if [[ ! -x $BIN ]]; then
    cargo build -q -p sluicegate
fi
for tool in slowhttptest python3 curl timeout; do
    command -v "$tool" >/dev/null || { echo "slowhttp.sh: $tool is missing" >&2; exit 1; }
done

# shellcheck source=tests/e2e/common.sh
source tests/e2e/common.sh
POLL=0.2
LENGTH=12

FAIL_LOGS=(sluicegate.log control.log)

python_backend
LISTEN=$(free_port)
ADMIN=$(free_port)
cat >"$WORK/sluicegate.yaml" <<YAML
listeners:
  web:
    address: 127.0.0.1:$LISTEN
    header_read_timeout: 3s
    request_body_timeout: 3s
    routes:
      - cluster: app
clusters:
  app:
    backends:
      - address: 127.0.0.1:$BACKEND
admin:
  address: 127.0.0.1:$ADMIN
YAML
start_sluicegate "$BIN"

# control SECONDS: a GET every 0.1 s for SECONDS; prints "ok failed".
control() {
    local end=$((SECONDS + $1)) ok=0 failed=0 code
    while ((SECONDS < end)); do
        code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "http://127.0.0.1:$LISTEN/" || true)
        if [[ $code == 200 ]]; then ok=$((ok + 1)); else failed=$((failed + 1)); echo "got $code" >>"$WORK/control.log"; fi
        sleep 0.1
    done
    echo "$ok $failed"
}

# closed_share CSV: the share (percent) of the connections slowhttptest opened that
# the server closed, from the last line of its CSV (seconds,closed,pending,connected,
# service available).
closed_share() {
    python3 - "$1" <<'PY'
import csv, sys
rows = [r for r in csv.reader(open(sys.argv[1])) if r and r[0].strip().isdigit()]
closed, pending, connected = (int(rows[-1][i]) for i in (1, 2, 3))
opened = closed + connected
print(100 * closed // opened if opened else 0)
PY
}

read -r base_ok base_failed < <(control "$LENGTH")
((base_failed == 0)) || fail "the control client failed $base_failed times without attackers"

# phase NAME ARGS...: slowhttptest with ARGS next to the control client.
phase() {
    local name=$1; shift
    timeout $((LENGTH + 30)) slowhttptest "$@" -l "$LENGTH" -u "http://127.0.0.1:$LISTEN/" \
        -g -o "$WORK/$name" >"$WORK/$name.out" 2>&1 &
    local attacker=$!
    PIDS+=("$attacker")
    sleep 1
    local ok failed
    read -r ok failed < <(control $((LENGTH - 2)))
    wait "$attacker" || true
    [[ -s $WORK/$name.csv ]] || { cat "$WORK/$name.out" >&2; fail "$name: slowhttptest wrote no statistics"; }
    local share
    share=$(closed_share "$WORK/$name.csv")
    echo "$name: the proxy closed $share% of the slow connections; control client: $ok ok, $failed failed in $((LENGTH - 2)) s (without attackers: $base_ok ok in $LENGTH s)"
    ((failed == 0)) || fail "$name: the well-behaved client failed $failed times"
    ((share >= 90)) || { tail -n 5 "$WORK/$name.csv" >&2; fail "$name: only $share% of the slow connections were cut"; }
}

phase slowloris -H -c 300 -i 1 -r 100 -x 10
phase slowbody -B -c 200 -i 5 -r 100 -s 8192 -x 10
echo "slowhttp.sh: ok"
