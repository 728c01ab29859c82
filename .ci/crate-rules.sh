#!/usr/bin/env bash
# The crate graph's rules (ARCHITECTURE.md, "Crates"), checked on the resolved
# dependency tree of each crate (normal dependencies only: tests and benches may use
# anything). Fails with one line per broken rule.
#
#   http      never depends on listener or tcp, at any depth;
#   tcp       never depends on http or listener, at any depth;
#   transport never depends on hyper, rustls or config, at any depth (bytes only);
#   upstream  never depends on http or listener, at any depth;
#   config, balance, routing: no tokio and no hyper anywhere in their tree;
#   upstream, http, tcp, listener: no direct dependency on config (they read runtime's
#             compiled snapshot, never the YAML types);
#   tls       never depends on config or hyper, at any depth (the runtime maps the
#             config into its parameter types; it hands back a byte stream).
#   health    never depends on config, balance, tls or rustls, at any depth (the
#             runtime maps the config into its parameter types and injects TLS as a
#             health::TlsClient).
#   discovery never depends on runtime or the data plane (upstream, http, tcp,
#             listener), at any depth: it hands answers to the reload side, in the
#             config's vocabulary (hyper reaches it only under tonic, etcd's gRPC).
# A dependency that closes a cycle (http -> listener while listener -> http) makes
# cargo itself fail first, which fails this script too.
set -euo pipefail
cd "$(dirname "$0")/.."

failed=0

# The package names in the normal dependency tree of package $1 (itself excluded),
# to depth $2 (empty: all).
deps() {
  local depth=()
  [ -n "${2:-}" ] && depth=(--depth "$2")
  cargo tree -q -e normal -p "$1" --prefix none "${depth[@]}" \
    | awk 'NR > 1 { print $1 }' | sort -u
}

# forbid CRATE DEPTH WHY DEP...: fails if CRATE's tree (to DEPTH) holds any DEP.
forbid() {
  local crate=$1 depth=$2 why=$3
  shift 3
  local tree
  tree=$(deps "$crate" "$depth")
  for dep in "$@"; do
    if grep -qx -- "$dep" <<<"$tree"; then
      echo "crate rule broken: $crate depends on $dep ($why); how it gets there:" >&2
      cargo tree -q -e normal -p "$crate" -i "$dep" 2>/dev/null | sed 's/^/    /' >&2 || true
      failed=1
    fi
  done
}

forbid sluicegate-http "" "http never imports listener or tcp" \
  sluicegate-listener sluicegate-tcp
forbid sluicegate-upstream "" "upstream never imports http or listener" \
  sluicegate-http sluicegate-listener sluicegate-tcp
forbid sluicegate-tcp "" "tcp never imports http or listener" \
  sluicegate-http sluicegate-listener
forbid sluicegate-transport "" "transport knows bytes only: no hyper, rustls or config" \
  hyper rustls sluicegate-config
for crate in sluicegate-config sluicegate-balance sluicegate-routing; do
  forbid "$crate" "" "config, balance and routing stay free of tokio and hyper" \
    tokio hyper
done
forbid sluicegate-tls "" "tls sees neither the config nor hyper" \
  sluicegate-config hyper
forbid sluicegate-health "" "health sees neither the config, the policies nor TLS (injected)" \
  sluicegate-config sluicegate-balance sluicegate-tls rustls
forbid sluicegate-discovery "" "discovery hands answers to the reload side: no runtime or data plane" \
  sluicegate-runtime sluicegate-upstream sluicegate-http sluicegate-tcp sluicegate-listener
for crate in sluicegate-upstream sluicegate-http sluicegate-tcp sluicegate-listener; do
  forbid "$crate" 1 "the data plane reads runtime's snapshot, not config's types" \
    sluicegate-config
done

if [ "$failed" -ne 0 ]; then
  echo "crate rules: FAILED (see ARCHITECTURE.md, Crates)" >&2
  exit 1
fi
echo "crate rules: ok"
