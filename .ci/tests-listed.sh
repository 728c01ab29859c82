#!/usr/bin/env bash
# Fails when a test file would silently never run. tests/Cargo.toml has
# `autotests = false`: the package root is tests/ itself, and cargo's autodiscovery
# looks in <root>/tests/, so it would find nothing; every test file is listed there
# as a [[test]] instead, and a tests/*.rs left out compiles and runs as nothing.
set -euo pipefail
cd "$(dirname "$0")/.."
manifest=tests/Cargo.toml

# The `path` of every [[test]] section.
listed=$(awk '
  /^[[:space:]]*\[/ { in_test = ($0 ~ /^[[:space:]]*\[\[test\]\]/) }
  in_test && /^[[:space:]]*path[[:space:]]*=/ { sub(/^[^"]*"/, ""); sub(/".*$/, ""); print }
' "$manifest")
# lib.rs and the files it declares as modules (`mod NAME;`) belong to the library.
library=$(printf 'lib.rs\n'; sed -nE 's/^[[:space:]]*(pub(\([^)]*\))?[[:space:]]+)?mod[[:space:]]+([A-Za-z0-9_]+)[[:space:]]*;.*/\3.rs/p' tests/lib.rs)

missing=()
for file in tests/*.rs; do
  name=${file#tests/}
  if grep -qxF "$name" <<<"$library" || grep -qxF "$name" <<<"$listed"; then
    continue
  fi
  missing+=("$name")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "error: these test files are not listed in $manifest, so cargo never builds or runs them:" >&2
  for name in "${missing[@]}"; do
    printf '  tests/%s: add\n\n    [[test]]\n    name = "%s"\n    path = "%s"\n\n' "$name" "${name%.rs}" "$name" >&2
  done
  exit 1
fi
echo "every test file in tests/ is listed in $manifest ($(grep -c . <<<"$listed") [[test]] targets)"
