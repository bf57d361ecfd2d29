#!/usr/bin/env bash
# Builds the three artefacts: BPF objects (bpf/.output), the N-API addon (native/build) and the TS (dist/).
# Each step is skipped when its outputs are newer than its inputs.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
log() { printf '\033[1;34m[build]\033[0m %s\n' "$*" >&2; }
newer() { # newer OUT IN... : true when OUT exists and is newer than every IN
  local out=$1; shift
  [ -e "$out" ] || return 1
  [ -z "$(find "$@" -newer "$out" -print -quit 2>/dev/null)" ]
}

if [ -f bpf/Makefile ]; then
  make -s -C bpf
fi

if [ -f native/binding.gyp ] && ! newer native/build/Release/faultlens_native.node native/*.c native/*.h native/binding.gyp 2>/dev/null; then
  log "building native addon"
  # Use the headers the nodejs package installed (node-gyp would otherwise download them).
  nodedir=""; [ -f /usr/include/node/node_api.h ] && nodedir=/usr
  (cd native && ../node_modules/.bin/node-gyp rebuild --silent ${nodedir:+--nodedir=$nodedir} >/dev/null)
fi

if ! newer dist/.stamp src bin tsconfig.json package.json 2>/dev/null; then
  log "compiling TypeScript"
  rm -rf dist
  node_modules/.bin/tsc -p tsconfig.build.json
  touch dist/.stamp
fi
