#!/usr/bin/env bash
# Makes sure the test control-plane binaries (etcd, kube-apiserver, kubectl, helm) of the pinned
# versions exist in a cache folder outside the repository, and prints that folder.
#
# Why build from source: the machines that run this project reach only package registries,
# so the official release tarballs cannot be downloaded. k8s.io/kubernetes and etcd's server
# module cannot be `go install`ed directly (their go.mod files replace sibling modules with
# local paths), so each is built from a throwaway wrapper module that pins those siblings.
#
# An existing $KUBEBUILDER_ASSETS folder holding all four binaries is used as is.
set -euo pipefail

K8S_VERSION="${K8S_VERSION:-1.37.2}"
ETCD_VERSION="${ETCD_VERSION:-3.7.3}"
HELM_VERSION="${HELM_VERSION:-3.22.0}"

need=(etcd kube-apiserver kubectl helm)
has_all() { local d=$1; for b in "${need[@]}"; do [ -x "$d/$b" ] || return 1; done; }

if [ -n "${KUBEBUILDER_ASSETS:-}" ] && has_all "$KUBEBUILDER_ASSETS"; then
  echo "$KUBEBUILDER_ASSETS"; exit 0
fi

cache_root="${ATHENZ_RBAC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/athenz-rbac-operator}"
assets="$cache_root/envtest/k8s-$K8S_VERSION-etcd-$ETCD_VERSION-helm-$HELM_VERSION"
if has_all "$assets"; then echo "$assets"; exit 0; fi

command -v go >/dev/null || { echo "envtest: Go is required to build the control-plane binaries" >&2; exit 1; }
mkdir -p "$assets"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log() { echo "envtest: $*" >&2; }
export CGO_ENABLED=0 GOFLAGS="-trimpath" GOTOOLCHAIN=local

build_kubernetes() {
  local dir="$work/kubernetes" minor="${K8S_VERSION#*.}"
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
    printf 'package tools\nimport (\n _ "k8s.io/kubernetes/cmd/kube-apiserver"\n _ "k8s.io/kubernetes/cmd/kubectl"\n)\n' > tools.go
    sed -i 's/^package tools/\/\/go:build tools\n\npackage tools/' tools.go
    go mod tidy -e >/dev/null 2>&1 || true
    go get "k8s.io/kubernetes@v$K8S_VERSION" >/dev/null
    go build -ldflags "-s -w -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 -X k8s.io/component-base/version.gitMinor=${minor%%.*}" \
      -o "$assets/kube-apiserver.tmp" k8s.io/kubernetes/cmd/kube-apiserver
    mv "$assets/kube-apiserver.tmp" "$assets/kube-apiserver"
    go build -ldflags "-s -w -X k8s.io/client-go/pkg/version.gitVersion=v$K8S_VERSION -X k8s.io/component-base/version.gitVersion=v$K8S_VERSION" \
      -o "$assets/kubectl.tmp" k8s.io/kubernetes/cmd/kubectl
    mv "$assets/kubectl.tmp" "$assets/kubectl"
  )
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

start=$(date +%s)
[ -x "$assets/etcd" ] || { log "building etcd v$ETCD_VERSION"; build_etcd; }
[ -x "$assets/helm" ] || { log "building helm v$HELM_VERSION"; build_helm; }
[ -x "$assets/kube-apiserver" ] && [ -x "$assets/kubectl" ] || { log "building kube-apiserver and kubectl v$K8S_VERSION (several minutes on a cold cache)"; build_kubernetes; }
log "binaries ready in $(( $(date +%s) - start ))s"
echo "$assets"
