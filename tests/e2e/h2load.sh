#!/usr/bin/env bash
# HTTP/2 load through sluicegate with h2load, side by side with nginx doing the same:
#   backend: one nginx (1 worker) answering "hello\n" on 127.0.0.1;
#   sluicegate: a TLS listener (ALPN h2) and a cleartext one (h2c, prior knowledge),
#     both proxying to that backend over HTTP/1.1 keep-alive;
#   nginx: the same shape (`listen … ssl http2` and `listen … http2`, proxy_pass with
#     an HTTP/1.1 keep-alive upstream pool), as many workers as sluicegate has threads.
# Each of the four targets gets a short warm-up, then `h2load -n N -c C -m M`. The
# check fails on errors only: any request h2load counts as failed, errored or timed
# out, any non-2xx status, a protocol other than h2/h2c, or a proxy that stops
# answering. Requests per second are printed with the ratio sluicegate/nginx, never
# asserted (and mean little from a debug build).
# Everything listens on 127.0.0.1; every process started here is stopped on exit.
# Needs: h2load (Debian package `nghttp2-client`), nginx, openssl, curl, python3.
# Usage: tests/e2e/h2load.sh [path/to/sluicegate]   (default: target/debug/sluicegate,
# under $CARGO_TARGET_DIR when set; built when missing)
# Load: H2LOAD_N (requests, default 20000), H2LOAD_C (clients, 10), H2LOAD_M (streams
# per client, 10).
set -euo pipefail

cd "$(dirname "$0")/../.."
BIN=${1:-${CARGO_TARGET_DIR:-target}/debug/sluicegate}
if [[ ! -x $BIN ]]; then
    cargo build -q -p sluicegate
fi
[[ -x $BIN ]] || { echo "${0##*/}: no sluicegate binary at $BIN" >&2; exit 1; }
N=${H2LOAD_N:-20000}
C=${H2LOAD_C:-10}
M=${H2LOAD_M:-10}
for tool in h2load nginx openssl curl python3 timeout; do
    command -v "$tool" >/dev/null || { echo "h2load.sh: $tool is missing" >&2; exit 1; }
done

# shellcheck source=tests/e2e/common.sh
source tests/e2e/common.sh
POLL=0.2
# nginx workers run as `nobody` when started by root, and must reach the prefix.
chmod 755 "$WORK"

fail() {
    echo "h2load.sh: FAIL: $*" >&2
    local log
    for log in sluicegate.log nginx-proxy.log nginx-proxy.out nginx-backend.log nginx-backend.out; do
        if [[ -s $WORK/$log ]]; then
            echo "--- last lines of $log:" >&2
            tail -n 20 "$WORK/$log" >&2
        fi
    done
    exit 1
}

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 30 \
    -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
    -keyout "$WORK/key.pem" -out "$WORK/cert.pem" >"$WORK/openssl.log" 2>&1 ||
    { cat "$WORK/openssl.log" >&2; fail "openssl could not make the certificate"; }

BACKEND=$(free_port)
NGINX_TLS=$(free_port)
NGINX_H2C=$(free_port)
SLUICE_TLS=$(free_port)
SLUICE_H2C=$(free_port)
ADMIN=$(free_port)
mkdir -p "$WORK/tmp"

# Settings both nginx instances share: no access log, temp files inside the prefix,
# client connections kept for the whole run (the default of 1000 requests per
# connection would make h2load's connections end midway).
common_http() {
    cat <<CONF
    access_log off;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    client_body_temp_path tmp/$1-body;
    proxy_temp_path tmp/$1-proxy;
    fastcgi_temp_path tmp/$1-fastcgi;
    uwsgi_temp_path tmp/$1-uwsgi;
    scgi_temp_path tmp/$1-scgi;
CONF
}

cat >"$WORK/nginx-backend.conf" <<CONF
worker_processes 1;
pid nginx-backend.pid;
events { worker_connections 4096; }
http {
$(common_http backend)
    server {
        listen 127.0.0.1:$BACKEND;
        location / { default_type text/plain; return 200 "hello\n"; }
    }
}
CONF

cat >"$WORK/nginx-proxy.conf" <<CONF
worker_processes $(nproc);
pid nginx-proxy.pid;
events { worker_connections 4096; }
http {
$(common_http proxy)
    ssl_protocols TLSv1.2 TLSv1.3;
    upstream backend {
        server 127.0.0.1:$BACKEND;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$NGINX_TLS ssl http2;
        listen 127.0.0.1:$NGINX_H2C http2;
        ssl_certificate $WORK/cert.pem;
        ssl_certificate_key $WORK/key.pem;
        location / {
            proxy_pass http://backend;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
CONF

cat >"$WORK/sluicegate.yaml" <<YAML
listeners:
  h2:
    address: 127.0.0.1:$SLUICE_TLS
    tls:
      certificates:
        - { cert: $WORK/cert.pem, key: $WORK/key.pem }
      alpn: [h2, http/1.1]
    routes:
      - cluster: backend
  h2c:
    address: 127.0.0.1:$SLUICE_H2C
    routes:
      - cluster: backend
clusters:
  backend:
    backends:
      - address: 127.0.0.1:$BACKEND
admin:
  address: 127.0.0.1:$ADMIN
YAML

start_nginx() {
    local name=$1
    nginx -p "$WORK" -c "$WORK/$name.conf" -e "$WORK/$name.log" \
        -g "daemon off; error_log $WORK/$name.log warn;" >"$WORK/$name.out" 2>&1 &
    PIDS+=($!)
}
start_nginx nginx-backend
start_nginx nginx-proxy
"$BIN" run -c "$WORK/sluicegate.yaml" >"$WORK/sluicegate.log" 2>&1 &
PIDS+=($!)

wait_for "the nginx backend" curl -sf "http://127.0.0.1:$BACKEND/"
wait_for "sluicegate /ready" curl -sf "http://127.0.0.1:$ADMIN/ready"

# Each target answers the backend's body over HTTP/2 before any load.
declare -A URL=(
    [sluicegate-h2]="https://127.0.0.1:$SLUICE_TLS/"
    [nginx-h2]="https://127.0.0.1:$NGINX_TLS/"
    [sluicegate-h2c]="http://127.0.0.1:$SLUICE_H2C/"
    [nginx-h2c]="http://127.0.0.1:$NGINX_H2C/"
)
TARGETS=(sluicegate-h2 nginx-h2 sluicegate-h2c nginx-h2c)
probe() {
    local url=$1 mode=--http2
    [[ $url == http:* ]] && mode=--http2-prior-knowledge
    [[ $(curl -sS --max-time 2 -k "$mode" -w ' %{http_code} %{http_version}' "$url") == $'hello\n 200 2' ]]
}
for t in "${TARGETS[@]}"; do
    wait_for "$t to answer over HTTP/2 at ${URL[$t]}" probe "${URL[$t]}"
done
echo "all four targets answer hello over HTTP/2; load: h2load -n $N -c $C -m $M"

# Runs h2load against target $1 with requests $2; its output in $WORK/$1.txt.
# Fails on any error it reports.
run_h2load() {
    local t=$1 n=$2 out=$WORK/$1.txt rc=0
    timeout 120 h2load -n "$n" -c "$C" -m "$M" "${URL[$t]}" >"$out" 2>&1 || rc=$?
    ((rc == 124)) && fail "h2load against $t did not finish within 120 s: $(tail -n 5 "$out")"
    python3 - "$t" "$n" "$out" "$rc" <<'PY' || { cat "$out" >&2; fail "h2load against $t reported errors (above)"; }
import re, sys
target, n, path, rc = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
text = open(path).read()
problems = []
req = re.search(r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, "
                r"(\d+) failed, (\d+) errored, (\d+) timeout", text)
codes = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
proto = re.search(r"Application protocol: (\S+)", text)
if not req or not codes:
    sys.exit(f"h2load.sh: {target}: no request summary in h2load's output (exit status {rc})")
total, started, done, ok, failed, errored, timedout = map(int, req.groups())
two, three, four, five = map(int, codes.groups())
if failed or errored or timedout:
    problems.append(f"{failed} failed, {errored} errored, {timedout} timed out of {total}")
if ok != n or done != n:
    problems.append(f"{ok} succeeded and {done} done of {n} requested")
if two != n:
    problems.append(f"status codes: {two} 2xx, {three} 3xx, {four} 4xx, {five} 5xx (want {n} 2xx)")
want = "h2" if target.endswith("-h2") else "h2c"
if not proto or proto.group(1) != want:
    problems.append(f"application protocol {proto.group(1) if proto else 'unknown'}, want {want}")
if rc:
    problems.append(f"h2load exit status {rc}")
for p in problems:
    print(f"h2load.sh: {target}: {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
}

# The figures of run $1: "req/s mean-request-time".
figures() {
    python3 - "$WORK/$1.txt" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
rps = re.search(r"finished in [^,]+, ([\d.]+) req/s", text).group(1)
mean = re.search(r"time for request:\s+\S+\s+\S+\s+(\S+)", text)
print(rps, mean.group(1) if mean else "?")
PY
}

start=$SECONDS
for t in "${TARGETS[@]}"; do
    run_h2load "$t" $((N / 10 > 100 ? N / 10 : 100))
done
for t in "${TARGETS[@]}"; do
    run_h2load "$t" "$N"
    curl -sf --max-time 2 "http://127.0.0.1:$ADMIN/ready" >/dev/null ||
        fail "sluicegate stopped answering /ready after the run against $t"
done

declare -A RPS=()
printf '%-16s %12s %14s\n' target req/s "mean request"
for t in "${TARGETS[@]}"; do
    read -r rps mean < <(figures "$t")
    RPS[$t]=$rps
    printf '%-16s %12s %14s\n' "$t" "$rps" "$mean"
done
for p in h2 h2c; do
    ratio=$(python3 -c "print(f'{${RPS[sluicegate-$p]} / ${RPS[nginx-$p]}:.2f}')")
    echo "$p: sluicegate/nginx = $ratio"
done
echo "h2load: no failed, errored or non-2xx request through either proxy ($((SECONDS - start)) s): ok"
case $BIN in
    *release* | */pgo/*) ;;
    *) echo "(a debug build of sluicegate: its req/s say nothing about its speed)" ;;
esac
