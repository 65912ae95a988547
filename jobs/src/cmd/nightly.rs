//! `vigil nightly`: facets, embeddings, the topic hierarchy and account summaries for one date.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use chrono::NaiveDate;
use vigil::facets::Taxonomy;
use vigil::nightly::{self, NightlyConfig, NightlySummary};
use vigil::warehouse::Warehouse;

use crate::cli::NightlyArgs;

/// Largest labelled file read (a few MB is typical; the bound keeps a wrong path, such as a
/// device or a dump, from exhausting memory).
const MAX_LABELLED_BYTES: u64 = 256 << 20;

pub fn run(args: NightlyArgs, threads: usize) -> anyhow::Result<()> {
    let date = parse_date(&args.date, "--date")?;
    let (mut config, base) = load_config(args.config.as_deref(), &args.set)?;
    if let Some(days) = args.window_days {
        config.window_days = days;
    }
    if let Some(path) = args.taxonomy {
        config.taxonomy = Some(path);
    }
    config.validate().context("command-line overrides")?;
    let taxonomy = load_taxonomy(&config, base.as_deref())?;
    let warehouse = super::open_for_runs(&args.warehouse, &args.signing)?;
    if !args.input.is_empty() {
        // The ingest stage: its own run and manifest, under the same cron line.
        let key = super::load_key(&args.key)?;
        let ingest_config = vigil::ingest::IngestConfig {
            format: super::ingest::format(args.input_format),
            threads,
            escrow: super::ingest::reveal_key(args.reveal_key.as_deref())?,
            ..Default::default()
        };
        let summary = super::ingest::run_ingest(&warehouse, &args.input, &key, &ingest_config)?;
        println!("{}", super::ingest::summary_line(&summary));
    }
    let summary = run_nightly(&warehouse, date, &config, &taxonomy)?;
    println!("{}", summary_line(&summary));
    Ok(())
}

/// A `YYYY-MM-DD` date from 1970 to 9999: the range partitions, timestamps in microseconds and
/// windows around the date can represent (chrono alone accepts `+262142-12-31`, whose next day
/// does not exist).
pub fn parse_date(text: &str, flag: &str) -> anyhow::Result<NaiveDate> {
    let shown = crate::term::escape(text);
    let well_formed = text.len() == 10 && text.as_bytes()[..4].iter().all(u8::is_ascii_digit);
    let date = NaiveDate::parse_from_str(text, "%Y-%m-%d").ok().filter(|_| well_formed).with_context(|| format!("{flag} {shown:?} is not a date (YYYY-MM-DD)"))?;
    let earliest = NaiveDate::from_ymd_opt(1970, 1, 1).expect("valid date");
    anyhow::ensure!(date >= earliest, "{flag} {date} is before 1970-01-01");
    Ok(date)
}

/// The job config from a file (or the defaults) with `--set key=value` overrides applied, and
/// the directory relative paths resolve against.
pub fn load_config(path: Option<&Path>, overrides: &[String]) -> anyhow::Result<(NightlyConfig, Option<PathBuf>)> {
    let mut value = match path {
        Some(path) => {
            let text = std::fs::read_to_string(path).with_context(|| format!("reading config {}", path.display()))?;
            toml::from_str::<serde_json::Value>(&text).with_context(|| format!("config {}", path.display()))?
        }
        None => serde_json::Value::Object(Default::default()),
    };
    for item in overrides {
        apply_override(&mut value, item)?;
    }
    let what = path.map_or_else(|| "built-in config".to_owned(), |p| format!("config {}", p.display()));
    let config: NightlyConfig = serde_json::from_value(value).with_context(|| what.clone())?;
    config.validate().with_context(|| what.clone())?;
    Ok((config, path.and_then(Path::parent).map(Path::to_path_buf)))
}

/// Sets `a.b.c=value` in a config tree; the value is read as TOML (number, boolean, string,
/// array), or taken as a plain string when it is not valid TOML.
fn apply_override(tree: &mut serde_json::Value, item: &str) -> anyhow::Result<()> {
    let (key, raw) = item.split_once('=').with_context(|| format!("--set {item:?}: expected KEY=VALUE"))?;
    let parsed = toml::from_str::<serde_json::Value>(&format!("v = {raw}"))
        .ok()
        .and_then(|mut v| v.get_mut("v").map(serde_json::Value::take))
        .unwrap_or_else(|| serde_json::Value::String(raw.to_owned()));
    let parts: Vec<&str> = key.trim().split('.').collect();
    anyhow::ensure!(parts.iter().all(|p| !p.is_empty()), "--set {item:?}: empty key");
    let mut node = tree;
    for part in &parts[..parts.len() - 1] {
        let object = node.as_object_mut().with_context(|| format!("--set {item:?}: {part} is not a section"))?;
        node = object.entry((*part).to_owned()).or_insert_with(|| serde_json::Value::Object(Default::default()));
    }
    let object = node.as_object_mut().with_context(|| format!("--set {item:?}: not a section"))?;
    object.insert(parts[parts.len() - 1].to_owned(), parsed);
    Ok(())
}

/// The configured taxonomy file, or the built-in one.
pub fn load_taxonomy(config: &NightlyConfig, base: Option<&Path>) -> anyhow::Result<Taxonomy> {
    match &config.taxonomy {
        None => Taxonomy::builtin().context("built-in taxonomy"),
        Some(path) => {
            let path = match base {
                Some(base) if path.is_relative() => base.join(path),
                _ => path.clone(),
            };
            let text = std::fs::read_to_string(&path).with_context(|| format!("reading taxonomy {}", path.display()))?;
            let dir = path.parent().unwrap_or(Path::new(".")).to_owned();
            Taxonomy::from_toml_with(&text, &|name| read_labelled(&dir.join(name))).with_context(|| format!("taxonomy {}", path.display()))
        }
    }
}

/// One labelled file, bounded in size, as text.
fn read_labelled(path: &Path) -> Result<String, String> {
    let file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let meta = file.metadata().map_err(|e| format!("{}: {e}", path.display()))?;
    if !meta.is_file() || meta.len() > MAX_LABELLED_BYTES {
        return Err(format!("{}: not a regular file of at most {MAX_LABELLED_BYTES} bytes", path.display()));
    }
    let mut text = String::new();
    std::io::Read::read_to_string(&mut std::io::Read::take(file, MAX_LABELLED_BYTES), &mut text).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(text)
}

/// Runs one date; shared with `vigil demo`.
pub fn run_nightly(warehouse: &Warehouse, date: NaiveDate, config: &NightlyConfig, taxonomy: &Taxonomy) -> anyhow::Result<NightlySummary> {
    let (summary, _analysis) =
        nightly::run(warehouse, date, config, taxonomy).with_context(|| format!("nightly {date} on {}", warehouse.root().display()))?;
    Ok(summary)
}

pub fn summary_line(s: &NightlySummary) -> String {
    let levels: Vec<String> = s.levels.iter().enumerate().map(|(l, (n, sup))| format!("L{l} {n} ({sup} suppressed)")).collect();
    let secs: f64 = s.timings.iter().map(|(_, d)| d.as_secs_f64()).sum();
    let campaigns: Vec<String> = s.campaigns.iter().map(|((status, kind), n)| format!("{n} {status} {kind}")).collect();
    format!(
        "nightly {}: window {}..{} — {} conversations from {} accounts, {} clustered{}; clusters {}; topics {} continued, {} new{} ({} in the catalogue); campaigns {}; {} conversations of the day faceted; encoder {} ({} vectors reused, {} computed); {:.1}s{}",
        s.date,
        s.window_start,
        s.date,
        s.conversations,
        s.accounts,
        s.clustered,
        if s.sampled { " (leaves from a sample)" } else { "" },
        if levels.is_empty() { "none".into() } else { levels.join(", ") },
        s.topics.continued,
        s.topics.created,
        if s.topics.reanchored > 0 { format!(", {} re-anchored to the encoder", s.topics.reanchored) } else { String::new() },
        s.topics.catalogue,
        if campaigns.is_empty() { "none".into() } else { campaigns.join(", ") },
        s.conversations_on_date,
        s.encoder,
        s.vectors.reused,
        s.vectors.computed,
        secs,
        if s.recovered_files > 0 { format!("; finished an interrupted run ({} files)", s.recovered_files) } else { String::new() },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_config_is_the_default_and_the_taxonomy_loads() {
        let (config, _) = load_config(Some(Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/nightly.toml"))), &[]).unwrap();
        assert_eq!(config, NightlyConfig::default());
        let taxonomy = load_taxonomy(&config, None).unwrap();
        assert!(taxonomy.areas().iter().any(|a| a.name == "influence_operations"));
    }

    #[test]
    fn bad_configs_report_every_problem() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "window_days = 0\n[privacy]\nmin_accounts = 1\n").unwrap();
        let err = format!("{:#}", load_config(Some(&path), &[]).unwrap_err());
        assert!(err.contains("window_days") && err.contains("min_accounts"), "{err}");
        std::fs::write(&path, "windw_days = 3\n").unwrap();
        let err = format!("{:#}", load_config(Some(&path), &[]).unwrap_err());
        assert!(err.contains("unknown field"), "{err}");
        let err = format!("{:#}", load_config(None, &["clustering.min_cluster_sise=3".into()]).unwrap_err());
        assert!(err.contains("unknown field"), "{err}");
    }

    #[test]
    fn overrides_apply_over_the_file_and_keep_types() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("job.toml");
        std::fs::write(&path, "window_days = 5\n[clustering]\nmin_cluster_size = 10\n").unwrap();
        let sets = ["clustering.min_cluster_size=20".to_owned(), "campaigns.enabled=false".into(), "embedding.backend=hashed-tfidf".into()];
        let (config, base) = load_config(Some(&path), &sets).unwrap();
        assert_eq!(config.window_days, 5, "file value kept");
        assert_eq!(config.clustering.min_cluster_size, 20, "override wins");
        assert!(!config.campaigns.enabled);
        assert_eq!(base.as_deref(), Some(dir.path()));
        assert!(load_config(None, &["window_days=0".into()]).is_err(), "overrides are validated");
        assert!(load_config(None, &["window_days".into()]).is_err());
    }
}
