//! The weekly trend report: one week of nightly results, told for leadership.
//!
//! [`run`] reads only the warehouse (the `facets` of the week and the week before, and the
//! nightly `clusters`, `cluster_members`, `campaigns` and `campaign_members` of the week's last
//! night and of the night a week earlier) and computes every number of the report into a
//! [`WeeklyReport`]; [`html`] and [`markdown`] render that one model, and `report.json` is the
//! model itself, so the three outputs cannot disagree.
//!
//! Privacy: the report is aggregate. It names no account; a cluster appears only if the nightly
//! privacy gate named it (≥ `min_accounts` accounts and ≥ `min_conversations` conversations);
//! a campaign is described only with ≥ `min_accounts` accounts, and its narrative uses only
//! phrases written by ≥ `min_accounts` of its accounts (the same k-anonymous rule as cluster
//! exemplars). Smaller campaigns are counted, not described.

mod data;
mod headline;
pub mod html;
pub mod markdown;
mod svg;

use std::path::{Path, PathBuf};

use chrono::{Days, NaiveDate};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::manifest::{self, RunRecorder};
use crate::privacy::PrivacyConfig;
use crate::schema::CampaignKind;
use crate::warehouse::Warehouse;

/// Concern (1–5) at or above which a conversation counts as high-concern.
pub const HIGH_CONCERN: i32 = 4;

/// The whole report: every number shown, for dashboards (`report.json`).
#[derive(Debug, Clone, Serialize)]
pub struct WeeklyReport {
    /// First day of the week.
    pub week_start: String,
    /// Last day of the week (the `--week-ending` date).
    pub week_end: String,
    /// The seven days, in order.
    pub days: Vec<String>,
    /// Whether the week before has facets to compare with.
    pub previous_week_available: bool,
    /// Days of the week without nightly results (their volume is missing, not zero).
    pub missing_days: Vec<String>,
    /// Version that wrote it.
    pub generated_by: String,
    /// The encoders behind the week's policy areas, topics and campaigns (`use-m3@…` for the
    /// learned multilingual encoder, `hashed-tfidf-v1 …` for the LSA fallback).
    pub encoders: Vec<String>,
    /// Thresholds applied.
    pub privacy: Privacy,
    /// The findings to read first, most important first.
    pub headline: Vec<Finding>,
    /// Conversations this week and the week before.
    pub totals: Totals,
    /// Per policy area: daily volume and change (areas with any volume; `none` last).
    pub areas: Vec<AreaTrend>,
    /// High-concern share per day.
    pub concern: ConcernTrend,
    /// Largest topics (top level of the last night's hierarchy).
    pub top_clusters: Vec<ClusterTrend>,
    /// Topics new this week or growing fastest.
    pub emerging_clusters: Vec<ClusterTrend>,
    /// Coordinated campaigns: active at the week's end, then ended during the week.
    pub campaigns: Vec<CampaignEntry>,
    /// Campaigns too small to describe under the privacy thresholds.
    pub campaigns_below_threshold: usize,
}

/// Privacy thresholds the report applied.
#[derive(Debug, Clone, Serialize)]
pub struct Privacy {
    /// Fewest accounts behind anything described.
    pub min_accounts: usize,
    /// Fewest conversations behind a described topic.
    pub min_conversations: usize,
}

/// What a headline finding is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FindingKind {
    /// Days of the week without a nightly run.
    DataGap,
    /// How many influence operations were active, and how many accounts.
    InfluenceSummary,
    /// One influence operation (or that none was found).
    InfluenceCampaign,
    /// Coordinated misuse of other kinds.
    CoordinatedMisuse,
    /// Influence operations that went quiet.
    InfluenceEnded,
    /// The week's volume against the week before.
    Volume,
    /// A topic that rose or appeared.
    EmergingTopic,
    /// High-concern conversations.
    Concern,
}

impl FindingKind {
    /// As the report's JSON and HTML name it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::DataGap => "data_gap",
            Self::InfluenceSummary => "influence_summary",
            Self::InfluenceCampaign => "influence_campaign",
            Self::CoordinatedMisuse => "coordinated_misuse",
            Self::InfluenceEnded => "influence_ended",
            Self::Volume => "volume",
            Self::EmergingTopic => "emerging_topic",
            Self::Concern => "concern",
        }
    }
}

/// One headline finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    /// What it is about.
    pub kind: FindingKind,
    /// One plain sentence.
    pub text: String,
    /// The campaign it is about, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign_id: Option<String>,
}

/// Volume totals.
#[derive(Debug, Clone, Serialize)]
pub struct Totals {
    /// Conversations this week.
    pub conversations: u64,
    /// Conversations the week before (when available).
    pub previous_conversations: Option<u64>,
    /// Percent change.
    pub change_pct: Option<f64>,
    /// High-concern conversations this week.
    pub high_concern: u64,
}

/// One policy area over the week.
#[derive(Debug, Clone, Serialize)]
pub struct AreaTrend {
    /// Area name (`none`: no policy concern).
    pub area: String,
    /// Conversations per day.
    pub daily: Vec<u64>,
    /// This week.
    pub total: u64,
    /// The week before.
    pub previous: Option<u64>,
    /// Percent change.
    pub change_pct: Option<f64>,
    /// High-concern conversations this week.
    pub high_concern: u64,
}

/// High-concern share over the week.
#[derive(Debug, Clone, Serialize)]
pub struct ConcernTrend {
    /// Share (0–1) of each day's conversations with concern ≥ [`HIGH_CONCERN`].
    pub daily_high_share: Vec<f64>,
    /// This week's share.
    pub week_high_share: f64,
    /// The week before.
    pub previous_high_share: Option<f64>,
}

/// A topic and its change.
#[derive(Debug, Clone, Serialize)]
pub struct ClusterTrend {
    /// Nightly cluster id (of the week's last night).
    pub cluster_id: String,
    /// Catalogue topic id (stable across nights; `topics`, `topic_daily`).
    pub topic_id: Option<String>,
    /// k-anonymous name.
    pub name: String,
    /// Policy area.
    pub policy_area: String,
    /// Conversations in the week (`topic_daily` of the week's last night).
    pub conversations: u64,
    /// Distinct accounts.
    pub accounts: u64,
    /// The same topic's conversations the week before (`topic_daily` of the night a week
    /// earlier); None when it was not a topic then or that night did not run.
    pub previous_conversations: Option<u64>,
    /// Percent change against the same topic a week earlier net of re-cuts
    /// (`previous_conversations + recut`); None when the topic was not one for that night's
    /// whole window or a night of the week could not measure its re-cuts.
    pub change_pct: Option<f64>,
    /// Conversations per day of the week.
    pub daily: Vec<u64>,
    /// `growing`, `steady`, `shrinking` (against the same topic a week earlier plus what
    /// re-cuts moved in or out during the week, and only when the change is significant; the
    /// topic must have been one for that night's whole window), `new` (not a topic a week
    /// earlier, its conversations arriving during the week: a significant rise within the week, or,
    /// for a topic first seen during the week, a daily rate at least twice what its first night
    /// found of it on the days before the week), or `rising` (a significant rise
    /// within the week, when the week before is unknown or the topic was younger than a week
    /// then).
    pub trend: String,
    /// Conversations that re-cuts of the hierarchy moved into (+) or out of (−) the topic
    /// during the week (`topics.net_transfer` summed over the week's nights); the trend compares
    /// `conversations` with `previous_conversations + recut`. None when not measured every night.
    pub recut: Option<i64>,
    /// Topics it absorbed during the week.
    pub absorbed: usize,
    /// k-anonymous example request.
    pub exemplar: Option<String>,
}

/// A campaign's course over the report's week: nightly's status seen across seven nights, with
/// growth.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum WeekStatus {
    /// Not active a week ago.
    New,
    /// Active a week ago with at least a fifth fewer accounts.
    Growing,
    /// Active a week ago, about as large.
    Continuing,
    /// Active during the week, not at its end.
    Ended,
}

impl WeekStatus {
    /// As the report prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Growing => "growing",
            Self::Continuing => "continuing",
            Self::Ended => "ended",
        }
    }
}

impl std::fmt::Display for WeekStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A campaign for the report.
#[derive(Debug, Clone, Serialize)]
pub struct CampaignEntry {
    /// Stable campaign id (for `vigil campaign show`).
    pub campaign_id: String,
    /// What it is doing.
    pub kind: CampaignKind,
    /// Its course over the week.
    pub status: WeekStatus,
    /// Short label from its most distinctive shared phrases.
    pub label: String,
    /// k-anonymous typical request.
    pub narrative: Option<String>,
    /// Accounts at the week's end (or when last seen).
    pub accounts: i64,
    /// Accounts a week earlier.
    pub previous_accounts: Option<i64>,
    /// Conversations in its window.
    pub conversations: i64,
    /// Languages of its requests, most used first.
    pub languages: Vec<String>,
    /// Detection score (0–1).
    pub score: f32,
    /// First and last activity (UTC dates).
    pub first_seen: String,
    /// Last activity.
    pub last_seen: String,
}

/// The seven days ending on `week_end`.
pub fn week_days(week_end: NaiveDate) -> Vec<NaiveDate> {
    (0..7).rev().filter_map(|back| week_end.checked_sub_days(Days::new(back))).collect()
}

/// Files written by [`run`].
#[derive(Debug)]
pub struct WeeklyOutput {
    /// The report.
    pub report: WeeklyReport,
    /// `report.html`, `report.md`, `report.json`.
    pub files: Vec<PathBuf>,
    /// The run manifest.
    pub manifest: PathBuf,
}

/// Builds the report, writes `report.html`, `report.md` and `report.json` into `out`, and
/// records the run in `W/_runs/weekly/<week_end>/<run-id>.json`.
pub fn run(warehouse: &Warehouse, week_end: NaiveDate, privacy: &PrivacyConfig, out: &Path) -> Result<WeeklyOutput> {
    let _lock = warehouse.lock(&manifest::lock_name("weekly", week_end))?;
    let run_id = manifest::new_run_id(week_end.to_string().as_bytes());
    let config = serde_json::to_value(privacy)?;
    let digest = manifest::config_digest(&config, &[]);
    let mut recorder = RunRecorder::start(warehouse, "weekly", week_end, &run_id, config, digest, crate::ledger::RunKeys::default())?;
    let started = std::time::Instant::now();
    let result = (|| -> Result<(WeeklyReport, Vec<PathBuf>, Vec<PathBuf>)> {
        let inputs = data::WeekData::read(warehouse, week_end)?;
        let read = inputs.files.clone();
        let report = inputs.into_report(privacy);
        let files = write(&report, out)?;
        Ok((report, files, read))
    })();
    match result {
        Ok((report, files, read)) => {
            recorder.add_inputs(&read)?;
            recorder.add_outputs(&files)?;
            recorder.set_stages(&[("report", started.elapsed())]);
            recorder.set_summary(serde_json::json!({
                "conversations": report.totals.conversations,
                "campaigns": report.campaigns.len(),
                "headline": report.headline.iter().map(|f| &f.text).collect::<Vec<_>>(),
            }));
            let manifest = recorder.path().to_path_buf();
            recorder.finish(None)?;
            Ok(WeeklyOutput { report, files, manifest })
        }
        Err(e) => {
            let _ = recorder.finish(Some(&e));
            Err(e)
        }
    }
}

/// Writes the three renderings, each atomically: a temporary file created exclusively under a
/// random name (so a link planted in `out` is never followed or written through), then renamed
/// over the final name (which replaces a link there rather than writing to its target).
pub fn write(report: &WeeklyReport, out: &Path) -> Result<Vec<PathBuf>> {
    use std::io::Write as _;
    std::fs::create_dir_all(out).map_err(|e| Error::warehouse(out, format!("cannot create report directory: {e}")))?;
    let json = serde_json::to_string_pretty(report)? + "\n";
    let mut files = Vec::new();
    for (name, text) in [("report.html", html::render(report)), ("report.md", markdown::render(report)), ("report.json", json)] {
        let path = out.join(name);
        let mut tmp = tempfile::Builder::new().prefix(&format!(".{name}.")).suffix(".tmp").tempfile_in(out).map_err(|e| Error::warehouse(out, e))?;
        tmp.write_all(text.as_bytes()).and_then(|()| tmp.as_file().sync_all()).map_err(|e| Error::warehouse(tmp.path(), e))?;
        tmp.persist(&path).map_err(|e| Error::warehouse(&path, e.error))?;
        files.push(path);
    }
    Ok(files)
}

/// Percent change, `None` without a base.
/// "the learned multilingual encoder use-m3@…" / "LSA of hashed n-grams (no learned model
/// installed)", joined when the week mixed them.
fn encoders_line(encoders: &[String]) -> String {
    if encoders.is_empty() {
        return "no stored embeddings".to_owned();
    }
    let named: Vec<String> = encoders
        .iter()
        .map(|e| {
            if e.starts_with(crate::embed::USE_M3_NAME) {
                format!("the learned multilingual encoder {e}")
            } else {
                format!("LSA of hashed n-grams ({e}; no learned model)")
            }
        })
        .collect();
    named.join(" and ")
}

fn change_pct(now: u64, before: Option<u64>) -> Option<f64> {
    match before {
        Some(b) if b > 0 => Some(((now as f64 - b as f64) / b as f64 * 1000.0).round() / 10.0),
        _ => None,
    }
}

/// `1234567` → `1,234,567`.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A policy area as a reader says it (`none` is "no policy concern").
pub fn area_label(area: &str) -> String {
    if area == "none" { "no policy concern".to_owned() } else { plain(area) }
}

/// A count, or an em dash when there is none to show.
fn count_or_dash(n: Option<u64>) -> String {
    n.map_or("\u{2014}".to_owned(), thousands)
}

/// A topic's trend as a reader says it, with the topics it absorbed during the week.
pub fn trend_words(c: &ClusterTrend) -> String {
    let mut words = match c.absorbed {
        0 => c.trend.clone(),
        1 => format!("{}, absorbed another topic", c.trend),
        n => format!("{}, absorbed {n} topics", c.trend),
    };
    // A change that re-cuts explain: say so.
    if let (Some(recut), Some(before)) = (c.recut, c.previous_conversations) {
        if recut.unsigned_abs() * 10 >= before.max(1) {
            let moved = if recut > 0 { "moved in" } else { "moved out" };
            words.push_str(&format!(" ({} conversations {moved} by re-cuts)", thousands(recut.unsigned_abs())));
        }
    }
    words
}

/// `influence_operations` → `influence operations`.
pub fn plain(name: &str) -> String {
    name.replace('_', " ")
}

/// `+12.5%` / `−3%` / `n/a`.
pub fn signed_pct(p: Option<f64>) -> String {
    match p {
        Some(p) if p >= 0.0 => format!("+{}%", trim_float(p)),
        Some(p) => format!("\u{2212}{}%", trim_float(-p)),
        None => "n/a".to_owned(),
    }
}

fn trim_float(p: f64) -> String {
    if p >= 10.0 { format!("{p:.0}") } else { format!("{p:.1}") }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_formatting() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1000), "1,000");
        assert_eq!(thousands(1234567), "1,234,567");
        assert_eq!(change_pct(150, Some(100)), Some(50.0));
        assert_eq!(change_pct(5, Some(0)), None);
        assert_eq!(signed_pct(Some(-3.25)), "\u{2212}3.2%");
        assert_eq!(signed_pct(Some(42.0)), "+42%");
        assert_eq!(week_days(NaiveDate::from_ymd_opt(2026, 11, 22).unwrap()).first().unwrap().to_string(), "2026-11-16");
    }

    /// A link planted in the output directory (at the old fixed temporary name, or at a
    /// report's own name) is never written through.
    #[test]
    fn writing_never_follows_a_planted_link() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let victim = dir.path().join("victim");
        std::fs::write(&victim, b"precious").unwrap();
        std::os::unix::fs::symlink(&victim, out.join(".report.html.tmp")).unwrap();
        std::os::unix::fs::symlink(&victim, out.join("report.md")).unwrap();
        let files = write(&headline::tests::report(Vec::new()), &out).unwrap();
        assert_eq!(std::fs::read(&victim).unwrap(), b"precious");
        for f in &files {
            assert!(std::fs::symlink_metadata(f).unwrap().file_type().is_file(), "{} is a plain file", f.display());
        }
        assert!(std::fs::read_to_string(out.join("report.md")).unwrap().contains("2026-11-22"));
    }
}
