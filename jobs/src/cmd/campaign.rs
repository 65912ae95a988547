//! `vigil campaign list|show`: the investigator's view of detected campaigns.

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;

use anyhow::{bail, Context as _};
use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float32Type, Int64Type, TimestampMicrosecondType};
use vigil::schema::table;
use vigil::warehouse::{read_batches, Warehouse};

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
    let campaigns = read_batches(&warehouse.files(table::CAMPAIGNS, Some(date))?)?;
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

struct Row {
    id: String,
    status: String,
    kind: String,
    score: f32,
    accounts: i64,
    conversations: i64,
    previous: Option<i64>,
    first: i64,
    last: i64,
    summary: String,
    evidence: String,
}

fn rows(batches: &[RecordBatch]) -> anyhow::Result<Vec<Row>> {
    let mut out = Vec::new();
    for b in batches {
        let s = |n: &str| -> anyhow::Result<arrow::array::StringArray> { Ok(b.column_by_name(n).with_context(|| format!("campaigns has no {n}"))?.as_string::<i32>().clone()) };
        let i64s = |n: &str| -> anyhow::Result<arrow::array::Int64Array> { Ok(b.column_by_name(n).with_context(|| format!("campaigns has no {n}"))?.as_primitive::<Int64Type>().clone()) };
        let ts = |n: &str| -> anyhow::Result<arrow::array::TimestampMicrosecondArray> {
            Ok(b.column_by_name(n).with_context(|| format!("campaigns has no {n}"))?.as_primitive::<TimestampMicrosecondType>().clone())
        };
        let (id, status, kind, summary, evidence) = (s("campaign_id")?, s("status")?, s("kind")?, s("summary")?, s("evidence")?);
        let score = b.column_by_name("score").context("campaigns has no score")?.as_primitive::<Float32Type>().clone();
        let (accounts, conversations, previous) = (i64s("accounts")?, i64s("conversations")?, i64s("previous_accounts")?);
        let (first, last) = (ts("first_seen")?, ts("last_seen")?);
        for i in 0..b.num_rows() {
            out.push(Row {
                id: id.value(i).to_owned(),
                status: status.value(i).to_owned(),
                kind: kind.value(i).to_owned(),
                score: score.value(i),
                accounts: accounts.value(i),
                conversations: conversations.value(i),
                previous: previous.is_valid(i).then(|| previous.value(i)),
                first: first.value(i),
                last: last.value(i),
                summary: summary.value(i).to_owned(),
                evidence: evidence.value(i).to_owned(),
            });
        }
    }
    out.sort_by(|a, b| b.score.total_cmp(&a.score).then(a.id.cmp(&b.id)));
    Ok(out)
}

fn day(micros: i64) -> String {
    chrono::DateTime::from_timestamp_micros(micros).map_or_else(|| "?".into(), |t| t.format("%Y-%m-%d %H:%M").to_string())
}

fn list(batches: &[RecordBatch], date: chrono::NaiveDate) -> anyhow::Result<()> {
    let rows = rows(batches)?;
    // writeln!, not println!: `vigil campaign list | head` must end quietly, not panic.
    let mut out = std::io::stdout().lock();
    writeln!(out, "campaigns in the window ending {date} ({}), strongest first:", rows.len())?;
    writeln!(out, "{:<18} {:<10} {:<18} {:>5} {:>8} {:>6}  first seen → last seen", "campaign", "status", "kind", "score", "accounts", "conv.")?;
    for r in &rows {
        let growth = r.previous.map_or(String::new(), |p| format!(" (was {p})"));
        writeln!(out, "{:<18} {:<10} {:<18} {:>5.2} {:>8} {:>6}  {} → {}{growth}", escape(&r.id), escape(&r.status), escape(&r.kind), r.score, r.accounts, r.conversations, day(r.first), day(r.last))?;
    }
    Ok(())
}

fn show(warehouse: &Warehouse, batches: &[RecordBatch], date: chrono::NaiveDate, id: &str) -> anyhow::Result<()> {
    let rows = rows(batches)?;
    let Some(r) = rows.iter().find(|r| r.id == id) else {
        bail!("no campaign {id} in the window ending {date} (`vigil campaign list` shows them)");
    };
    let mut out = std::io::stdout().lock();
    let evidence: serde_json::Value = serde_json::from_str(&r.evidence).context("evidence is not JSON")?;
    writeln!(out, "{}  {} {}  score {:.2}  ({} accounts, {} conversations)", escape(&r.id), escape(&r.status), escape(&r.kind), r.score, r.accounts, r.conversations)?;
    writeln!(out, "seen {} → {}\n", day(r.first), day(r.last))?;
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
    let members = read_batches(&warehouse.files(table::CAMPAIGN_MEMBERS, Some(date))?)?;
    let mut per_account: BTreeMap<String, usize> = BTreeMap::new();
    for b in &members {
        let c = b.column_by_name("campaign_id").context("campaign_id")?.as_string::<i32>();
        let a = b.column_by_name("account_id").context("account_id")?.as_string::<i32>();
        for i in 0..b.num_rows() {
            if c.value(i) == id {
                *per_account.entry(a.value(i).to_owned()).or_default() += 1;
            }
        }
    }
    writeln!(out, "\nmember accounts ({}; pseudonyms, conversations in the campaign):", per_account.len())?;
    let mut accounts: Vec<_> = per_account.into_iter().collect();
    accounts.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    for (a, n) in accounts.iter().take(20) {
        writeln!(out, "  {}  {n}", escape(a))?;
    }
    if accounts.len() > 20 {
        writeln!(out, "  … and {} more (query campaign_members)", accounts.len() - 20)?;
    }
    let examples: Vec<String> = evidence["examples"].as_array().map(|v| v.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect()).unwrap_or_default();
    let mut texts: HashMap<String, String> = HashMap::new();
    for b in read_batches(&warehouse.files(table::CONVERSATIONS, None)?)? {
        let ids = b.column_by_name("conversation_id").context("conversation_id")?.as_string::<i32>();
        let text = b.column_by_name("user_text").context("user_text")?.as_string::<i32>();
        for i in 0..b.num_rows() {
            if examples.iter().any(|e| e == ids.value(i)) {
                texts.insert(ids.value(i).to_owned(), text.value(i).to_owned());
            }
        }
    }
    writeln!(out, "\nexample requests (redacted):")?;
    for e in &examples {
        if let Some(t) = texts.get(e) {
            writeln!(out, "  [{}] {}", escape(e), escape(&vigil::facets::request_line(t)))?;
        }
    }
    Ok(())
}
