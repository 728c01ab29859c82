#!/usr/bin/env bash
# End-to-end check of sluicegate's metrics with a real Prometheus server:
#   1. `promtool check metrics` lints a real scrape of /metrics, served with the
#      text format's content type (text/plain; version=0.0.4);
#   2. Prometheus scrapes the admin endpoint every second while traffic flows, and its
#      HTTP API must return rate(sluicegate_requests_total[10s]) > 0 and up == 1.
# Everything listens on 127.0.0.1; every process started here is stopped on exit.
# Needs: prometheus + promtool (Debian package `prometheus`), python3, curl.
# Usage: tests/e2e/prometheus.sh [path/to/sluicegate]   (default: target/debug/sluicegate)
set -euo pipefail

cd "$(dirname "$0")/../.."
BIN=${1:-target/debug/sluicegate}
if [[ ! -x $BIN ]]; then
    cargo build -q -p sluicegate
fi
for tool in prometheus promtool python3 curl; do
    command -v "$tool" >/dev/null || { echo "prometheus.sh: $tool is missing" >&2; exit 1; }
done

# shellcheck source=tests/e2e/common.sh
source tests/e2e/common.sh

BACKEND=$(free_port)
mkdir -p "$WORK/www" && echo hello > "$WORK/www/index.html"
python3 -m http.server "$BACKEND" --bind 127.0.0.1 --directory "$WORK/www" >"$WORK/backend.log" 2>&1 &
PIDS+=($!)

LISTEN=$(free_port)
ADMIN=$(free_port)
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
YAML
"$BIN" run -c "$WORK/sluicegate.yaml" >"$WORK/sluicegate.log" 2>&1 &
PIDS+=($!)
wait_for "sluicegate /ready" curl -sf "http://127.0.0.1:$ADMIN/ready"
wait_for "the backend" curl -sf "http://127.0.0.1:$BACKEND/"

# Some traffic, including a 404 from the backend, then lint a real scrape.
for _ in $(seq 20); do curl -s -o /dev/null "http://127.0.0.1:$LISTEN/"; done
curl -s -o /dev/null "http://127.0.0.1:$LISTEN/missing"
curl -sf -D "$WORK/scrape.head" "http://127.0.0.1:$ADMIN/metrics" >"$WORK/scrape.txt"
# The text format's own content type (Prometheus picks the parser by it).
if ! grep -qi '^content-type: text/plain; version=0.0.4; charset=utf-8' "$WORK/scrape.head"; then
    echo "prometheus.sh: /metrics is not served as text/plain; version=0.0.4:" >&2
    cat "$WORK/scrape.head" >&2
    exit 1
fi
echo "content type: ok"
if ! promtool check metrics <"$WORK/scrape.txt"; then
    echo "prometheus.sh: promtool check metrics failed on:" >&2
    cat "$WORK/scrape.txt" >&2
    exit 1
fi
echo "promtool check metrics: ok ($(grep -vc '^#' "$WORK/scrape.txt") series)"

PROM=$(free_port)
cat >"$WORK/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: sluicegate
    static_configs:
      - targets: ["127.0.0.1:$ADMIN"]
YAML
prometheus --config.file="$WORK/prometheus.yml" --storage.tsdb.path="$WORK/tsdb" \
    --web.listen-address="127.0.0.1:$PROM" >"$WORK/prometheus.log" 2>&1 &
PIDS+=($!)
DEADLINE=60 wait_for "prometheus" curl -sf "http://127.0.0.1:$PROM/-/ready"

# Traffic for the rate, in the background until the end.
(while true; do curl -s -o /dev/null "http://127.0.0.1:$LISTEN/"; sleep 0.05; done) &
PIDS+=($!)

# True when the instant query $1 returns at least one sample whose value is > 0.
query_positive() {
    curl -sf "http://127.0.0.1:$PROM/api/v1/query" --data-urlencode "query=$1" \
        | python3 -c 'import json,sys; r=json.load(sys.stdin)["data"]["result"]; sys.exit(0 if r and all(float(s["value"][1]) > 0 for s in r) else 1)'
}
DEADLINE=60 wait_for "up == 1" query_positive 'up{job="sluicegate"} == 1'
DEADLINE=60 wait_for "rate(sluicegate_requests_total[10s]) > 0" \
    query_positive 'sum(rate(sluicegate_requests_total{code="2xx"}[10s])) > 0'
echo "prometheus: up == 1, rate(sluicegate_requests_total[10s]) > 0: ok"
