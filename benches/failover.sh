#!/usr/bin/env bash
# Failover under load: three nginx backends (one process each, so one can be killed),
# sluicegate in front with active checks and outlier ejection, wrk -c64 for 30 s. At 8 s
# backend 2 is killed (SIGKILL: its connections are reset), at 18 s it is started again.
# Runs with retries on (two budgets) and off; prints wrk's totals and errors and,
# from polling /status every 100 ms, when backend 2 left and rejoined the rotation.
#
#   benches/failover.sh            # both runs; needs wrk, nginx, curl, python3
#   DURATION=30 KILL_AT=8 RESTART_AFTER=10 benches/failover.sh
#
# Everything listens on 127.0.0.1 (ports 18190, 19111-19113, admin 19191) and every
# process it starts is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/target/release/sluicegate}
DURATION=${DURATION:-30}
KILL_AT=${KILL_AT:-8}
RESTART_AFTER=${RESTART_AFTER:-10}
CONNS=${CONNS:-64}
WORK=$(mktemp -d /tmp/sg-failover.XXXXXX)
PIDS=()

cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for n in 1 2 3; do
        [ -f "$WORK/b$n/nginx.pid" ] && kill "$(cat "$WORK/b$n/nginx.pid")" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

[ -x "$BIN" ] || (cd "$ROOT" && cargo build --release -q)

backend() { # $1 = 1..3: one single-process nginx on 127.0.0.1:1911$1
    local dir="$WORK/b$1"
    mkdir -p "$dir/logs" "$dir/tmp"
    cat > "$dir/nginx.conf" <<EOF
daemon off; master_process off; worker_processes 1; pid nginx.pid;
error_log logs/error.log warn;
events { worker_connections 4096; }
http {
    access_log off; keepalive_requests 1000000; keepalive_timeout 75s;
    client_body_temp_path tmp/b; proxy_temp_path tmp/p; fastcgi_temp_path tmp/f;
    uwsgi_temp_path tmp/u; scgi_temp_path tmp/s;
    server { listen 127.0.0.1:1911$1 reuseport; location / { return 200 "hello\n"; } }
}
EOF
    nginx -p "$dir" -c "$dir/nginx.conf" &
    echo $! > "$dir/run.pid"
}

wait_port() { # $1 = port
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$1/" && return 0
        sleep 0.1
    done
    echo "port $1 did not come up" >&2
    return 1
}

config() { # $1 = retries line (or empty)
    cat > "$WORK/sg.yaml" <<EOF
listeners:
  front:
    address: 127.0.0.1:18190
    routes:
      - cluster: app
clusters:
  app:
    policy: round_robin
    connect_timeout: 1s
    health_check: { path: /healthz, interval: 1s, timeout: 500ms, rise: 2, fall: 3 }
    outlier: { consecutive_failures: 5, base_ejection: 5s }
$1
    backends:
      - address: 127.0.0.1:19111
      - address: 127.0.0.1:19112
      - address: 127.0.0.1:19113
admin:
  address: 127.0.0.1:19191
EOF
}

run() { # $1 = label, $2 = retries line
    config "$2"
    for n in 1 2 3; do backend "$n"; done
    for n in 1 2 3; do wait_port "1911$n"; done
    "$BIN" run -c "$WORK/sg.yaml" > "$WORK/sg-$1.log" 2>&1 &
    local sg=$!
    PIDS+=("$sg")
    wait_port 18190
    # Poll backend 2's state every 100 ms: "elapsed state" lines.
    python3 - "$DURATION" > "$WORK/states-$1.txt" <<'EOF' &
import json, sys, time, urllib.request
start, end = time.time(), time.time() + float(sys.argv[1]) + 2
last = None
while time.time() < end:
    try:
        status = json.load(urllib.request.urlopen("http://127.0.0.1:19191/status", timeout=1))
        state = [b["state"] for c in status["clusters"] for b in c["backends"] if b["address"].endswith(":19112")][0]
    except Exception as e:
        state = "?"
    if state != last:
        print(time.strftime("%H:%M:%S", time.gmtime()) + f"{time.time() % 1:.3f}"[1:] + f" {state}", flush=True)
        last = state
    time.sleep(0.1)
EOF
    local poller=$!
    wrk -t1 -c"$CONNS" -d"${DURATION}s" --latency http://127.0.0.1:18190/ > "$WORK/wrk-$1.txt" &
    local load=$!
    local t0=$(date +%s.%N)
    sleep "$KILL_AT"
    kill -KILL "$(cat "$WORK/b2/run.pid")"
    local killed=$(date +%s.%N)
    sleep "$RESTART_AFTER"
    backend 2
    local restarted=$(date +%s.%N)
    wait "$load"
    wait "$poller" || true
    curl -s http://127.0.0.1:19191/metrics | grep -E '^sluicegate_(retries_total|retry_budget_exhausted_total|outlier_ejections_total|requests_total)' \
        | grep -v ' 0$' > "$WORK/metrics-$1.txt" || true
    kill "$sg"; wait "$sg" 2>/dev/null || true
    for n in 1 2 3; do kill "$(cat "$WORK/b$n/run.pid")" 2>/dev/null || true; done
    sleep 0.5
    echo "== retries $1 =="
    grep -E "requests in|Non-2xx|Socket errors|Requests/sec|99%" "$WORK/wrk-$1.txt" || true
    grep -q "Non-2xx" "$WORK/wrk-$1.txt" || echo "  Non-2xx or 3xx responses: 0"
    grep -q "Socket errors" "$WORK/wrk-$1.txt" || echo "  Socket errors: none"
    printf "  killed at %s, restarted at %s (UTC; %.2f s and %.2f s after wrk started)\n" \
        "$(date -u -d "@$killed" +%T.%3N)" "$(date -u -d "@$restarted" +%T.%3N)" \
        "$(awk "BEGIN{print $killed - $t0}")" "$(awk "BEGIN{print $restarted - $t0}")"
    echo "  backend 2 as /status showed it (UTC):"
    sed 's/^/    /' "$WORK/states-$1.txt"
    grep -E "unhealthy|healthy again|ejected|readmitted" "$WORK/sg-$1.log" | sed 's/\x1b\[[0-9;]*m//g; s/^/    log: /' || true
    sed 's/^/    metric: /' "$WORK/metrics-$1.txt"
}

# Three runs: retries with the default budget (20% of the requests in flight, at least
# 3), retries with a budget of 100%, and no retries. A third of 64 busy connections
# failing at once needs more than 20%: the budget then refuses some retries on purpose.
run on-budget20 "    retries: { attempts: 2 }"
run on-budget100 "    retries: { attempts: 2, budget: 100% }"
run off ""
