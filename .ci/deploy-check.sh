#!/usr/bin/env bash
# The deployment files, checked offline (this machine reaches no image registry or
# cluster): the systemd unit with systemd-analyze verify (any warning fails), the
# Kubernetes manifests against the API's schemas (kubernetes-validate --strict: an
# unknown or misplaced key fails), the configs they carry with `sluicegate check`, and
# the Dockerfile with hadolint. Usage: .ci/deploy-check.sh [BINARY]
set -euo pipefail
cd "$(dirname "$0")/.."
bin=$(realpath "${1:-target/debug/sluicegate}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "deploy/sluicegate.service, deploy/sluicegate.socket: systemd-analyze verify"
sed "s|/usr/local/bin/sluicegate|$bin|g" deploy/sluicegate.service > "$work/sluicegate.service"
cp deploy/sluicegate.socket "$work/sluicegate.socket"
out=$(systemd-analyze verify "$work/sluicegate.service" "$work/sluicegate.socket" 2>&1) \
  || { echo "$out"; exit 1; }
if [ -n "$out" ]; then
  echo "$out"
  echo "deploy/sluicegate.{service,socket}: systemd-analyze has warnings" >&2
  exit 1
fi

echo "deploy/kubernetes: kubernetes-validate --strict"
manifests=(deploy/kubernetes/{configmap,deployment,service,pdb,hpa}.yaml)
kubernetes-validate --strict --quiet "${manifests[@]}"
python3 - "$work/configmap-sluicegate.yaml" <<'PY'
import sys, yaml
with open("deploy/kubernetes/configmap.yaml") as f:
    data = yaml.safe_load(f)["data"]["sluicegate.yaml"]
with open(sys.argv[1], "w") as out:
    out.write(data)
PY
"$bin" check -c "$work/configmap-sluicegate.yaml"
"$bin" check -c deploy/sluicegate.yaml

echo "deploy/Dockerfile: hadolint"
hadolint deploy/Dockerfile
echo "deploy-check: ok"
