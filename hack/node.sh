#!/usr/bin/env bash
# Prints a folder whose `node` is Node 24 or newer: the system's when it is new enough,
# otherwise one installed from the npm registry's `node` package into a cache outside the repo.
# Callers put the folder first on PATH, so npm, jest and the project's scripts all run on it.
set -euo pipefail
want=24
major() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }
if command -v node >/dev/null && [ "$(major node)" -ge "$want" ]; then
  dirname "$(command -v node)"; exit 0
fi
dir="${ATHENZ_RBAC_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/athenz-rbac-operator}/node$want"
bin="$dir/node_modules/.bin"
if [ ! -x "$bin/node" ] || [ "$(major "$bin/node")" -lt "$want" ]; then
  echo "node.sh: installing Node $want from the npm registry into $dir" >&2
  mkdir -p "$dir"
  npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "node@$want" >&2
fi
# npm and npx must sit beside node so that `npm` resolves to the same runtime.
if [ ! -e "$bin/npm" ] && command -v npm >/dev/null; then
  npm_cli="$(dirname "$(readlink -f "$(command -v npm)")")/npm-cli.js"
  [ -f "$npm_cli" ] && printf '#!/bin/sh\nexec "%s/node" "%s" "$@"\n' "$bin" "$npm_cli" > "$bin/npm" && chmod +x "$bin/npm"
fi
echo "$bin"
