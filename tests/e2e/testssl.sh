#!/usr/bin/env bash
# End-to-end check of sluicegate's TLS termination with outside tools:
#   1. curl --http2 over TLS gets HTTP/2 (ALPN h2) and the backend's answer;
#   2. openssl s_client: TLS 1.1 is refused (the same probe must succeed against an
#      `openssl s_server` that speaks TLS 1.1, so a client that cannot offer 1.1 does
#      not pass for a refusal), TLS 1.2 and 1.3 are accepted, and SNI picks the
#      certificate: the exact name gets its own, an unknown name and no SNI the default;
#   3. testssl.sh scans protocols, cipher categories, every cipher, forward secrecy,
#      server defaults and known vulnerabilities. The check fails if SSLv2, SSLv3,
#      TLS 1.0 or TLS 1.1 is offered, or any NULL, anonymous, EXPORT, LOW (DES, RC2,
#      RC4, 64-bit) or 3DES/IDEA cipher; it prints the protocols offered, the number of
#      ciphers and every finding of severity MEDIUM, HIGH or CRITICAL (shown, not failed
#      on: the certificates here are throwaway ones without CRL or OCSP), and fails on
#      a known vulnerability graded MEDIUM or worse.
# Everything listens on 127.0.0.1; every process started here is stopped on exit.
# Needs: testssl (Debian package `testssl.sh`), openssl, curl, python3.
# Usage: tests/e2e/testssl.sh [path/to/sluicegate]   (default: target/debug/sluicegate,
# under $CARGO_TARGET_DIR when set; built when missing)
set -euo pipefail

cd "$(dirname "$0")/../.."
BIN=${1:-${CARGO_TARGET_DIR:-target}/debug/sluicegate}
if [[ ! -x $BIN ]]; then
    cargo build -q -p sluicegate
fi
[[ -x $BIN ]] || { echo "${0##*/}: no sluicegate binary at $BIN" >&2; exit 1; }
BIN=$(cd "$(dirname "$BIN")" && pwd)/$(basename "$BIN")
for tool in testssl openssl curl python3 timeout; do
    command -v "$tool" >/dev/null || { echo "testssl.sh: $tool is missing" >&2; exit 1; }
done

# shellcheck source=tests/e2e/common.sh
source tests/e2e/common.sh

fail() {
    echo "testssl.sh: FAIL: $*" >&2
    if [[ -s $WORK/sluicegate.log ]]; then
        echo "--- last lines of the sluicegate log:" >&2
        tail -n 20 "$WORK/sluicegate.log" >&2
    fi
    exit 1
}

# Certificates: a throwaway CA (so testssl and curl can verify the chain with it) and
# two server certificates it signs: the default one for localhost and 127.0.0.1 (RSA
# 2048, what testssl sees: it connects to an IP address, without SNI) and one for the
# exact name api.example.test (ECDSA P-256).
# $1: file stem in $WORK; $2: subject CN; the rest: extra `openssl req` options.
make_cert() {
    local stem=$1 cn=$2; shift 2
    openssl req -x509 -nodes -days 365 -subj "/CN=$cn" -keyout "$WORK/$stem.key" \
        -out "$WORK/$stem.pem" "$@" >"$WORK/openssl.log" 2>&1 ||
        { cat "$WORK/openssl.log" >&2; fail "openssl could not make the certificate for $cn"; }
}
make_cert ca "sluicegate e2e CA" -newkey rsa:2048
SERVER_EXT=(-addext "basicConstraints=critical,CA:FALSE" -addext "extendedKeyUsage=serverAuth")
make_cert default localhost -newkey rsa:2048 -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" \
    -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" "${SERVER_EXT[@]}"
make_cert api api.example.test -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -CA "$WORK/ca.pem" -CAkey "$WORK/ca.key" -addext "subjectAltName=DNS:api.example.test" \
    "${SERVER_EXT[@]}"

BACKEND=$(free_port)
mkdir -p "$WORK/www" && echo hello > "$WORK/www/index.html"
python3 -m http.server "$BACKEND" --bind 127.0.0.1 --directory "$WORK/www" >"$WORK/backend.log" 2>&1 &
PIDS+=($!)

# The default certificate is listed second, so only default_certificate can make it so.
LISTEN=$(free_port)
ADMIN=$(free_port)
cat >"$WORK/sluicegate.yaml" <<YAML
listeners:
  https:
    address: 127.0.0.1:$LISTEN
    tls:
      certificates:
        - { cert: $WORK/api.pem, key: $WORK/api.key }
        - { cert: $WORK/default.pem, key: $WORK/default.key }
      default_certificate: $WORK/default.pem
      min_version: "1.2"
      alpn: [h2, http/1.1]
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
wait_for "the backend" curl -sf "http://127.0.0.1:$BACKEND/"
wait_for "sluicegate /ready" curl -sf "http://127.0.0.1:$ADMIN/ready"
wait_for "sluicegate to accept TLS on 127.0.0.1:$LISTEN" \
    curl -sf --max-time 2 --cacert "$WORK/ca.pem" "https://127.0.0.1:$LISTEN/"

# --- curl: HTTP/2 through ALPN, the chain verified against the CA.
out=$(curl -sS --max-time 10 --http2 --cacert "$WORK/ca.pem" \
    -w ' %{http_code} %{http_version}' "https://127.0.0.1:$LISTEN/") ||
    fail "curl --http2 https://127.0.0.1:$LISTEN/ failed"
[[ $out == $'hello\n 200 2' ]] ||
    fail "curl --http2 expected body hello, status 200 over HTTP/2, got: $(tr '\n' ' ' <<<"$out")"
echo "curl --http2: 200 over HTTP/2 (ALPN h2), chain verified: ok"

# --- openssl s_client.
# Handshakes once with `openssl s_client "$@"`; the session summary on stdout, 0 when
# a TLS session was set up. SECLEVEL=0 lets this client offer TLS 1.0/1.1 at all.
s_client() {
    local addr=$1; shift
    timeout 10 openssl s_client -connect "$addr" -cipher 'DEFAULT:@SECLEVEL=0' "$@" \
        </dev/null 2>&1
}
# The subject CN of the certificate served at $1 for s_client options "${@:2}".
served_cn() {
    local addr=$1; shift
    s_client "$addr" "$@" | openssl x509 -noout -subject -nameopt multiline 2>/dev/null |
        sed -n 's/^ *commonName *= *//p'
}

# Positive control: the TLS 1.1 probe must work where TLS 1.1 is spoken.
CONTROL=$(free_port)
openssl s_server -accept "127.0.0.1:$CONTROL" -cert "$WORK/default.pem" -key "$WORK/default.key" \
    -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' -www >"$WORK/s_server.log" 2>&1 &
PIDS+=($!)
control_up() { python3 -c "import socket; socket.create_connection(('127.0.0.1', $CONTROL), 1)"; }
DEADLINE=10 wait_for "openssl s_server (the TLS 1.1 control)" control_up
s_client "127.0.0.1:$CONTROL" -tls1_1 >"$WORK/control.txt" ||
    fail "the TLS 1.1 probe does not work against openssl s_server -tls1_1 either, so it proves nothing: $(tail -n 5 "$WORK/control.txt")"
grep -q 'Protocol *: TLSv1.1' "$WORK/control.txt" ||
    fail "the TLS 1.1 control did not negotiate TLS 1.1: $(grep 'Protocol' "$WORK/control.txt")"

if s_client "127.0.0.1:$LISTEN" -tls1_1 >"$WORK/tls11.txt"; then
    fail "sluicegate accepted a TLS 1.1 handshake: $(grep -E 'Protocol|Cipher' "$WORK/tls11.txt" | tr -s ' \n' ' ')"
fi
grep -q '^CONNECTED' "$WORK/tls11.txt" ||
    fail "s_client -tls1_1 did not even connect (so it says nothing about TLS 1.1): $(tail -n 3 "$WORK/tls11.txt")"
alert=$(sed -n 's/.*\(alert [a-z ]*\):.*/\1/p' "$WORK/tls11.txt" | head -n 1)
echo "openssl s_client -tls1_1: refused (${alert:-handshake failed}); the same probe negotiates TLS 1.1 with openssl s_server: ok"
for v in 1_2 1_3; do
    s_client "127.0.0.1:$LISTEN" "-tls$v" >"$WORK/tls$v.txt" ||
        fail "sluicegate refused a TLS ${v/_/.} handshake: $(tail -n 3 "$WORK/tls$v.txt")"
done
echo "openssl s_client -tls1_2, -tls1_3: accepted: ok"

cn=$(served_cn "127.0.0.1:$LISTEN" -servername api.example.test)
[[ $cn == api.example.test ]] || fail "SNI api.example.test was served CN '$cn', expected api.example.test"
cn=$(served_cn "127.0.0.1:$LISTEN" -servername unknown.example.test)
[[ $cn == localhost ]] || fail "SNI unknown.example.test was served CN '$cn', expected the default (localhost)"
cn=$(served_cn "127.0.0.1:$LISTEN" -noservername)
[[ $cn == localhost ]] || fail "a handshake without SNI was served CN '$cn', expected the default (localhost)"
echo "openssl s_client -servername: api.example.test → its own certificate, unknown name and no SNI → the default: ok"

# --- testssl.sh. The JSON file is what is judged; the text goes to a log.
echo "testssl: scanning 127.0.0.1:$LISTEN (protocols, ciphers, forward secrecy, server preferences and defaults, vulnerabilities)"
start=$SECONDS
rc=0
(cd "$WORK" && timeout 300 testssl --quiet --color 0 --warnings off --nodns none \
    --connect-timeout 5 --openssl-timeout 5 --add-ca "$WORK/ca.pem" \
    --jsonfile-pretty "$WORK/testssl.json" \
    --protocols --std --each-cipher --pfs --server-preference --server-defaults --vulnerable \
    "127.0.0.1:$LISTEN" >"$WORK/testssl.log" 2>&1) || rc=$?
if [[ $rc -eq 124 ]]; then
    tail -n 30 "$WORK/testssl.log" >&2
    fail "testssl did not finish within 300 s"
fi
[[ -s $WORK/testssl.json ]] || { tail -n 30 "$WORK/testssl.log" >&2; fail "testssl wrote no JSON (exit status $rc)"; }
echo "testssl: finished in $((SECONDS - start)) s (exit status $rc)"

if ! python3 - "$WORK/testssl.json" <<'PY'; then
import json
import re
import sys

doc = json.load(open(sys.argv[1]))
# scanResult holds the target's sections in one entry, and may hold lone findings
# before it (a warning such as optimal_proto).
results = doc.get("scanResult") or []
scan = next((r for r in results if isinstance(r, dict) and "protocols" in r), None)
if scan is None:
    sys.exit("testssl.sh: FAIL: no scan of the target in testssl's JSON")
findings = [r for r in results if isinstance(r, dict) and "id" in r]
findings += [f for v in scan.values() if isinstance(v, list) for f in v if isinstance(f, dict)]
by_id = {f.get("id"): f for f in findings}
problems = []

# testssl errors (a scan that did not run) must not pass for a clean result.
for f in findings:
    if f.get("id") == "scanProblem" or f.get("severity") == "FATAL":
        problems.append(f"testssl could not scan: {f.get('id')}: {f.get('finding')}")

names = {"SSLv2": "SSLv2", "SSLv3": "SSLv3", "TLS1": "TLS 1.0", "TLS1_1": "TLS 1.1",
         "TLS1_2": "TLS 1.2", "TLS1_3": "TLS 1.3"}
offered = []
for pid, name in names.items():
    f = by_id.get(pid)
    if f is None:
        problems.append(f"no result for {name} (testssl's protocol check did not run?)")
        continue
    text = f.get("finding", "")
    is_offered = text.startswith("offered") or (
        "offered" in text and "not offered" not in text)
    if is_offered:
        offered.append(name)
        if pid in ("SSLv2", "SSLv3", "TLS1", "TLS1_1"):
            problems.append(f"{name} is offered ({text})")
if not offered:
    problems.append("no protocol is reported offered at all")

# Cipher categories (--std).
weak_lists = {"cipherlist_NULL": "NULL ciphers", "cipherlist_aNULL": "anonymous ciphers",
              "cipherlist_EXPORT": "EXPORT ciphers", "cipherlist_LOW": "LOW ciphers (DES, RC2, RC4, 64 bit)",
              "cipherlist_3DES_IDEA": "3DES/IDEA ciphers"}
for cid, what in weak_lists.items():
    f = by_id.get(cid)
    if f is None:
        problems.append(f"no result for {what} (testssl's cipher categories did not run?)")
    elif "not offered" not in f.get("finding", ""):
        problems.append(f"{what}: {f.get('finding')}")

# Every cipher offered (--each-cipher): none weak by name or by key size.
ciphers = [f for f in findings if str(f.get("id", "")).startswith("cipher_x")]
weak_name = re.compile(r"NULL|EXP|RC4|RC2|DES|IDEA|anon|ADH|AECDH|MD5", re.IGNORECASE)
for f in ciphers:
    text = f.get("finding", "")
    cols = text.split()
    bits = [int(c) for c in cols if c.isdigit()]
    if weak_name.search(text) or (bits and bits[-1] < 128):
        problems.append(f"weak cipher offered: {' '.join(cols)}")
if not ciphers:
    problems.append("testssl listed no cipher at all (--each-cipher did not run?)")

# Forward secrecy (--pfs): offered, and every cipher offered has it: an (EC)DHE key
# exchange, or TLS 1.3's suites (whose key exchange is always ephemeral).
# "PFS" in testssl 3.0 (Debian), "FS" in 3.2 on.
fs = by_id.get("FS") or by_id.get("PFS")
if fs is None:
    problems.append("no forward secrecy result (testssl's --pfs did not run?)")
elif "offered" not in fs.get("finding", "") or "not offered" in fs.get("finding", ""):
    problems.append(f"forward secrecy: {fs.get('finding')}")
for f in ciphers:
    cols = f.get("finding", "").split()
    iana = cols[-1] if cols else ""
    if not (iana.startswith(("TLS_AES_", "TLS_CHACHA20_")) or "DHE_" in iana):
        problems.append(f"cipher without forward secrecy offered: {' '.join(cols)}")

# Known vulnerabilities graded MEDIUM or worse (WARN, a test testssl could not
# complete, is printed below but not failed on).
for f in scan.get("vulnerabilities") or []:
    if f.get("severity") in ("MEDIUM", "HIGH", "CRITICAL"):
        problems.append(f"vulnerability {f.get('id')}: {f.get('severity')}: {f.get('finding')}")

alpn = by_id.get("ALPN_HTTP2", {}).get("finding", "?")
print(f"testssl: protocols offered: {', '.join(offered) or 'none'}; ALPN h2: {alpn}")
print(f"testssl: {len(ciphers)} ciphers offered:")
for f in ciphers:
    cols = f.get("finding", "").split()
    print(f"    {cols[-1] if cols else f.get('id')}")
for sev in ("CRITICAL", "HIGH", "MEDIUM"):
    hits = [f for f in findings if f.get("severity") == sev]
    for f in hits:
        note = " (the throwaway test certificate)" if str(f.get("id", "")).startswith("cert") else ""
        print(f"testssl: {sev}: {f.get('id')}: {f.get('finding')}{note}")
    if not hits:
        print(f"testssl: no {sev} findings")
for f in findings:
    if f.get("severity") == "WARN":
        print(f"testssl: WARN (a check testssl could not complete): {f.get('id')}: {f.get('finding')}")
if problems:
    for p in problems:
        print(f"testssl.sh: FAIL: {p}", file=sys.stderr)
    sys.exit(1)
print("testssl: no old protocol, no weak cipher, every cipher with forward secrecy, no vulnerability: ok")
PY
    echo "--- testssl's report:" >&2
    cat "$WORK/testssl.log" >&2
    fail "testssl found a weakness (above)"
fi
