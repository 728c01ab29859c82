# shellcheck shell=bash
# What the e2e scripts share, sourced by each after `set -euo pipefail` and `cd` to
# the repository root: a work directory ($WORK) removed on exit, the processes a
# script starts ($PIDS, stopped on exit), a free local port, and polling with a
# deadline. `fail` prints, shows the last lines of each file in $WORK named in
# FAIL_LOGS, and exits 1; a script may also redefine it.

WORK=$(mktemp -d)
PIDS=()
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
    for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
    rm -rf "$WORK"
}
trap cleanup EXIT

FAIL_LOGS=()
fail() {
    echo "${0##*/}: FAIL: $*" >&2
    local log
    for log in "${FAIL_LOGS[@]}"; do
        if [[ -s $WORK/$log ]]; then
            echo "--- last lines of $log:" >&2
            tail -n 20 "$WORK/$log" >&2
        fi
    done
    exit 1
}

# need_tools TOOL...: exits, naming the first of the TOOLs that is not installed.
need_tools() {
    local tool
    for tool in "$@"; do
        command -v "$tool" >/dev/null || { echo "${0##*/}: $tool is missing" >&2; exit 1; }
    done
}

# sluicegate_binary [PATH]: the binary under test (PATH, else the debug build), built
# first when it is not there.
sluicegate_binary() {
    local bin=${1:-${CARGO_TARGET_DIR:-target}/debug/sluicegate}
    [[ -x $bin ]] || cargo build -q -p sluicegate >&2
    echo "$bin"
}

# A port nothing listens on right now (bound, then released).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_for WHAT COMMAND...: runs COMMAND every ${POLL:-0.5} s until it succeeds, for
# up to ${DEADLINE:-30} s, then fails naming WHAT.
wait_for() {
    local what=$1; shift
    local end=$((SECONDS + ${DEADLINE:-30}))
    until "$@" >/dev/null 2>&1; do
        if ((SECONDS >= end)); then
            fail "timed out waiting for $what"
        fi
        sleep "${POLL:-0.5}"
    done
}

# python_backend: serves "ok\n" on / from python's http.server on a free port (in
# $BACKEND), stopped on exit.
python_backend() {
    BACKEND=$(free_port)
    mkdir -p "$WORK/www"
    echo ok >"$WORK/www/index.html"
    python3 -m http.server "$BACKEND" --bind 127.0.0.1 --directory "$WORK/www" >"$WORK/backend.log" 2>&1 &
    PIDS+=($!)
}

# start_sluicegate BIN: runs `BIN run -c $WORK/sluicegate.yaml` (log in
# $WORK/sluicegate.log, pid in $PROXY) and waits for /ready on $ADMIN and for the
# backend on $BACKEND.
start_sluicegate() {
    "$1" run -c "$WORK/sluicegate.yaml" >"$WORK/sluicegate.log" 2>&1 &
    PROXY=$!
    PIDS+=("$PROXY")
    wait_for "sluicegate /ready" curl -sf "http://127.0.0.1:$ADMIN/ready"
    wait_for "the backend" curl -sf "http://127.0.0.1:$BACKEND/"
}
