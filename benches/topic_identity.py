#!/usr/bin/env python3
"""Topic identity across nights (issue 17's bars), measured on fixture seeds.

For each seed: `vigil fixtures` (14 days, flat organic traffic, a one-day news burst on the
13th day, a new topic at a steady rate from the last week's first day), ingest, a nightly run
for every day, and the weekly report for the last week. Then, reading the warehouse back with
pyarrow:

* leaf topic ids kept night to night: over the last seven nights, for every organic
  conversation clustered on two consecutive nights, whether its leaf topic id is the same;
* the same at the top level;
* organic topics the report tells as growing, new or rising (should be none), and the spread
  of their week-over-week change;
* whether the planted news burst is in the report's emerging topics, and how many of the
  conversations of the planted new topic (steady from the last week's first day) are.

Run from the repository root after a release build:

    VIGIL=/path/to/release/vigil VIGIL_MODELS=.vigil/models \\
        .venv/bin/python benches/topic_identity.py --seeds 42 7 23 [--per-day 500]

Decide thresholds on one seed; read the others as held out.
"""

import argparse
import collections
import contextlib
import gzip
import json
import os
import subprocess
import sys
import tempfile
from datetime import date, timedelta

import pyarrow.parquet as pq

# Planted groups that arrive: a one-day news burst, and a topic at a steady rate from the
# first day of the last week.
ARRIVALS = ("decoy:earthquake-news-burst", "decoy:heat-pump-questions")
KEY = "7f3a9c2e5b1d4f608a2c4e6f8091b3d5e7f90a1c3e5b7d9f1a3c5e7092b4d6f8"


STDERR = None  # with --keep: every command's log lines are appended here


def vigil(*args):
    env = dict(os.environ, VIGIL_KEY=KEY)
    env.setdefault("VIGIL_LOG", "warn")
    out = subprocess.run([os.environ.get("VIGIL", "vigil"), *args], env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"vigil {' '.join(args)} failed:\n{out.stderr}")
    if STDERR is not None:
        with open(STDERR, "a") as f:
            f.write(f"$ vigil {' '.join(args)}\n{out.stderr}")
    return out.stdout


def table(w, name, night):
    path = os.path.join(w, name, f"date={night}")
    if not os.path.isdir(path):
        return None
    return pq.read_table(path).to_pylist()


def leaf_topics(w, night, level):
    topic_of = {r["cluster_id"]: r["topic_id"] for r in table(w, "clusters", night) or [] if r["topic_id"]}
    return {
        r["conversation_id"]: topic_of[r["cluster_id"]]
        for r in table(w, "cluster_members", night) or []
        if r["level"] == level and r["cluster_id"] in topic_of
    }


def measure(seed, days, per_day, keep=None):
    global STDERR
    with contextlib.nullcontext(os.path.join(keep, str(seed))) if keep else tempfile.TemporaryDirectory() as tmp:
        if keep:
            os.makedirs(tmp, exist_ok=False)
            STDERR = os.path.join(tmp, "stderr.log")
        logs, w, out = (os.path.join(tmp, d) for d in ("logs", "w", "report"))
        vigil("fixtures", "--out", logs, "--days", str(days), "--per-day", str(per_day), "--seed", str(seed))
        files = sorted(os.path.join(logs, f) for f in os.listdir(logs) if f.endswith(".jsonl.gz") and "labels" not in f)
        vigil("ingest", "--warehouse", w, *files)
        truth = json.load(open(os.path.join(logs, "ground_truth.json")))
        start, end = date.fromisoformat(truth["start_date"]), date.fromisoformat(truth["end_date"])
        night = start
        while night <= end:
            vigil("nightly", "--warehouse", w, "--date", str(night))
            night += timedelta(days=1)
        vigil("weekly", "--warehouse", w, "--week-ending", str(end), "--out", out)
        report = json.load(open(os.path.join(out, "report.json")))
        origin = {}
        with gzip.open(os.path.join(logs, "labels.jsonl.gz"), "rt") as f:
            for line in f:
                v = json.loads(line)
                origin[v["conversation_id"]] = v["origin"]

        top_level = max(r["level"] for r in table(w, "clusters", end))
        stability, why = {}, {}
        for name, level in (("leaf", 0), ("top", top_level)):
            same = compared = 0
            # Why a conversation changed topic: its old topic went on (it moved between two
            # topics that both continued), ended (merged or not continued), or it joined a
            # topic created that night (a split).
            reasons = collections.Counter()
            previous = leaf_topics(w, end - timedelta(days=7), level)
            for back in range(6, -1, -1):
                night = end - timedelta(days=back)
                current = leaf_topics(w, night, level)
                catalogue = {r["topic_id"]: r for r in table(w, "topics", night)}
                for conv, topic in current.items():
                    if origin.get(conv) == "organic" and conv in previous:
                        compared += 1
                        if previous[conv] == topic:
                            same += 1
                            continue
                        old = catalogue.get(previous[conv])
                        if str(catalogue[topic]["first_seen"]) == str(night):
                            reasons["joined a new topic"] += 1
                        elif old is not None and old["cluster_id"] is not None:
                            reasons["moved between continuing topics"] += 1
                        else:
                            reasons["old topic not continued"] += 1
                previous = current
            stability[name] = (same, compared)
            why[name] = dict(reasons)

        members = collections.defaultdict(list)
        for r in table(w, "cluster_members", end):
            members[r["cluster_id"]].append(r["conversation_id"])

        def majority(cluster):
            votes = collections.Counter(origin.get(c, "unknown") for c in members[cluster])
            return votes.most_common(1)[0][0]

        def arrivals(cluster):
            return sum(origin.get(c) in ARRIVALS for c in members[cluster]) / len(members[cluster])

        listed = report["top_clusters"] + report["emerging_clusters"]
        # Flat organic topics: mostly organic and not holding a planted arrival (a parent of it).
        organic = [t for t in listed if majority(t["cluster_id"]) == "organic" and arrivals(t["cluster_id"]) < 0.05]
        flagged = [t for t in organic if t["trend"] in ("growing", "new", "rising")]
        changes = sorted(abs(t["change_pct"]) for t in report["top_clusters"] if t["change_pct"] is not None and majority(t["cluster_id"]) == "organic")
        burst = [t for t in report["emerging_clusters"] if majority(t["cluster_id"]) == "decoy:earthquake-news-burst"]
        new_topic = {c for c, o in origin.items() if o == "decoy:heat-pump-questions"}
        reported = {c for t in report["emerging_clusters"] for c in members[t["cluster_id"]] if c in new_topic}
        return {
            "seed": seed,
            "leaf_kept": stability["leaf"],
            "why": why,
            "top_kept": stability["top"],
            "organic_listed": len(organic),
            "organic_flagged": [(t["name"], t["trend"], t["change_pct"]) for t in flagged],
            "organic_abs_change_max": changes[-1] if changes else None,
            "organic_abs_change_median": changes[len(changes) // 2] if changes else None,
            "burst_emerging": [(t["name"], t["trend"], t["daily"]) for t in burst],
            "new_topic_emerging": (len(reported), len(new_topic)),
            "emerging": [(t["name"], t["trend"], t["change_pct"]) for t in report["emerging_clusters"]],
        }


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[42, 7, 23])
    p.add_argument("--days", type=int, default=14)
    p.add_argument("--per-day", type=int, default=500)
    p.add_argument("--keep", help="work in KEEP/<seed> (which must not exist) and keep it, with every command's log lines in stderr.log (VIGIL_LOG sets their level)")
    a = p.parse_args()
    for seed in a.seeds:
        m = measure(seed, a.days, a.per_day, a.keep)
        (ls, lc), (ts, tc) = m["leaf_kept"], m["top_kept"]
        print(f"seed {seed}: leaf ids kept {ls}/{lc} = {ls / max(lc, 1):.4f}; top-level {ts}/{tc} = {ts / max(tc, 1):.4f}")
        print(f"  changes: {m['why']}")
        print(f"  organic topics listed {m['organic_listed']}, told growing/new/rising: {m['organic_flagged']}")
        print(f"  organic top topics |change|: median {m['organic_abs_change_median']}%, max {m['organic_abs_change_max']}%")
        print(f"  news burst emerging: {m['burst_emerging']}")
        print(f"  new topic's conversations in emerging topics: {m['new_topic_emerging'][0]}/{m['new_topic_emerging'][1]}")
        print(f"  emerging: {m['emerging']}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
