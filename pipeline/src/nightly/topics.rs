//! Topic identity across nights: each night's clusters continue the topics of the catalogue
//! (`topics`), so a topic keeps its id while the nightly hierarchy is re-cut, and its volume
//! can be compared with itself a week earlier.
//!
//! A night reads the catalogue the latest earlier night wrote, and which of that night's
//! conversations were in which topic (`clusters.topic_id` and `cluster_members`). Per level:
//!
//! 1. **Member overlap.** Most of tonight's window was in the previous night's window too
//!    (six of seven days), so a cluster continues the topic whose previous members it shares
//!    most: Jaccard over the conversations both nights saw, at least `min_overlap`. This needs
//!    no vectors, so it holds when the encoder changes and under LSA (refitted per window).
//! 2. **Centroids.** A topic with no members left in the window (not seen for a while) is
//!    continued by a cluster whose centroid is within `min_similarity` (cosine) of the topic's,
//!    when both come from the same learned encoder.
//!
//! The same memberships keep the hierarchy steady ([`Previous::memberships`]):
//! `clusters::build` leaves boundary conversations in the leaf that continues theirs, and
//! groups children by last night's parents. So the topics above re-cut leaves are continued
//! rather than re-cut with them.
//!
//! Both passes are one-to-one, best score first (ties by cluster rank, then topic order), so a
//! rerun gives the same ids. What is left records its lineage: a new topic most of whose
//! members came from one topic is `split_from` it; a topic not continued most of whose members
//! went into a continued one `merged_into` it (and that one `absorbed` it). A topic continued
//! under another encoder is `reanchored_from` the old one: its centroid moves to the new space
//! once, and the run's manifest counts it.
//!
//! Privacy: only clusters that pass the privacy gate create a topic or give it a name or a
//! centroid; a suppressed cluster may continue a topic (it keeps its earlier name and
//! centroid) but adds no `topic_daily` rows.

use std::path::PathBuf;

use chrono::{Days, NaiveDate};
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use super::clusters::{Cluster, Hierarchy};
use super::window::Window;
use crate::embed::cosine;
use crate::error::{Error, Result};
use crate::schema::{read_clusters, read_topics, table};
pub use crate::schema::{Event, LineageEntry, Topic};
use crate::warehouse::{for_each_batch, Warehouse};

/// How clusters continue topics from night to night (`[topics]` in a job config).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TopicsConfig {
    /// Member overlap (Jaccard over the conversations both nights clustered) at which a
    /// cluster continues a topic.
    pub min_overlap: f32,
    /// Centroid cosine at which a cluster continues a topic that has no members left in the
    /// window (same learned encoder only).
    pub min_similarity: f32,
    /// Share of a topic's (or a new cluster's) members that makes a merge (or a split).
    pub lineage_share: f32,
    /// Days a topic not seen stays in the catalogue.
    pub retain_days: u32,
}

impl Default for TopicsConfig {
    fn default() -> Self {
        TopicsConfig { min_overlap: 0.3, min_similarity: 0.9, lineage_share: 0.5, retain_days: 28 }
    }
}

impl TopicsConfig {
    /// Problems with the values, each as one phrase.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (name, value) in [("min_overlap", self.min_overlap), ("lineage_share", self.lineage_share)] {
            if !(value > 0.0 && value <= 1.0) {
                problems.push(format!("topics.{name} = {value} (must be in (0, 1])"));
            }
        }
        if !(-1.0..=1.0).contains(&self.min_similarity) {
            problems.push(format!("topics.min_similarity = {} (must be -1..=1)", self.min_similarity));
        }
        if !(1..=3660).contains(&self.retain_days) {
            problems.push(format!("topics.retain_days = {} (must be 1..=3660)", self.retain_days));
        }
        problems
    }
}

/// Most lineage entries kept per topic (the oldest are dropped).
const MAX_LINEAGE: usize = 32;

impl Topic {
    fn record(&mut self, night: NaiveDate, event: Event, other: &str) {
        self.lineage.push(LineageEntry::format(night, event, other));
        if self.lineage.len() > MAX_LINEAGE {
            self.lineage.drain(..self.lineage.len() - MAX_LINEAGE);
        }
    }
}

/// One `topic_daily` row: a topic's conversations of one window day, under tonight's clusters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DayCount {
    /// Index into [`Topics::catalogue`].
    pub topic: usize,
    /// The day.
    pub day: NaiveDate,
    /// Conversations of that day in the topic.
    pub conversations: i64,
    /// Their distinct accounts.
    pub accounts: i64,
}

/// Tonight's topics.
#[derive(Debug, Default)]
pub struct Topics {
    /// The catalogue after tonight: topics seen tonight (by level, in cluster order), then the
    /// retained ones not seen tonight (in the previous catalogue's order).
    pub catalogue: Vec<Topic>,
    /// `of_cluster[level][cluster]`: the cluster's topic (index into `catalogue`).
    pub of_cluster: Vec<Vec<Option<usize>>>,
    /// `topic_daily` rows: every window day of every topic whose cluster passed the gate.
    pub daily: Vec<DayCount>,
    /// The night whose catalogue was continued.
    pub previous_night: Option<NaiveDate>,
    /// Whether that night's memberships overlapped the window (else centroids only).
    pub members_compared: bool,
    /// Topics continued by tonight's clusters.
    pub continued: usize,
    /// Topics created tonight.
    pub created: usize,
    /// Topics continued under a new encoder tonight (their centroids moved to its space).
    pub reanchored: usize,
    /// The files the previous night's catalogue and memberships were read from.
    pub files: Vec<PathBuf>,
}

/// The catalogue and memberships of the latest earlier night: what tonight continues.
#[derive(Debug)]
pub struct Previous {
    night: NaiveDate,
    topics: Vec<Topic>,
    /// `member_topic[level][row]`: the topic (index into `topics`) the previous night put the
    /// window row in, when both windows hold it; empty when its window does not overlap
    /// tonight's.
    member_topic: Vec<Vec<Option<u32>>>,
    files: Vec<PathBuf>,
}

impl Previous {
    /// The latest night before `date` (within `retain_days`) that wrote a catalogue: its
    /// topics, and which of them it put each of tonight's window rows in.
    pub fn read(warehouse: &Warehouse, date: NaiveDate, window: &Window, config: &TopicsConfig) -> Result<Option<Previous>> {
        match latest_night_before(warehouse, date, config.retain_days)? {
            Some(night) => read_previous(warehouse, night, window).map(Some),
            None => Ok(None),
        }
    }

    /// `[level][row]`: the group the previous night put each window row in at each level
    /// (topics numbered per night; empty when the windows do not overlap). The hierarchy uses
    /// it to keep children with last night's siblings.
    pub fn memberships(&self) -> &[Vec<Option<u32>>] {
        &self.member_topic
    }
}

/// How one level's clusters continue the previous night's topics of that level.
struct LevelMatch {
    /// Per cluster: the previous topic it continues.
    continues: Vec<Option<usize>>,
    /// Per cluster not continuing one: the previous topic most of its members were in.
    split_from: Vec<Option<usize>>,
    /// `(merged, into)`: a topic not continued most of whose members went into a continued one.
    merges: Vec<(usize, usize)>,
    /// Per cluster: its net re-cut transfer (empty when no memberships were compared).
    flows: Vec<i64>,
    /// Previous topics of the level not continued, with the members they lost.
    lost: Vec<(usize, i64)>,
}

/// Matches one level's clusters to the previous night's topics: by member overlap, then (for
/// topics with no members left in the window, under the same stable encoder) by centroid.
/// `taken` marks topics already continued.
fn match_level(
    prev: &Previous,
    level: usize,
    clusters: &[Cluster],
    window: &Window,
    (encoder, stable): (&str, bool),
    config: &TopicsConfig,
    taken: &mut [bool],
) -> LevelMatch {
    let rows = prev.member_topic.get(level);
    // Overlap counts: per cluster, previous topic → shared conversations (sorted by topic).
    let overlaps: Vec<Vec<(usize, u32)>> = clusters
        .iter()
        .map(|c| {
            let mut counts: FxHashMap<u32, u32> = FxHashMap::default();
            if let Some(rows) = rows {
                for &r in &c.members {
                    if let Some(t) = rows[r as usize] {
                        *counts.entry(t).or_default() += 1;
                    }
                }
            }
            let mut v: Vec<(usize, u32)> = counts.into_iter().map(|(t, n)| (t as usize, n)).collect();
            v.sort_unstable();
            v
        })
        .collect();
    let mut topic_in_window = vec![0u32; prev.topics.len()];
    for t in rows.into_iter().flatten().flatten() {
        topic_in_window[*t as usize] += 1;
    }
    let cluster_prior: Vec<u32> = overlaps.iter().map(|o| o.iter().map(|(_, n)| n).sum()).collect();

    let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
    for (c, o) in overlaps.iter().enumerate() {
        for &(t, inter) in o {
            let union = cluster_prior[c] + topic_in_window[t] - inter;
            let jaccard = inter as f32 / union.max(1) as f32;
            if jaccard >= config.min_overlap {
                pairs.push((jaccard, c, t));
            }
        }
    }
    let mut continues: Vec<Option<usize>> = vec![None; clusters.len()];
    take_best(&mut pairs, &mut continues, taken);
    // Topics with no members left in the window, by centroid.
    if stable {
        let mut pairs: Vec<(f32, usize, usize)> = Vec::new();
        let level_topics: Vec<usize> = (0..prev.topics.len()).filter(|&t| prev.topics[t].level as usize == level).collect();
        for (c, cluster) in clusters.iter().enumerate().filter(|(c, cl)| continues[*c].is_none() && !cl.suppressed) {
            for &t in level_topics.iter().filter(|&&t| !taken[t] && topic_in_window[t] == 0) {
                let topic = &prev.topics[t];
                let Some(centroid) = topic.centroid.as_deref().filter(|v| topic.encoder == encoder && v.len() == cluster.centroid.len()) else {
                    continue;
                };
                let similarity = cosine(centroid, &cluster.centroid);
                if similarity >= config.min_similarity {
                    pairs.push((similarity, c, t));
                }
            }
        }
        take_best(&mut pairs, &mut continues, taken);
    }
    // Lineage: merges into continued topics, splits into new ones.
    let mut split_from: Vec<Option<usize>> = vec![None; clusters.len()];
    let mut merges = Vec::new();
    for (c, o) in overlaps.iter().enumerate() {
        match continues[c] {
            Some(into) => {
                for &(t, inter) in o {
                    if t != into && !taken[t] && inter as f32 >= config.lineage_share * topic_in_window[t] as f32 {
                        merges.push((t, into));
                    }
                }
            }
            None => {
                let best = o.iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0)));
                if let Some(&(t, inter)) = best {
                    if inter as f32 >= config.lineage_share * clusters[c].members.len() as f32 {
                        split_from[c] = Some(t);
                    }
                }
            }
        }
    }
    // Re-cut flows: members that existed last night (their day is on or before it).
    let (mut flows, mut lost) = (Vec::new(), Vec::new());
    if rows.is_some() {
        for (c, cluster) in clusters.iter().enumerate() {
            let existed = cluster.members.iter().filter(|&&r| window.day(r as usize) <= prev.night).count() as i64;
            flows.push(match continues[c] {
                Some(t) => {
                    let carried = o_count(&overlaps[c], t);
                    (existed - carried) - (i64::from(topic_in_window[t]) - carried)
                }
                None => existed,
            });
        }
        // Topics not continued tonight lost every member the window still holds.
        lost = (0..prev.topics.len()).filter(|&t| !taken[t] && topic_in_window[t] > 0).map(|t| (t, -i64::from(topic_in_window[t]))).collect();
    }
    LevelMatch { continues, split_from, merges, flows, lost }
}

/// Assigns tonight's clusters to topics, continuing `previous` (None on a first night).
/// `encoder` is the id of the encoder that made the cluster centroids; `stable` says whether
/// its space is the same from night to night.
pub fn assign(
    previous: Option<&Previous>,
    date: NaiveDate,
    window: &Window,
    hierarchy: &Hierarchy,
    encoder: &str,
    stable: bool,
    config: &TopicsConfig,
) -> Topics {
    let empty = Previous { night: date, topics: Vec::new(), member_topic: Vec::new(), files: Vec::new() };
    let prev = previous.unwrap_or(&empty);
    let mut out = Topics {
        previous_night: previous.map(|p| p.night),
        members_compared: !prev.member_topic.is_empty(),
        files: prev.files.clone(),
        ..Topics::default()
    };
    let mut taken = vec![false; prev.topics.len()];
    let matches: Vec<LevelMatch> = hierarchy
        .levels
        .iter()
        .enumerate()
        .map(|(level, clusters)| match_level(prev, level, clusters, window, (encoder, stable), config, &mut taken))
        .collect();
    // A topic merged into two continued topics (it overlapped both by half) counts once.
    let mut merges: Vec<(usize, usize)> = matches.iter().flat_map(|m| m.merges.iter().copied()).collect();
    merges.sort_unstable();
    merges.dedup_by_key(|m| m.0);
    merges.retain(|&(t, _)| !taken[t]);

    // Tonight's catalogue: the clusters' topics first.
    let mut index_of_previous: Vec<Option<usize>> = vec![None; prev.topics.len()];
    for (level, clusters) in hierarchy.levels.iter().enumerate() {
        let mut of_cluster = vec![None; clusters.len()];
        for (c, cluster) in clusters.iter().enumerate() {
            let topic = match matches[level].continues[c] {
                Some(t) => {
                    let mut topic = prev.topics[t].clone();
                    if topic.encoder != encoder {
                        let old = std::mem::replace(&mut topic.encoder, encoder.to_owned());
                        topic.record(date, Event::ReanchoredFrom, &old);
                        topic.centroid = None;
                        out.reanchored += 1;
                    }
                    if !cluster.suppressed {
                        topic.name = cluster.name.clone();
                        if stable {
                            topic.centroid = Some(cluster.centroid.clone());
                        }
                    }
                    out.continued += 1;
                    index_of_previous[t] = Some(out.catalogue.len());
                    topic
                }
                None if !cluster.suppressed => {
                    let mut topic = Topic {
                        id: format!("topic-{}-L{level}-{c:04}", date.format("%Y%m%d")),
                        level: level as u32,
                        name: cluster.name.clone(),
                        parent: None,
                        first_seen: date,
                        last_seen: date,
                        encoder: encoder.to_owned(),
                        lineage: Vec::new(),
                        cluster: None,
                        conversations: 0,
                        accounts: 0,
                        net_transfer: None,
                        centroid: stable.then(|| cluster.centroid.clone()),
                    };
                    if let Some(t) = matches[level].split_from[c] {
                        topic.record(date, Event::SplitFrom, &prev.topics[t].id);
                    }
                    out.created += 1;
                    topic
                }
                None => continue,
            };
            of_cluster[c] = Some(out.catalogue.len());
            out.catalogue.push(Topic {
                last_seen: date,
                cluster: Some(cluster.id.clone()),
                conversations: cluster.members.len() as i64,
                accounts: cluster.accounts as i64,
                net_transfer: matches[level].flows.get(c).copied(),
                parent: None,
                ..topic
            });
        }
        out.of_cluster.push(of_cluster);
    }
    // Parents, now that every level has its topics.
    for level in 0..hierarchy.levels.len().saturating_sub(1) {
        for (c, cluster) in hierarchy.levels[level].iter().enumerate() {
            let (Some(topic), Some(parent)) = (out.of_cluster[level][c], cluster.parent) else { continue };
            if let Some(p) = out.of_cluster[level + 1][parent] {
                out.catalogue[topic].parent = Some(out.catalogue[p].id.clone());
            }
        }
    }
    // The rest of the previous catalogue, while within the retention period.
    let oldest = date.checked_sub_days(Days::new(u64::from(config.retain_days))).unwrap_or(NaiveDate::MIN);
    for (t, topic) in prev.topics.iter().enumerate() {
        if index_of_previous[t].is_some() || topic.last_seen < oldest {
            continue;
        }
        index_of_previous[t] = Some(out.catalogue.len());
        out.catalogue.push(Topic { cluster: None, conversations: 0, accounts: 0, net_transfer: None, parent: None, ..topic.clone() });
    }
    for &(t, net) in matches.iter().flat_map(|m| &m.lost) {
        if let Some(i) = index_of_previous[t] {
            out.catalogue[i].net_transfer = Some(net);
        }
    }
    for (merged, into) in merges {
        let (Some(m), Some(i)) = (index_of_previous[merged], index_of_previous[into]) else { continue };
        let into_id = out.catalogue[i].id.clone();
        let merged_id = out.catalogue[m].id.clone();
        out.catalogue[m].record(date, Event::MergedInto, &into_id);
        out.catalogue[i].record(date, Event::Absorbed, &merged_id);
    }
    out.daily = daily_rows(window, hierarchy, &out.of_cluster);
    out
}

/// Shared conversations of a cluster with previous topic `t` (from its sorted overlap list).
fn o_count(overlaps: &[(usize, u32)], t: usize) -> i64 {
    overlaps.binary_search_by_key(&t, |o| o.0).map_or(0, |i| i64::from(overlaps[i].1))
}

/// Greedy one-to-one matching, best score first; ties by cluster, then topic.
fn take_best(pairs: &mut [(f32, usize, usize)], matched: &mut [Option<usize>], taken: &mut [bool]) {
    pairs.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)).then(a.2.cmp(&b.2)));
    for &(_, c, t) in pairs.iter() {
        if matched[c].is_none() && !taken[t] {
            matched[c] = Some(t);
            taken[t] = true;
        }
    }
}

/// Per topic whose cluster passed the gate, each window day's conversations and accounts.
fn daily_rows(window: &Window, hierarchy: &Hierarchy, of_cluster: &[Vec<Option<usize>>]) -> Vec<DayCount> {
    let days: Vec<NaiveDate> = window.start.iter_days().take_while(|d| *d <= window.end).collect();
    let mut rows = Vec::new();
    for (level, clusters) in hierarchy.levels.iter().enumerate() {
        for (c, cluster) in clusters.iter().enumerate() {
            let Some(topic) = of_cluster[level][c].filter(|_| !cluster.suppressed) else { continue };
            let mut per_day: Vec<(i64, Vec<u32>)> = vec![(0, Vec::new()); days.len()];
            for &r in &cluster.members {
                let r = r as usize;
                let d = (window.day(r) - window.start).num_days();
                if let Some(slot) = usize::try_from(d).ok().and_then(|d| per_day.get_mut(d)) {
                    slot.0 += 1;
                    slot.1.push(window.account[r]);
                }
            }
            for (day, (conversations, mut accounts)) in days.iter().zip(per_day) {
                accounts.sort_unstable();
                accounts.dedup();
                rows.push(DayCount { topic, day: *day, conversations, accounts: accounts.len() as i64 });
            }
        }
    }
    rows
}

/// The latest night before `date` (within `max_back` days) that wrote a catalogue.
fn latest_night_before(warehouse: &Warehouse, date: NaiveDate, max_back: u32) -> Result<Option<NaiveDate>> {
    for back in 1..=u64::from(max_back) {
        let Some(day) = date.checked_sub_days(Days::new(back)) else { break };
        if !warehouse.files(table::TOPICS, Some(day))?.is_empty() {
            return Ok(Some(day));
        }
    }
    Ok(None)
}

fn bad(path: &std::path::Path, what: &str) -> Error {
    Error::warehouse(path, format!("topic catalogue: {what}"))
}

fn read_previous(warehouse: &Warehouse, night: NaiveDate, window: &Window) -> Result<Previous> {
    use arrow::array::AsArray;
    use arrow::datatypes::Int32Type;

    let topic_files = warehouse.files(table::TOPICS, Some(night))?;
    let mut files = topic_files.clone();
    // Tonight's parent, cluster and counts are decided tonight.
    let topics: Vec<Topic> = read_topics(&topic_files)?
        .into_iter()
        .map(|t| Topic { parent: None, cluster: None, conversations: 0, accounts: 0, net_transfer: None, ..t })
        .collect();
    // Memberships, when the previous window overlaps tonight's.
    let mut member_topic = Vec::new();
    if night >= window.start && !topics.is_empty() {
        let index: FxHashMap<&str, u32> = topics.iter().enumerate().map(|(i, t)| (t.id.as_str(), i as u32)).collect();
        let cluster_files = warehouse.files(table::CLUSTERS, Some(night))?;
        let mut topic_of_cluster: FxHashMap<String, u32> = FxHashMap::default();
        for cluster in read_clusters(&cluster_files)? {
            if let Some(&t) = cluster.topic_id.as_deref().and_then(|topic| index.get(topic)) {
                topic_of_cluster.insert(cluster.id, t);
            }
        }
        let row_of: FxHashMap<&str, u32> = (0..window.len()).map(|i| (window.conversation_id(i), i as u32)).collect();
        let levels = topics.iter().map(|t| t.level as usize + 1).max().unwrap_or(0);
        member_topic = vec![vec![None; window.len()]; levels];
        let member_files = warehouse.files(table::CLUSTER_MEMBERS, Some(night))?;
        // Streamed: a window's memberships are one row per conversation and level.
        for_each_batch(&member_files, &["cluster_id", "conversation_id", "level"], |b| {
            let (Some(cluster), Some(conversation), Some(level)) =
                (b.column(0).as_string_opt::<i32>(), b.column(1).as_string_opt::<i32>(), b.column(2).as_primitive_opt::<Int32Type>())
            else {
                return Err(bad(member_files.first().map_or(warehouse.root(), |p| p.as_path()), "cluster_members columns have the wrong types"));
            };
            for i in 0..b.num_rows() {
                let Some(rows) = usize::try_from(level.value(i)).ok().and_then(|l| member_topic.get_mut(l)) else { continue };
                if let (Some(&t), Some(&r)) = (topic_of_cluster.get(cluster.value(i)), row_of.get(conversation.value(i))) {
                    rows[r as usize] = Some(t);
                }
            }
            Ok(())
        })?;
        files.extend(cluster_files);
        files.extend(member_files);
    }
    Ok(Previous { night, topics, member_topic, files })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lineage_entries_round_trip() {
        let night = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        for event in [Event::SplitFrom, Event::Absorbed, Event::MergedInto, Event::ReanchoredFrom] {
            let text = LineageEntry::format(night, event, "hashed-tfidf-v1 dim=256");
            assert_eq!(LineageEntry::parse(&text), Some(LineageEntry { night, event, other: "hashed-tfidf-v1 dim=256" }));
        }
        assert_eq!(LineageEntry::parse("2026-11-20 exploded topic-x"), None);
        assert_eq!(LineageEntry::parse("yesterday split_from topic-x"), None);
    }

    #[test]
    fn matching_is_one_to_one_best_first() {
        let mut pairs = vec![(0.5, 0, 0), (0.9, 1, 0), (0.4, 0, 1), (0.4, 2, 1)];
        let mut matched = vec![None; 3];
        let mut taken = vec![false; 2];
        take_best(&mut pairs, &mut matched, &mut taken);
        assert_eq!(matched, vec![Some(1), Some(0), None], "cluster 1 takes topic 0; cluster 0 gets topic 1 before cluster 2 (tie by rank)");
    }
}
