//! Level 1 of the hierarchy: per-account usage summaries over the window — the mix of tasks
//! and policy areas, peak concern, activity rhythm, and the conversations that best represent
//! the account (for an investigator to open first).

use std::collections::BTreeMap;

use chrono::{NaiveDate, Timelike};
use rayon::prelude::*;

use super::clusters::Hierarchy;
use super::window::Window;
use crate::schema::day_of_micros;
use crate::facets::{Facet, Taxonomy};

/// Representative conversations cited per account.
pub const REPRESENTATIVES: usize = 3;

/// One account's summary.
#[derive(Debug, Clone)]
pub struct AccountSummary {
    /// Index into [`Window::accounts`].
    pub account: u32,
    /// Conversations in the window.
    pub conversations: u32,
    /// Distinct UTC days with activity.
    pub active_days: u32,
    /// First and last activity, µs.
    pub first_seen: i64,
    /// Last activity, µs.
    pub last_seen: i64,
    /// Languages by use, most used first.
    pub languages: Vec<String>,
    /// Task → conversations.
    pub task_mix: BTreeMap<String, u32>,
    /// Policy area → conversations (areas other than "none").
    pub policy_mix: BTreeMap<String, u32>,
    /// Highest concern.
    pub peak_concern: u8,
    /// Mean concern.
    pub mean_concern: f32,
    /// Conversations per UTC hour of day.
    pub hour_profile: [u32; 24],
    /// Leaf clusters by use, most used first (at most 3).
    pub top_clusters: Vec<String>,
    /// Conversation ids: highest concern first, then most typical of the account's leaf.
    pub representative: Vec<String>,
    /// One readable paragraph.
    pub summary: String,
}

/// Summaries of every account active in the window, in account order.
pub fn summarize(window: &Window, facets: &[Facet], hierarchy: &Hierarchy, taxonomy: &Taxonomy) -> Vec<AccountSummary> {
    let mut rows_of: Vec<Vec<u32>> = vec![Vec::new(); window.accounts.len()];
    for i in 0..window.len() {
        rows_of[window.account[i] as usize].push(i as u32);
    }
    rows_of
        .par_iter()
        .enumerate()
        .filter(|(_, rows)| !rows.is_empty())
        .map(|(account, rows)| summarize_one(account as u32, rows, window, facets, hierarchy, taxonomy))
        .collect()
}

fn summarize_one(account: u32, rows: &[u32], window: &Window, facets: &[Facet], hierarchy: &Hierarchy, taxonomy: &Taxonomy) -> AccountSummary {
    let mut days: Vec<NaiveDate> = Vec::new();
    let mut languages: BTreeMap<&str, u32> = BTreeMap::new();
    let mut task_mix: BTreeMap<String, u32> = BTreeMap::new();
    let mut policy_mix: BTreeMap<String, u32> = BTreeMap::new();
    let mut clusters: BTreeMap<u32, u32> = BTreeMap::new();
    let mut hour_profile = [0u32; 24];
    let (mut concern_sum, mut peak) = (0u32, 0u8);
    for &r in rows {
        let r = r as usize;
        let at = window.created_at[r];
        days.push(day_of_micros(at));
        if let Some(t) = chrono::DateTime::from_timestamp_micros(at) {
            hour_profile[t.hour() as usize] += 1;
        }
        *languages.entry(window.language(r)).or_default() += 1;
        let f = &facets[r];
        *task_mix.entry(taxonomy.task_name(f.task).to_owned()).or_default() += 1;
        if f.policy_area.is_some() {
            *policy_mix.entry(taxonomy.area_name(f.policy_area).to_owned()).or_default() += 1;
        }
        if let Some(leaf) = hierarchy.leaf_of.get(r).copied().flatten() {
            *clusters.entry(leaf).or_default() += 1;
        }
        concern_sum += u32::from(f.concern);
        peak = peak.max(f.concern);
    }
    days.sort_unstable();
    days.dedup();
    let mut languages: Vec<(&str, u32)> = languages.into_iter().collect();
    languages.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let mut clusters: Vec<(u32, u32)> = clusters.into_iter().collect();
    clusters.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let leaves = hierarchy.levels.first();
    let top_clusters: Vec<String> = clusters.iter().take(3).filter_map(|(c, _)| leaves.map(|l| l[*c as usize].id.clone())).collect();
    let mut ranked: Vec<u32> = rows.to_vec();
    ranked.sort_by(|&a, &b| {
        let (fa, fb) = (&facets[a as usize], &facets[b as usize]);
        fb.concern
            .cmp(&fa.concern)
            .then(hierarchy.similarity.get(b as usize).unwrap_or(&0.0).total_cmp(hierarchy.similarity.get(a as usize).unwrap_or(&0.0)))
            .then(a.cmp(&b))
    });
    let representative: Vec<String> = ranked.iter().take(REPRESENTATIVES).map(|&r| window.conversation_id(r as usize).to_owned()).collect();
    let conversations = rows.len() as u32;
    let mean_concern = concern_sum as f32 / conversations as f32;
    let window_days = (window.end - window.start).num_days() + 1;
    let summary = describe(conversations, days.len(), window_days, &task_mix, &policy_mix, peak, &hour_profile, &languages);
    AccountSummary {
        account,
        conversations,
        active_days: days.len() as u32,
        first_seen: window.created_at[rows[0] as usize],
        last_seen: window.created_at[rows[rows.len() - 1] as usize],
        languages: languages.iter().map(|(l, _)| (*l).to_owned()).collect(),
        task_mix,
        policy_mix,
        peak_concern: peak,
        mean_concern,
        hour_profile,
        top_clusters,
        representative,
        summary,
    }
}

#[allow(clippy::too_many_arguments)]
fn describe(
    conversations: u32,
    active_days: usize,
    window_days: i64,
    tasks: &BTreeMap<String, u32>,
    areas: &BTreeMap<String, u32>,
    peak: u8,
    hours: &[u32; 24],
    languages: &[(&str, u32)],
) -> String {
    let mut tasks: Vec<(&String, &u32)> = tasks.iter().collect();
    tasks.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
    let task_text: Vec<String> = tasks.iter().take(3).map(|(t, n)| format!("{t} ({n})")).collect();
    let mut s = format!(
        "{conversations} conversation{} on {active_days} of {window_days} days, mostly {}",
        if conversations == 1 { "" } else { "s" },
        task_text.join(", ")
    );
    if areas.is_empty() {
        s.push_str("; no policy concern");
    } else {
        let area_text: Vec<String> = areas.iter().map(|(a, n)| format!("{a} ×{n}")).collect();
        s.push_str(&format!("; peak concern {peak} ({})", area_text.join(", ")));
    }
    let (start, len) = busiest_hours(hours);
    s.push_str(&format!("; most active {:02}:00–{:02}:00 UTC", start, (start + len) % 24));
    let langs: Vec<&str> = languages.iter().take(3).map(|(l, _)| *l).collect();
    s.push_str(&format!("; languages {}.", langs.join(", ")));
    s
}

/// The shortest run of consecutive hours (wrapping) holding at least 80% of the activity.
fn busiest_hours(hours: &[u32; 24]) -> (usize, usize) {
    let total: u32 = hours.iter().sum();
    if total == 0 {
        return (0, 24);
    }
    let need = (total * 4).div_ceil(5);
    for len in 1..=24 {
        let mut best: Option<(u32, usize)> = None;
        for start in 0..24 {
            let sum: u32 = (0..len).map(|k| hours[(start + k) % 24]).sum();
            if sum >= need && best.is_none_or(|(b, _)| sum > b) {
                best = Some((sum, start));
            }
        }
        if let Some((_, start)) = best {
            return (start, len);
        }
    }
    (0, 24)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn busiest_hours_wrap_around_midnight() {
        let mut h = [0u32; 24];
        h[23] = 5;
        h[0] = 5;
        h[12] = 1;
        assert_eq!(busiest_hours(&h), (23, 2));
        assert_eq!(busiest_hours(&[0; 24]), (0, 24));
    }
}
