#!/usr/bin/env bash
# Makes sure the official Athenz clients of the pinned version exist in a cache folder outside
# the repository, and prints that folder: `zms-cli` (github.com/AthenZ/athenz/utils/zms-cli) and
# `zms-go-client`, our small program on the official Go client (test/conformance/zms-go-client).
# The conformance suite (test/integration/conformance) judges the ZMS test server with them.
#
# The folder's name carries the Athenz version and a hash of the Go program's sources, so a
# change to the program builds a new folder; Go's build cache keeps rebuilds short.
#
# An existing $ATHENZ_TOOLS folder holding both binaries is used as is.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
program="$repo/test/conformance/zms-go-client"
# One pin for both: the Athenz version the Go program's go.mod requires.
ATHENZ_VERSION=$(awk '$1 == "github.com/AthenZ/athenz" {sub(/^v/, "", $2); print $2}' "$program/go.mod")

need=(zms-cli zms-go-client)
has_all() { local d=$1; for b in "${need[@]}"; do [ -x "$d/$b" ] || return 1; done; }

if [ -n "${ATHENZ_TOOLS:-}" ] && has_all "$ATHENZ_TOOLS"; then
  echo "$ATHENZ_TOOLS"; exit 0
fi

sources_hash=$(cat "$program/go.mod" "$program/go.sum" "$program"/*.go | sha256sum | cut -c1-12)
cache_root="${ATHENZ_RBAC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/athenz-rbac-operator}"
tools="$cache_root/athenz-tools/athenz-$ATHENZ_VERSION-client-$sources_hash"
if has_all "$tools"; then echo "$tools"; exit 0; fi

command -v go >/dev/null || { echo "athenz-tools: Go is required to build zms-cli and zms-go-client" >&2; exit 1; }
mkdir -p "$tools"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
log() { echo "athenz-tools: $*" >&2; }
export CGO_ENABLED=0 GOFLAGS="-trimpath" GOTOOLCHAIN=local

start=$(date +%s)
if [ ! -x "$tools/zms-cli" ]; then
  log "building zms-cli v$ATHENZ_VERSION (about a minute on a cold cache)"
  GOBIN="$work/bin" go install -ldflags "-s -w -X main.VERSION=$ATHENZ_VERSION" \
    "github.com/AthenZ/athenz/utils/zms-cli@v$ATHENZ_VERSION"
  mv "$work/bin/zms-cli" "$tools/zms-cli"
fi
if [ ! -x "$tools/zms-go-client" ]; then
  log "building zms-go-client on github.com/AthenZ/athenz/clients/go/zms v$ATHENZ_VERSION"
  (cd "$program" && go build -mod=readonly -ldflags "-s -w" -o "$work/zms-go-client" .)
  mv "$work/zms-go-client" "$tools/zms-go-client"
fi
log "binaries ready in $(( $(date +%s) - start ))s"
echo "$tools"
