#!/usr/bin/env bash
# The zero-downtime binary upgrade under wrk: `wrk -c 64` through sluicegate while
# `sluicegate run --upgrade` takes over every 2 s, 5 times. Fails unless wrk counts
# zero socket errors (connect, read, write, timeout) and zero non-2xx answers, every
# replaced process exits 0 after its drain, and the last process serves.
#   backend: one nginx (1 worker) answering "ok\n" on 127.0.0.1;
#   sluicegate: one listener, admin API and upgrade socket, on fixed local ports.
# Everything listens on 127.0.0.1; every process started here is stopped on exit.
# Needs: wrk, nginx, curl, python3.
# Usage: tests/e2e/upgrade.sh [path/to/sluicegate]   (default: target/debug/sluicegate,
# under $CARGO_TARGET_DIR when set; built when missing)
# UPGRADES (default 5), EVERY (seconds between upgrades, 2), CLIENTS (64).
set -euo pipefail

cd "$(dirname "$0")/../.."
# shellcheck source=tests/e2e/common.sh
source tests/e2e/common.sh
need_tools wrk nginx curl python3
BIN=$(sluicegate_binary "${1:-}")
UPGRADES=${UPGRADES:-5}
EVERY=${EVERY:-2}
CLIENTS=${CLIENTS:-64}
POLL=0.1
# nginx workers run as `nobody` when started by root, and must reach the prefix.
chmod 755 "$WORK"
mkdir -p "$WORK/tmp"
FAIL_LOGS=(wrk.out nginx.log)

BACKEND=$(free_port)
LISTEN=$(free_port)
ADMIN=$(free_port)
cat >"$WORK/nginx.conf" <<CONF
worker_processes 1;
pid nginx.pid;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 1000000;
    client_body_temp_path tmp/body;
    proxy_temp_path tmp/proxy;
    fastcgi_temp_path tmp/fastcgi;
    uwsgi_temp_path tmp/uwsgi;
    scgi_temp_path tmp/scgi;
    server {
        listen 127.0.0.1:$BACKEND;
        location / { default_type text/plain; return 200 "ok\n"; }
    }
}
CONF
nginx -p "$WORK" -c "$WORK/nginx.conf" -e "$WORK/nginx.log" \
    -g "daemon off; error_log $WORK/nginx.log warn;" >"$WORK/nginx.out" 2>&1 &
PIDS+=($!)
wait_for "the nginx backend" curl -sf "http://127.0.0.1:$BACKEND/"

cat >"$WORK/sluicegate.yaml" <<YAML
listeners:
  web:
    address: 127.0.0.1:$LISTEN
    routes:
      - cluster: app
clusters:
  app:
    backends:
      - address: 127.0.0.1:$BACKEND
admin:
  address: 127.0.0.1:$ADMIN
  upgrade_socket: upgrade.sock
YAML

# start N [--upgrade]: the Nth sluicegate process (log sluicegate-N.log, pid in
# PROCESS[N]).
declare -A PROCESS
start() {
    local n=$1; shift
    "$BIN" run -c "$WORK/sluicegate.yaml" "$@" >"$WORK/sluicegate-$n.log" 2>&1 &
    PROCESS[$n]=$!
    PIDS+=($!)
}
logged() { grep -q "$2" "$WORK/sluicegate-$1.log"; }

start 0
FAIL_LOGS+=(sluicegate-0.log)
wait_for "sluicegate /ready" curl -sf "http://127.0.0.1:$ADMIN/ready"

duration=$((UPGRADES * EVERY + 3))
wrk -t2 -c"$CLIENTS" -d"${duration}s" --latency "http://127.0.0.1:$LISTEN/" >"$WORK/wrk.out" 2>&1 &
WRK=$!
PIDS+=("$WRK")
for n in $(seq 1 "$UPGRADES"); do
    sleep "$EVERY"
    start "$n" --upgrade
    FAIL_LOGS+=("sluicegate-$n.log")
    DEADLINE=30 wait_for "process $n to take over" logged "$n" "took over from the running process"
    old=$((n - 1))
    # The replaced process drains and exits 0 (wait gives its status).
    status=0
    wait "${PROCESS[$old]}" || status=$?
    ((status == 0)) || fail "process $old exited $status after the upgrade"
    logged "$old" "took over; draining" || fail "process $old did not log the take-over"
    echo "upgrade $n: process ${PROCESS[$n]} took over, process ${PROCESS[$old]} drained and exited 0"
done
wait "$WRK" || fail "wrk failed"
cat "$WORK/wrk.out"
if grep -q "Socket errors" "$WORK/wrk.out"; then
    fail "wrk counted socket errors through the upgrades"
fi
if grep -q "Non-2xx" "$WORK/wrk.out"; then
    fail "wrk got non-2xx answers through the upgrades"
fi
requests=$(awk '/requests in/ {print $1}' "$WORK/wrk.out")
((requests > 0)) || fail "wrk made no request"
curl -sf "http://127.0.0.1:$LISTEN/" >/dev/null || fail "the last process does not serve"
echo "upgrade.sh: ok: $UPGRADES upgrades under wrk -c $CLIENTS, $requests requests, 0 errors"
