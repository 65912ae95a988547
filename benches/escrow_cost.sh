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
  /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$VIGIL" --log error ingest --warehouse "$WORK/warehouse" --json "$@" "$WORK"/logs/20*.jsonl.gz > "$WORK/$label.json"
  read -r secs kb < "$WORK/time.txt"
  eval "${label}_times+=(\"$secs\")"
  eval "[ $kb -gt \${${label}_kb} ] && ${label}_kb=$kb"
  return 0
}

plain_times=(); escrow_times=(); plain_kb=0; escrow_kb=0
for _ in $(seq "$RUNS"); do
  run_ingest plain
  run_ingest escrow --reveal-key "$WORK/keys/reveal.pub"
done
RECORDS=$(python3 -c "import json;print(json.load(open('$WORK/escrow.json'))['read'])")
ESCROWED=$(python3 -c "import json;print(json.load(open('$WORK/escrow.json'))['escrowed'])")
IDENTITY_MB=$(du -m -c "$WORK"/warehouse/identities/*/*.parquet | tail -1 | cut -f1)
P=$(printf '%s\n' "${plain_times[@]}" | median)
E=$(printf '%s\n' "${escrow_times[@]}" | median)
echo "records: $RECORDS; ids escrowed: $ESCROWED (identities table: ${IDENTITY_MB} MiB)"
echo "ingest without escrow: median ${P}s (${plain_times[*]}), peak $((plain_kb / 1024)) MiB"
echo "ingest with escrow:    median ${E}s (${escrow_times[*]}), peak $((escrow_kb / 1024)) MiB"
python3 -c "p,e,r=$P,$E,$RECORDS; print(f'ratio {e/p:.3f} (+{100*(e/p-1):.1f}%); escrow costs {(e-p)/r*1e6:.1f} s per million records')"
