#!/usr/bin/env python3
"""Side by side: `vigil query` (DataFusion) and DuckDB on the same warehouse Parquet, for the
representative query set of the equality test (jobs/tests/it/query.rs). Each query runs RUNS
times per engine; medians per query and the median of the per-query ratios are printed, plus
whether `EXPLAIN` of a date-filtered query shows partition pruning.

usage: python3 benches/query_vs_duckdb.py WAREHOUSE [RUNS]
       python3 benches/query_vs_duckdb.py --generate DAYS PER_DAY WORKDIR [RUNS]
           (generates fixtures, ingests them, runs nightly on the last day with a one-day
            window, then benchmarks)

Two timings for vigil: as a whole command per query (process start, table registration,
views, query, CSV to /dev/null), and in one session like DuckDB's (`vigil sql` reading all
queries from stdin with `\timing on`: query + CSV output, tables and views registered once).
DuckDB runs in-process (views created once, query + fetch timed). Needs: duckdb.
"""
import json
import os
import statistics
import subprocess
import sys
import time

import duckdb

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VIGIL = os.environ.get("VIGIL", os.path.join(os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target")), "release", "vigil"))

QUERIES = [
    "select language, count(*) as n from conversations group by language order by n desc, language",
    "select date, count(*) as n, sum(turns) as turns from conversations group by date order by date",
    "select count(*) as n from conversations where date = '{last}'",
    "select count(*) as n from conversations where date between '{prev}' and '{last}' and turns > 1",
    "select f.policy_area, count(distinct c.account_id) as accounts from facets f join conversations c on c.conversation_id = f.conversation_id group by f.policy_area order by f.policy_area",
    "select account_id, n, rank() over (order by n desc, account_id) as r from (select account_id, count(*) as n from conversations group by account_id) t order by r limit 20",
    "select date, language, count(*) as n, sum(count(*)) over (partition by date) as day_total from conversations group by date, language order by date, language",
    "select level, count(*) as clusters, sum(conversations) as conversations from clusters group by level order by level",
    "select c.kind, count(distinct m.account_id) as accounts, count(*) as conversations from campaigns c join campaign_members m on m.campaign_id = c.campaign_id and m.date = c.date group by c.kind order by c.kind",
    "select account_id, count(*) as n from facets group by account_id having count(*) >= 3 order by n desc, account_id limit 100",
    "select reason_code, count(*) as n from quarantine group by reason_code order by reason_code",
    "select role, count(*) as n, avg(chars) as mean_chars from messages group by role order by role",
    "select case when concern >= 4 then 'high' when concern >= 2 then 'some' else 'none' end as band, count(*) as n from facets group by 1 order by 1",
    "select client, user_agent_family, count(*) as n, count(distinct account_id) as accounts from conversations where date >= '{prev}' group by client, user_agent_family order by n desc",
]


def generate(days, per_day, work):
    env = dict(os.environ, VIGIL_KEY="5a" * 32)
    logs, w = os.path.join(work, "logs"), os.path.join(work, "warehouse")
    if not os.path.exists(os.path.join(logs, "ground_truth.json")):
        subprocess.run([VIGIL, "fixtures", "--out", logs, "--days", str(days), "--per-day", str(per_day), "--seed", "2"], check=True, env=env)
    if not os.path.isdir(os.path.join(w, "conversations")):
        files = sorted(os.path.join(logs, f) for f in os.listdir(logs) if f.startswith("20") and f.endswith(".jsonl.gz"))
        subprocess.run([VIGIL, "--log", "warn", "ingest", "--warehouse", w] + files, check=True, env=env)
        end = json.load(open(os.path.join(logs, "ground_truth.json")))["end_date"]
        # One-day window: the analysis tables exist for the queries that join them, without
        # analysing 7 × PER_DAY conversations (the nightly benchmark measures that).
        subprocess.run([VIGIL, "--log", "warn", "nightly", "--warehouse", w, "--date", end, "--window-days", "1"], check=True, env=env)
    return w


def main():
    args = sys.argv[1:]
    if args and args[0] == "--generate":
        w = generate(int(args[1]), int(args[2]), args[3])
        runs = int(args[4]) if len(args) > 4 else 3
    else:
        w, runs = args[0], int(args[1]) if len(args) > 1 else 3
    dates = sorted(d[5:] for d in os.listdir(os.path.join(w, "conversations")) if d.startswith("date="))
    last, prev = dates[-1], dates[-2] if len(dates) > 1 else dates[-1]
    con = duckdb.connect()
    for t in os.listdir(w):
        if not t.startswith("_") and os.path.isdir(os.path.join(w, t)):
            con.execute(f"create view {t} as select * from read_parquet('{w}/{t}/*/*.parquet', hive_partitioning=true)")
    sqls = [q.format(last=last, prev=prev) for q in QUERIES]
    # In-session vigil: one `vigil sql` per round, every query timed by the shell.
    session = [[] for _ in sqls]
    script = "\\timing on\n\\format csv\n" + "".join(q + ";\n" for q in sqls)
    for _ in range(runs):
        out = subprocess.run([VIGIL, "sql", "--warehouse", w], input=script, check=True, capture_output=True, text=True).stdout
        times = [float(line[1:-3]) for line in out.splitlines() if line.startswith("(") and line.endswith(" s)")]
        assert len(times) == len(sqls), f"expected {len(sqls)} timings, got {len(times)}"
        for i, t in enumerate(times):
            session[i].append(t)
    ratios, session_ratios = [], []
    print(f"{'query':<6} {'vigil cmd s':>11} {'vigil sql s':>11} {'duckdb s':>9} {'cmd ratio':>9} {'sql ratio':>9}")
    for i, sql in enumerate(sqls):
        ours, theirs = [], []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run([VIGIL, "query", "--warehouse", w, "--format", "csv", sql], check=True, stdout=subprocess.DEVNULL)
            ours.append(time.perf_counter() - start)
            start = time.perf_counter()
            con.execute(sql).fetchall()
            theirs.append(time.perf_counter() - start)
        a, s_, b = statistics.median(ours), statistics.median(session[i]), statistics.median(theirs)
        ratios.append(a / b)
        session_ratios.append(s_ / b)
        print(f"q{i + 1:<5} {a:11.3f} {s_:11.3f} {b:9.3f} {a / b:9.2f} {s_ / b:9.2f}")
    print(f"median ratio vigil/duckdb: {statistics.median(ratios):.2f} per command, {statistics.median(session_ratios):.2f} in one session; {len(QUERIES)} queries, {runs} runs each")
    plan = subprocess.run([VIGIL, "query", "--warehouse", w, f"explain select count(distinct account_id) from conversations where date = '{last}'"],
                          check=True, capture_output=True, text=True).stdout
    pruned = f"date={last}" in plan and f"date={prev}" not in plan
    print(f"EXPLAIN of a one-day filter scans only that day's partition: {pruned}")


if __name__ == "__main__":
    main()
