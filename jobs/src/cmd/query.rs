//! `vigil query`: one read-only SQL statement over the warehouse, as a table, CSV, JSON or
//! Parquet. Canned investigator queries and the start-up views are embedded from `sql/`.

use std::io::{IsTerminal as _, Write};

use anyhow::{bail, Context as _};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use vigil::query::{QueryEngine, Zone};
use vigil::warehouse::Warehouse;

use crate::cli::{QueryArgs, QueryFormat, ZoneArg};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/sql.rs"));
}

pub use embedded::{QUERIES, VIEWS};

pub fn run(args: QueryArgs, threads: usize) -> anyhow::Result<()> {
    if args.list {
        return list(&mut std::io::stdout().lock()).context("writing the list");
    }
    let sql = match (&args.file, &args.sql) {
        (Some(file), _) => load(file)?,
        (None, Some(sql)) => sql.clone(),
        (None, None) => bail!("give a SQL statement, -f FILE, or -f NAME of a canned query (--list shows them)"),
    };
    let params = parse_params(&args.params)?;
    if args.format == QueryFormat::Parquet && args.out.is_none() {
        bail!("--format parquet needs --out FILE");
    }
    let warehouse_dir = args.warehouse.as_ref().context("--warehouse is required")?;
    if !warehouse_dir.is_dir() {
        bail!("warehouse {} does not exist", warehouse_dir.display());
    }
    let warehouse = Warehouse::open(warehouse_dir)?;
    let zone = match args.zone {
        ZoneArg::All => Zone::All,
        ZoneArg::Aggregate => Zone::Aggregate,
    };
    let runtime = runtime(threads)?;
    let (schema, batches) = runtime.block_on(async {
        let engine = QueryEngine::open(&warehouse, zone, Some(VIEWS), threads, limits(&args.limits)).await?;
        let statements = vigil::query::split_statements(&sql);
        let [statement] = statements.as_slice() else {
            bail!("expected one statement, found {}", statements.len());
        };
        tokio::select! {
            result = engine.query(statement, &params) => Ok(result?),
            _ = tokio::signal::ctrl_c() => bail!("cancelled"),
        }
    })?;
    write(&schema, &batches, args.format, args.out.as_deref())
}

/// The session's limits from the flags.
pub fn limits(args: &crate::cli::SqlLimitArgs) -> vigil::query::Limits {
    vigil::query::Limits {
        memory_bytes: usize::try_from(args.memory_mib << 20).unwrap_or(usize::MAX),
        timeout: std::time::Duration::from_secs(args.timeout),
    }
}

/// A multi-threaded runtime with the requested workers (0: one per core).
pub fn runtime(threads: usize) -> anyhow::Result<tokio::runtime::Runtime> {
    let mut builder = tokio::runtime::Builder::new_multi_thread();
    if threads > 0 {
        builder.worker_threads(threads);
    }
    builder.enable_all().build().context("starting the query runtime")
}

/// A statement from a file, or the canned query of that name.
pub fn load(file: &str) -> anyhow::Result<String> {
    if let Some((_, sql)) = QUERIES.iter().find(|(name, _)| *name == file || format!("{name}.sql") == file) {
        if !std::path::Path::new(file).exists() {
            return Ok((*sql).to_owned());
        }
    }
    std::fs::read_to_string(file).with_context(|| format!("reading {file} (not a file, nor a canned query: see --list)"))
}

/// `name=value` pairs.
pub fn parse_params(raw: &[String]) -> anyhow::Result<Vec<(String, String)>> {
    raw.iter()
        .map(|p| {
            let (name, value) = p.split_once('=').with_context(|| format!("--param {p:?} is not NAME=VALUE"))?;
            let name = name.trim().trim_start_matches('$');
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                bail!("--param {p:?}: the name must be letters, digits and _");
            }
            Ok((name.to_owned(), value.to_owned()))
        })
        .collect()
}

/// The header comment of a canned query: its first line says what it answers, `params:` what
/// it takes.
fn list(out: &mut impl Write) -> std::io::Result<()> {
    writeln!(out, "canned queries (run one with `vigil query --warehouse W -f NAME --param name=value ...`):\n")?;
    for (name, sql) in QUERIES {
        let header: Vec<&str> = sql.lines().take_while(|l| l.starts_with("--")).map(|l| l.trim_start_matches("--").trim()).collect();
        let what = header.first().map(|l| l.split_once(':').map_or(*l, |(_, rest)| rest.trim())).unwrap_or("");
        let params = header.iter().find_map(|l| l.strip_prefix("params:")).map(str::trim).unwrap_or("none");
        writeln!(out, "  {name}\n      {what}")?;
        for more in header.iter().skip(1).take_while(|l| !l.starts_with("params:")) {
            writeln!(out, "      {more}")?;
        }
        writeln!(out, "      params: {params}\n")?;
    }
    Ok(())
}

/// Writes the result in the requested format.
pub fn write(schema: &SchemaRef, batches: &[RecordBatch], format: QueryFormat, out: Option<&std::path::Path>) -> anyhow::Result<()> {
    let mut sink: Box<dyn Write> = match out {
        Some(path) => Box::new(std::io::BufWriter::new(std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?)),
        None => Box::new(std::io::BufWriter::new(std::io::stdout().lock())),
    };
    match format {
        QueryFormat::Table => {
            if batches.iter().all(|b| b.num_rows() == 0) {
                let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
                writeln!(sink, "({}) 0 rows", names.join(", "))?;
            } else {
                writeln!(sink, "{}", arrow::util::pretty::pretty_format_batches(&crate::term::printable(batches)?)?)?;
                let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
                writeln!(sink, "{rows} row{}", if rows == 1 { "" } else { "s" })?;
            }
        }
        QueryFormat::Csv if out.is_none() && std::io::stdout().is_terminal() => {
            // CSV on a terminal: escaped like a table; to a file or a pipe: the values as they are.
            let shown = crate::term::printable(batches)?;
            let mut writer = arrow::csv::WriterBuilder::new().with_header(true).build(&mut sink);
            if shown.is_empty() {
                writer.write(&RecordBatch::new_empty(schema.clone()))?;
            }
            for b in &shown {
                writer.write(b)?;
            }
        }
        QueryFormat::Csv => {
            let mut writer = arrow::csv::WriterBuilder::new().with_header(true).build(&mut sink);
            if batches.is_empty() {
                writer.write(&RecordBatch::new_empty(schema.clone()))?;
            }
            for b in batches {
                writer.write(b)?;
            }
        }
        QueryFormat::Json => {
            let mut writer = arrow::json::ArrayWriter::new(&mut sink);
            for b in batches {
                writer.write(b)?;
            }
            writer.finish()?;
            drop(writer);
            if batches.iter().all(|b| b.num_rows() == 0) {
                write!(sink, "[]")?;
            }
            writeln!(sink)?;
        }
        QueryFormat::Parquet => {
            let path = out.context("--format parquet needs --out")?;
            let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
            let mut writer = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), None)?;
            for b in batches {
                writer.write(b)?;
            }
            writer.close()?;
            return Ok(());
        }
    }
    sink.flush()?;
    Ok(())
}
