//! `vigil campaign list|show`: the investigator's view of detected campaigns.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::io::Write as _;

use anyhow::{bail, Context as _};
use arrow::array::AsArray;
use vigil::schema::{self, for_each_member, read_campaigns, table, CampaignRow};
use vigil::warehouse::{for_each_contract_batch, Warehouse};

use crate::term::escape;
use crate::cli::{CampaignArgs, CampaignCommand};

pub fn run(args: CampaignArgs) -> anyhow::Result<()> {
    let (at, id) = match &args.command {
        CampaignCommand::List(at) => (at, None),
        CampaignCommand::Show { id, at } => (at, Some(id.as_str())),
    };
    let warehouse = Warehouse::open(&at.warehouse)?;
    let date = match &at.date {
        Some(d) => super::nightly::parse_date(d, "--date")?,
        None => latest_date(&warehouse)?,
    };
    let campaigns = strongest_first(&warehouse.files(table::CAMPAIGNS, Some(date))?)?;
    match id {
        None => list(&campaigns, date),
        Some(id) => show(&warehouse, &campaigns, date, id),
    }
}

/// The latest date with a campaigns partition.
fn latest_date(warehouse: &Warehouse) -> anyhow::Result<chrono::NaiveDate> {
    let files = warehouse.files(table::CAMPAIGNS, None)?;
    files
        .iter()
        .filter_map(|f| f.parent()?.file_name()?.to_str()?.strip_prefix("date=").map(str::to_owned))
        .filter_map(|d| chrono::NaiveDate::parse_from_str(&d, "%Y-%m-%d").ok())
        .max()
        .context("no campaigns in this warehouse yet: run `vigil nightly` first")
}

/// The night's campaigns, strongest first (as `list` and the demo show them).
pub fn strongest_first(files: &[std::path::PathBuf]) -> anyhow::Result<Vec<CampaignRow>> {
    let mut rows = read_campaigns(files)?;
    rows.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    Ok(rows)
}

fn day(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros).map_or_else(|| "?".into(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

fn list(rows: &[CampaignRow], date: chrono::NaiveDate) -> anyhow::Result<()> {
    // writeln!, not println!: `vigil campaign list | head` must end quietly, not panic.
    let mut out = std::io::stdout().lock();
    writeln!(out, "campaigns in the window ending {date} ({}), strongest first:", rows.len())?;
    writeln!(out, "{:<18} {:<10} {:<18} {:>5} {:>8} {:>6}  first seen → last seen", "campaign", "status", "kind", "score", "accounts", "conv.")?;
    for r in rows {
        let growth = r.previous_accounts.map_or(String::new(), |p| format!(" (was {p})"));
        writeln!(out, "{:<18} {:<10} {:<18} {:>5.2} {:>8} {:>6}  {} → {}{growth}", escape(&r.id), r.status.as_str(), r.kind.as_str(), r.score, r.accounts, r.conversations, day(r.first_seen), day(r.last_seen))?;
    }
    Ok(())
}

fn show(warehouse: &Warehouse, rows: &[CampaignRow], date: chrono::NaiveDate, id: &str) -> anyhow::Result<()> {
    let Some(r) = rows.iter().find(|r| r.id == id) else {
        bail!("no campaign {id} in the window ending {date} (`vigil campaign list` shows them)");
    };
    let mut out = std::io::stdout().lock();
    let evidence: serde_json::Value = serde_json::from_str(&r.evidence).context("evidence is not JSON")?;
    writeln!(out, "{}  {} {}  score {:.2}  ({} accounts, {} conversations)", escape(&r.id), r.status.as_str(), r.kind.as_str(), r.score, r.accounts, r.conversations)?;
    writeln!(out, "seen {} → {}\n", day(r.first_seen), day(r.last_seen))?;
    writeln!(out, "{}\n", escape(&r.summary))?;
    writeln!(out, "signals:")?;
    if let Some(signals) = evidence["signals"].as_object() {
        for (k, v) in signals {
            writeln!(out, "  {:<28} {}", escape(k), escape(&v.to_string()))?;
        }
    }
    writeln!(out, "\ntimeline (conversations per day):")?;
    if let Some(daily) = evidence["daily"].as_object() {
        let max = daily.values().filter_map(|v| v.as_u64()).max().unwrap_or(1).max(1);
        for (d, n) in daily {
            let n = n.as_u64().unwrap_or(0);
            writeln!(out, "  {}  {:>5}  {}", escape(d), n, "█".repeat(((n * 40).div_ceil(max)) as usize))?;
        }
    }
    // Members and example requests from the restricted tables.
    let examples: Vec<String> = evidence["examples"].as_array().map(|v| v.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()).unwrap_or_default();
    let mut per_account: BTreeMap<String, usize> = BTreeMap::new();
    // The days the examples were written on: only those `conversations` partitions are read.
    let mut example_days: BTreeSet<chrono::NaiveDate> = BTreeSet::new();
    for_each_member(&warehouse.files(table::CAMPAIGN_MEMBERS, Some(date))?, |m| {
        if m.campaign_id == id {
            *per_account.entry(m.account_id.to_owned()).or_default() += 1;
            if examples.iter().any(|e| e == m.conversation_id) {
                example_days.extend(chrono::DateTime::from_timestamp_micros(m.created_at).map(|t| t.date_naive()));
            }
        }
    })?;
    writeln!(out, "\nmember accounts ({}; pseudonyms, conversations in the campaign):", per_account.len())?;
    let mut accounts: Vec<_> = per_account.into_iter().collect();
    accounts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (a, n) in accounts.iter().take(20) {
        writeln!(out, "  {}  {n}", escape(a))?;
    }
    if accounts.len() > 20 {
        writeln!(out, "  … and {} more (query campaign_members)", accounts.len() - 20)?;
    }
    let mut texts: HashMap<String, String> = HashMap::new();
    for day in example_days {
        let files = warehouse.files(table::CONVERSATIONS, Some(day))?;
        for_each_contract_batch(&files, &schema::CONVERSATIONS, &["conversation_id", "user_text"], |_, b| {
            let (ids, text) = (b.column(0).as_string::<i32>(), b.column(1).as_string::<i32>());
            for i in 0..b.num_rows() {
                if examples.iter().any(|e| e == ids.value(i)) {
                    texts.insert(ids.value(i).to_owned(), text.value(i).to_owned());
                }
            }
            Ok(())
        })?;
    }
    writeln!(out, "\nexample requests (redacted):")?;
    for e in &examples {
        if let Some(t) = texts.get(e) {
            writeln!(out, "  [{}] {}", escape(e), escape(&vigil::facets::request_line(t)))?;
        }
    }
    Ok(())
}
