#!/usr/bin/env bash
# End-to-end look at the admin status page (`GET /` on the admin listener).
#
# Starts three `python3 -m http.server` backends, runs sluicegate in front of them with
# two clusters (one backend points at a closed port so it shows failures, one is marked
# down in the config), sends traffic, reloads once (a backend joins with slow start),
# drains a backend through the admin API and screenshots the page with headless
# Chromium, wide and narrow. Everything stays on 127.0.0.1.
#
# Usage: tests/e2e/status_page.sh [OUT.png]   (default: target/status_page.png; the
# narrow shot goes next to it as OUT-narrow.png)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
OUT="${1:-$ROOT/target/status_page.png}"
NARROW="${OUT%.png}-narrow.png"
BIN="$ROOT/target/release/sluicegate"

PIDS=()
WORK="$(mktemp -d)"
cleanup() {
    local pid
    for pid in "${PIDS[@]}"; do
        kill "$pid" 2>/dev/null || true
    done
    for pid in "${PIDS[@]}"; do
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$WORK"
}
trap cleanup EXIT

log() { printf '==> %s\n' "$*" >&2; }

# A port nobody listens on right now (bound then released by the kernel).
free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# Polls `url` until it answers 2xx, for up to 10 s.
wait_for() {
    local url="$1" i
    for i in $(seq 1 100); do
        if curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null; then
            return 0
        fi
        sleep 0.1
    done
    echo "timed out waiting for $url" >&2
    return 1
}

# Build unless there is no cargo but a binary (a stale binary would show an old page).
if command -v cargo >/dev/null 2>&1 || [[ ! -x "$BIN" ]]; then
    log "building sluicegate (release)"
    (cd "$ROOT" && cargo build --release -p sluicegate)
fi

if ! command -v chromium >/dev/null 2>&1; then
    log "installing chromium"
    SUDO=""
    [[ "$(id -u)" -ne 0 ]] && SUDO="sudo"
    $SUDO apt-get update
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y chromium
fi

# Backends: three static file servers.
mkdir -p "$WORK/www"
echo "hello from a python backend" >"$WORK/www/index.html"
B1="$(free_port)"; B2="$(free_port)"; B3="$(free_port)"; CLOSED="$(free_port)"
for port in "$B1" "$B2" "$B3"; do
    python3 -m http.server "$port" --bind 127.0.0.1 --directory "$WORK/www" \
        >"$WORK/backend-$port.log" 2>&1 &
    PIDS+=("$!")
done
LISTEN="$(free_port)"
ADMIN="$(free_port)"

# $1: extra YAML appended to the `web` cluster's backends (used by the reload).
write_config() {
    cat >"$WORK/sluicegate.yaml" <<EOF
access_log: false
drain_timeout: 2s
listeners:
  public:
    address: 127.0.0.1:$LISTEN
    protocol: http
    routes:
      - match: { path_prefix: /api }
        cluster: api
      - match: { path_prefix: / }
        cluster: web
clusters:
  web:
    policy: round_robin
    connect_timeout: 500ms
    response_timeout: 2s
    slow_start: 60s
    backends:
      - address: 127.0.0.1:$B1
        weight: 2
      - address: 127.0.0.1:$B2
      - address: 127.0.0.1:$CLOSED
$1
  api:
    policy: least_connections
    backends:
      - address: 127.0.0.1:$B3
      - address: 127.0.0.1:$B1
        down: true
admin:
  address: 127.0.0.1:$ADMIN
EOF
}
write_config ""

log "starting sluicegate (proxy 127.0.0.1:$LISTEN, admin 127.0.0.1:$ADMIN)"
"$BIN" run -c "$WORK/sluicegate.yaml" >"$WORK/sluicegate.log" 2>&1 &
PIDS+=("$!")
for port in "$B1" "$B2" "$B3"; do
    wait_for "http://127.0.0.1:$port/"
done
wait_for "http://127.0.0.1:$ADMIN/ready"

log "sending traffic"
for _ in $(seq 1 60); do
    curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$LISTEN/" || true
done
for _ in $(seq 1 25); do
    curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$LISTEN/api/items" || true
done

log "reloading: 127.0.0.1:$B3 joins web with slow start"
generation() {
    curl -fsS "http://127.0.0.1:$ADMIN/status" |
        python3 -c 'import json, sys; print(json.load(sys.stdin)["generation"])'
}
write_config "      - address: 127.0.0.1:$B3"
# The file watcher usually picks the change up; if it has not within 5 s, ask for it.
for _ in $(seq 1 50); do
    [[ "$(generation)" -ge 2 ]] && break
    sleep 0.1
done
if [[ "$(generation)" -lt 2 ]]; then
    curl -fsS -X POST "http://127.0.0.1:$ADMIN/reload" >&2
fi
for _ in $(seq 1 20); do
    curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$LISTEN/" || true
done

log "draining web/127.0.0.1:$B2"
curl -fsS -X POST "http://127.0.0.1:$ADMIN/backends/web/127.0.0.1:$B2/drain"
echo >&2

shoot() {
    local size="$1" out="$2"
    # Chromium writes its own logs on stderr; keep them out of the way.
    chromium --headless --no-sandbox --disable-gpu --hide-scrollbars \
        --window-size="$size" --screenshot="$out" "http://127.0.0.1:$ADMIN/" \
        >"$WORK/chromium.log" 2>&1 || { cat "$WORK/chromium.log" >&2; return 1; }
    [[ -s "$out" ]] || { echo "no screenshot at $out" >&2; return 1; }
    log "screenshot: $out"
}
mkdir -p "$(dirname "$OUT")"
shoot 1280,900 "$OUT"
shoot 800,900 "$NARROW"
