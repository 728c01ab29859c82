#!/usr/bin/env bash
# Failover under load, swept over concurrency: three single-process nginx backends,
# sluicegate in front, `wrk -c N` for each N in CLIENTS. KILL_AT s into each run backend 2
# is killed (SIGKILL: its connections are reset; or SIGSTOP in the `stop` scenario: it
# accepts connections and never answers), RESTART_AFTER s later it is started again
# (SIGCONT). Prints one table row per scenario and concurrency: requests, non-2xx,
# socket errors, retries and budget refusals (from /metrics), and for `stop` the
# requests that were in flight on backend 2 when it stopped (from /status).
#
# Scenarios (SCENARIOS, default all three):
#   kill-default  default retry settings (`retries: {}`), checks every 200 ms, fall 2
#   kill-demo     configs/demo.yaml's `web` cluster as it ships
#   stop          as kill-default, plus `response_timeout: 1s`; SIGSTOP instead of SIGKILL
#
#   benches/failover.sh            # needs wrk, nginx, curl, python3
#   CLIENTS="4 64" DURATION=10 KILL_AT=3 RESTART_AFTER=4 SCENARIOS=stop benches/failover.sh
#
# Everything listens on 127.0.0.1 (ports 18190, 19111-19113, admin 19191) and every
# process it starts is stopped on exit.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${BIN:-$ROOT/target/release/sluicegate}
DURATION=${DURATION:-10}
KILL_AT=${KILL_AT:-3}
RESTART_AFTER=${RESTART_AFTER:-4}
CLIENTS=${CLIENTS:-"1 4 16 64 256"}
SCENARIOS=${SCENARIOS:-"kill-default kill-demo stop"}
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

config() { # $1 = scenario
    case "$1" in
    kill-demo)
        sed -e 's/127.0.0.1:8080/127.0.0.1:18190/; s/127.0.0.1:9901/127.0.0.1:19191/' \
            -e 's/127.0.0.1:900\([123]\)/127.0.0.1:1911\1/; s/^access_log: true/access_log: false/' \
            "$ROOT/configs/demo.yaml" > "$WORK/sg.yaml"
        return ;;
    stop) local timeout="    response_timeout: 1s" ;;
    *) local timeout="" ;;
    esac
    cat > "$WORK/sg.yaml" <<EOF
listeners:
  front:
    address: 127.0.0.1:18190
    routes:
      - cluster: web
clusters:
  web:
    policy: round_robin
    connect_timeout: 1s
$timeout
    health_check: { path: /healthz, interval: 200ms, fall: 2 }
    retries: {}
    backends:
      - address: 127.0.0.1:19111
      - address: 127.0.0.1:19112
      - address: 127.0.0.1:19113
admin:
  address: 127.0.0.1:19191
EOF
}

metric() { # $1 = metric name: the sum of its series in $WORK/metrics.txt
    awk -v m="$1" '$1 ~ "^"m"({|$)" { s += $2 } END { print s + 0 }' "$WORK/metrics.txt"
}

in_flight_b2() { # requests in flight on backend 2, from /status
    curl -s http://127.0.0.1:19191/status | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(sum(b["in_flight"] for c in s["clusters"] for b in c["backends"] if b["address"].endswith(":19112")))'
}

run() { # $1 = scenario, $2 = clients
    config "$1"
    for n in 1 2 3; do backend "$n"; done
    for n in 1 2 3; do wait_port "1911$n"; done
    "$BIN" run -c "$WORK/sg.yaml" > "$WORK/sg.log" 2>&1 &
    local sg=$!
    PIDS+=("$sg")
    wait_port 18190
    local threads=$(( $2 < 2 ? 1 : 2 ))
    wrk -t"$threads" -c"$2" -d"${DURATION}s" http://127.0.0.1:18190/ > "$WORK/wrk.txt" &
    local load=$! b2 stuck=-
    b2=$(cat "$WORK/b2/run.pid")
    sleep "$KILL_AT"
    if [ "$1" = stop ]; then
        kill -STOP "$b2"
        sleep 0.05
        stuck=$(in_flight_b2)
        sleep "$RESTART_AFTER"
        kill -CONT "$b2"
    else
        kill -KILL "$b2"
        sleep "$RESTART_AFTER"
        backend 2
    fi
    wait "$load"
    curl -s http://127.0.0.1:19191/metrics | grep -v '^#' > "$WORK/metrics.txt" || true
    kill "$sg"; wait "$sg" 2>/dev/null || true
    for n in 1 2 3; do kill -CONT "$(cat "$WORK/b$n/run.pid")" 2>/dev/null || true; done
    for n in 1 2 3; do kill "$(cat "$WORK/b$n/run.pid")" 2>/dev/null || true; done
    sleep 0.5
    local requests non2xx socket
    requests=$(awk '/requests in/ { print $1 }' "$WORK/wrk.txt")
    non2xx=$(awk '/Non-2xx/ { print $NF }' "$WORK/wrk.txt")
    socket=$(awk '/Socket errors/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$WORK/wrk.txt")
    printf "| %s | %s | %s | %s | %s | %s | %s | %s |\n" "$1" "$2" "${requests:-?}" \
        "${non2xx:-0}" "${socket:-0}" "$(metric sluicegate_retries_total)" \
        "$(metric sluicegate_retry_budget_exhausted_total)" "$stuck"
    grep -E "skipped|unhealthy|healthy again|back in rotation|ejected|readmitted" "$WORK/sg.log" \
        | sed 's/\x1b\[[0-9;]*m//g; s/^/    log: /' | head -8 >&2 || true
}

echo "| scenario | clients | requests | non-2xx | socket errors | retries | budget refusals | in flight on b2 at SIGSTOP |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for scenario in $SCENARIOS; do
    for clients in $CLIENTS; do run "$scenario" "$clients"; done
done
