//! `vigil runs` and `vigil verify`: the chain of custody, read back.

use std::io::Write as _;

use vigil::manifest::{self, Outcome};
use vigil::warehouse::Warehouse;

use crate::cli::{RunsArgs, VerifyArgs};

pub fn list(args: RunsArgs) -> anyhow::Result<()> {
    let warehouse = existing_warehouse(&args.warehouse)?;
    let date = args.date.as_deref().map(|d| super::nightly::parse_date(d, "--date")).transpose()?;
    let runs = manifest::list(&warehouse, args.job.as_deref(), date)?;
    let mut out = std::io::stdout().lock();
    if args.json {
        let all: Vec<&manifest::RunManifest> = runs.iter().map(|r| &r.manifest).collect();
        writeln!(out, "{}", serde_json::to_string_pretty(&all)?)?;
        return Ok(());
    }
    if runs.is_empty() {
        writeln!(out, "no runs recorded in {}", warehouse.root().display())?;
        return Ok(());
    }
    writeln!(out, "{:<8} {:<10} {:<26} {:<12} {:>8} {:>7} {:>12}  started", "job", "date", "run", "outcome", "seconds", "files", "rows")?;
    for run in &runs {
        let m = &run.manifest;
        let outcome = match (m.outcome, run.interrupted) {
            (Outcome::Running | Outcome::Publishing, true) => "interrupted",
            (Outcome::Running, false) => "running",
            (Outcome::Publishing, false) => "publishing",
            (Outcome::Succeeded, _) => "succeeded",
            (Outcome::Failed, _) => "failed",
        };
        let seconds: f64 = m.stages.iter().map(|s| s.seconds).sum();
        let rows: u64 = m.outputs.iter().filter_map(|o| o.rows).sum();
        writeln!(
            out,
            "{:<8} {:<10} {:<26} {:<12} {:>8.1} {:>7} {:>12}  {}",
            m.job,
            m.date,
            m.run_id,
            outcome,
            seconds,
            m.outputs.len(),
            rows,
            m.started_at.get(..19).unwrap_or(&m.started_at)
        )?;
        if let Some(error) = &m.error {
            writeln!(out, "         error: {error}")?;
        }
    }
    Ok(())
}

pub fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let warehouse = existing_warehouse(&args.warehouse)?;
    let date = args.date.as_deref().map(|d| super::nightly::parse_date(d, "--date")).transpose()?;
    let v = manifest::verify(&warehouse, date)?;
    let mut out = std::io::stdout().lock();
    for (path, run, expected, actual) in &v.altered {
        // The expected digest comes from a manifest anyone could have edited: never slice blindly.
        let short = |d: &str| d.get(..16).unwrap_or(d).to_owned();
        writeln!(out, "ALTERED     {path} (run {run}: expected blake3 {}…, found {}…)", short(expected), short(actual))?;
    }
    for (path, run) in &v.missing {
        writeln!(out, "MISSING     {path} (published by run {run})")?;
    }
    for path in &v.unaccounted {
        writeln!(out, "UNACCOUNTED {path} (no run manifest published it)")?;
    }
    for (path, problem) in &v.unreadable {
        writeln!(out, "UNREADABLE  {path} ({problem})")?;
    }
    writeln!(
        out,
        "verify: {} files ({:.1} MiB) re-hashed against {} manifests: {} match, {} altered, {} missing, {} unaccounted for, {} unreadable manifests",
        v.checked,
        v.bytes as f64 / (1 << 20) as f64,
        v.manifests,
        v.matched,
        v.altered.len(),
        v.missing.len(),
        v.unaccounted.len(),
        v.unreadable.len()
    )?;
    anyhow::ensure!(v.ok(), "the warehouse does not match its run manifests");
    Ok(())
}

fn existing_warehouse(path: &std::path::Path) -> anyhow::Result<Warehouse> {
    anyhow::ensure!(path.is_dir(), "warehouse {} does not exist", path.display());
    Ok(Warehouse::open(path)?)
}
