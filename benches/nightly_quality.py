#!/usr/bin/env python3
"""Quality of a `vigil nightly` run against the fixtures' ground truth, read with DuckDB.

usage: python3 benches/nightly_quality.py WAREHOUSE LOGS DATE

Prints (1) the adjusted Rand index of each cluster level against the generator's topic labels
(organic conversations; unclustered ones count as singletons) and (2) per planted campaign and
decoy: the detected campaign covering most of its window conversations, that campaign's kind,
coverage and precision, plus influence conversation-level precision/recall/F1.
Needs: pip install duckdb scikit-learn
"""
import gzip
import json
import sys

import duckdb
from sklearn.metrics import adjusted_rand_score

w, logs, date = sys.argv[1], sys.argv[2], sys.argv[3]
con = duckdb.connect()
labels = {}
for line in gzip.open(f"{logs}/labels.jsonl.gz", "rt"):
    r = json.loads(line)
    labels[r["conversation_id"]] = (r["topic"], r["origin"])
window = set(
    r[0]
    for r in con.execute(
        f"select conversation_id from read_parquet('{w}/conversations/*/*.parquet', hive_partitioning=true) "
        f"where date > cast('{date}' as date) - interval 7 day and date <= cast('{date}' as date)"
    ).fetchall()
)

print("== topic clusters vs labels ==")
members = con.execute(f"select cluster_id, conversation_id, level from read_parquet('{w}/cluster_members/date={date}/*.parquet')").fetchall()
organic = [c for c in window if c in labels and labels[c][1] == "organic"]
truth = [labels[c][0] for c in organic]
for level in sorted(set(m[2] for m in members)):
    assign = {c: cl for cl, c, l in members if l == level}
    pred = [assign.get(c, f"unclustered-{i}") for i, c in enumerate(organic)]
    print(f"level {level}: {len(set(assign.values()))} clusters, ARI {adjusted_rand_score(truth, pred):.3f}")

print("== campaigns vs ground truth ==")
gt = json.load(open(f"{logs}/ground_truth.json"))
kind = dict(con.execute(f"select campaign_id, kind from read_parquet('{w}/campaigns/date={date}/*.parquet') where status <> 'ended'").fetchall())
by = {}
for c, v in con.execute(f"select campaign_id, conversation_id from read_parquet('{w}/campaign_members/date={date}/*.parquet')").fetchall():
    by.setdefault(c, set()).add(v)
groups = [(g["name"], g["kind"], set(g["conversation_ids"]) & window, len(g["accounts"])) for g in gt["campaigns"] + gt["decoys"]]
for name, k, convs, accounts in groups:
    if not convs:
        continue
    best = max(by, key=lambda c: len(by[c] & convs), default=None)
    hit = len(by[best] & convs) if best else 0
    print(f"  {k:17s} {name:30s} {accounts:4d} acc {len(convs):4d} conv -> {kind.get(best, '-') if hit else '-':18s} "
          f"coverage {hit / len(convs):.2f} precision {hit / len(by[best]) if best else 0:.2f}")
predicted = set().union(*[by[c] for c in by if kind.get(c) == "influence"]) if by else set()
planted = set().union(*[c for _, k, c, _ in groups if k == "influence"])
decoys = set().union(*[c for _, k, c, _ in groups if k not in ("influence", "spam", "fraud")])
tp = len(predicted & planted)
p, r = tp / max(1, len(predicted)), tp / max(1, len(planted))
print(f"influence conversations: precision {p:.3f} recall {r:.3f} F1 {2 * p * r / max(1e-9, p + r):.3f}; "
      f"decoy conversations labelled influence: {len(predicted & decoys)}; campaigns reported: {len(kind)}")
