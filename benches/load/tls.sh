# shellcheck shell=bash
# benches/load/tls.sh: the TLS targets' configs, shared by benches/load.sh (scenarios
# https, tlsconn) and benches/instructions.sh (--tls). Sourced, never run; needs
# openssl and a die() of the caller's.
#
# tls_configs DIR ROOT writes into DIR, from ROOT's benches/load/conf and
# benches/bench.yaml: one ECDSA P-256 certificate for 127.0.0.1 made for the run
# (cert.pem, key.pem, and haproxy.pem with both), nginx's proxy config on
# 127.0.0.1:18443 (prefix DIR/nginx, config nginx/conf/nginx.conf), HAProxy's http
# config on 18444 (haproxy.cfg), sluicegate's on 18453 (sluicegate.yaml, admin 19901)
# and a previous build's on 18454 (base.yaml, admin 19902): TLS 1.3 only, one
# worker/thread each, as in the one-core scenarios.
tls_configs() {
  local dir=$1 root=$2 cert key conf port admin
  cert=$dir/cert.pem key=$dir/key.pem
  command -v openssl >/dev/null || die "missing openssl (apt-get install -y openssl)"
  mkdir -p "$dir/nginx/logs" "$dir/nginx/tmp" "$dir/nginx/conf"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
    -keyout "$key" -out "$cert" 2>"$dir/openssl.log" || die "openssl failed; see $dir/openssl.log"
  cat "$cert" "$key" >"$dir/haproxy.pem"
  sed -e 's/@WORKERS@/1/' \
    -e "s|listen 127.0.0.1:18081;|listen 127.0.0.1:18443 ssl; ssl_certificate $cert; ssl_certificate_key $key; ssl_protocols TLSv1.3;|" \
    "$root/benches/load/conf/nginx-proxy.conf" >"$dir/nginx/conf/nginx.conf"
  sed -e 's/@THREADS@/1/' \
    -e "s|bind 127.0.0.1:18082|bind 127.0.0.1:18444 ssl crt $dir/haproxy.pem ssl-min-ver TLSv1.3 alpn http/1.1|" \
    "$root/benches/load/conf/haproxy-http.cfg" >"$dir/haproxy.cfg"
  for conf in sluicegate base; do
    port=18453 admin=19901
    [[ $conf == base ]] && port=18454 admin=19902
    awk -v cert="$cert" -v key="$key" '
      {print}
      /^    address: 127\.0\.0\.1:18090$/ {
        print "    tls:"; print "      min_version: \"1.3\""
        print "      certificates:"; print "        - { cert: " cert ", key: " key " }"}' \
      "$root/benches/bench.yaml" |
      sed -e "s/127\.0\.0\.1:18090/127.0.0.1:$port/" -e "s/127\.0\.0\.1:19901/127.0.0.1:$admin/" >"$dir/$conf.yaml"
  done
  grep -q 18443 "$dir/nginx/conf/nginx.conf" && grep -q 18444 "$dir/haproxy.cfg" &&
    grep -q 'tls:' "$dir/sluicegate.yaml" && grep -q 18454 "$dir/base.yaml" ||
    die "could not put the targets' configs on TLS"
}
