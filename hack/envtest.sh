#!/usr/bin/env bash
# Makes sure the test control-plane binaries (etcd, kube-apiserver, kube-controller-manager,
# kubectl, helm) of the pinned versions exist in a cache folder outside the repository, and
# prints that folder.
#
# Why build from source: the machines that run this project reach only package registries,
# so the official release tarballs cannot be downloaded. k8s.io/kubernetes and etcd's server
# module cannot be `go install`ed directly (their go.mod files replace sibling modules with
# local paths), so each is built from a throwaway wrapper module that pins those siblings.
#
# Only the binaries missing from the cache are built (a cache from before kube-controller-manager
# was added builds just that one), one at a time under a lock, so two runs never build the same
# thing at once. Progress goes to stderr; only the folder goes to stdout.
#
# An existing $KUBEBUILDER_ASSETS folder holding all five binaries is used as is.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-3.7.3}"
HELM_VERSION="${HELM_VERSION:-3.22.0}"

need=(etcd kube-apiserver kube-controller-manager kubectl helm)
has_all() { local d=$1; for b in "${need[@]}"; do [ -x "$d/$b" ] || return 1; done; }

if [ -n "${KUBEBUILDER_ASSETS:-}" ] && has_all "$KUBEBUILDER_ASSETS"; then
  echo "$KUBEBUILDER_ASSETS"; exit 0
fi

cache_root="${ATHENZ_RBAC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/athenz-rbac-operator}"
assets="$cache_root/envtest/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION"
if has_all "$assets"; then echo "$assets"; exit 0; fi

log() { echo "envtest: $*" >&2; }
command -v go >/dev/null || { log "Go is required to build the control-plane binaries"; exit 1; }
mkdir -p "$assets"
# One builder at a time per cache folder: a second run waits, then finds the binaries built.
exec 9>"$assets/.lock"
if ! flock -n 9; then
  log "another envtest build holds $assets/.lock; waiting for it"
  flock 9
fi
missing=()
for b in "${need[@]}"; do [ -x "$assets/$b" ] || missing+=("$b"); done
if [ ${#missing[@]} -eq 0 ]; then echo "$assets"; exit 0; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export CGO_ENABLED=0 GOFLAGS="-trimpath" GOTOOLCHAIN=local
minor="${K8S_VERSION#*.}"
step=0
progress() { step=$((step + 1)); log "building $1 (step $step/${#missing[@]})..."; }

# The wrapper module for k8s.io/kubernetes, prepared once for all of its commands.
kubernetes_module() {
  local dir="$work/kubernetes"
  [ -f "$dir/go.mod" ] && return 0
  mkdir -p "$dir"
  (
    cd "$dir"
    go mod init envtest.local/kubernetes >/dev/null 2>&1
    go mod edit -require="k8s.io/kubernetes@v$K8S_VERSION"
    go mod download -json "k8s.io/kubernetes@v$K8S_VERSION" >/dev/null
    local mod
    mod="$(go env GOMODCACHE)/cache/download/k8s.io/kubernetes/@v/v$K8S_VERSION.mod"
    # Every staging module k8s.io/X is published as k8s.io/X v0.<minor>.<patch>.
    for m in $(awk '/=> \.\/staging/ {print $1}' "$mod"); do
      go mod edit -replace="$m=$m@v0.$minor"
    done
    printf '//go:build tools\n\npackage tools\nimport (\n' > tools.go
    for cmd in kube-apiserver kube-controller-manager kubectl; do
      printf ' _ "k8s.io/kubernetes/cmd/%s"\n' "$cmd" >> tools.go
    done
    printf ')\n' >> tools.go
    go mod tidy -e >/dev/null 2>&1 || true
    go get "k8s.io/kubernetes@v$K8S_VERSION" >/dev/null
  )
}

build_kubernetes_cmd() {
  local cmd=$1 ldflags="-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION"
  ldflags+=" -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*}"
  [ "$cmd" = kubectl ] && ldflags+=" -X k8s.io/client-go/pkg/version.gitVersion=v$K8S_VERSION"
  kubernetes_module
  (cd "$work/kubernetes" && go build -ldflags "$ldflags" -o "$assets/$cmd.tmp" "k8s.io/kubernetes/cmd/$cmd")
  mv "$assets/$cmd.tmp" "$assets/$cmd"
}

build_etcd() {
  local dir="$work/etcd" v="v$ETCD_VERSION"
  mkdir -p "$dir"
  (
    cd "$dir"
    go mod init envtest.local/etcd >/dev/null 2>&1
    go mod edit -require="go.etcd.io/etcd/server/v3@$v"
    for m in go.etcd.io/etcd/api/v3 go.etcd.io/etcd/client/v3 go.etcd.io/etcd/client/pkg/v3 go.etcd.io/etcd/pkg/v3; do
      go mod edit -replace="$m=$m@$v"
    done
    printf '//go:build tools\n\npackage tools\nimport _ "go.etcd.io/etcd/server/v3"\n' > tools.go
    go mod tidy -e >/dev/null 2>&1 || true
    go get "go.etcd.io/etcd/server/v3@$v" >/dev/null
    go build -ldflags "-s -w" -o "$assets/etcd.tmp" go.etcd.io/etcd/server/v3
    mv "$assets/etcd.tmp" "$assets/etcd"
  )
}

build_helm() {
  GOBIN="$work/bin" go install -ldflags "-s -w -X helm.sh/helm/v3/internal/version.version=v$HELM_VERSION" "helm.sh/helm/v3/cmd/helm@v$HELM_VERSION"
  mv "$work/bin/helm" "$assets/helm"
}

log "missing in $assets: ${missing[*]} (a cold build takes 6 to 25 minutes, depending on the machine's load)"
start=$(date +%s)
for b in "${missing[@]}"; do
  t=$(date +%s)
  case "$b" in
    etcd) progress "etcd v$ETCD_VERSION"; build_etcd ;;
    helm) progress "helm v$HELM_VERSION"; build_helm ;;
    *) progress "$b v$K8S_VERSION"; build_kubernetes_cmd "$b" ;;
  esac
  log "built $b in $(( $(date +%s) - t ))s"
done
log "binaries ready in $(( $(date +%s) - start ))s"
echo "$assets"
