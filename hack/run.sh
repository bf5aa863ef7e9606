#!/usr/bin/env bash
# `make run`: the operator from source (node src/main.ts) against the current kubeconfig, as
# kubebuilder's `make run` does. Flags come from the environment (src/runtime/config.ts reads
# ZMS_URL, ZMS_CERT_FILE, ZMS_KEY_FILE, ZMS_CA_FILE, POD_NAMESPACE, METRICS_ADDR, ...); extra
# flags may be passed as arguments. Checks the inputs first and says how to get what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

sandbox_env=.cache/sandbox/env.sh
how_to_get() {
  cat >&2 <<EOF

How to get a ZMS server and certificates to test with:
  - make sandbox SANDBOX_ARGS=--no-operator   (control plane + ZMS test server, no operator), then
      source $sandbox_env && make run
  - or make zms-server, which prints the URL, the CA and the certificate and key of
    user.athenz_admin (enough for a first try; for a separate operator identity run
    node test/support/zms-server/cli.ts --state-dir .cache/zms-state --principal athenz.k8s.operator).
For a real Athenz: the ZMS URL, your service's X.509 identity (cert + key) and the CA bundle
that signed the ZMS server certificate.
EOF
  if [ -f "$sandbox_env" ]; then
    echo "A sandbox seems to be running: source $sandbox_env" >&2
  fi
}

problems=()
[ -n "${ZMS_URL:-}" ] || problems+=("ZMS_URL is not set (e.g. https://127.0.0.1:4443/zms/v1)")
for var in ZMS_CERT_FILE ZMS_KEY_FILE ZMS_CA_FILE; do
  case $var in
    ZMS_CERT_FILE) what="client certificate (PEM) of the operator's Athenz principal" ;;
    ZMS_KEY_FILE) what="private key (PEM) of that certificate" ;;
    ZMS_CA_FILE) what="CA bundle (PEM) that signed the ZMS server certificate" ;;
  esac
  file="${!var:-}"
  if [ -z "$file" ]; then
    problems+=("$var is not set: the $what")
  elif [ ! -r "$file" ]; then
    problems+=("$var=$file: no such readable file (the $what)")
  fi
done
if [ ${#problems[@]} -gt 0 ]; then
  echo "make run: cannot start the operator:" >&2
  printf '  - %s\n' "${problems[@]}" >&2
  how_to_get
  exit 1
fi

kubeconfig="${KUBECONFIG:-$HOME/.kube/config}"
first="${kubeconfig%%:*}"
if [ ! -r "$first" ]; then
  echo "make run: no kubeconfig at $first (set KUBECONFIG; the sandbox writes .cache/sandbox/kubeconfig)" >&2
  exit 1
fi

echo "make run: node src/main.ts against $(KUBECONFIG=$kubeconfig kubectl config current-context 2>/dev/null || echo "$first"), ZMS $ZMS_URL" >&2
# On loopback only when run locally (the operator's own defaults listen on every interface).
export METRICS_ADDR="${METRICS_ADDR:-127.0.0.1:8080}" HEALTH_ADDR="${HEALTH_ADDR:-127.0.0.1:8081}"
exec node --disable-warning=ExperimentalWarning src/main.ts "$@"
