#!/usr/bin/env bash
# Puts Node 24 (and an npm that runs on it) first on PATH when the machine's Node is older.
#
#   eval "$(scripts/use-node-24.sh)"     # this shell: node, npm and npx are Node 24's from now on
#   scripts/use-node-24.sh npm test      # one command under Node 24
#
# Node 24 comes from the npm registry, which every machine of this project reaches: the `node-<os>-<arch>` package
# carries the official binary (bin/node, nothing else). It has no npm, so the npm package of the same line goes
# beside it; both are installed once into a cache folder (NODE24_CACHE_DIR, default ~/.cache/team-graphql/node-24)
# and reused: a second run only asks the cached binary its version. Where `node` is 24 or newer already, nothing is
# installed and PATH is left as it is. Messages go to stderr; stdout carries only the `export …` lines.
set -euo pipefail

readonly NODE_MAJOR=24
# The npm that Node 24 ships with (npm 11 supports ^20.17 || >=22.9).
readonly NPM_MAJOR=11

say() { printf 'use-node-24: %s\n' "$*" >&2; }

major_of() { "$1" -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

run_or_print() {
  if [ "$#" -gt 0 ]; then exec "$@"; fi
  printf 'export PATH=%q\n' "$PATH"
  if [ -n "${npm_config_nodedir:-}" ]; then printf 'export npm_config_nodedir=%q\n' "$npm_config_nodedir"; fi
  exit 0
}

if command -v node >/dev/null 2>&1 && [ "$(major_of node)" -ge "$NODE_MAJOR" ]; then
  run_or_print "$@"
fi

case "$(uname -s)" in
  Linux) os=linux ;;
  Darwin) os=darwin ;;
  *) say "no Node ${NODE_MAJOR} package for $(uname -s): install Node ${NODE_MAJOR} yourself"; exit 1 ;;
esac
case "$(uname -m)" in
  x86_64 | amd64) arch=x64 ;;
  aarch64 | arm64) arch=arm64 ;;
  *) say "no Node ${NODE_MAJOR} package for $(uname -m): install Node ${NODE_MAJOR} yourself"; exit 1 ;;
esac

cache="${NODE24_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/team-graphql/node-${NODE_MAJOR}}"
bin="$cache/node_modules/.bin"

if [ "$(major_of "$bin/node")" != "$NODE_MAJOR" ] || [ ! -x "$bin/npm" ]; then
  command -v npm >/dev/null 2>&1 || { say "npm is needed once, to fetch Node ${NODE_MAJOR}"; exit 1; }
  say "installing node-${os}-${arch}@${NODE_MAJOR} and npm@${NPM_MAJOR} into $cache"
  mkdir -p "$(dirname "$cache")"
  # Into a fresh folder first, then renamed into place: a run that stops half-way, or two runs at once (CI and a
  # developer's shell), never leave a cache that looks complete and is not.
  staging="$(mktemp -d "$cache.XXXXXX")"
  trap 'rm -rf "$staging"' EXIT
  (cd "$staging" && printf '{"private":true}\n' >package.json &&
    npm install --no-audit --no-fund --no-update-notifier --loglevel=error --engine-strict=false \
      "node-${os}-${arch}@${NODE_MAJOR}" "npm@${NPM_MAJOR}" >&2)
  [ "$(major_of "$staging/node_modules/.bin/node")" = "$NODE_MAJOR" ] || { say "the installed node does not run"; exit 1; }
  rm -rf "$cache.old"
  if [ -e "$cache" ]; then mv "$cache" "$cache.old"; fi
  mv "$staging" "$cache"
  rm -rf "$cache.old"
  trap - EXIT
fi

export PATH="$bin:$PATH"
# Native addons built under this Node (node-gyp) need its headers, which the package carries; a machine's own
# `nodedir` would point at the older Node's. (npm 11.21 warns that it does not know `nodedir`; node-gyp reads it.)
export npm_config_nodedir="$cache/node_modules/node-${os}-${arch}"
say "Node $(node -v), npm $(npm -v) from $bin"
run_or_print "$@"
