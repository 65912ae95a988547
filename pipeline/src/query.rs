//! SQL over the warehouse with Apache DataFusion: every table registered under its contract
//! name as a standard Parquet listing table with the Hive `date` partition column (so date
//! filters prune whole directories), views from `sql/views.sql`, named parameters bound as
//! values, and a read-only guard.
//!
//! Plans stay plain DataFusion (listing tables, SQL, no custom providers) so the same queries
//! can move to Ballista.
//!
//! Read-only and contained: user statements run with DDL, DML and session statements refused
//! (`COPY`, `INSERT`, `CREATE [EXTERNAL] TABLE`, `DROP`, `SET` …), and the session has no URL
//! tables, so a query can read only what was registered here, under the warehouse root.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, SchemaRef};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::LogicalPlan;
use datafusion::datasource::file_format::parquet::ParquetFormat;
use datafusion::datasource::listing::ListingOptions;
use datafusion::execution::context::{SQLOptions, SessionConfig, SessionContext};
use datafusion::execution::runtime_env::RuntimeEnvBuilder;
use futures::StreamExt as _;

use crate::error::{Error, Result};
use crate::schema::table;
use crate::warehouse::Warehouse;

/// Which tables a session sees.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Zone {
    /// Every table (investigators).
    #[default]
    All,
    /// Only the k-anonymous aggregate tables (analysts).
    Aggregate,
}

impl Zone {
    /// Tables of this zone.
    pub fn tables(self) -> Vec<&'static str> {
        match self {
            Zone::All => table::RESTRICTED.iter().chain(table::AGGREGATE).copied().collect(),
            Zone::Aggregate => table::AGGREGATE.to_vec(),
        }
    }
}

/// A DataFusion session over one warehouse.
pub struct QueryEngine {
    ctx: SessionContext,
    tables: Vec<String>,
    views: Vec<String>,
    limits: Limits,
}

impl std::fmt::Debug for QueryEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("QueryEngine").field("tables", &self.tables).field("views", &self.views).finish()
    }
}

/// The guard for user statements: queries only.
/// Resource bounds of a session: a memory pool every statement draws on (operators that can
/// spill do, to the operating system's temporary directory; the others stop with "resources
/// exhausted"), which also bounds the result held for printing, and a time limit per statement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes of the memory pool.
    pub memory_bytes: usize,
    /// Time limit of one statement.
    pub timeout: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { memory_bytes: 2 << 30, timeout: std::time::Duration::from_secs(600) }
    }
}

/// Share of [`Limits::memory_bytes`] given to DataFusion's memory pool; the rest bounds the
/// result held for printing.
const POOL_SHARE: f64 = 0.7;

impl QueryEngine {
    /// Registers the zone's tables that exist in the warehouse, then runs `views` (semicolon
    /// separated `CREATE VIEW` statements; a view over a table outside the zone is skipped).
    pub async fn open(warehouse: &Warehouse, zone: Zone, views: Option<&str>, threads: usize, limits: Limits) -> Result<Self> {
        let mut config = SessionConfig::new().with_information_schema(true).with_default_catalog_and_schema("vigil", "warehouse");
        if threads > 0 {
            config = config.with_target_partitions(threads);
        }
        // Operators' reservations undercount what they hold (merged partial states, batches in
        // flight): measured here at 1.3-1.4x. So the pool gets 70% of the limit and the result
        // held for printing the other 30%, which keeps the process's peak near the limit
        // (benches/README.md, "Chain of custody").
        let runtime = RuntimeEnvBuilder::new()
            .with_memory_limit(limits.memory_bytes, POOL_SHARE)
            .build_arc()
            .map_err(|e| Error::datafusion("setting up the memory pool", e))?;
        let ctx = SessionContext::new_with_config_rt(config, runtime);
        let mut tables = Vec::new();
        for name in zone.tables() {
            let dir = warehouse.table_dir(name);
            if warehouse.files(name, None)?.is_empty() {
                continue;
            }
            let options = ListingOptions::new(Arc::new(ParquetFormat::default()))
                .with_file_extension(".parquet")
                .with_table_partition_cols(vec![("date".to_owned(), DataType::Date32)]);
            let url = format!("{}/", dir.canonicalize().map_err(|e| Error::warehouse(&dir, e))?.display());
            // The contract schema saves reading every file's footer to infer it (0.09 s of
            // each `vigil query` at 30 days; see benches/README.md); embeddings' width depends
            // on the config, so that one table is inferred.
            let schema = crate::schema::of_table(name);
            ctx.register_listing_table(name, url, options, schema, None).await.map_err(|e| Error::datafusion(format!("registering table {name}"), e))?;
            tables.push(name.to_owned());
        }
        let mut engine = QueryEngine { ctx, tables, views: Vec::new(), limits };
        if let Some(views) = views {
            for statement in split_statements(views) {
                let name = view_name(&statement);
                // Views may only read tables of this zone; one that cannot plan is skipped.
                match engine.ctx.sql_with_options(&statement, SQLOptions::new().with_allow_dml(false).with_allow_statements(false)).await {
                    Ok(df) => {
                        df.collect().await.map_err(|e| Error::datafusion(format!("creating view {}", name.as_deref().unwrap_or("?")), e))?;
                        if let Some(name) = name {
                            engine.views.push(name);
                        }
                    }
                    Err(e) => tracing::debug!(view = name.as_deref().unwrap_or("?"), error = %e, "view skipped"),
                }
            }
        }
        Ok(engine)
    }

    /// Registered tables.
    pub fn tables(&self) -> &[String] {
        &self.tables
    }

    /// Views created at start-up.
    pub fn views(&self) -> &[String] {
        &self.views
    }

    /// The DataFusion session (for callers that stream or explain).
    pub fn context(&self) -> &SessionContext {
        &self.ctx
    }

    /// Runs one read-only statement with named parameters (`$name` in the SQL), bound as
    /// typed values — never spliced into the text — within the session's [`Limits`].
    pub async fn query(&self, sql: &str, params: &[(String, String)]) -> Result<(SchemaRef, Vec<RecordBatch>)> {
        let run = async {
            // Planned, checked for writes by the plan's node types, and only then run: a plan
            // that writes never reaches execution.
            let plan = self.ctx.state().create_logical_plan(sql).await.map_err(|e| self.failure(e))?;
            if let Some(write) = first_write(&plan) {
                return Err(Error::Refused(write));
            }
            let mut df = self.ctx.execute_logical_plan(plan).await.map_err(|e| self.failure(e))?;
            if !params.is_empty() {
                let values: Vec<(String, ScalarValue)> = params.iter().map(|(k, v)| (k.clone(), param_value(v))).collect();
                df = df.with_param_values(values).map_err(|e| Error::datafusion("binding parameters", e))?;
            }
            let schema: SchemaRef = Arc::new(df.schema().as_arrow().clone());
            // The result is held for printing: it counts against the same limit.
            let mut stream = df.execute_stream().await.map_err(|e| self.failure(e))?;
            let (mut batches, mut held) = (Vec::new(), 0usize);
            while let Some(batch) = stream.next().await {
                let batch = batch.map_err(|e| self.failure(e))?;
                held += batch.get_array_memory_size();
                if held as f64 > self.limits.memory_bytes as f64 * (1.0 - POOL_SHARE) {
                    return Err(Error::Query(format!(
                        "resources exhausted: the result is larger than the memory limit ({} MiB); aggregate or LIMIT it, or raise --memory-limit",
                        self.limits.memory_bytes >> 20
                    )));
                }
                batches.push(batch);
            }
            Ok((schema, batches))
        };
        match tokio::time::timeout(self.limits.timeout, run).await {
            Ok(result) => result,
            Err(_) => Err(Error::Query(format!("timed out after {} s (the statement's time limit; see --timeout)", self.limits.timeout.as_secs()))),
        }
    }

    /// A DataFusion error in the user's terms: the memory limit, or DataFusion's own error.
    fn failure(&self, e: datafusion::error::DataFusionError) -> Error {
        if matches!(e.find_root(), datafusion::error::DataFusionError::ResourcesExhausted(_)) {
            return Error::Query(format!(
                "resources exhausted: the statement needs more than the memory limit ({} MiB) and cannot spill — {e}; narrow it or raise --memory-limit",
                self.limits.memory_bytes >> 20
            ));
        }
        Error::datafusion("query", e)
    }
}

/// The first node of a plan (subqueries included) that would change something: DDL (`CREATE`,
/// `DROP`), DML (`INSERT`, `UPDATE`, `DELETE`), `COPY`, or a session statement (`SET`,
/// transactions). The names DataFusion gives them, for the refusal.
fn first_write(plan: &LogicalPlan) -> Option<String> {
    let mut found = None;
    // The closure never fails, so neither does the walk.
    let _ = plan.apply_with_subqueries(|node| {
        found = match node {
            LogicalPlan::Ddl(ddl) => Some(ddl.name().to_owned()),
            LogicalPlan::Dml(dml) => Some(dml.op.to_string()),
            LogicalPlan::Copy(_) => Some("COPY".to_owned()),
            LogicalPlan::Statement(statement) => Some(statement.name().to_owned()),
            _ => None,
        };
        Ok(if found.is_some() { TreeNodeRecursion::Stop } else { TreeNodeRecursion::Continue })
    });
    found
}

/// A parameter's typed value: integer, float, `YYYY-MM-DD` date, `true`/`false`, else text.
pub fn param_value(text: &str) -> ScalarValue {
    if let Ok(i) = text.parse::<i64>() {
        return ScalarValue::Int64(Some(i));
    }
    if let Ok(f) = text.parse::<f64>()
        && f.is_finite()
        && text.contains('.')
    {
        return ScalarValue::Float64(Some(f));
    }
    if text.len() == 10
        && let Ok(d) = chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
    {
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid");
        return ScalarValue::Date32(Some((d - epoch).num_days() as i32));
    }
    match text {
        "true" => ScalarValue::Boolean(Some(true)),
        "false" => ScalarValue::Boolean(Some(false)),
        _ => ScalarValue::Utf8(Some(text.to_owned())),
    }
}

/// Splits SQL text into statements at semicolons outside quotes and comments; drops empty ones.
pub fn split_statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut chars = sql.chars().peekable();
    let (mut single, mut double) = (false, false);
    while let Some(c) = chars.next() {
        match c {
            '\'' if !double => single = !single,
            '"' if !single => double = !double,
            '-' if !single && !double && chars.peek() == Some(&'-') => {
                // Line comment: keep it (headers document queries) but never split inside.
                current.push(c);
                for c in chars.by_ref() {
                    current.push(c);
                    if c == '\n' {
                        break;
                    }
                }
                continue;
            }
            ';' if !single && !double => {
                if has_code(&current) {
                    out.push(current.trim().to_owned());
                }
                current.clear();
                continue;
            }
            _ => {}
        }
        current.push(c);
    }
    if has_code(&current) {
        out.push(current.trim().to_owned());
    }
    out
}

/// Whether a statement has anything besides comments and whitespace.
fn has_code(statement: &str) -> bool {
    statement.lines().any(|l| {
        let l = l.trim();
        !l.is_empty() && !l.starts_with("--")
    })
}

/// `CREATE [OR REPLACE] VIEW name` → name.
fn view_name(statement: &str) -> Option<String> {
    let code: String = statement.lines().filter(|l| !l.trim_start().starts_with("--")).collect::<Vec<_>>().join(" ");
    let words: Vec<&str> = code.split_whitespace().collect();
    let at = words.iter().position(|w| w.eq_ignore_ascii_case("view"))?;
    words.get(at + 1).map(|w| w.trim_matches('"').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_split_outside_quotes_and_comments() {
        let sql = "-- header; not a split\nselect 'a;b' as x;\n\ncreate view v as select 1 -- trailing; comment\n;\n-- only a comment;\n";
        let s = split_statements(sql);
        assert_eq!(s.len(), 2, "{s:?}");
        assert!(s[0].ends_with("select 'a;b' as x"));
        assert_eq!(view_name(&s[1]).as_deref(), Some("v"));
    }

    #[test]
    fn parameters_are_typed_values() {
        assert_eq!(param_value("42"), ScalarValue::Int64(Some(42)));
        assert_eq!(param_value("0.5"), ScalarValue::Float64(Some(0.5)));
        assert!(matches!(param_value("2026-11-22"), ScalarValue::Date32(Some(_))));
        assert_eq!(param_value("x'; drop table t; --"), ScalarValue::Utf8(Some("x'; drop table t; --".into())));
    }
}
