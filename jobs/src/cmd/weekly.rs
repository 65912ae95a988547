//! `vigil weekly`: the weekly trend report for leadership.


use anyhow::Context as _;
use vigil::report;

use crate::cli::WeeklyArgs;

pub fn run(args: WeeklyArgs) -> anyhow::Result<()> {
    let week_end = super::nightly::parse_date(&args.week_ending, "--week-ending")?;
    let (config, _) = super::nightly::load_config(args.config.as_deref(), &[])?;
    anyhow::ensure!(args.warehouse.is_dir(), "warehouse {} does not exist", args.warehouse.display());
    let warehouse = super::open_for_runs(&args.warehouse, &args.signing)?;
    let output = report::run(&warehouse, week_end, &config.privacy, &args.out)
        .with_context(|| format!("weekly report for the week ending {week_end}"))?;
    let mut out = std::io::stdout().lock();
    print_findings(&mut out, &output)?;
    Ok(())
}

/// Where the report is and its headline findings; shared with `vigil demo`.
pub fn print_findings(out: &mut impl std::io::Write, output: &report::WeeklyOutput) -> std::io::Result<()> {
    let r = &output.report;
    writeln!(out, "weekly {} to {}: {} conversations, {} campaigns described", r.week_start, r.week_end, report::thousands(r.totals.conversations), r.campaigns.len())?;
    for path in &output.files {
        writeln!(out, "  wrote {}", path.display())?;
    }
    writeln!(out, "top findings:")?;
    for (i, f) in r.headline.iter().enumerate() {
        writeln!(out, "  {}. {}", i + 1, f.text)?;
    }
    Ok(())
}
