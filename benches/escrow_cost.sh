#!/usr/bin/env bash
# The cost of escrow at ingest: `vigil ingest` of the same logs into a fresh warehouse with and
# without `--reveal-key` (every new raw account and org id sealed to the reveal key with age,
# one X25519 agreement each, and written to `identities`). Runs are interleaved, RUNS times
# each; medians, their ratio, the ids escrowed and the cost per million records are printed.
#
#   benches/escrow_cost.sh [PER_DAY] [DAYS] [RUNS]     (default 146000 × 7 ≈ 1M conversations)
#
# Needs GNU time (/usr/bin/time). Target (issue 15): ingest at most 10% slower with escrow on.
set -euo pipefail
PER_DAY=${1:-146000}
DAYS=${2:-7}
RUNS=${3:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${BENCH_DIR:-$ROOT/target/bench-escrow}
VIGIL=${VIGIL:-$ROOT/target/release/vigil}
mkdir -p "$WORK"
[ -x "$VIGIL" ] || (cd "$ROOT" && cargo build --release -p vigil-jobs)

if [ ! -f "$WORK/logs/ground_truth.json" ] || [ "$(cat "$WORK/logs/.size" 2>/dev/null)" != "$PER_DAY x $DAYS" ]; then
  rm -rf "$WORK/logs"
  "$VIGIL" fixtures --out "$WORK/logs" --days "$DAYS" --per-day "$PER_DAY" --seed 1
  echo "$PER_DAY x $DAYS" > "$WORK/logs/.size"
fi
if [ ! -f "$WORK/keys/reveal.pub" ]; then
  rm -rf "$WORK/keys"
  "$VIGIL" keygen --reveal-shares 2 --threshold 2 --out "$WORK/keys" > /dev/null
fi
export VIGIL_KEY=$(printf '5a%.0s' $(seq 32))
unset VIGIL_SIGNING_KEY VIGIL_REVEAL_KEY

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# run_ingest LABEL [extra flags…]: one ingest into a fresh warehouse; appends the wall time.
run_ingest() {
  local label=$1; shift
  rm -rf "$WORK/warehouse"
  /usr/bin/time -f "%e %M %U %S" -o "$WORK/time.txt" "$VIGIL" --log error ingest --warehouse "$WORK/warehouse" --json "$@" "$WORK"/logs/20*.jsonl.gz > "$WORK/$label.json"
  read -r secs kb user sys < "$WORK/time.txt"
  eval "${label}_times+=(\"$secs\")"
  eval "${label}_cpu+=(\"$(python3 -c "print(round($user + $sys, 2))")\")"
  if [ "$kb" -gt "$(eval echo "\${${label}_kb}")" ]; then eval "${label}_kb=$kb"; fi
}

plain_times=(); escrow_times=(); plain_cpu=(); escrow_cpu=(); plain_kb=0; escrow_kb=0
for _ in $(seq "$RUNS"); do
  run_ingest plain
  run_ingest escrow --reveal-key "$WORK/keys/reveal.pub"
done
RECORDS=$(python3 -c "import json;print(json.load(open('$WORK/escrow.json'))['read'])")
ESCROWED=$(python3 -c "import json;print(json.load(open('$WORK/escrow.json'))['escrowed'])")
IDENTITY_MB=$(du -m -c "$WORK"/warehouse/identities/*/*.parquet | tail -1 | cut -f1)
P=$(printf '%s\n' "${plain_times[@]}" | median)
E=$(printf '%s\n' "${escrow_times[@]}" | median)
PC=$(printf '%s\n' "${plain_cpu[@]}" | median)
EC=$(printf '%s\n' "${escrow_cpu[@]}" | median)
echo "records: $RECORDS; ids escrowed: $ESCROWED (identities table: ${IDENTITY_MB} MiB)"
echo "ingest without escrow: wall median ${P}s (${plain_times[*]}), CPU median ${PC}s (${plain_cpu[*]}), peak $((plain_kb / 1024)) MiB"
echo "ingest with escrow:    wall median ${E}s (${escrow_times[*]}), CPU median ${EC}s (${escrow_cpu[*]}), peak $((escrow_kb / 1024)) MiB"
python3 -c "p,e,pc,ec,r=$P,$E,$PC,$EC,$RECORDS; print(f'wall ratio {e/p:.3f} (+{100*(e/p-1):.1f}%), CPU ratio {ec/pc:.3f} (+{100*(ec/pc-1):.1f}%); escrow costs {(e-p)/r*1e6:.2f} s wall, {(ec-pc)/r*1e6:.2f} s CPU per million records')"
