#!/usr/bin/env bash
# benches/load.sh: sluicegate's side-by-side load benchmark. It runs scenarios
# through benches/load/run.sh (wrk, HTTP/1.1) and benches/load/h2.sh (h2load,
# h2c). Both are the project's copy of the shared harness method: nginx backends on
# 127.0.0.1:19001-19003, wrk/h2load on CPU 0, backends and proxy on CPU 1,
# interleaved rounds, medians, proxy CPU us/req, peak RSS, every process started and
# stopped by PID.
#
# Every scenario measures the peers (nginx, HAProxy http, HAProxy tcp) plus:
#   floor       target/release/floor on :18095, a bare hyper forwarder (benches/floor.rs):
#               the least a proxy on this stack can cost
#   sluicegate  target/release/sluicegate run -c benches/bench.yaml on :18090
#   sluicegate-tcp  the same binary as a layer-4 proxy (benches/bench-tcp.yaml, :18096),
#               beside haproxy-tcp (HAProxy mode tcp)
#   base        --base BIN: a previous build on :18091 (admin :19902), same config;
#               base-tcp the same build as a layer-4 proxy on :18097 (admin :19904)
#
#   benches/load.sh                         # build, then c64, 4k and c1000
#   benches/load.sh --scenario c1 --scenario h2 -r 5
#   benches/load.sh --no-build --base /tmp/sluicegate-old -r 5 -d 10
#   benches/chart.py target/bench-results/<timestamp> --out benches/chart.svg
#
# Results: ${RESULTS_DIR:-target/bench-results}/<UTC timestamp>/<scenario>/ (runs.tsv,
# rss.tsv, summary.md, raw output), and all summaries in <timestamp>/summary.md.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
LOAD="$ROOT/benches/load"
BIN_DIR="${CARGO_TARGET_DIR:-target}/release"
[[ $BIN_DIR == /* ]] || BIN_DIR="$ROOT/$BIN_DIR"

ROUNDS=3
DURATION=8
WARMUP=""
H2_REQUESTS=200000
BUILD=1
BASE=""
CONNS_ALL=0
PGO=0
declare -a SCENARIOS=()
ALL_SCENARIOS="c64 4k c1000 c1 t2 h2 https tlsconn"
ORIGINAL_ARGS=("$@")

usage() {
  cat <<'TXT'
usage: benches/load.sh [options]

Runs each scenario with the peers (nginx, haproxy-http, haproxy-tcp) next to floor
(:18095), sluicegate (:18090) and, with --base, a previous build (:18091).

scenarios (--scenario NAME, repeatable; default: c64 4k c1000):
  c64     wrk -c 64, path / (6-byte body)
  4k      wrk -c 64, path /4k (4096-byte body)
  c1000   wrk -c 1000; also counts each target's backend connections (CONN_SAMPLE)
  c1      wrk -c 1, with the backend reached directly (`direct`) for the added latency
  t2      wrk -c 64, proxies with 2 workers/threads on both CPUs (compare only with t2)
  h2      h2load -n N -c 64 -m 10 -t 1, h2c (prior knowledge): nginx (:18084) and
          sluicegate (and base); floor speaks HTTP/1.1 only and is left out
  https   wrk -c 64 over TLS 1.3 (ECDSA P-256, a certificate made for the run), keep-alive:
          nginx (:18443), HAProxy (:18444), sluicegate (:18453), base (:18454)
  tlsconn the same with "Connection: close": a TLS handshake per request (handshakes/s)

options:
  -r N            rounds per scenario (default 3)
  -d SEC          seconds per wrk run (default 8)
  -w SEC          wrk warm-up seconds per target (default: run.sh's, 2)
  -n N            h2load requests per run in the h2 scenario (default 200000)
  --scenario S    run scenario S (repeatable, in the order given); "all" for every one
  --base BIN      also measure BIN (a previous sluicegate build) as target `base`, with a
                  copy of benches/bench.yaml on ports 18091 (listener) and 19902 (admin)
  --conns         count backend connections in every wrk scenario, not only c1000
  --no-build      use the binaries already in target/release (and target/pgo)
  --pgo           measure the profile-guided build (benches/pgo.sh, target/pgo/sluicegate)
                  as `sluicegate`: the build to ship; `--base target/release/sluicegate`
                  puts the plain build beside it
  -h, --help      this text

environment:
  RESULTS_DIR       where results go (default target/bench-results)
  CARGO_TARGET_DIR  where the release binaries are (default target)
TXT
}

die() { echo "load.sh: $*" >&2; exit 1; }

while (($#)); do
  case "$1" in
    -r) ROUNDS=${2:?-r wants a number}; shift 2 ;;
    -d) DURATION=${2:?-d wants seconds}; shift 2 ;;
    -w) WARMUP=${2:?-w wants seconds}; shift 2 ;;
    -n) H2_REQUESTS=${2:?-n wants a number}; shift 2 ;;
    --scenario)
      [[ -n ${2:-} ]] || die "--scenario wants a name"
      if [[ $2 == all ]]; then
        read -r -a SCENARIOS <<<"$ALL_SCENARIOS"
      else
        SCENARIOS+=("$2")
      fi
      shift 2 ;;
    --base) BASE=${2:?--base wants a binary}; shift 2 ;;
    --conns) CONNS_ALL=1; shift ;;
    --no-build) BUILD=0; shift ;;
    --pgo) PGO=1; shift ;;
    -h|--help) usage; exit 0 ;;
    *) die "unknown argument $1 (see --help)" ;;
  esac
done

((${#SCENARIOS[@]})) || SCENARIOS=(c64 4k c1000)
for s in "${SCENARIOS[@]}"; do
  [[ " $ALL_SCENARIOS " == *" $s "* ]] || die "unknown scenario '$s' (one of: $ALL_SCENARIOS)"
done
for v in ROUNDS DURATION H2_REQUESTS; do
  [[ ${!v} =~ ^[1-9][0-9]*$ ]] || die "$v must be a whole number of at least 1, got '${!v}'"
done
[[ -z $WARMUP || $WARMUP =~ ^[0-9]+$ ]] || die "-w must be a whole number, got '$WARMUP'"
if [[ -n $BASE ]]; then
  [[ $BASE == /* ]] || BASE="$PWD/$BASE"
  [[ -x $BASE && -f $BASE ]] || die "--base $BASE: not an executable file"
fi
command -v ss >/dev/null || die "missing ss (apt-get install iproute2)"

# ---------------------------------------------------------------- ports
port_busy() { [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]; }
for port in 18090 18091 18095 18096 18097 18443 18444 18453 18454 19901 19902 19903 19904; do
  port_busy "$port" && die "127.0.0.1:$port is already in use; stop whatever holds it first"
done

# ---------------------------------------------------------------- build
if ((BUILD)); then
  echo "== cargo build --release -p sluicegate -p sluicegate-benches --bin sluicegate --bin floor"
  cargo build --release -p sluicegate -p sluicegate-benches --bin sluicegate --bin floor
  if ((PGO)); then
    echo "== benches/pgo.sh"
    benches/pgo.sh
  fi
fi
SLUICEGATE="$BIN_DIR/sluicegate"
((PGO)) && SLUICEGATE="$ROOT/target/pgo/sluicegate"
FLOOR="$BIN_DIR/floor"
for b in "$SLUICEGATE" "$FLOOR"; do
  [[ -x $b ]] || die "no binary at $b (drop --no-build, or set CARGO_TARGET_DIR)"
done

# ---------------------------------------------------------------- run directory
TMP=$(mktemp -d -t sg-load.XXXXXX)
trap 'rm -rf "$TMP"' EXIT
if [[ -n $BASE ]]; then
  sed -e 's/127\.0\.0\.1:18090/127.0.0.1:18091/g' -e 's/127\.0\.0\.1:19901/127.0.0.1:19902/g' \
    benches/bench.yaml >"$TMP/bench-base.yaml"
  if ! grep -q '127\.0\.0\.1:18091' "$TMP/bench-base.yaml" || ! grep -q '127\.0\.0\.1:19902' "$TMP/bench-base.yaml"; then
    die "could not move benches/bench.yaml to ports 18091/19902 for --base"
  fi
  if grep -q '127\.0\.0\.1:1\(8090\|9901\)' "$TMP/bench-base.yaml"; then
    die "the --base config still names port 18090 or 19901"
  fi
  sed -e 's/127\.0\.0\.1:18096/127.0.0.1:18097/g' -e 's/127\.0\.0\.1:19903/127.0.0.1:19904/g' \
    benches/bench-tcp.yaml >"$TMP/bench-tcp-base.yaml"
  if grep -q '127\.0\.0\.1:1\(8096\|9903\)' "$TMP/bench-tcp-base.yaml"; then
    die "the --base layer-4 config still names port 18096 or 19903"
  fi
fi

STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT_ROOT="${RESULTS_DIR:-target/bench-results}"
[[ $OUT_ROOT == /* ]] || OUT_ROOT="$ROOT/$OUT_ROOT"
OUT="$OUT_ROOT/$STAMP"
[[ -e $OUT ]] && die "$OUT already exists"
mkdir -p "$OUT"

COMMIT=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ $COMMIT != unknown && -n $(git status --porcelain 2>/dev/null) ]]; then COMMIT="$COMMIT-dirty"; fi
DATE=$(date -u +%Y-%m-%dT%H:%M:%SZ)
CMDLINE="benches/load.sh"
((${#ORIGINAL_ARGS[@]})) && CMDLINE+=$(printf ' %q' "${ORIGINAL_ARGS[@]}")

q() { printf '%q' "$1"; }
# Targets every wrk scenario adds after the peers.
WRK_EXTRA=(
  floor=http://127.0.0.1:18095
  --start "floor=$(q "$FLOOR") 127.0.0.1:18095 127.0.0.1:19001 127.0.0.1:19002 127.0.0.1:19003"
  sluicegate=http://127.0.0.1:18090
  --start "sluicegate=$(q "$SLUICEGATE") run -c $(q "$ROOT/benches/bench.yaml")"
  sluicegate-tcp=http://127.0.0.1:18096
  --start "sluicegate-tcp=$(q "$SLUICEGATE") run -c $(q "$ROOT/benches/bench-tcp.yaml")"
)
H2_EXTRA=(
  sluicegate=http://127.0.0.1:18090
  --start "sluicegate=$(q "$SLUICEGATE") run -c $(q "$ROOT/benches/bench.yaml")"
)
if [[ -n $BASE ]]; then
  WRK_EXTRA+=(base=http://127.0.0.1:18091 --start "base=$(q "$BASE") run -c $(q "$TMP/bench-base.yaml")")
  WRK_EXTRA+=(base-tcp=http://127.0.0.1:18097 --start "base-tcp=$(q "$BASE") run -c $(q "$TMP/bench-tcp-base.yaml")")
  H2_EXTRA+=(base=http://127.0.0.1:18091 --start "base=$(q "$BASE") run -c $(q "$TMP/bench-base.yaml")")
fi
PEERS=nginx,haproxy-http,haproxy-tcp
COMMON=(-r "$ROUNDS" -d "$DURATION")

# TLS targets (scenarios https, tlsconn): configs by benches/load/tls.sh.
# shellcheck source=benches/load/tls.sh
source "$LOAD/tls.sh"
TLS_EXTRA=()
tls_targets() {
  local dir=$TMP/tls
  tls_configs "$dir" "$ROOT"
  TLS_EXTRA=(
    nginx-tls=https://127.0.0.1:18443
    --start "nginx-tls=nginx -p $(q "$dir/nginx") -c $(q "$dir/nginx/conf/nginx.conf") -g 'daemon off;'"
    haproxy-tls=https://127.0.0.1:18444
    --start "haproxy-tls=haproxy -db -f $(q "$dir/haproxy.cfg")"
    sluicegate=https://127.0.0.1:18453
    --start "sluicegate=$(q "$SLUICEGATE") run -c $(q "$dir/sluicegate.yaml")"
  )
  if [[ -n $BASE ]]; then
    TLS_EXTRA+=(base=https://127.0.0.1:18454 --start "base=$(q "$BASE") run -c $(q "$dir/base.yaml")")
  fi
}
[[ -n $WARMUP ]] && COMMON+=(-w "$WARMUP")

describe() {
  case $1 in
    c64) echo "wrk -c 64, path / (6-byte body)" ;;
    4k) echo "wrk -c 64, path /4k (4096-byte body)" ;;
    c1000) echo "wrk -c 1000, path / (backend connections counted)" ;;
    c1) echo "wrk -c 1, path /, with direct" ;;
    t2) echo "wrk -c 64, path /, proxies with 2 workers/threads on both CPUs" ;;
    h2) echo "h2load -n $H2_REQUESTS -c 64 -m 10 -t 1, h2c prior knowledge, path /" ;;
    https) echo "wrk -c 64 over TLS 1.3, keep-alive, path /" ;;
    tlsconn) echo "wrk -c 64 over TLS 1.3, Connection: close (a handshake per request), path /" ;;
  esac
}

run_scenario() { # name outdir
  local name=$1 dir=$2 sample=$CONNS_ALL
  case $name in
    c64) CONN_SAMPLE=$sample "$LOAD/run.sh" "${COMMON[@]}" -c 64 --peers "$PEERS" --out "$dir" "${WRK_EXTRA[@]}" ;;
    4k) CONN_SAMPLE=$sample "$LOAD/run.sh" "${COMMON[@]}" -c 64 --path /4k --peers "$PEERS" --out "$dir" "${WRK_EXTRA[@]}" ;;
    c1000) CONN_SAMPLE=1 "$LOAD/run.sh" "${COMMON[@]}" -c 1000 --peers "$PEERS" --out "$dir" "${WRK_EXTRA[@]}" ;;
    c1) CONN_SAMPLE=$sample "$LOAD/run.sh" "${COMMON[@]}" -c 1 --peers "direct,$PEERS" --out "$dir" "${WRK_EXTRA[@]}" ;;
    t2) CONN_SAMPLE=$sample "$LOAD/run.sh" "${COMMON[@]}" -c 64 -t 2 --peers "$PEERS" --out "$dir" "${WRK_EXTRA[@]}" ;;
    h2) "$LOAD/h2.sh" -r "$ROUNDS" -n "$H2_REQUESTS" -c 64 -m 10 -T 1 --out "$dir" "${H2_EXTRA[@]}" ;;
    https)
      ((${#TLS_EXTRA[@]})) || tls_targets
      CONN_SAMPLE=$sample "$LOAD/run.sh" "${COMMON[@]}" -c 64 --peers none --out "$dir" "${TLS_EXTRA[@]}" ;;
    tlsconn)
      ((${#TLS_EXTRA[@]})) || tls_targets
      CONN_SAMPLE=$sample "$LOAD/run.sh" "${COMMON[@]}" -c 64 --peers none --header "Connection: close" \
        --out "$dir" "${TLS_EXTRA[@]}" ;;
  esac
}

{
  echo "# sluicegate load benchmark"
  echo
  echo "Command: \`$CMDLINE\`; commit $COMMIT; date $DATE (UTC)."
  echo
} >"$OUT/summary.md"

echo "== results: $OUT"
echo "== scenarios: ${SCENARIOS[*]}; commit $COMMIT"
failed=()
for s in "${SCENARIOS[@]}"; do
  echo
  echo "==== scenario $s: $(describe "$s")"
  dir="$OUT/$s"
  mkdir -p "$dir"
  if run_scenario "$s" "$dir"; then
    {
      echo "## $s: $(describe "$s")"
      echo
      cat "$dir/summary.md"
      echo
    } >>"$OUT/summary.md"
  else
    rc=$?
    echo "load.sh: scenario $s failed (exit status $rc)" >&2
    failed+=("$s")
    {
      echo "## $s: $(describe "$s")"
      echo
      echo "FAILED (exit status $rc)."
      echo
    } >>"$OUT/summary.md"
  fi
  # Ports are released before the next scenario starts (run.sh/h2.sh stop by PID).
  for port in 18090 18091 18095; do
    for ((t = 0; t < 50; t++)); do port_busy "$port" || break; sleep 0.1; done
  done
done

echo
echo "== all summaries: $OUT/summary.md"
echo "== chart: benches/chart.py $OUT --out $OUT/chart.svg"
((${#failed[@]} == 0)) || die "failed scenarios: ${failed[*]}"
