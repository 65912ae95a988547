//! The warehouse is readable as-is by DuckDB, Polars and pyarrow with Hive partitioning.

use std::process::Command;

use crate::util::*;

#[test]
fn duckdb_polars_pyarrow_read_the_warehouse() {
    let (_dir, w, _, line) = fixture_warehouse(2, 300, 3);
    let written = summary_number(&line, "written");
    let script = r#"
import sys, json
w = sys.argv[1]
import duckdb, polars as pl, pyarrow.dataset as ds
con = duckdb.connect()
d = con.execute(f"select count(*), count(distinct date), min(created_at)::varchar from read_parquet('{w}/conversations/*/*.parquet', hive_partitioning=1)").fetchone()
m = con.execute(f"select count(*) from read_parquet('{w}/messages/*/*.parquet', hive_partitioning=1) m join read_parquet('{w}/conversations/*/*.parquet', hive_partitioning=1) c using (conversation_id)").fetchone()[0]
p = pl.scan_parquet(f"{w}/conversations/**/*.parquet", hive_partitioning=True).select(pl.len(), pl.col("date").n_unique(), pl.col("pii").struct.field("email").sum()).collect().row(0)
a = ds.dataset(f"{w}/conversations", format="parquet", partitioning="hive").to_table(columns=["conversation_id", "date"])
print(json.dumps({"duckdb": d[0], "duckdb_days": d[1], "duckdb_min": d[2], "duckdb_joined_messages": m, "polars": p[0], "polars_days": p[1], "polars_emails": p[2], "pyarrow": a.num_rows}))
"#;
    let out = Command::new("python3").arg("-c").arg(script).arg(path(&w)).output().expect("python3");
    assert!(
        out.status.success(),
        "python readers failed (pip install -r requirements-dev.txt): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["duckdb"].as_u64().unwrap(), written);
    assert_eq!(v["polars"].as_u64().unwrap(), written);
    assert_eq!(v["pyarrow"].as_u64().unwrap(), written);
    assert_eq!(v["duckdb_days"].as_u64().unwrap(), 2);
    assert_eq!(v["polars_days"].as_u64().unwrap(), 2);
    assert_eq!(v["duckdb_joined_messages"].as_u64().unwrap() as usize, rows(&table(&w, "messages")));
    assert!(v["duckdb_min"].as_str().unwrap().starts_with("2026-11-21"), "{v}");
    assert!(v["polars_emails"].as_u64().unwrap() > 0);
}
