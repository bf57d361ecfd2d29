#!/usr/bin/env bash
# Records every demo scenario RUNS times (plus one fault-free period) into bench/rca/data/, one process per
# run so every probe is detached between runs. Needs root and `faultlens demo up`.
#   [RUN_FROM=1] bash bench/rca/record-all.sh [RUNS=1] [FAULT_FREE_S=300] [SCENARIOS="slow-endpoint cpu-saturation ..."]
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
runs="${1:-1}"
ff="${2:-300}"
scenarios="${3:-slow-endpoint cpu-saturation redis-down payment-errors listen-queue-overflow nagle-delayed-ack ineffective-rcvbuf io-neighbour packet-loss blackhole}"
# The demo is shared with other users of this machine: never stage a fault while someone else's scenario runs.
wait_quiet() { while pgrep -f "main.ts demo (scenario|up|down)" >/dev/null; do sleep 5; done; }
for run in $(seq "${RUN_FROM:-1}" "$runs"); do
  for s in $scenarios; do
    wait_quiet
    node --import tsx bench/rca/record.ts --scenario "$s" --run "$run" --out "bench/rca/data/$s-$run.jsonl" || echo "record: $s#$run failed" >&2
  done
done
wait_quiet
[ "$ff" -gt 0 ] && node --import tsx bench/rca/record.ts --fault-free "$ff" --out "bench/rca/data/fault-free-${RUN_FROM:-1}.jsonl"
