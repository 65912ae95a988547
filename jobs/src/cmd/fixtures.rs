//! `vigil fixtures`: synthetic logs with ground truth.

use anyhow::Context as _;
use vigil_fixtures::{generate, FixtureConfig, FixtureFamily, FixtureSummary};

use crate::cli::FixturesArgs;

pub fn run(args: FixturesArgs) -> anyhow::Result<()> {
    let mut config = config(&args.shape);
    config.family = match args.family {
        crate::cli::Family::Standard => FixtureFamily::Standard,
        crate::cli::Family::Adversarial => FixtureFamily::Adversarial,
    };
    if let Some(end) = &args.end_date {
        config.end_date = super::nightly::parse_date(end, "--end-date")?;
    }
    let summary = generate(&config, &args.out).with_context(|| format!("writing fixtures to {}", args.out.display()))?;
    println!("{}", summary_line(&summary, &args.out));
    Ok(())
}

/// The fixture config for a size and seed.
pub fn config(shape: &crate::cli::FixtureShape) -> FixtureConfig {
    FixtureConfig { days: shape.days, per_day: shape.per_day, seed: shape.seed, ..FixtureConfig::default() }
}

pub fn summary_line(s: &FixtureSummary, out: &std::path::Path) -> String {
    let t = &s.ground_truth;
    let bad: u64 = t.counts.bad_records.values().sum();
    format!(
        "fixtures: {} day files in {} ({} lines: {} conversations, {} bad records, {} duplicates); planted {} campaigns, {} decoy groups, {} PII values",
        s.files.len(),
        out.display(),
        t.counts.lines,
        t.counts.conversations,
        bad,
        t.counts.duplicates,
        t.campaigns.len(),
        t.decoys.len(),
        t.pii.len()
    )
}
