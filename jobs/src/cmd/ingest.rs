//! `vigil ingest`: logs → warehouse, one summary line at the end.

use anyhow::Context as _;
use vigil::ingest::{self, Format, IngestConfig, IngestSummary};
use vigil::warehouse::Warehouse;

use crate::cli::{IdentifierActionArg, IngestArgs, InputFormat};
use crate::progress::ByteProgress;

pub fn run(args: IngestArgs, threads: usize) -> anyhow::Result<()> {
    let key = super::load_key(&args.key)?;
    let hh_at = match &args.at {
        Some(at) => Some(
            chrono::DateTime::parse_from_rfc3339(at)
                .with_context(|| format!("--at {at:?} is not an RFC 3339 timestamp"))?
                .with_timezone(&chrono::Utc),
        ),
        None => None,
    };
    let config = IngestConfig {
        format: format(args.format),
        max_record_bytes: args.max_record_bytes,
        max_message_bytes: args.max_message_bytes,
        threads,
        hh_account: args.account.clone(),
        hh_at,
        identifiers: identifier_policy(args.identifier_keys.as_deref(), args.identifier_action)?,
        ner: args.names.ner.into(),
        models_dir: args.names.models.clone(),
        escrow: reveal_key(args.reveal_key.as_deref())?,
        ..IngestConfig::default()
    };
    let warehouse = super::open_for_runs(&args.warehouse, &args.signing)?;
    let summary = run_ingest(&warehouse, &args.files, &key, &config)?;
    if args.json {
        println!("{}", summary_json(&summary));
    } else {
        println!("{}", summary_line(&summary));
    }
    Ok(())
}

/// The reveal key ingest escrows raw ids to: `--reveal-key`, else `$VIGIL_REVEAL_KEY`, else none.
pub fn reveal_key(flag: Option<&str>) -> anyhow::Result<Option<vigil::escrow::RevealKey>> {
    let (value, from) = match flag {
        Some(v) => (v.to_owned(), "--reveal-key"),
        None => match std::env::var(REVEAL_KEY_ENV) {
            Ok(v) if !v.trim().is_empty() => (v, "$VIGIL_REVEAL_KEY"),
            _ => return Ok(None),
        },
    };
    Ok(Some(vigil::escrow::RevealKey::from_file_or_text(&value).with_context(|| from.to_owned())?))
}

/// Environment variable naming the reveal key (a `reveal.pub` path or `age1…`).
pub const REVEAL_KEY_ENV: &str = "VIGIL_REVEAL_KEY";

/// The identifier policy the flags ask for; an empty key list is refused (it would silently
/// keep every identifier in metadata).
fn identifier_policy(keys: Option<&[String]>, action: IdentifierActionArg) -> anyhow::Result<ingest::IdentifierPolicy> {
    let action = match action {
        IdentifierActionArg::Pseudonymize => ingest::IdentifierAction::Pseudonymize,
        IdentifierActionArg::Drop => ingest::IdentifierAction::Drop,
    };
    let keys: Vec<&str> = match keys {
        Some(keys) => keys.iter().map(|k| k.trim()).filter(|k| !k.is_empty()).collect(),
        None => ingest::DEFAULT_IDENTIFIER_KEYS.to_vec(),
    };
    if keys.is_empty() {
        anyhow::bail!("--identifier-keys is empty: name at least one key, or leave the flag out for the defaults");
    }
    Ok(ingest::IdentifierPolicy::new(keys, action))
}

/// The library's format for a command-line one.
pub fn format(f: InputFormat) -> Format {
    match f {
        InputFormat::Native => Format::Native,
        InputFormat::HhRlhf => Format::HhRlhf,
    }
}

/// Runs ingest with a progress display; shared with `vigil demo`.
pub fn run_ingest(
    warehouse: &Warehouse,
    files: &[std::path::PathBuf],
    key: &vigil::pseudonym::PseudonymKey,
    config: &IngestConfig,
) -> anyhow::Result<IngestSummary> {
    let total: u64 = files.iter().map(|f| ingest::input_size(f)).sum();
    let progress = ByteProgress::new("ingest", total);
    let result = ingest::ingest(warehouse, files, key, config, progress.callback());
    progress.finish();
    result.with_context(|| format!("ingest into {}", warehouse.root().display()))
}

/// The one-line summary: read = written + quarantined + duplicates.
pub fn summary_line(s: &IngestSummary) -> String {
    let secs = s.elapsed.as_secs_f64();
    let reasons: Vec<String> = s.quarantine_reasons.iter().map(|(k, v)| format!("{k} {v}")).collect();
    let partial = match s.names_read_in_part {
        0 => String::new(),
        n => format!(", {n} texts longer than {} KiB read by rules only past it", vigil::redact::NER_MAX_BYTES >> 10),
    };
    let escrowed = if s.escrowed > 0 { format!("; {} new ids escrowed to the reveal key", s.escrowed) } else { String::new() };
    let recovered = if s.recovered_files > 0 { format!("; finished an interrupted run ({} files)", s.recovered_files) } else { String::new() };
    format!(
        "ingest: read {} records, written {} conversations ({} messages), quarantined {}{}, duplicates {}; {} PII values redacted (names: {}{partial}); {:.1}s ({:.0} records/s){escrowed}{recovered}",
        s.read,
        s.written,
        s.messages,
        s.quarantined,
        if reasons.is_empty() { String::new() } else { format!(" ({})", reasons.join(", ")) },
        s.duplicates,
        s.pii.total(),
        s.recogniser,
        secs,
        s.read as f64 / secs.max(1e-9),
    )
}

fn summary_json(s: &IngestSummary) -> serde_json::Value {
    let pii: serde_json::Map<String, serde_json::Value> =
        vigil::redact::PiiKind::ALL.iter().map(|k| (k.column().to_owned(), s.pii.get(*k).into())).collect();
    serde_json::json!({
        "read": s.read,
        "written": s.written,
        "messages": s.messages,
        "quarantined": s.quarantined,
        "duplicates": s.duplicates,
        "quarantine_reasons": s.quarantine_reasons,
        "pii": pii,
        "elapsed_seconds": s.elapsed.as_secs_f64(),
        "recovered_files": s.recovered_files,
        "recogniser": s.recogniser,
        "names_read_in_part": s.names_read_in_part,
        "escrowed": s.escrowed,
        "run_id": s.run_id,
        "manifest": s.manifest,
        "files": s.files.iter().map(|f| serde_json::json!({
            "path": f.path, "read": f.read, "written": f.written, "quarantined": f.quarantined, "duplicates": f.duplicates
        })).collect::<Vec<_>>(),
        "published": s.published.iter().map(|p| serde_json::json!({
            "table": p.table, "date": p.date.to_string(), "path": p.path, "rows": p.rows
        })).collect::<Vec<_>>(),
    })
}
