//! `vigil demo`: fixtures → ingest → nightly for each day → weekly report, then a tour of what
//! landed and the report's top findings.
//!
//! The demo runs every stage on data it generates itself, with a key it keeps outside the
//! warehouse.

use std::collections::BTreeMap;
use std::io::Write as _;

use anyhow::Context as _;
use arrow::array::AsArray;
use vigil::ingest::IngestConfig;
use vigil::nightly::campaigns::typical_request;
use vigil::schema::{for_each_member, read_clusters, table};
use vigil::warehouse::{read_batches, Warehouse};
use vigil_fixtures::generate;

use crate::cli::DemoArgs;

pub fn run(args: DemoArgs, threads: usize) -> anyhow::Result<()> {
    let dir = &args.dir;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let logs = dir.join("logs");
    let warehouse_dir = dir.join("warehouse");
    if warehouse_dir.exists() {
        std::fs::remove_dir_all(&warehouse_dir).with_context(|| format!("clearing the previous demo warehouse {}", warehouse_dir.display()))?;
    }

    // The key lives beside, never inside, the warehouse.
    let key_path = dir.join("pseudonym.key");
    let key = if key_path.exists() {
        vigil::pseudonym::PseudonymKey::from_file(&key_path)?
    } else {
        let key = super::random_key()?;
        super::keygen::write_key_file(&key_path, &key)?;
        key
    };
    // So is the key that signs the warehouse's runs (its public half beside it, to verify with).
    let signing_path = dir.join("signing.key");
    let signing = if signing_path.exists() {
        vigil::ledger::SigningKey::from_file(&signing_path)?
    } else {
        let key = vigil::ledger::SigningKey::from_bytes(super::random_bytes()?);
        super::keygen::write_signing_key(&signing_path, &key)?;
        key
    };

    // And the reveal key: raw account ids are escrowed to it, and only two of its three shares
    // together open them (a real deployment hands each share to a different person).
    let reveal_dir = dir.join("reveal");
    let reveal_pub = reveal_dir.join("reveal.pub");
    if !reveal_pub.exists() {
        super::keygen::write_reveal_shares(&reveal_dir, 3, 2)?;
    }
    let reveal_key = vigil::escrow::RevealKey::from_file_or_text(&reveal_pub.to_string_lossy())?;

    let shape = &crate::cli::FixtureShape { days: args.days, per_day: args.per_day, seed: args.seed };
    writeln!(std::io::stdout(), "1/4 fixtures: generating {} days × {} organic conversations (seed {})", shape.days, shape.per_day, shape.seed)?;
    let config = super::fixtures::config(shape);
    let fixtures = generate(&config, &logs)?;
    writeln!(std::io::stdout(), "    {}", super::fixtures::summary_line(&fixtures, &logs))?;

    writeln!(std::io::stdout(), "2/4 ingest: redacting and pseudonymizing into {}", warehouse_dir.display())?;
    let warehouse = Warehouse::open(&warehouse_dir)?.with_signer(Some(signing));
    let ingest_config = IngestConfig { threads, escrow: Some(reveal_key), ..IngestConfig::default() };
    let summary = super::ingest::run_ingest(&warehouse, &fixtures.files, &key, &ingest_config)?;
    writeln!(std::io::stdout(), "    {}", super::ingest::summary_line(&summary))?;

    writeln!(std::io::stdout(), "3/4 nightly: facets, embeddings, topic clusters, accounts and campaigns for each day")?;
    let config = vigil::nightly::NightlyConfig::default();
    let taxonomy = super::nightly::load_taxonomy(&config, None)?;
    let first = super::nightly::parse_date(&fixtures.ground_truth.start_date, "fixtures start date")?;
    let last = super::nightly::parse_date(&fixtures.ground_truth.end_date, "fixtures end date")?;
    let mut day = first;
    while day <= last {
        let summary = super::nightly::run_nightly(&warehouse, day, &config, &taxonomy)?;
        writeln!(std::io::stdout(), "    {}", super::nightly::summary_line(&summary))?;
        day = day.succ_opt().context("date overflow")?;
    }

    tour(&warehouse, &fixtures.ground_truth)?;
    topics(&warehouse, last)?;
    campaigns(&warehouse, last)?;

    let report_dir = dir.join("report");
    writeln!(std::io::stdout(), "\n4/4 weekly: the trend report for the week ending {last}")?;
    let output = vigil::report::run(&warehouse, last, &config.privacy, &report_dir).context("weekly report")?;
    super::weekly::print_findings(&mut std::io::stdout().lock(), &output)?;

    writeln!(std::io::stdout(), "\nreport:    {} (open in a browser; report.md for email, report.json for dashboards)", report_dir.join("report.html").display())?;
    writeln!(std::io::stdout(), "warehouse: {} (vigil query / vigil sql, or DuckDB, Polars, pyarrow; hive partitioning on `date`)", warehouse_dir.display())?;
    writeln!(
        std::io::stdout(),
        "runs:      vigil runs --warehouse {} ; vigil verify --warehouse {} --trust {}.pub",
        warehouse_dir.display(),
        warehouse_dir.display(),
        signing_path.display()
    )?;
    writeln!(std::io::stdout(), "keys:      {} and {} (keep them outside the warehouse)", key_path.display(), signing_path.display())?;
    let mut example = None;
    for_each_member(&warehouse.files(table::CAMPAIGN_MEMBERS, Some(last))?, |m| {
        example.get_or_insert_with(|| m.account_id.to_owned());
    })?;
    writeln!(
        std::io::stdout(),
        "reveal:    vigil reveal --warehouse {} --share {} --share {} --reason 'why' {} ; vigil audit --warehouse {}",
        warehouse_dir.display(),
        reveal_dir.join("share-1").display(),
        reveal_dir.join("share-2").display(),
        example.as_deref().unwrap_or("acct_…"),
        warehouse_dir.display()
    )?;
    Ok(())
}

/// A short look at what landed: languages, redactions by kind, quarantine reasons, and an
/// example of a redacted conversation.
fn tour(warehouse: &Warehouse, truth: &vigil_fixtures::GroundTruth) -> anyhow::Result<()> {
    let conversations = read_batches(&warehouse.files(table::CONVERSATIONS, None)?)?;
    let mut languages: BTreeMap<String, u64> = BTreeMap::new();
    let mut example = None;
    let mut pii: BTreeMap<&str, u64> = BTreeMap::new();
    for batch in &conversations {
        let lang = batch.column_by_name("language").context("language column")?.as_string::<i32>();
        for l in lang.iter().flatten() {
            *languages.entry(l.to_owned()).or_default() += 1;
        }
        let pii_col = batch.column_by_name("pii").context("pii column")?.as_struct();
        for (field, col) in pii_col.fields().iter().zip(pii_col.columns()) {
            let sum: i64 = col.as_primitive::<arrow::datatypes::Int32Type>().iter().flatten().map(i64::from).sum();
            *pii.entry(field.name().as_str()).or_default() += sum as u64;
        }
        if example.is_none() {
            let totals = batch.column_by_name("pii_total").context("pii_total")?.as_primitive::<arrow::datatypes::Int32Type>();
            let text = batch.column_by_name("user_text").context("user_text")?.as_string::<i32>();
            if let Some(i) = (0..batch.num_rows()).find(|&i| totals.value(i) >= 1 && text.value(i).len() < 240) {
                example = Some(text.value(i).to_owned());
            }
        }
    }
    let mut langs: Vec<_> = languages.into_iter().collect();
    langs.sort_by_key(|(_, n)| std::cmp::Reverse(*n));
    let top: Vec<String> = langs.iter().take(8).map(|(l, n)| format!("{l} {n}")).collect();
    writeln!(std::io::stdout(), "\nlanguages:   {}", top.join(", "))?;
    let redacted: Vec<String> = pii.iter().filter(|(_, n)| **n > 0).map(|(k, n)| format!("{k} {n}")).collect();
    writeln!(std::io::stdout(), "redacted:    {}", redacted.join(", "))?;
    writeln!(std::io::stdout(), "planted:     {} PII values, {} campaigns, {} decoy groups (ground truth in logs/ground_truth.json)", truth.pii.len(), truth.campaigns.len(), truth.decoys.len())?;
    if let Some(text) = example {
        writeln!(std::io::stdout(), "example:     {}", text.replace('\n', " "))?;
    }
    let quarantine = read_batches(&warehouse.files(table::QUARANTINE, None)?)?;
    let mut reasons: BTreeMap<String, u64> = BTreeMap::new();
    for batch in &quarantine {
        for code in batch.column_by_name("reason_code").context("reason_code")?.as_string::<i32>().iter().flatten() {
            *reasons.entry(code.to_owned()).or_default() += 1;
        }
    }
    let reasons: Vec<String> = reasons.iter().map(|(k, n)| format!("{k} {n}")).collect();
    writeln!(std::io::stdout(), "quarantine:  {}", if reasons.is_empty() { "empty".to_owned() } else { reasons.join(", ") })?;
    Ok(())
}

/// The top level of the last night's topic hierarchy, largest first.
fn topics(warehouse: &Warehouse, date: chrono::NaiveDate) -> anyhow::Result<()> {
    let rows: Vec<(i32, i64, i64, String, String)> = read_clusters(&warehouse.files(table::CLUSTERS, Some(date))?)?
        .into_iter()
        .filter_map(|c| Some((c.level, c.conversations, c.accounts, c.name?, c.policy_area)))
        .collect();
    let top = rows.iter().map(|r| r.0).max().unwrap_or(0);
    let mut top_rows: Vec<_> = rows.iter().filter(|r| r.0 == top).collect();
    top_rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.3.cmp(&b.3)));
    writeln!(std::io::stdout(), "\ntopics ({date}, trailing 7 days, top level of the hierarchy; names use only phrases of 5+ accounts):")?;
    for (_, conv, acc, name, area) in top_rows.iter().take(12) {
        let flag = if area == "none" { String::new() } else { format!("  [{area}]") };
        writeln!(std::io::stdout(), "  {conv:>6} conv. {acc:>5} acc.  {name}{flag}")?;
    }
    if top_rows.len() > 12 {
        writeln!(std::io::stdout(), "  … and {} more (query the `clusters` table)", top_rows.len() - 12)?;
    }
    Ok(())
}

/// The last night's campaigns, strongest first, with a typical request each.
fn campaigns(warehouse: &Warehouse, date: chrono::NaiveDate) -> anyhow::Result<()> {
    let rows = super::campaign::strongest_first(&warehouse.files(table::CAMPAIGNS, Some(date))?)?;
    writeln!(std::io::stdout(), "\ncampaigns ({date}, trailing 7 days; `vigil campaign show ID --warehouse W` for the evidence):")?;
    for r in &rows {
        let typical: String = typical_request(&r.summary).unwrap_or("").chars().take(80).collect();
        writeln!(
            std::io::stdout(),
            "  {}  {:<17} {:<10} score {:.2} {:>4} acc. {:>4} conv.  \u{201c}{typical}\u{201d}",
            r.id,
            r.kind.as_str(),
            r.status.as_str(),
            r.score,
            r.accounts,
            r.conversations
        )?;
    }
    Ok(())
}
