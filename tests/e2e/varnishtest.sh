#!/usr/bin/env bash
# Raw HTTP/1.1 framing cases in VTC (varnishtest, the language of HAProxy's regtests;
# RELIABILITY.md section 2 "vt"): each tests/e2e/vtc/*.vtc is a client speaking to
# sluicegate byte by byte and a server playing its backend, with what each side must
# see. For each file a fresh sluicegate runs one listener on $sg_port whose one
# cluster is the file's server s1 on $be_port (both free ports, passed as macros); a
# file's `# cluster: KEY: VALUE` lines are added to that cluster.
# Everything listens on 127.0.0.1; every process started here is stopped on exit.
# Needs: varnishtest (Debian's varnish), python3.
# Usage: tests/e2e/varnishtest.sh [path/to/sluicegate] [case.vtc...] (a lone case runs with
# the debug build)
set -euo pipefail

cd "$(dirname "$0")/../.."
BIN=${CARGO_TARGET_DIR:-target}/debug/sluicegate
if [[ $# -gt 0 && $1 != *.vtc ]]; then
    BIN=$1
    shift
fi
if [[ ! -x $BIN ]]; then
    cargo build -q -p sluicegate
fi
for tool in varnishtest python3 timeout; do
    command -v "$tool" >/dev/null || { echo "varnishtest.sh: $tool is missing" >&2; exit 1; }
done

# shellcheck source=tests/e2e/common.sh
source tests/e2e/common.sh
POLL=0.1

cases=("$@")
if [[ ${#cases[@]} -eq 0 ]]; then
    cases=(tests/e2e/vtc/*.vtc)
fi

# run_case FILE: a fresh sluicegate for FILE, then varnishtest on it.
run_case() {
    local file=$1 name
    name=$(basename "$file" .vtc)
    local sg_port be_port
    sg_port=$(free_port)
    be_port=$(free_port)
    while [[ $be_port == "$sg_port" ]]; do
        be_port=$(free_port)
    done
    cat >"$WORK/$name.yaml" <<YAML
listeners:
  web:
    address: 127.0.0.1:$sg_port
    routes:
      - cluster: app
clusters:
  app:
$(sed -n 's/^# cluster: /    /p' "$file")
    backends:
      - address: 127.0.0.1:$be_port
admin:
  address: 127.0.0.1:0
YAML
    NO_COLOR=1 RUST_LOG=info "$BIN" run -c "$WORK/$name.yaml" >"$WORK/$name.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    FAIL_LOGS=("$name.log")
    wait_for "sluicegate to listen for $name" grep -q "listening on" "$WORK/$name.log"
    if ! timeout 120 varnishtest -t 60 -D sg_port="$sg_port" -D be_port="$be_port" "$file" \
        >"$WORK/$name.vt" 2>&1; then
        tail -n 60 "$WORK/$name.vt" >&2
        fail "$name"
    fi
    echo "varnishtest.sh: $name passed"
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
}

for file in "${cases[@]}"; do
    run_case "$file"
done
echo "varnishtest.sh: ${#cases[@]} cases passed"
