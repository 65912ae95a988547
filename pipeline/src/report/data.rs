//! Reading one week of nightly results and turning it into the report's numbers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Float32Type, Int32Type, Int64Type, TimestampMicrosecondType};
use chrono::{Days, NaiveDate};
use rustc_hash::{FxHashMap, FxHashSet};

use super::{
    change_pct, plain, week_days, AreaTrend, CampaignEntry, ClusterTrend, ConcernTrend, Privacy, Totals, WeeklyReport, HIGH_CONCERN,
};
use crate::error::{Error, Result};
use crate::nightly::window::day_of_micros;
use crate::nightly::PrivacyConfig;
use crate::schema::table;
use crate::summarize::{distinctive_terms, ClusterTerms, Doc, MAX_NGRAM};
use crate::warehouse::{read_columns, Warehouse};

/// Topics whose name words overlap this much (Jaccard) are the same topic a week apart.
const MATCH_MIN_JACCARD: f64 = 0.3;
/// A topic is not new when this share of its (or an earlier topic's) words were already
/// together in one topic a week earlier.
const SEEN_MIN_OVERLAP: f64 = 0.5;
/// Week-over-week change that makes a topic growing or shrinking.
const TREND_CHANGE: f64 = 0.25;
/// Share of a campaign's accounts found in another campaign that makes it the same campaign
/// under a new id.
const CARRIED_OVER: f64 = 0.3;
/// A campaign is growing when its accounts rose by this share.
const CAMPAIGN_GROWTH: f64 = 0.2;
/// Rows shown.
const TOP_CLUSTERS: usize = 10;
const EMERGING_CLUSTERS: usize = 5;

/// A nightly cluster row.
#[derive(Debug, Clone)]
struct ClusterRow {
    id: String,
    level: i32,
    name: Option<String>,
    exemplar: Option<String>,
    terms: Vec<String>,
    conversations: i64,
    accounts: i64,
    suppressed: bool,
    policy_area: String,
}

/// A nightly campaign row.
#[derive(Debug, Clone)]
struct CampaignRow {
    id: String,
    status: String,
    kind: String,
    score: f32,
    accounts: i64,
    conversations: i64,
    first_seen: i64,
    last_seen: i64,
    /// The night it was read from.
    night: NaiveDate,
}

/// Everything the report needs, read from the warehouse.
pub(super) struct WeekData {
    pub files: Vec<PathBuf>,
    days: Vec<NaiveDate>,
    /// Days of the week without facets (no nightly run).
    missing_days: Vec<NaiveDate>,
    /// Encoders whose vectors the week's nights wrote (window suffixes dropped).
    encoders: BTreeSet<String>,
    /// Per area: conversations per day, high-concern conversations.
    area_daily: BTreeMap<String, (Vec<u64>, u64)>,
    day_total: Vec<u64>,
    day_high: Vec<u64>,
    /// The week before: per area totals, total, high-concern.
    previous: Option<(BTreeMap<String, u64>, u64, u64)>,
    clusters: Vec<ClusterRow>,
    previous_clusters: Vec<ClusterRow>,
    /// Cluster id → conversations per day of the week.
    cluster_daily: FxHashMap<String, Vec<u64>>,
    /// Latest row of every campaign seen in the week's nights.
    campaigns: Vec<CampaignRow>,
    /// Campaign id → active at the week's end.
    active_at_end: FxHashSet<String>,
    /// Campaigns active a week before the week's end: id → accounts.
    previous_campaigns: Option<FxHashMap<String, i64>>,
    /// Campaign id → (account index, request, language) of its member conversations.
    campaign_docs: FxHashMap<String, Vec<(u32, String, String)>>,
    /// Campaign id → member accounts (indices), for the latest night of each campaign…
    campaign_accounts: FxHashMap<String, FxHashSet<u32>>,
    /// …and for the campaigns active a week before the week's end.
    previous_campaign_accounts: FxHashMap<String, FxHashSet<u32>>,
    week_end: NaiveDate,
}

fn strings(b: &RecordBatch, name: &str) -> Result<arrow::array::StringArray> {
    Ok(b.column_by_name(name).ok_or_else(|| Error::Config(format!("column {name} missing")))?.as_string::<i32>().clone())
}

fn column<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a arrow::array::ArrayRef> {
    b.column_by_name(name).ok_or_else(|| Error::Config(format!("column {name} missing")))
}

impl WeekData {
    pub fn read(warehouse: &Warehouse, week_end: NaiveDate) -> Result<Self> {
        let days = week_days(week_end);
        let mut files = Vec::new();
        let last_clusters = warehouse.files(table::CLUSTERS, Some(week_end))?;
        if last_clusters.is_empty() {
            return Err(Error::warehouse(warehouse.root(), format!("no nightly results for {week_end}: run `vigil nightly --date {week_end}` first")));
        }

        // Volume by area and day, and the conversation → day map for topic trends.
        let mut area_daily: BTreeMap<String, (Vec<u64>, u64)> = BTreeMap::new();
        let mut day_total = vec![0u64; 7];
        let mut day_high = vec![0u64; 7];
        let mut facet_batches: Vec<(usize, Vec<RecordBatch>)> = Vec::new();
        let mut missing_days = Vec::new();
        let mut encoders = BTreeSet::new();
        for (d, day) in days.iter().enumerate() {
            let day_files = warehouse.files(table::FACETS, Some(*day))?;
            if day_files.is_empty() {
                missing_days.push(*day);
            }
            let batches = read_columns(&day_files, &["conversation_id", "policy_area", "concern"])?;
            files.extend(day_files);
            let vector_files = warehouse.files(table::EMBEDDINGS, Some(*day))?;
            for b in read_columns(&vector_files, &["model"])? {
                let model = strings(&b, "model")?;
                for i in 0..b.num_rows() {
                    let id = model.value(i);
                    encoders.insert(id.split(" window=").next().unwrap_or(id).to_owned());
                }
            }
            files.extend(vector_files);
            for b in &batches {
                let area = strings(b, "policy_area")?;
                let concern = column(b, "concern")?.as_primitive::<Int32Type>();
                for i in 0..b.num_rows() {
                    let entry = area_daily.entry(area.value(i).to_owned()).or_insert_with(|| (vec![0; 7], 0));
                    entry.0[d] += 1;
                    day_total[d] += 1;
                    if concern.value(i) >= HIGH_CONCERN {
                        entry.1 += 1;
                        day_high[d] += 1;
                    }
                }
            }
            facet_batches.push((d, batches));
        }
        let mut previous_areas: BTreeMap<String, u64> = BTreeMap::new();
        let (mut previous_total, mut previous_high, mut previous_days) = (0u64, 0u64, 0usize);
        for day in days.iter().filter_map(|d| d.checked_sub_days(Days::new(7))) {
            let day_files = warehouse.files(table::FACETS, Some(day))?;
            if day_files.is_empty() {
                continue;
            }
            previous_days += 1;
            for b in read_columns(&day_files, &["policy_area", "concern"])? {
                let area = strings(&b, "policy_area")?;
                let concern = column(&b, "concern")?.as_primitive::<Int32Type>();
                for i in 0..b.num_rows() {
                    *previous_areas.entry(area.value(i).to_owned()).or_default() += 1;
                    previous_total += 1;
                    previous_high += u64::from(concern.value(i) >= HIGH_CONCERN);
                }
            }
            files.extend(day_files);
        }
        // A partial week before would make every change look like a fall.
        let previous = (previous_days == 7).then_some((previous_areas, previous_total, previous_high));

        // Topics: the last night and the night a week earlier.
        files.extend(last_clusters.iter().cloned());
        let clusters = read_clusters(&last_clusters)?;
        let week_before = week_end.checked_sub_days(Days::new(7)).expect("dates after 262143 BCE");
        let previous_cluster_files = warehouse.files(table::CLUSTERS, Some(week_before))?;
        files.extend(previous_cluster_files.iter().cloned());
        let previous_clusters = read_clusters(&previous_cluster_files)?;

        // Conversation → day of the week, borrowed from the facet batches.
        let mut day_of: FxHashMap<&str, u8> = FxHashMap::default();
        for (d, batches) in &facet_batches {
            for b in batches {
                let ids = b.column(0).as_string::<i32>();
                for i in 0..b.num_rows() {
                    day_of.insert(ids.value(i), *d as u8);
                }
            }
        }
        let top_level = clusters.iter().map(|c| c.level).max().unwrap_or(0);
        let wanted: FxHashSet<&str> = clusters.iter().filter(|c| !c.suppressed && (c.level <= 1 || c.level == top_level)).map(|c| c.id.as_str()).collect();
        let member_files = warehouse.files(table::CLUSTER_MEMBERS, Some(week_end))?;
        let mut cluster_daily: FxHashMap<String, Vec<u64>> = FxHashMap::default();
        for b in read_columns(&member_files, &["cluster_id", "conversation_id"])? {
            let (cid, conv) = (strings(&b, "cluster_id")?, strings(&b, "conversation_id")?);
            for i in 0..b.num_rows() {
                if !wanted.contains(cid.value(i)) {
                    continue;
                }
                if let Some(&d) = day_of.get(conv.value(i)) {
                    cluster_daily.entry(cid.value(i).to_owned()).or_insert_with(|| vec![0; 7])[d as usize] += 1;
                }
            }
        }
        files.extend(member_files);
        drop(day_of);
        drop(facet_batches);

        // Campaigns of every night of the week; the latest row of each id wins.
        let mut latest: BTreeMap<String, CampaignRow> = BTreeMap::new();
        let mut active_at_end = FxHashSet::default();
        for day in &days {
            let night_files = warehouse.files(table::CAMPAIGNS, Some(*day))?;
            for row in read_campaigns(&night_files, *day)? {
                if *day == week_end && row.status != "ended" {
                    active_at_end.insert(row.id.clone());
                }
                if row.status != "ended" {
                    latest.insert(row.id.clone(), row);
                }
            }
            files.extend(night_files);
        }
        let previous_campaign_files = warehouse.files(table::CAMPAIGNS, Some(week_before))?;
        let previous_campaigns: Option<FxHashMap<String, i64>> = if previous_campaign_files.is_empty() {
            None
        } else {
            Some(
                read_campaigns(&previous_campaign_files, week_before)?
                    .into_iter()
                    .filter(|r| r.status != "ended")
                    .map(|r| (r.id, r.accounts))
                    .collect(),
            )
        };
        files.extend(previous_campaign_files);

        // Member conversations of each campaign (from the night it was last seen), with their
        // requests and languages from the facets of that night's window.
        let mut wanted_conversations: FxHashMap<String, Vec<(String, u32)>> = FxHashMap::default();
        let mut nights: BTreeSet<NaiveDate> = BTreeSet::new();
        for row in latest.values() {
            nights.insert(row.night);
        }
        let mut account_index: FxHashMap<String, u32> = FxHashMap::default();
        let mut campaign_accounts: FxHashMap<String, FxHashSet<u32>> = FxHashMap::default();
        let mut previous_campaign_accounts: FxHashMap<String, FxHashSet<u32>> = FxHashMap::default();
        if let Some(previous) = &previous_campaigns {
            let member_files = warehouse.files(table::CAMPAIGN_MEMBERS, Some(week_before))?;
            for b in read_columns(&member_files, &["campaign_id", "account_id"])? {
                let (cid, acct) = (strings(&b, "campaign_id")?, strings(&b, "account_id")?);
                for i in 0..b.num_rows() {
                    if previous.contains_key(cid.value(i)) {
                        let next = account_index.len() as u32;
                        let a = *account_index.entry(acct.value(i).to_owned()).or_insert(next);
                        previous_campaign_accounts.entry(cid.value(i).to_owned()).or_default().insert(a);
                    }
                }
            }
            files.extend(member_files);
        }
        for night in &nights {
            let member_files = warehouse.files(table::CAMPAIGN_MEMBERS, Some(*night))?;
            for b in read_columns(&member_files, &["campaign_id", "account_id", "conversation_id"])? {
                let (cid, acct, conv) = (strings(&b, "campaign_id")?, strings(&b, "account_id")?, strings(&b, "conversation_id")?);
                for i in 0..b.num_rows() {
                    if latest.get(cid.value(i)).is_some_and(|r| r.night == *night) {
                        let next = account_index.len() as u32;
                        let a = *account_index.entry(acct.value(i).to_owned()).or_insert(next);
                        campaign_accounts.entry(cid.value(i).to_owned()).or_default().insert(a);
                        wanted_conversations.entry(conv.value(i).to_owned()).or_default().push((cid.value(i).to_owned(), a));
                    }
                }
            }
            files.extend(member_files);
        }
        let mut campaign_docs: FxHashMap<String, Vec<(u32, String, String)>> = FxHashMap::default();
        if !wanted_conversations.is_empty() {
            let first = nights.first().and_then(|n| n.checked_sub_days(Days::new(13))).unwrap_or(days[0]);
            let mut day = first;
            while day <= week_end {
                let day_files = warehouse.files(table::FACETS, Some(day))?;
                for b in read_columns(&day_files, &["conversation_id", "request", "language"])? {
                    let (conv, request, language) = (strings(&b, "conversation_id")?, strings(&b, "request")?, strings(&b, "language")?);
                    for i in 0..b.num_rows() {
                        if let Some(owners) = wanted_conversations.get(conv.value(i)) {
                            for (cid, a) in owners {
                                campaign_docs.entry(cid.clone()).or_default().push((*a, request.value(i).to_owned(), language.value(i).to_owned()));
                            }
                        }
                    }
                }
                day = day.succ_opt().expect("dates before 262143 CE");
            }
        }
        for docs in campaign_docs.values_mut() {
            docs.sort();
        }

        files.sort();
        files.dedup();
        Ok(WeekData {
            files,
            days,
            missing_days,
            encoders,
            area_daily,
            day_total,
            day_high,
            previous,
            clusters,
            previous_clusters,
            cluster_daily,
            campaigns: latest.into_values().collect(),
            active_at_end,
            previous_campaigns,
            campaign_docs,
            campaign_accounts,
            previous_campaign_accounts,
            week_end,
        })
    }

    pub fn into_report(self, privacy: &PrivacyConfig) -> WeeklyReport {
        let total: u64 = self.day_total.iter().sum();
        let high: u64 = self.day_high.iter().sum();
        let totals = Totals {
            conversations: total,
            previous_conversations: self.previous.as_ref().map(|p| p.1),
            change_pct: change_pct(total, self.previous.as_ref().map(|p| p.1)),
            high_concern: high,
        };
        let mut areas: Vec<AreaTrend> = self
            .area_daily
            .iter()
            .map(|(area, (daily, high))| {
                let t: u64 = daily.iter().sum();
                let previous = self.previous.as_ref().map(|p| p.0.get(area).copied().unwrap_or(0));
                AreaTrend { area: area.clone(), daily: daily.clone(), total: t, previous, change_pct: change_pct(t, previous), high_concern: *high }
            })
            .collect();
        areas.sort_by(|a, b| (a.area == "none").cmp(&(b.area == "none")).then(b.total.cmp(&a.total)).then(a.area.cmp(&b.area)));
        let share = |h: u64, t: u64| if t == 0 { 0.0 } else { (h as f64 / t as f64 * 10000.0).round() / 10000.0 };
        let concern = ConcernTrend {
            daily_high_share: self.day_total.iter().zip(&self.day_high).map(|(&t, &h)| share(h, t)).collect(),
            week_high_share: share(high, total),
            previous_high_share: self.previous.as_ref().map(|p| share(p.2, p.1)),
        };

        let (top_clusters, emerging_clusters) = self.cluster_trends(privacy);
        let campaigns = self.campaign_entries(privacy);
        let described: FxHashSet<&str> = campaigns.iter().map(|c| c.campaign_id.as_str()).collect();
        let campaigns_below_threshold =
            self.campaigns.iter().filter(|c| !described.contains(c.id.as_str()) && c.kind != "benign_automation").count();

        let mut report = WeeklyReport {
            week_start: self.days[0].to_string(),
            week_end: self.week_end.to_string(),
            days: self.days.iter().map(|d| d.to_string()).collect(),
            previous_week_available: self.previous.is_some(),
            missing_days: self.missing_days.iter().map(|d| d.to_string()).collect(),
            generated_by: format!("vigil {}", env!("CARGO_PKG_VERSION")),
            encoders: self.encoders.iter().cloned().collect(),
            privacy: Privacy { min_accounts: privacy.min_accounts, min_conversations: privacy.min_conversations },
            headline: Vec::new(),
            totals,
            areas,
            concern,
            top_clusters,
            emerging_clusters,
            campaigns,
            campaigns_below_threshold,
        };
        report.headline = super::headline::findings(&report);
        report
    }

    fn cluster_trends(&self, privacy: &PrivacyConfig) -> (Vec<ClusterTrend>, Vec<ClusterTrend>) {
        let top_level = self.clusters.iter().map(|c| c.level).max().unwrap_or(0);
        let previous_available = !self.previous_clusters.is_empty();
        let trend_of = |c: &ClusterRow| -> ClusterTrend {
            let daily = self.cluster_daily.get(&c.id).cloned().unwrap_or_else(|| vec![0; 7]);
            let previous = best_match(c, &self.previous_clusters).map(|p| p.conversations as u64);
            let now = c.conversations as u64;
            let trend = if previous_available {
                match previous {
                    None if seen_before(c, &self.previous_clusters) => "steady",
                    None => "new",
                    Some(p) if (now as f64) >= p as f64 * (1.0 + TREND_CHANGE) => "growing",
                    Some(p) if (now as f64) <= p as f64 * (1.0 - TREND_CHANGE) => "shrinking",
                    Some(_) => "steady",
                }
            } else if self.missing_days.is_empty() && rising(&daily) {
                "rising"
            } else {
                "steady"
            };
            ClusterTrend {
                cluster_id: c.id.clone(),
                name: c.name.clone().unwrap_or_default(),
                policy_area: c.policy_area.clone(),
                conversations: now,
                accounts: c.accounts as u64,
                previous_conversations: previous,
                change_pct: change_pct(now, previous),
                daily,
                trend: trend.to_owned(),
                exemplar: c.exemplar.clone(),
            }
        };
        let visible = |c: &&ClusterRow| {
            !c.suppressed && c.name.is_some() && c.accounts as usize >= privacy.min_accounts && c.conversations as usize >= privacy.min_conversations
        };
        let mut top: Vec<ClusterTrend> = self.clusters.iter().filter(|c| c.level == top_level).filter(visible).map(trend_of).collect();
        top.sort_by(|a, b| b.conversations.cmp(&a.conversations).then(a.name.cmp(&b.name)));
        top.truncate(TOP_CLUSTERS);

        let mut emerging: Vec<(f64, ClusterTrend)> = self
            .clusters
            .iter()
            .filter(|c| c.level <= 1)
            .filter(visible)
            // Growing against every earlier topic it overlaps, so a merge of two topics in a
            // re-cut hierarchy does not read as growth.
            .filter(|c| {
                let before = overlapping_volume(c, &self.previous_clusters);
                before == 0 || c.conversations as f64 >= before as f64 * (1.0 + TREND_CHANGE)
            })
            .map(trend_of)
            .filter(|t| matches!(t.trend.as_str(), "new" | "growing" | "rising"))
            .map(|t| {
                let strength = match t.previous_conversations {
                    Some(p) => t.conversations as f64 - p as f64,
                    None if t.trend == "new" => t.conversations as f64,
                    None => late_minus_early(&t.daily),
                };
                (strength, t)
            })
            .collect();
        emerging.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.name.cmp(&b.1.name)));
        let mut seen = BTreeSet::new();
        let emerging = emerging.into_iter().map(|(_, t)| t).filter(|t| seen.insert(t.name.clone())).take(EMERGING_CLUSTERS).collect();
        (top, emerging)
    }

    fn campaign_entries(&self, privacy: &PrivacyConfig) -> Vec<CampaignEntry> {
        let min = privacy.min_accounts;
        let described: Vec<&CampaignRow> = self
            .campaigns
            .iter()
            .filter(|c| c.accounts as usize >= min && self.campaign_docs.get(&c.id).is_some_and(|d| distinct_accounts(d) >= min))
            .collect();
        // Labels: each campaign's most distinctive phrases among the described campaigns,
        // counting only phrases of ≥ min accounts.
        let terms: Vec<ClusterTerms> = described
            .iter()
            .map(|c| {
                let docs: Vec<Doc<'_>> = self.campaign_docs[&c.id].iter().map(|(a, text, _)| Doc { text, account: *a }).collect();
                ClusterTerms::count(&docs, min, MAX_NGRAM)
            })
            .collect();
        let labels = distinctive_terms(&terms, 3);
        let empty = FxHashSet::default();
        let accounts_of = |id: &str| self.campaign_accounts.get(id).unwrap_or(&empty);
        // Ids change when a campaign splits or merges; accounts carry it across.
        let carried_share = |mine: &FxHashSet<u32>, theirs: &FxHashSet<u32>| mine.intersection(theirs).count() as f64 / mine.len().max(1) as f64;
        let mut out: Vec<CampaignEntry> = described
            .iter()
            .zip(&terms)
            .zip(labels)
            .filter(|((c, _), _)| {
                // An id that ended while most of its accounts go on under an active campaign
                // did not end: it continues under that campaign.
                self.active_at_end.contains(&c.id)
                    || !self.active_at_end.iter().any(|a| carried_share(accounts_of(&c.id), accounts_of(a)) >= CARRIED_OVER)
            })
            .map(|((c, t), label)| {
                let docs = &self.campaign_docs[&c.id];
                let previous = self.previous_campaigns.as_ref().and_then(|p| {
                    p.get(&c.id).copied().or_else(|| {
                        let mine = accounts_of(&c.id);
                        self.previous_campaign_accounts
                            .iter()
                            .filter(|(_, theirs)| carried_share(mine, theirs) >= CARRIED_OVER)
                            .max_by(|a, b| a.1.len().cmp(&b.1.len()).then(b.0.cmp(a.0)))
                            .map(|(id, _)| p[id])
                    })
                });
                let active = self.active_at_end.contains(&c.id);
                let status = if !active {
                    "ended"
                } else if let Some(p) = previous {
                    if c.accounts as f64 >= p as f64 * (1.0 + CAMPAIGN_GROWTH) { "growing" } else { "continuing" }
                } else if self.previous_campaigns.is_some() || day_of_micros(c.first_seen) >= self.days[0] {
                    "new"
                } else {
                    "continuing"
                };
                let label = if label.is_empty() {
                    format!("unnamed {} campaign", plain(&c.kind))
                } else {
                    label.iter().map(|t| t.text.as_str()).collect::<Vec<_>>().join(" · ")
                };
                CampaignEntry {
                    campaign_id: c.id.clone(),
                    kind: c.kind.clone(),
                    status: status.to_owned(),
                    label,
                    narrative: narrative(docs, t),
                    accounts: c.accounts,
                    previous_accounts: previous,
                    conversations: c.conversations,
                    languages: languages(docs),
                    score: (c.score * 100.0).round() / 100.0,
                    first_seen: day_of_micros(c.first_seen).to_string(),
                    last_seen: day_of_micros(c.last_seen).to_string(),
                }
            })
            .collect();
        let rank = |s: &str| match s {
            "ended" => 1,
            _ => 0,
        };
        out.sort_by(|a, b| rank(&a.status).cmp(&rank(&b.status)).then(b.accounts.cmp(&a.accounts)).then(a.campaign_id.cmp(&b.campaign_id)));
        out
    }
}

fn distinct_accounts(docs: &[(u32, String, String)]) -> usize {
    docs.iter().map(|d| d.0).collect::<FxHashSet<_>>().len()
}

/// The campaign's most repeated request, with every phrase fewer than `min_accounts` of its
/// accounts wrote masked; `None` if too much would be masked.
fn narrative(docs: &[(u32, String, String)], terms: &ClusterTerms) -> Option<String> {
    let mut counts: FxHashMap<&str, FxHashSet<u32>> = FxHashMap::default();
    for (a, text, _) in docs {
        counts.entry(text.as_str()).or_default().insert(*a);
    }
    let mut ranked: Vec<(&str, usize)> = counts.into_iter().map(|(t, a)| (t, a.len())).collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.len().cmp(&b.0.len())).then(a.0.cmp(b.0)));
    ranked.iter().take(50).find_map(|(text, _)| terms.k_anonymous(text, 0.5))
}

fn languages(docs: &[(u32, String, String)]) -> Vec<String> {
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, _, l) in docs {
        *counts.entry(l.as_str()).or_default() += 1;
    }
    let mut v: Vec<(&str, usize)> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    v.into_iter().map(|(l, _)| l.to_owned()).collect()
}

/// Content words of a topic's terms (phrases split, function words dropped).
fn term_words(c: &ClusterRow) -> BTreeSet<&str> {
    c.terms.iter().flat_map(|t| t.split_whitespace()).filter(|w| !crate::text::is_stopword(w)).collect()
}

/// The previous-week topic of the same level with the most similar name words (Jaccard), if
/// similar enough. Cluster ids are per night, so topics are matched by what they are about.
fn best_match<'a>(c: &ClusterRow, previous: &'a [ClusterRow]) -> Option<&'a ClusterRow> {
    let mine = term_words(c);
    previous
        .iter()
        .filter(|p| p.level == c.level && !p.suppressed)
        .map(|p| {
            let theirs = term_words(p);
            let inter = mine.intersection(&theirs).count() as f64;
            let union = mine.union(&theirs).count().max(1) as f64;
            let same_name = p.name.is_some() && p.name == c.name;
            (if same_name { 1.0 } else { inter / union }, p)
        })
        .filter(|(j, _)| *j >= MATCH_MIN_JACCARD)
        .max_by(|a, b| a.0.total_cmp(&b.0).then(b.1.id.cmp(&a.1.id)))
        .map(|(_, p)| p)
}

/// Whether the smaller of two word sets lies mostly (`SEEN_MIN_OVERLAP`) inside the other.
fn shares_most_words(a: &BTreeSet<&str>, b: &BTreeSet<&str>) -> bool {
    a.intersection(b).count() as f64 >= SEEN_MIN_OVERLAP * a.len().min(b.len()).max(1) as f64
}

/// Conversations a week earlier in same-level topics sharing most of their words with `c`.
fn overlapping_volume(c: &ClusterRow, previous: &[ClusterRow]) -> i64 {
    let mine = term_words(c);
    previous
        .iter()
        .filter(|p| p.level == c.level && !p.suppressed)
        .filter(|p| shares_most_words(&mine, &term_words(p)))
        .map(|p| p.conversations)
        .sum()
}

/// Whether the topic's words were already there a week earlier at any level (the hierarchy
/// may have been cut differently): most of its words inside one earlier topic's.
fn seen_before(c: &ClusterRow, previous: &[ClusterRow]) -> bool {
    let mine = term_words(c);
    previous.iter().filter(|p| !p.suppressed).any(|p| shares_most_words(&mine, &term_words(p)))
}

/// Last three days' daily mean against the first four days'.
fn late_minus_early(daily: &[u64]) -> f64 {
    let early = daily[..4].iter().sum::<u64>() as f64 / 4.0;
    let late = daily[4..].iter().sum::<u64>() as f64 / 3.0;
    late - early
}

/// Within the week: the last three days average at least twice the first four, and the
/// topic is busy enough for that not to be noise.
fn rising(daily: &[u64]) -> bool {
    let early = daily[..4].iter().sum::<u64>() as f64 / 4.0;
    let late = daily[4..].iter().sum::<u64>() as f64 / 3.0;
    late >= 2.0 * early.max(1.0) && daily.iter().sum::<u64>() >= 10
}

fn read_clusters(files: &[PathBuf]) -> Result<Vec<ClusterRow>> {
    let mut out = Vec::new();
    let cols = ["cluster_id", "level", "name", "exemplar", "terms", "conversations", "accounts", "suppressed", "policy_area"];
    for b in read_columns(files, &cols)? {
        let (id, name, exemplar, area) = (strings(&b, "cluster_id")?, strings(&b, "name")?, strings(&b, "exemplar")?, strings(&b, "policy_area")?);
        let level = column(&b, "level")?.as_primitive::<Int32Type>();
        let conv = column(&b, "conversations")?.as_primitive::<Int64Type>();
        let acc = column(&b, "accounts")?.as_primitive::<Int64Type>();
        let suppressed = column(&b, "suppressed")?.as_boolean();
        let terms = column(&b, "terms")?.as_list::<i32>();
        for i in 0..b.num_rows() {
            let t = terms.value(i);
            let t = t.as_string::<i32>();
            out.push(ClusterRow {
                id: id.value(i).to_owned(),
                level: level.value(i),
                name: name.is_valid(i).then(|| name.value(i).to_owned()),
                exemplar: exemplar.is_valid(i).then(|| exemplar.value(i).to_owned()),
                terms: t.iter().flatten().map(str::to_owned).collect(),
                conversations: conv.value(i),
                accounts: acc.value(i),
                suppressed: suppressed.value(i),
                policy_area: area.value(i).to_owned(),
            });
        }
    }
    Ok(out)
}

fn read_campaigns(files: &[PathBuf], night: NaiveDate) -> Result<Vec<CampaignRow>> {
    let mut out = Vec::new();
    let cols = ["campaign_id", "status", "kind", "score", "accounts", "conversations", "first_seen", "last_seen"];
    for b in read_columns(files, &cols)? {
        let (id, status, kind) = (strings(&b, "campaign_id")?, strings(&b, "status")?, strings(&b, "kind")?);
        let score = column(&b, "score")?.as_primitive::<Float32Type>();
        let acc = column(&b, "accounts")?.as_primitive::<Int64Type>();
        let conv = column(&b, "conversations")?.as_primitive::<Int64Type>();
        let first = column(&b, "first_seen")?.as_primitive::<TimestampMicrosecondType>();
        let last = column(&b, "last_seen")?.as_primitive::<TimestampMicrosecondType>();
        for i in 0..b.num_rows() {
            out.push(CampaignRow {
                id: id.value(i).to_owned(),
                status: status.value(i).to_owned(),
                kind: kind.value(i).to_owned(),
                score: score.value(i),
                accounts: acc.value(i),
                conversations: conv.value(i),
                first_seen: first.value(i),
                last_seen: last.value(i),
                night,
            });
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rising_needs_a_real_rise_and_volume() {
        assert!(rising(&[1, 1, 1, 1, 5, 6, 7]));
        assert!(!rising(&[3, 3, 3, 3, 3, 3, 3]));
        assert!(!rising(&[0, 0, 0, 0, 1, 1, 2]), "too small to call");
    }

    #[test]
    fn topics_match_by_name_terms() {
        let row = |id: &str, terms: &[&str]| ClusterRow {
            id: id.into(),
            level: 1,
            name: Some(terms.join(" · ")),
            exemplar: None,
            terms: terms.iter().map(|t| (*t).to_owned()).collect(),
            conversations: 10,
            accounts: 5,
            suppressed: false,
            policy_area: "none".into(),
        };
        let now = row("a", &["tax", "return", "deadline", "file"]);
        let before = [row("x", &["recipe", "pasta"]), row("y", &["tax", "return", "refund", "file"])];
        assert_eq!(best_match(&now, &before).map(|p| p.id.as_str()), Some("y"));
        assert!(best_match(&row("b", &["garden", "tomato"]), &before).is_none());
    }
}
