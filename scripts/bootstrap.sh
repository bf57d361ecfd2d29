#!/usr/bin/env bash
# Installs whatever a fresh Debian machine lacks to build and run faultlens, then builds it.
# Idempotent and quick when nothing changed: every step checks before it acts.
#   scripts/bootstrap.sh            runtime needs (toolchain, libbpf, npm deps, native addon, BPF objects, TS)
#   scripts/bootstrap.sh --demo     also the servers of the demo shop (nginx, redis, postgres)
#   scripts/bootstrap.sh --test     also the servers the test-suite drives (demo's + clickhouse, mariadb, ...)
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
want_test=0 want_demo=0
case "${1:-}" in --test) want_test=1 want_demo=1 ;; --demo) want_demo=1 ;; esac

log() { printf '\033[1;34m[bootstrap]\033[0m %s\n' "$*" >&2; }
die() { printf '\033[1;31m[bootstrap]\033[0m %s\n' "$*" >&2; exit 1; }

[ "$(uname -s)" = Linux ] || die "faultlens needs Linux (eBPF); this is $(uname -s)"

runtime_pkgs=(clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev pkg-config make g++ python3 iproute2 util-linux binutils)
# the demo shop (faultlens demo / up --demo) runs real servers
demo_pkgs=(nginx-light redis-server postgresql openssl)
test_pkgs=(nginx-light redis-server postgresql wrk curl socat iputils-ping ncat openssl dnsmasq-base)
# platform tests (issue 6): ClickHouse store engine, browser UI tests (playwright-core drives it), promtool/Prometheus
test_pkgs+=(clickhouse-server chromium prometheus)
# protocol parser tests (issue 4): a real MySQL-protocol server and client
test_pkgs+=(mariadb-server mariadb-client)
# threaded call-chain test (issue 4): the Python clients of redis and postgres a threaded tier uses
test_pkgs+=(python3-redis python3-psycopg2)
# block-IO latency reference (issue 5)
test_pkgs+=(fio)

missing=()
pkgs=("${runtime_pkgs[@]}")
[ $want_demo = 1 ] && pkgs+=("${demo_pkgs[@]}")
[ $want_test = 1 ] && pkgs+=("${test_pkgs[@]}")
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  [ "$(id -u)" = 0 ] || die "missing Debian packages: ${missing[*]} (run as root, or: sudo apt-get install ${missing[*]})"
  log "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # policy-rc.d keeps Debian from starting the servers we install: the tests start their own.
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  rm -f /usr/sbin/policy-rc.d
fi

# npm dependencies (lockfile is the truth)
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm dependencies"
  npm ci --no-audit --no-fund --loglevel=error
fi

bash scripts/build.sh
