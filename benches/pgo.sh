#!/usr/bin/env bash
# benches/pgo.sh: builds the profile-guided release binary, target/pgo/sluicegate: the
# build to ship and to benchmark (benches/load.sh --pgo).
#
# Why: sluicegate executes no more user-space instructions a request than the bare
# hyper forwarder (benches/instructions.sh), yet it needed ~1.1x the forwarder's CPU
# a request under wrk. callgrind's cache simulation says why: its request path runs
# through ~600 KB of functions (the floor's ~215 KB), and took 1,537 instruction-cache
# misses a request against the floor's 480 and nginx's 794. opt-level 2 and "s" did
# not change that (1,492 and 1,481). A profile-guided build lays the hot blocks out
# together and moves the cold ones aside: 707 misses and 19,030 instructions a request
# (from 22,902; nginx 20,079), and 0.86x the CPU a request under wrk -c 64
# (benches/BENCHMARKS.md, "A profile-guided build").
#
# Method (rustc's -Cprofile-generate / -Cprofile-use, LLVM's instrumentation PGO):
#   1. build an instrumented binary (target/pgo/gen);
#   2. train it on the bench's workloads, against one nginx serving three backend
#      ports (benches/load/conf/backend.conf): HTTP/1.1 keep-alive at 64 and 1,000
#      connections, a 4 KiB body, h2c (h2load), TLS 1.3 keep-alive, TLS handshakes,
#      HTTP/2 over TLS, metrics scrapes and a reload;
#   3. merge the profile with the llvm-profdata of rustc's LLVM version;
#   4. build with the profile (target/pgo/use) and copy the binary to target/pgo/.
# --target is passed so that RUSTFLAGS reach only the binary, not build scripts or
# proc macros. A profile is read only by the rustc that made it: it is rebuilt each
# time, never committed.
#
#   benches/pgo.sh              # about 10 minutes on 2 cores
#   benches/pgo.sh --quick      # 1-second training runs (CI: the script works)
#
# Needs wrk, h2load, nginx, openssl, curl, ss and llvm-profdata matching rustc's LLVM
# (apt-get install -y wrk nghttp2-client nginx openssl curl iproute2 llvm-22 on
# Debian, for rustc's LLVM 22; or rustup component add llvm-tools).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
SECONDS_EACH=4
case "${1:-}" in
  --quick) SECONDS_EACH=1 ;;
  "") ;;
  -h | --help) sed -n '2,32p' "$0"; exit 0 ;;
  *) echo "pgo.sh: unknown argument $1 (see --help)" >&2; exit 2 ;;
esac

die() { echo "pgo.sh: $*" >&2; exit 1; }
for tool in wrk h2load nginx openssl curl ss rustc cargo; do
  command -v "$tool" >/dev/null || die "missing $tool (see the header of benches/pgo.sh)"
done
HOST=$(rustc -vV | awk '/^host:/ {print $2}')
LLVM=$(rustc -vV | awk '/^LLVM version:/ {split($3, v, "."); print v[1]}')
PROFDATA=""
for p in "$(rustc --print sysroot)/lib/rustlib/$HOST/bin/llvm-profdata" "llvm-profdata-$LLVM" llvm-profdata; do
  if command -v "$p" >/dev/null && "$p" --version 2>/dev/null | grep -q "LLVM version $LLVM\."; then
    PROFDATA=$p
    break
  fi
done
[[ -n $PROFDATA ]] || die "no llvm-profdata for LLVM $LLVM (apt-get install -y llvm-$LLVM, or rustup component add llvm-tools)"

OUT=$ROOT/target/pgo
RAW=$OUT/profraw
rm -rf "$RAW"
mkdir -p "$RAW"
build() { # target dir, extra rustflags
  echo "== cargo build --release --target $HOST -p sluicegate (RUSTFLAGS $2)"
  RUSTFLAGS="${RUSTFLAGS:-} $2" CARGO_TARGET_DIR=$1 \
    cargo build --release --target "$HOST" -p sluicegate --bin sluicegate
}
build "$OUT/gen" "-Cprofile-generate=$RAW"

# ---------------------------------------------------------------- training
RUN=$(mktemp -d -t sg-pgo.XXXXXX)
STARTED=()
declare -A GROUP=() # read by procs.sh
# shellcheck source=load/procs.sh
source "$ROOT/benches/load/procs.sh"
# shellcheck source=load/tls.sh
source "$ROOT/benches/load/tls.sh"
trap 'stop_all; rm -rf "$RUN"' EXIT
for port in 19001 19002 19003 18090 18453 19901; do
  port_busy "$port" && die "127.0.0.1:$port is already in use; stop whatever holds it first"
done
mkdir -p "$RUN/logs" "$RUN/tmp" "$RUN/www" "$RUN/conf"
chmod 755 "$RUN" # nginx workers drop to user nobody and must read www/
cp benches/load/conf/backend.conf "$RUN/conf/"
head -c 4096 /dev/zero | tr '\0' 'x' >"$RUN/www/4k"
chmod 644 "$RUN/www/4k"
NOPIN=()
start_proc backend NOPIN 19001 nginx -p "$RUN" -c "$RUN/conf/backend.conf" -e "$RUN/logs/backend-startup.log" -g 'daemon off;'
tls_configs "$RUN/tls" "$ROOT"

run() { # what, command...: one training load; a failure is the script's failure
  local what=$1 out
  shift
  echo "== $what"
  out=$("$@" 2>&1) || die "training step failed: $*: $out"
  printf '%s\n' "$out" >>"$RUN/logs/training.out"
  served "$what" "$out"
}
# A load that got errors trains the error paths, not the request path: wrk must see
# no non-2xx answer, h2load only succeeded requests.
served() { # what, output
  case $2 in
    *"Non-2xx or 3xx responses"*) die "$1: answers other than 2xx: $2" ;;
  esac
  # (A wrk run with no request done is let be: 1,000 TLS handshakes can outlast a
  # 1-second --quick run.)
  if [[ $2 == *"requests: "* ]]; then
    [[ $2 =~ ([0-9]+)\ succeeded,\ 0\ failed,\ 0\ errored ]] && ((BASH_REMATCH[1] > 0)) ||
      die "$1: h2load requests failed: $2"
  fi
}
# Stops the trained process (TERM: its profile is written at exit), keeps the backend.
stop_trained() {
  kill -TERM "$1"
  timeout 30 tail --pid="$1" -f /dev/null || die "sluicegate did not exit within 30 s of TERM"
  wait "$1" || die "sluicegate exited with an error; see $RUN/logs/sluicegate.out"
  unset 'STARTED[${#STARTED[@]}-1]'
}
train() { # config, port, scheme
  local config=$1 port=$2 url pid
  url="$3://127.0.0.1:$port"
  "$OUT/gen/$HOST/release/sluicegate" run -c "$config" >"$RUN/logs/sluicegate.out" 2>&1 &
  pid=$!
  STARTED+=("$pid")
  wait_port "$port" "$pid" sluicegate
  run "wrk -c 64 $url/" wrk -t1 -c64 -d"${SECONDS_EACH}s" "$url/"
  run "wrk -c 64 $url/4k" wrk -t1 -c64 -d"${SECONDS_EACH}s" "$url/4k"
  run "wrk -c 64 $url/ (a connection a request)" wrk -t1 -c64 -d"${SECONDS_EACH}s" -H 'Connection: close' "$url/"
  run "wrk -c 1000 $url/" wrk -t1 -c1000 -d"${SECONDS_EACH}s" "$url/"
  # HTTP/2: h2c with prior knowledge in the clear, ALPN h2 over TLS.
  run "h2load $url/" h2load -c 64 -m 10 -t 1 -n $((SECONDS_EACH * 10000)) "$url/"
  run "curl /metrics" curl -fsS -o /dev/null http://127.0.0.1:19901/metrics
  kill -HUP "$pid"
  run "curl /metrics after a reload" curl -fsS -o /dev/null http://127.0.0.1:19901/metrics
  stop_trained "$pid"
}
train "$ROOT/benches/bench.yaml" 18090 http
train "$RUN/tls/sluicegate.yaml" 18453 https
stop_all

# ---------------------------------------------------------------- merge, build
shopt -s nullglob
raws=("$RAW"/*.profraw)
((${#raws[@]})) || die "training wrote no profile into $RAW"
rm -f "$OUT"/sluicegate*.profdata
"$PROFDATA" merge -o "$OUT/merged.profdata" "${raws[@]}"
# Named by its content: cargo does not look at the file a flag names, so a new profile
# under the same name would leave every crate built with the old one.
PROFILE=$OUT/sluicegate-$(sha256sum "$OUT/merged.profdata" | cut -c1-16).profdata
mv "$OUT/merged.profdata" "$PROFILE"
build "$OUT/use" "-Cprofile-use=$PROFILE"
cp "$OUT/use/$HOST/release/sluicegate" "$OUT/sluicegate"
"$OUT/sluicegate" check -c benches/bench.yaml >/dev/null || die "the built binary does not check benches/bench.yaml"
echo "== built $OUT/sluicegate (profile $PROFILE, ${#raws[@]} raw file(s))"
