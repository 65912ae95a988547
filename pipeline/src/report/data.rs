//! Reading one week of nightly results and turning it into the report's numbers.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int32Type;
use chrono::{Days, NaiveDate};
use rustc_hash::{FxHashMap, FxHashSet};

use super::{
    change_pct, plain, week_days, AreaTrend, CampaignEntry, WeekStatus, ClusterTrend, ConcernTrend, Privacy, Totals, WeeklyReport, HIGH_CONCERN,
};
use crate::error::{Error, Result};
use crate::privacy::PrivacyConfig;
use crate::schema::{
    day_of_micros, days_since_epoch, for_each_member, for_each_topic_day, read_campaigns, read_clusters, read_topics, table, ClusterRow, CampaignKind, CampaignRow, CampaignStatus, Event,
    LineageEntry, Topic,
};
use crate::summarize::{distinctive_terms, ClusterTerms, Doc, MAX_NGRAM};
use crate::warehouse::{read_columns, Warehouse};

/// Week-over-week change that makes a topic growing or shrinking.
const TREND_CHANGE: f64 = 0.25;
/// Standard scores a change must reach to be told: a topic's count against what its share of
/// the traffic would give (small counts never make a trend).
const MIN_Z: f64 = 3.0;
/// Share of a campaign's accounts found in another campaign that makes it the same campaign
/// under a new id.
const CARRIED_OVER: f64 = 0.3;
/// A campaign is growing when its accounts rose by this share.
const CAMPAIGN_GROWTH: f64 = 0.2;
/// Rows shown.
const TOP_CLUSTERS: usize = 10;
const EMERGING_CLUSTERS: usize = 5;


/// A nightly campaign row and the night it was read from.
#[derive(Debug, Clone)]
struct NightCampaign {
    row: CampaignRow,
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
    /// Topic id → conversations per day of the week, as the week's last night clustered them.
    topic_daily: FxHashMap<String, Vec<u64>>,
    /// The night a week earlier's catalogue (None: that night did not run): topic id → its
    /// conversations in that night's window, for topics seen that night.
    previous_topics: Option<FxHashMap<String, u64>>,
    /// Topic id → (nights of the week it was seen, its re-cut transfers summed over them;
    /// None when a night had nothing to compare with).
    transfers: FxHashMap<String, (usize, Option<i64>)>,
    /// Topic id → topics it absorbed during the week.
    absorbed: FxHashMap<String, Vec<String>>,
    /// Topic id → the night it was first seen (topics seen on the week's last night).
    first_seen: FxHashMap<String, NaiveDate>,
    /// Topics first seen on a night of the week before its last: their conversations on that
    /// night's window days before the week, and how many such days there were.
    before_week: FxHashMap<String, (u64, usize)>,
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
    let array = b.column_by_name(name).ok_or_else(|| Error::internal("report", format!("column {name} was not read")))?;
    array.as_string_opt::<i32>().cloned().ok_or_else(|| mistyped(name, "text"))
}

/// A column of another type than its contract's: unreachable, since every warehouse file is
/// checked against its table's contract as it is read.
fn mistyped(column: &str, want: &str) -> Error {
    Error::internal("report", format!("{column} is not {want}, though its table was checked against the contract"))
}

fn column<'a>(b: &'a RecordBatch, name: &str) -> Result<&'a arrow::array::ArrayRef> {
    b.column_by_name(name).ok_or_else(|| Error::internal("report", format!("column {name} was not read")))
}

impl WeekData {
    pub fn read(warehouse: &Warehouse, week_end: NaiveDate) -> Result<Self> {
        let days = week_days(week_end);
        let mut files = Vec::new();
        let last_clusters = warehouse.files(table::CLUSTERS, Some(week_end))?;
        if last_clusters.is_empty() {
            return Err(Error::warehouse(warehouse.root(), format!("no nightly results for {week_end}: run `vigil nightly --date {week_end}` first")));
        }

        // Volume by area and day.
        let mut area_daily: BTreeMap<String, (Vec<u64>, u64)> = BTreeMap::new();
        let mut day_total = vec![0u64; 7];
        let mut day_high = vec![0u64; 7];
        let mut missing_days = Vec::new();
        let mut encoders = BTreeSet::new();
        for (d, day) in days.iter().enumerate() {
            let day_files = warehouse.files(table::FACETS, Some(*day))?;
            if day_files.is_empty() {
                missing_days.push(*day);
            }
            let batches = read_columns(&day_files, &["policy_area", "concern"])?;
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

        // Topics: the last night's clusters, and the volume of their topics this week and the
        // week before, each from one night's clustering (topic_daily of the week's last night
        // and of the night a week earlier).
        files.extend(last_clusters.iter().cloned());
        let clusters = read_clusters(&last_clusters)?;
        let week_before = week_end.checked_sub_days(Days::new(7)).expect("dates after 262143 BCE");
        let daily_files = warehouse.files(table::TOPIC_DAILY, Some(week_end))?;
        let topic_daily = read_topic_daily(&daily_files, &days)?;
        files.extend(daily_files);
        let previous_topic_files = warehouse.files(table::TOPICS, Some(week_before))?;
        let previous_topics = if previous_topic_files.is_empty() {
            None
        } else {
            Some(read_topic_nights(&previous_topic_files)?.into_iter().map(|t| (t.id, u64::try_from(t.conversations).unwrap_or(0))).collect())
        };
        files.extend(previous_topic_files);
        let mut transfers: FxHashMap<String, (usize, Option<i64>)> = FxHashMap::default();
        let mut absorbed: FxHashMap<String, Vec<String>> = FxHashMap::default();
        let mut first_seen: FxHashMap<String, NaiveDate> = FxHashMap::default();
        for day in &days {
            let topic_files = warehouse.files(table::TOPICS, Some(*day))?;
            for t in read_topic_nights(&topic_files)? {
                let entry = transfers.entry(t.id.clone()).or_insert((0, Some(0)));
                entry.0 += 1;
                entry.1 = entry.1.zip(t.net_transfer).map(|(a, b)| a.saturating_add(b));
                if *day == week_end {
                    let merged = absorbed_since(&t, week_before);
                    first_seen.insert(t.id.clone(), t.first_seen);
                    absorbed.insert(t.id, merged);
                }
            }
            files.extend(topic_files);
        }
        // A topic first seen during the week: what its first night's clustering found of it on
        // the days before the week (its own series, so a topic that arrived with the week is
        // told from one cut out of an older topic, which has its conversations from before).
        let mut before_week: FxHashMap<String, (u64, usize)> = FxHashMap::default();
        for night in days.iter().filter(|d| **d < week_end) {
            let arrived: FxHashSet<&str> = first_seen.iter().filter(|(_, f)| *f == night).map(|(t, _)| t.as_str()).collect();
            if arrived.is_empty() {
                continue;
            }
            let night_files = warehouse.files(table::TOPIC_DAILY, Some(*night))?;
            let (counts, before_days) = read_topic_daily_before(&night_files, days[0])?;
            for topic in arrived {
                before_week.insert(topic.to_owned(), (counts.get(topic).copied().unwrap_or(0), before_days));
            }
            files.extend(night_files);
        }
        // Campaigns of every night of the week; the latest row of each id wins.
        let mut latest: BTreeMap<String, NightCampaign> = BTreeMap::new();
        let mut active_at_end = FxHashSet::default();
        for day in &days {
            let night_files = warehouse.files(table::CAMPAIGNS, Some(*day))?;
            for row in read_campaigns(&night_files)?.into_iter().filter(|r| r.status != CampaignStatus::Ended) {
                if *day == week_end {
                    active_at_end.insert(row.id.clone());
                }
                latest.insert(row.id.clone(), NightCampaign { row, night: *day });
            }
            files.extend(night_files);
        }
        let previous_campaign_files = warehouse.files(table::CAMPAIGNS, Some(week_before))?;
        let previous_campaigns: Option<FxHashMap<String, i64>> = if previous_campaign_files.is_empty() {
            None
        } else {
            Some(read_campaigns(&previous_campaign_files)?.into_iter().filter(|r| r.status != CampaignStatus::Ended).map(|r| (r.id, r.accounts)).collect())
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
            for_each_member(&member_files, |m| {
                if previous.contains_key(m.campaign_id) {
                    let next = account_index.len() as u32;
                    let a = *account_index.entry(m.account_id.to_owned()).or_insert(next);
                    previous_campaign_accounts.entry(m.campaign_id.to_owned()).or_default().insert(a);
                }
            })?;
            files.extend(member_files);
        }
        for night in &nights {
            let member_files = warehouse.files(table::CAMPAIGN_MEMBERS, Some(*night))?;
            for_each_member(&member_files, |m| {
                if latest.get(m.campaign_id).is_some_and(|r| r.night == *night) {
                    let next = account_index.len() as u32;
                    let a = *account_index.entry(m.account_id.to_owned()).or_insert(next);
                    campaign_accounts.entry(m.campaign_id.to_owned()).or_default().insert(a);
                    wanted_conversations.entry(m.conversation_id.to_owned()).or_default().push((m.campaign_id.to_owned(), a));
                }
            })?;
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
            topic_daily,
            previous_topics,
            transfers,
            absorbed,
            first_seen,
            before_week,
            campaigns: latest.into_values().map(|c| c.row).collect(),
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
            self.campaigns.iter().filter(|c| !described.contains(c.id.as_str()) && c.kind != CampaignKind::BenignAutomation).count();

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
        // The share of the fortnight's traffic that fell in this week, and in the week's last
        // three days: what a topic's count is compared against.
        let week_total: u64 = self.day_total.iter().sum();
        let week_share = self.previous.as_ref().map(|p| share_of(week_total, week_total + p.1));
        let late_share = share_of(self.day_total[4..].iter().sum(), week_total);
        // Topics first seen by the first night of the window a week earlier.
        let settled_by = self.week_end.checked_sub_days(Days::new(13));
        let trend_of = |c: &ClusterRow| -> (f64, ClusterTrend) {
            let topic = c.topic_id.as_deref().unwrap_or_default();
            let daily = self.topic_daily.get(topic).cloned().unwrap_or_else(|| vec![0; 7]);
            let now: u64 = daily.iter().sum();
            let previous = self.previous_topics.as_ref().and_then(|p| p.get(topic).copied());
            // Re-cut transfers of the week, when the topic was seen and measured every night.
            let recut = self.transfers.get(topic).filter(|(nights, _)| *nights == 7).and_then(|(_, net)| *net);
            // A topic's count a week earlier is a baseline only if it was a topic for that
            // night's whole window: in its first week a topic holds what the clustering found
            // of it when it appeared, not a week of it.
            let settled = self.first_seen.get(topic).is_some_and(|f| settled_by.is_some_and(|by| *f <= by));
            // The same topic a week earlier, plus what re-cuts moved in or out since.
            let baseline = previous.filter(|_| settled).zip(recut).map(|(b, r)| u64::try_from(i64::try_from(b).unwrap_or(i64::MAX).saturating_add(r)).unwrap_or(0));
            let (trend, strength) = match (baseline, week_share) {
                (Some(base), Some(p)) => {
                    if now as f64 >= base as f64 * (1.0 + TREND_CHANGE) && significant(now, base, p) {
                        ("growing", now as f64 - base as f64)
                    } else if now as f64 <= base as f64 * (1.0 - TREND_CHANGE) && significant(base, now, 1.0 - p) {
                        ("shrinking", 0.0)
                    } else {
                        ("steady", 0.0)
                    }
                }
                // Not a topic a week earlier: new only if its conversations arrive during the week
                // (a topic cut from an older one has them from the first day).
                (None, _) if previous.is_none() && self.previous_topics.is_some() && rising(&daily, late_share) => ("new", late_excess(&daily)),
                // Or if it arrived with the week: its first night saw little of it before.
                (None, _) if previous.is_none() && self.previous_topics.is_some() && self.before_week.get(topic).is_some_and(|&(before, d)| arrived(now, before, d)) => {
                    let (before, d) = self.before_week[topic];
                    ("new", now as f64 - 7.0 * before as f64 / d as f64)
                }
                // The week before unknown, or the topic too young then to compare with: only a
                // rise within the week can be told.
                _ if baseline.is_none() && self.missing_days.is_empty() && rising(&daily, late_share) => ("rising", late_excess(&daily)),
                _ => ("steady", 0.0),
            };
            let trend = ClusterTrend {
                cluster_id: c.id.clone(),
                topic_id: c.topic_id.clone(),
                name: c.name.clone().unwrap_or_default(),
                policy_area: c.policy_area.clone(),
                conversations: now,
                accounts: c.accounts as u64,
                previous_conversations: previous,
                change_pct: change_pct(now, baseline),
                recut: recut.filter(|_| previous.is_some()),
                daily,
                trend: trend.to_owned(),
                absorbed: self.absorbed.get(topic).map_or(0, Vec::len),
                exemplar: c.exemplar.clone(),
            };
            (strength, trend)
        };
        let visible = |c: &&ClusterRow| {
            !c.suppressed && c.name.is_some() && c.accounts as usize >= privacy.min_accounts && c.conversations as usize >= privacy.min_conversations
        };
        let mut top: Vec<ClusterTrend> = self.clusters.iter().filter(|c| c.level == top_level).filter(visible).map(|c| trend_of(c).1).collect();
        top.sort_by(|a, b| b.conversations.cmp(&a.conversations).then(a.name.cmp(&b.name)));
        top.truncate(TOP_CLUSTERS);

        let mut emerging: Vec<(f64, ClusterTrend)> = self
            .clusters
            .iter()
            .filter(|c| c.level <= 1)
            .filter(visible)
            .map(trend_of)
            .filter(|(_, t)| matches!(t.trend.as_str(), "new" | "growing" | "rising"))
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
                    WeekStatus::Ended
                } else if let Some(p) = previous {
                    if c.accounts as f64 >= p as f64 * (1.0 + CAMPAIGN_GROWTH) { WeekStatus::Growing } else { WeekStatus::Continuing }
                } else if self.previous_campaigns.is_some() || day_of_micros(c.first_seen) >= self.days[0] {
                    WeekStatus::New
                } else {
                    WeekStatus::Continuing
                };
                let label = if label.is_empty() {
                    format!("unnamed {} campaign", plain(c.kind.as_str()))
                } else {
                    label.iter().map(|t| t.text.as_str()).collect::<Vec<_>>().join(" · ")
                };
                CampaignEntry {
                    campaign_id: c.id.clone(),
                    kind: c.kind,
                    status,
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
        out.sort_by(|a, b| (a.status == WeekStatus::Ended).cmp(&(b.status == WeekStatus::Ended)).then(b.accounts.cmp(&a.accounts)).then(a.campaign_id.cmp(&b.campaign_id)));
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

/// `part / whole`, one half when there is no whole.
fn share_of(part: u64, whole: u64) -> f64 {
    if whole == 0 { 0.5 } else { part as f64 / whole as f64 }
}

/// Whether `a` of `a + b` events is more than chance would put on `a`'s side, which gets the
/// share `p` of them when nothing changed: the binomial's normal approximation reaching
/// [`MIN_Z`] standard deviations.
fn significant(a: u64, b: u64, p: f64) -> bool {
    let n = (a + b) as f64;
    let p = if p > 0.0 && p < 1.0 { p } else { 0.5 };
    n > 0.0 && (a as f64 - n * p) / (n * p * (1.0 - p)).sqrt() >= MIN_Z
}

/// Conversations of the last three days beyond the first four days' daily rate: like a
/// growing topic's `now − baseline`, the week's conversations beyond what was expected.
fn late_excess(daily: &[u64]) -> f64 {
    let early = daily[..4].iter().sum::<u64>() as f64 / 4.0;
    daily[4..].iter().sum::<u64>() as f64 - 3.0 * early
}

/// Within the week: the last three days average at least twice the first four, and more of
/// the topic's conversations fell in them than their share of all traffic (`late_share`)
/// explains by chance.
fn rising(daily: &[u64], late_share: f64) -> bool {
    let early: u64 = daily[..4].iter().sum();
    let late: u64 = daily[4..].iter().sum();
    late as f64 / 3.0 >= 2.0 * (early as f64 / 4.0).max(1.0) && significant(late, early, late_share)
}

/// Whether a topic with `now` conversations in the week and `before` on the `before_days`
/// days its first night saw before the week arrived with the week: a daily rate at least twice
/// the one before (and at least two a day), more than chance explains when the days weigh
/// alike (the report has no traffic totals for days before the week).
fn arrived(now: u64, before: u64, before_days: usize) -> bool {
    let rate_before = before as f64 / before_days.max(1) as f64;
    before_days > 0 && now as f64 / 7.0 >= 2.0 * rate_before.max(1.0) && significant(now, before, 7.0 / (7 + before_days) as f64)
}

/// Per topic, conversations on each of `days` (a week), from `topic_daily` files of one night.
fn read_topic_daily(files: &[PathBuf], days: &[NaiveDate]) -> Result<FxHashMap<String, Vec<u64>>> {
    let days: Vec<i32> = days.iter().map(|d| days_since_epoch(*d)).collect();
    let mut out: FxHashMap<String, Vec<u64>> = FxHashMap::default();
    for_each_topic_day(files, |row| {
        if let Some(d) = days.iter().position(|&x| x == row.day) {
            let n = &mut out.entry(row.topic_id.to_owned()).or_insert_with(|| vec![0; days.len()])[d];
            *n = n.saturating_add(u64::try_from(row.conversations).unwrap_or(0));
        }
    })?;
    Ok(out)
}

/// Per topic, its conversations on the days before `start` in `topic_daily` files of one
/// night, and how many such days the night's window had (every topic has a row for every
/// window day).
fn read_topic_daily_before(files: &[PathBuf], start: NaiveDate) -> Result<(FxHashMap<String, u64>, usize)> {
    let start = days_since_epoch(start);
    let mut counts: FxHashMap<String, u64> = FxHashMap::default();
    let mut before_days = BTreeSet::new();
    for_each_topic_day(files, |row| {
        if row.day < start {
            before_days.insert(row.day);
            let n = counts.entry(row.topic_id.to_owned()).or_default();
            *n = n.saturating_add(u64::try_from(row.conversations).unwrap_or(0));
        }
    })?;
    Ok((counts, before_days.len()))
}

/// The topics a night saw (those with a cluster that night) from its `topics` files.
fn read_topic_nights(files: &[PathBuf]) -> Result<Vec<Topic>> {
    Ok(read_topics(files)?.into_iter().filter(|t| t.cluster.is_some()).collect())
}

/// The topics `topic` absorbed after `since`, from its lineage.
fn absorbed_since(topic: &Topic, since: NaiveDate) -> Vec<String> {
    topic.lineage.iter().filter_map(|l| LineageEntry::parse(l)).filter(|e| e.event == Event::Absorbed && e.night > since).map(|e| e.other.to_owned()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_topic_arrived_with_the_week_when_its_first_night_saw_little_of_it_before() {
        assert!(arrived(35, 0, 6), "five a day from the week's first day, none before");
        assert!(arrived(140, 6, 6), "one a day before, twenty a day since");
        assert!(!arrived(70, 60, 6), "cut from an older topic: as many a day before as since");
        assert!(!arrived(7, 0, 6), "one a day is too few to call");
        assert!(!arrived(35, 0, 0), "first seen on a night with no day before the week");
    }

    #[test]
    fn rising_needs_a_real_rise_and_volume() {
        let late = 3.0 / 7.0;
        assert!(rising(&[1, 1, 1, 1, 5, 6, 7], late));
        assert!(rising(&[0, 0, 0, 0, 0, 200, 0], late), "a one-day burst");
        assert!(!rising(&[3, 3, 3, 3, 3, 3, 3], late));
        assert!(!rising(&[0, 0, 0, 0, 1, 1, 2], late), "too small to call");
        assert!(!rising(&[30, 30, 30, 30, 30, 30, 30], late), "a topic cut from an older one has its conversations from the first day");
    }

    #[test]
    fn significance_needs_counts_not_only_ratios() {
        assert!(!significant(6, 3, 0.5), "+100% on a handful");
        assert!(significant(600, 300, 0.5));
        assert!(!significant(130, 100, 0.5), "+30% on 100 is within three standard deviations");
        assert!(!significant(200, 100, 2.0 / 3.0), "doubling with the traffic is not a topic's growth");
        assert!(!significant(0, 0, 0.5));
    }
}
