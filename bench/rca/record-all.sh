#!/usr/bin/env bash
# Records every demo scenario RUNS times (plus one fault-free period) into bench/rca/data/*.jsonl.gz, one
# process per run so every probe is detached between runs. Needs root. Each run holds the machine-wide demo
# lock (/tmp/fl-demo.lock) only for itself (~1.5 min), brings the demo up if someone took it down, and uses its
# own load seed (run * 100 + scenario index), so runs differ from each other and each one is reproducible.
#   [RUN_FROM=1] bash bench/rca/record-all.sh [RUNS=1] [FAULT_FREE_S=300] [SCENARIOS="slow-endpoint cpu-saturation ..."]
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
runs="${1:-1}"
ff="${2:-300}"
scenarios="${3:-slow-endpoint cpu-saturation redis-down payment-errors listen-queue-overflow nagle-delayed-ack io-neighbour packet-loss blackhole}"
# demo status: "demo is down" when down, exit 1 when up but unhealthy — both mean (re)start it.
locked() { flock /tmp/fl-demo.lock bash -c 'st=$(node bin/faultlens.js demo status 2>&1); if [ $? -ne 0 ] || grep -q "is down" <<<"$st"; then node bin/faultlens.js demo down >&2; node bin/faultlens.js demo up >&2; fi; "$@"' _ "$@"; }
all="slow-endpoint cpu-saturation redis-down payment-errors listen-queue-overflow nagle-delayed-ack io-neighbour packet-loss blackhole"
for run in $(seq "${RUN_FROM:-1}" "$runs"); do
  for s in $scenarios; do
    i=$(( $(tr ' ' '\n' <<<"$all" | grep -nx "$s" | cut -d: -f1) + 0 )) # the seed follows the scenario, not its place in the list
    locked node --import tsx bench/rca/record.ts --scenario "$s" --run "$run" --seed $((run * 100 + i)) --out "bench/rca/data/$s-$run.jsonl.gz" || echo "record: $s#$run failed" >&2
  done
done
[ "$ff" -gt 0 ] && locked node --import tsx bench/rca/record.ts --fault-free "$ff" --run "${RUN_FROM:-1}" --seed $((${RUN_FROM:-1} * 100 + 99)) --out "bench/rca/data/fault-free-${RUN_FROM:-1}.jsonl.gz"
exit 0
