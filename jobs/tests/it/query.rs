//! `vigil query`: results equal DuckDB's on the same Parquet; read-only and contained;
//! parameters, formats, zones, canned queries and partition pruning.

use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;

use crate::util::*;

/// One warehouse for the module: 3 fixture days, nightly on the last.
fn warehouse() -> &'static Path {
    static W: OnceLock<(tempfile::TempDir, std::path::PathBuf)> = OnceLock::new();
    let (_, w) = W.get_or_init(|| {
        let (dir, w, _, _) = fixture_warehouse(3, 500, 21);
        run(&["nightly", "--warehouse", path(&w), "--date", "2026-11-22", "--window-days", "3"]).ok();
        (dir, w)
    });
    w
}

fn query(args: &[&str]) -> Run {
    let w = warehouse();
    let mut all = vec!["query", "--warehouse", path(w)];
    all.extend_from_slice(args);
    run(&all)
}

/// Sorted CSV rows with numbers rounded, so engines' float formatting does not matter.
fn normalise(csv: &str) -> Vec<String> {
    let mut rows: Vec<String> = csv
        .lines()
        .skip(1)
        .map(|line| {
            line.split(',')
                .map(|cell| match cell.parse::<f64>() {
                    Ok(v) if cell.contains('.') => format!("{:.6}", v),
                    _ => cell.trim_matches('"').to_owned(),
                })
                .collect::<Vec<_>>()
                .join(",")
        })
        .collect();
    rows.sort();
    rows
}

fn duckdb_csv(w: &Path, sql: &str) -> String {
    let script = r#"
import sys, duckdb, os, io, csv
w, sql = sys.argv[1], sys.argv[2]
con = duckdb.connect()
for t in os.listdir(w):
    if not t.startswith('_') and os.path.isdir(os.path.join(w, t)):
        con.execute(f"create view {t} as select * from read_parquet('{w}/{t}/*/*.parquet', hive_partitioning=true)")
rel = con.execute(sql)
out = io.StringIO()
writer = csv.writer(out, lineterminator='\n')
writer.writerow([d[0] for d in rel.description])
for row in rel.fetchall():
    writer.writerow(['' if v is None else v for v in row])
sys.stdout.write(out.getvalue())
"#;
    let out = Command::new("python3").args(["-c", script, path(w), sql]).output().expect("python3");
    assert!(out.status.success(), "duckdb failed on {sql}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Representative investigator queries in the SQL both engines speak.
const QUERIES: &[&str] = &[
    "select language, count(*) as n from conversations group by language order by n desc, language",
    "select date, count(*) as n, sum(turns) as turns from conversations group by date order by date",
    "select count(*) as n from conversations where date = '2026-11-22'",
    "select count(*) as n from conversations where date between '2026-11-21' and '2026-11-22' and turns > 1",
    "select f.policy_area, count(distinct c.account_id) as accounts from facets f join conversations c on c.conversation_id = f.conversation_id group by f.policy_area order by f.policy_area",
    "select account_id, n, rank() over (order by n desc, account_id) as r from (select account_id, count(*) as n from conversations group by account_id) t order by r limit 20",
    "select date, language, count(*) as n, sum(count(*)) over (partition by date) as day_total from conversations group by date, language order by date, language",
    "select level, count(*) as clusters, sum(conversations) as conversations, sum(case when suppressed then 1 else 0 end) as suppressed from clusters group by level order by level",
    "select c.kind, count(distinct m.account_id) as accounts, count(*) as conversations from campaigns c join campaign_members m on m.campaign_id = c.campaign_id and m.date = c.date group by c.kind order by c.kind",
    "select account_id, count(*) as n from facets group by account_id having count(*) >= 3 order by n desc, account_id",
    "select reason_code, count(*) as n from quarantine group by reason_code order by reason_code",
    "select role, count(*) as n, avg(chars) as mean_chars from messages group by role order by role",
    "select case when concern >= 4 then 'high' when concern >= 2 then 'some' else 'none' end as band, count(*) as n from facets group by 1 order by 1",
    "select policy_area, avg(concern) as mean, max(concern) as peak from facets where date = '2026-11-22' group by policy_area order by policy_area",
];

#[test]
fn results_equal_duckdbs_on_the_same_parquet() {
    let w = warehouse();
    for sql in QUERIES {
        let ours = query(&["--format", "csv", sql]).ok().stdout();
        let theirs = duckdb_csv(w, sql);
        let (a, b) = (normalise(&ours), normalise(&theirs));
        assert!(!a.is_empty(), "no rows for {sql}");
        assert_eq!(a, b, "results differ for {sql}\nvigil:\n{ours}\nduckdb:\n{theirs}");
    }
}

/// The SQL memory bomb of issue 15 stops with a clear error under the configured limit, a slow
/// statement at its time limit, and text from the data reaches the terminal escaped.
#[test]
fn statements_are_bounded_in_memory_and_time_and_print_escaped() {
    let bomb = query(&["--zone", "aggregate", "--memory-limit", "64", "select cardinality(array_agg(value)) from generate_series(1, 100000000)"]);
    assert!(!bomb.output.status.success());
    assert!(bomb.stderr().contains("resources exhausted") && bomb.stderr().contains("64 MiB"), "{}", bomb.stderr());
    let big_result = query(&["--zone", "aggregate", "--memory-limit", "16", "select value from generate_series(1, 10000000)"]);
    assert!(big_result.stderr().contains("resources exhausted") && big_result.stderr().contains("result"), "{}", big_result.stderr());
    let slow = query(&["--zone", "aggregate", "--timeout", "1", "select count(*) from generate_series(1, 100000000000)"]);
    assert!(!slow.output.status.success() && slow.stderr().contains("timed out after 1 s"), "{}", slow.stderr());

    let sql = "select chr(27) || ']0;owned' || chr(7) || chr(27) || '[2J' as t, [chr(27) || '[31m'] as l";
    let table = query(&["--zone", "aggregate", sql]).ok().stdout();
    assert!(!table.contains('\u{1b}') && !table.contains('\u{7}'), "{table:?}");
    assert!(table.contains("\\u{1b}]0;owned\\u{7}"), "{table}");
    let json = query(&["--zone", "aggregate", "--format", "json", sql]).ok().stdout();
    assert!(!json.contains('\u{1b}') && json.contains("\\u001b"), "JSON escapes by itself: {json:?}");
    let error = query(&["--zone", "aggregate", "select * from \"\u{1b}[2Jnope\""]);
    assert!(!error.stderr().contains('\u{1b}'), "{:?}", error.stderr());
}

#[test]
fn statements_that_write_or_reach_outside_are_refused() {
    for sql in [
        "copy (select 1) to '/tmp/vigil-copy-test.csv'",
        "insert into clusters select * from clusters",
        "create external table t stored as parquet location '/etc'",
        "create table t as select 1",
        "drop table clusters",
        "set datafusion.execution.batch_size = 1",
    ] {
        let out = query(&[sql]);
        assert!(!out.output.status.success(), "{sql} ran");
        assert!(out.stderr().contains("read-only"), "{sql}: {}", out.stderr());
        assert_eq!(out.stderr().lines().count(), 1, "{}", out.stderr());
    }
    assert!(!Path::new("/tmp/vigil-copy-test.csv").exists());
    let out = query(&["select * from '/etc/passwd'"]);
    assert!(!out.output.status.success(), "a path is not a table here");
    let out = query(&["select 1; select 2"]);
    assert!(!out.output.status.success() && out.stderr().contains("one statement"), "{}", out.stderr());
}

#[test]
fn parameters_formats_zones_canned_queries_and_pruning() {
    let w = warehouse();
    // A canned query with parameters, as JSON.
    let campaigns = table(w, "campaigns");
    let id = strings(&campaigns, "campaign_id").into_iter().next().expect("a campaign in the fixtures");
    let json = query(&["--format", "json", "-f", "campaign_members", "--param", &format!("campaign_id={id}"), "--param", "date=2026-11-22"]).ok().stdout();
    let rows: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(rows.as_array().is_some_and(|r| !r.is_empty() && r[0]["account_id"].as_str().unwrap().starts_with("acct_")), "{json}");
    // A parameter is a value, never SQL.
    let none = query(&["--format", "json", "select count(*) as n from campaigns where campaign_id = $id", "--param", "id=x' or '1'='1"]).ok().stdout();
    assert!(none.contains("\"n\":0"), "{none}");
    // Parquet out.
    let out = w.parent().unwrap().join("q.parquet");
    query(&["--format", "parquet", "--out", path(&out), "select language, count(*) as n from conversations group by language"]).ok();
    let file = std::fs::File::open(&out).unwrap();
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file).unwrap().build().unwrap();
    assert!(reader.map(|b| b.unwrap().num_rows()).sum::<usize>() > 0);
    // Every canned query plans and runs.
    let list = run(&["query", "--list"]).ok().stdout();
    for name in ["campaign_members", "campaign_timeline", "account_activity", "new_clusters", "cluster_conversations", "shared_infrastructure", "topic_history"] {
        assert!(list.contains(name), "{list}");
        query(&["-f", name, "--param", &format!("campaign_id={id}"), "--param", "date=2026-11-22", "--param", "account_id=acct_x", "--param", "cluster_id=c", "--param", "topic_id=t"]).ok();
    }
    // Views exist.
    query(&["select * from campaign_overview"]).ok();
    query(&["select * from daily_policy_volume"]).ok();
    // The aggregate zone sees clusters and topics only.
    let agg = run(&["query", "--warehouse", path(w), "--zone", "aggregate", "select count(*) from conversations"]);
    assert!(!agg.output.status.success() && agg.stderr().contains("conversations"), "{}", agg.stderr());
    run(&["query", "--warehouse", path(w), "--zone", "aggregate", "select name, topic_id from topic_growth"]).ok();
    // Date filters prune partitions: only the day's files are scanned.
    let plan = query(&["explain select count(distinct account_id) from conversations where date = '2026-11-22'"]).ok().stdout();
    assert!(plan.contains("date=2026-11-22") && !plan.contains("date=2026-11-21"), "{plan}");
}

#[test]
fn the_shell_runs_statements_and_meta_commands_from_standard_input() {
    use std::io::Write as _;
    let w = warehouse();
    let mut child = vigil()
        .env("VIGIL_KEY", KEY)
        .args(["sql", "--warehouse", path(w)])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let script = "\\d\n\\d clusters\nselect count(*) as n\n  from clusters;\n\\format csv\nselect level from clusters order by level limit 1;\ndrop table clusters;\n\\q\nselect 'not reached';\n";
    child.stdin.take().unwrap().write_all(script.as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stdout.contains("table  conversations") && stdout.contains("view   campaign_overview"), "{stdout}");
    assert!(stdout.contains("cluster_id") && stdout.contains("Utf8"), "describe: {stdout}");
    assert!(stdout.contains("| n "), "multi-line statement: {stdout}");
    assert!(stdout.contains("level\n0\n"), "csv format: {stdout}");
    assert!(stderr.contains("read-only"), "{stderr}");
    assert!(!stdout.contains("not reached"));
}

#[test]
fn the_notebook_runs_headless_against_a_warehouse() {
    let w = warehouse();
    let out_dir = tempfile::tempdir().unwrap();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new("python3")
        .arg(root.join("notebooks/run_headless.py"))
        .arg(root.join("notebooks/explore_warehouse.ipynb"))
        .env("VIGIL_WAREHOUSE", w)
        .env("VIGIL_NOTEBOOK_OUT", out_dir.path())
        .output()
        .expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for chart in ["campaign_growth.png", "policy_trends.png"] {
        let bytes = std::fs::read(out_dir.path().join(chart)).unwrap_or_else(|_| panic!("{chart} not drawn"));
        assert!(bytes.starts_with(b"\x89PNG") && bytes.len() > 10_000, "{chart}: {} bytes", bytes.len());
    }
}
