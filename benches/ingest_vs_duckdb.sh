#!/usr/bin/env bash
# Side by side: `vigil ingest` (parse, pseudonymize, redact, language, 3 tables of zstd Parquet)
# against DuckDB converting the same JSON Lines to one zstd Parquet file with no redaction.
# Both get the machine's cores; each runs RUNS times, interleaved; medians and their ratio are printed,
# with vigil's peak memory.
#
#   benches/ingest_vs_duckdb.sh [PER_DAY] [DAYS] [RUNS]     (default 146000 × 7 ≈ 1M conversations)
#
# Needs: python3 with duckdb (pip install -r requirements-dev.txt), GNU time (/usr/bin/time).
set -euo pipefail
PER_DAY=${1:-146000}
DAYS=${2:-7}
RUNS=${3:-3}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${BENCH_DIR:-$ROOT/target/bench-ingest}
VIGIL=${VIGIL:-$ROOT/target/release/vigil}
mkdir -p "$WORK"
[ -x "$VIGIL" ] || (cd "$ROOT" && cargo build --release -p vigil-jobs)
THREADS=$(nproc)

if [ ! -f "$WORK/logs/ground_truth.json" ] || [ "$(cat "$WORK/logs/.size" 2>/dev/null)" != "$PER_DAY x $DAYS" ]; then
  rm -rf "$WORK/logs"
  "$VIGIL" fixtures --out "$WORK/logs" --days "$DAYS" --per-day "$PER_DAY" --seed 1
  echo "$PER_DAY x $DAYS" > "$WORK/logs/.size"
fi
LINES=$(python3 -c "import json;print(json.load(open('$WORK/logs/ground_truth.json'))['counts']['lines'])")
INPUT_MB=$(du -m -c "$WORK"/logs/20*.jsonl.gz | tail -1 | cut -f1)
export VIGIL_KEY=$(printf '5a%.0s' $(seq 32))

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# One vigil run, then one DuckDB run, RUNS times: this VM's speed drifts by 20% over minutes,
# and interleaving keeps the drift out of the ratio.
run_vigil() {
  rm -rf "$WORK/warehouse"
  /usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$VIGIL" --log warn ingest --warehouse "$WORK/warehouse" "$WORK"/logs/20*.jsonl.gz > "$WORK/vigil.out"
  read -r secs kb < "$WORK/time.txt"
  vigil_times+=("$secs")
  [ "$kb" -gt "$peak_kb" ] && peak_kb=$kb
  return 0
}

run_duckdb() {
  rm -f "$WORK/duckdb.parquet"
  secs=$(python3 - "$WORK" "$THREADS" <<'PY'
import sys, time, duckdb
work, threads = sys.argv[1], int(sys.argv[2])
con = duckdb.connect()
con.execute(f"SET threads={threads}")
start = time.time()
con.execute(f"""COPY (SELECT * FROM read_json('{work}/logs/20*.jsonl.gz', format='newline_delimited',
                 ignore_errors=true, maximum_object_size=16777216))
                TO '{work}/duckdb.parquet' (FORMAT parquet, COMPRESSION zstd)""")
print(f"{time.time() - start:.2f}")
PY
)
  duck_times+=("$secs")
}

vigil_times=()
duck_times=()
peak_kb=0
for i in $(seq "$RUNS"); do
  run_vigil
  run_duckdb
done
tail -1 "$WORK/vigil.out"

v=$(printf '%s\n' "${vigil_times[@]}" | median)
d=$(printf '%s\n' "${duck_times[@]}" | median)
echo "input: $LINES lines, $INPUT_MB MB gzip, $THREADS threads, $RUNS runs each"
echo "vigil ingest (redact + pseudonymize): median ${v}s  runs: ${vigil_times[*]}  peak RSS $((peak_kb / 1024)) MiB"
echo "duckdb json->parquet (no redaction):  median ${d}s  runs: ${duck_times[*]}"
python3 - "${vigil_times[*]}" "${duck_times[*]}" "$v" "$d" <<'PY'
import statistics, sys
vigil, duck = ([float(x) for x in arg.split()] for arg in sys.argv[1:3])
pairs = [a / b for a, b in zip(vigil, duck)]
print(f"ratio vigil/duckdb: {float(sys.argv[3]) / float(sys.argv[4]):.2f}x of medians, "
      f"{statistics.median(pairs):.2f}x median of run pairs ({', '.join(f'{r:.2f}' for r in pairs)}) (target <= 2.0x)")
PY
