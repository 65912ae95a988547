//! `vigil runs` and `vigil verify`: the chain of custody, read back.

use std::io::Write as _;

use anyhow::Context as _;
use vigil::ledger::PublicKey;
use vigil::manifest::{self, Outcome, VerifyOptions};
use vigil::warehouse::Warehouse;

use crate::cli::{RunsArgs, VerifyArgs};
use crate::term::escape;

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
            escape(&m.job),
            escape(&m.date),
            escape(&m.run_id),
            outcome,
            seconds,
            m.outputs.len(),
            rows,
            escape(m.started_at.get(..19).unwrap_or(&m.started_at))
        )?;
        if let Some(error) = &m.error {
            writeln!(out, "         error: {}", escape(error))?;
        }
    }
    Ok(())
}

pub fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let warehouse = existing_warehouse(&args.warehouse)?;
    let date = args.date.as_deref().map(|d| super::nightly::parse_date(d, "--date")).transpose()?;
    let trust = args.trust.as_deref().map(PublicKey::from_file_or_text).transpose().context("--trust")?;
    let expect_head = args.expect_head.as_deref().map(str::trim).map(str::to_ascii_lowercase);
    if let Some(head) = &expect_head {
        anyhow::ensure!(head.len() == 64 && head.bytes().all(|b| b.is_ascii_hexdigit()), "--expect-head: a ledger head is 64 hex characters");
    }
    let v = manifest::verify(&warehouse, &VerifyOptions { date, trust, expect_head })?;
    let mut out = std::io::stdout().lock();
    // Every path and problem below comes from files anyone with write access could have
    // edited: escaped before printing, and digests never sliced blindly.
    let short = |d: &str| escape(d.get(..16).unwrap_or(d)).into_owned();
    for (line, problem) in &v.chain {
        writeln!(out, "LEDGER      line {line}: {}", escape(problem))?;
    }
    for (line, problem) in &v.signatures {
        writeln!(out, "SIGNATURE   line {line}: {}", escape(problem))?;
    }
    for (job, date, run, manifest) in &v.runs_removed {
        writeln!(out, "REMOVED     run {} ({} {}): its manifest {} is gone", escape(run), escape(job), escape(date), escape(manifest))?;
    }
    for (path, run) in &v.manifests_altered {
        writeln!(out, "MANIFEST    {} (run {}): not the manifest the ledger recorded", escape(path), escape(run))?;
    }
    for path in &v.manifests_unrecorded {
        writeln!(out, "UNRECORDED  {} (no ledger entry: added, or written before the ledger)", escape(path))?;
    }
    for (path, run, expected, actual) in &v.altered {
        writeln!(out, "ALTERED     {} (run {}: expected blake3 {}…, found {}…)", escape(path), escape(run), short(expected), short(actual))?;
    }
    for (path, run) in &v.missing {
        writeln!(out, "MISSING     {} (published by run {})", escape(path), escape(run))?;
    }
    for path in &v.unaccounted {
        writeln!(out, "UNACCOUNTED {} (no run manifest published it)", escape(path))?;
    }
    for (path, problem) in &v.unreadable {
        writeln!(out, "UNREADABLE  {} ({})", escape(path), escape(problem))?;
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
    writeln!(
        out,
        "ledger: {} entries ({} reveals); {} chain breaks, {} signature findings, {} runs removed, {} manifests altered, {} unrecorded",
        v.entries,
        v.reveals,
        v.chain.len(),
        v.signatures.len(),
        v.runs_removed.len(),
        v.manifests_altered.len(),
        v.manifests_unrecorded.len()
    )?;
    if !v.head.is_empty() {
        writeln!(out, "ledger head: {} (keep it outside the warehouse; check later with --expect-head)", v.head)?;
    }
    anyhow::ensure!(v.ok(), "the warehouse does not match its ledger and run manifests");
    Ok(())
}

fn existing_warehouse(path: &std::path::Path) -> anyhow::Result<Warehouse> {
    anyhow::ensure!(path.is_dir(), "warehouse {} does not exist", path.display());
    Ok(Warehouse::open(path)?)
}
