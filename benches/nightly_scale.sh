#!/usr/bin/env bash
# `vigil nightly` at scale: a 7-day window of ~1M conversations (fixtures, seed 1), stage
# timings (facets, embeddings, clusters, accounts, campaigns = the coordination stage,
# publish), wall time and peak memory, then the quality check against the ground truth.
#
#   benches/nightly_scale.sh [PER_DAY] [DAYS]       (default 146000 × 7 ≈ 1M conversations)
#
# With the learned encoder installed (python3 models/install.py; VIGIL_MODELS to point
# elsewhere) every earlier night of the window runs first, as the nightly cron would have: each
# stores its own day's vectors, so the measured night reuses them and encodes only its own day
# (the steady state). That adds DAYS-1 nights before the measurement (~2.5 min each at 146k a
# day). BACKEND=hashed-tfidf measures the LSA fallback instead.
#
# Needs: python3 with duckdb and scikit-learn (pip install -r requirements-dev.txt), GNU time.
set -euo pipefail
PER_DAY=${1:-146000}
DAYS=${2:-7}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
WORK=${BENCH_DIR:-$ROOT/target/bench-nightly}
VIGIL=${VIGIL:-$ROOT/target/release/vigil}
[ -x "$VIGIL" ] || (cd "$ROOT" && cargo build --release -p vigil-jobs)
export VIGIL_KEY=$(printf '5a%.0s' $(seq 32))
mkdir -p "$WORK"
if [ ! -f "$WORK/logs/ground_truth.json" ] || [ "$(cat "$WORK/logs/.size" 2>/dev/null)" != "$PER_DAY x $DAYS" ]; then
  rm -rf "$WORK/logs" "$WORK/warehouse"
  "$VIGIL" fixtures --out "$WORK/logs" --days "$DAYS" --per-day "$PER_DAY" --seed 1
  echo "$PER_DAY x $DAYS" > "$WORK/logs/.size"
fi
[ -d "$WORK/warehouse/conversations" ] || "$VIGIL" --log warn ingest --warehouse "$WORK/warehouse" "$WORK"/logs/20*.jsonl.gz
DATE=$(python3 -c "import json;print(json.load(open('$WORK/logs/ground_truth.json'))['end_date'])")
BACKEND=${BACKEND:-auto}
if [ "$BACKEND" != hashed-tfidf ]; then
  for back in $(seq $((DAYS - 1)) -1 1); do
    NIGHT=$(python3 -c "import datetime;print(datetime.date.fromisoformat('$DATE')-datetime.timedelta(days=$back))")
    /usr/bin/time -f "%e %M" -o "$WORK/time-before.txt" "$VIGIL" --log info nightly --warehouse "$WORK/warehouse" --date "$NIGHT" \
      --set embedding.backend="$BACKEND" 2> "$WORK/nightly-before.log" > "$WORK/nightly-before.out"
    read -r secs kb < "$WORK/time-before.txt"
    echo "== earlier night $NIGHT: wall ${secs}s, peak RSS $((kb / 1024)) MiB; $(grep -o 'encoder.*computed)' "$WORK/nightly-before.out") =="
  done
fi
/usr/bin/time -f "%e %M" -o "$WORK/time.txt" "$VIGIL" --log info nightly --warehouse "$WORK/warehouse" --date "$DATE" \
  --set embedding.backend="$BACKEND" 2> "$WORK/nightly.log" > "$WORK/nightly.out"
read -r secs kb < "$WORK/time.txt"
echo "== stages (seconds) =="
sed -n 's/.*stage="\([a-z]*\)" seconds="\([0-9.]*\)".*/\1 \2/p' "$WORK/nightly.log"
echo "wall ${secs}s, peak RSS $((kb / 1024)) MiB"
cat "$WORK/nightly.out"
python3 "$ROOT/benches/nightly_quality.py" "$WORK/warehouse" "$WORK/logs" "$DATE" | grep -v popular_question
