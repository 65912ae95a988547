//! The headline: a handful of plain sentences an executive reads first, built only from the
//! report's own numbers (so the headline can never say what the sections below do not show).

use std::collections::BTreeMap;

use super::{plain, signed_pct, thousands, CampaignEntry, Finding, FindingKind, WeekStatus, WeeklyReport, HIGH_CONCERN};
use crate::schema::CampaignKind;

/// Influence campaigns named one by one in the headline.
const HEADLINE_CAMPAIGNS: usize = 3;

/// The findings to read first, most important first.
pub(super) fn findings(r: &WeeklyReport) -> Vec<Finding> {
    let mut out = Vec::new();
    if !r.missing_days.is_empty() {
        out.push(Finding {
            kind: FindingKind::DataGap,
            text: format!(
                "Nightly results are missing for {} of the 7 days ({}): their volume is not counted, so read the trends with care.",
                r.missing_days.len(),
                join_and(&r.missing_days)
            ),
            campaign_id: None,
        });
    }
    // Largest first whatever order the report lists them in.
    let by_size = |a: &&CampaignEntry, b: &&CampaignEntry| b.accounts.cmp(&a.accounts).then(a.campaign_id.cmp(&b.campaign_id));
    let mut influence: Vec<&CampaignEntry> = r.campaigns.iter().filter(|c| c.kind == CampaignKind::Influence && c.status != WeekStatus::Ended).collect();
    influence.sort_by(by_size);
    if influence.is_empty() {
        out.push(Finding { kind: FindingKind::InfluenceCampaign, text: "No influence operation was detected this week.".into(), campaign_id: None });
    } else {
        let new = influence.iter().filter(|c| c.status == WeekStatus::New).count();
        out.push(Finding {
            kind: FindingKind::InfluenceSummary,
            text: format!(
                "{} influence operation{} active this week ({} new), {} accounts in all.",
                influence.len(),
                if influence.len() == 1 { " was" } else { "s were" },
                new,
                thousands(influence.iter().map(|c| c.accounts.max(0) as u64).sum())
            ),
            campaign_id: None,
        });
        for c in influence.iter().take(HEADLINE_CAMPAIGNS) {
            let status = match (c.status, c.previous_accounts) {
                (WeekStatus::New, _) => "new this week".to_owned(),
                (WeekStatus::Growing, Some(p)) => format!("growing, from {} accounts a week ago", thousands(p.max(0) as u64)),
                (WeekStatus::Growing, None) => "growing".to_owned(),
                _ => "continuing from last week".to_owned(),
            };
            let langs = if c.languages.len() > 1 { format!(" in {} languages", c.languages.len()) } else { String::new() };
            out.push(Finding {
                kind: FindingKind::InfluenceCampaign,
                text: format!(
                    "Influence operation \u{201c}{}\u{201d}: {} accounts, {} conversations{langs}, {status}.",
                    c.label,
                    thousands(c.accounts.max(0) as u64),
                    thousands(c.conversations.max(0) as u64)
                ),
                campaign_id: Some(c.campaign_id.clone()),
            });
        }
    }
    let other: Vec<&CampaignEntry> =
        r.campaigns.iter().filter(|c| !matches!(c.kind, CampaignKind::Influence | CampaignKind::BenignAutomation) && c.status != WeekStatus::Ended).collect();
    if !other.is_empty() {
        // Alphabetical by the kind's name, as printed.
        let mut by_kind: BTreeMap<&str, (usize, i64)> = BTreeMap::new();
        for c in &other {
            let e = by_kind.entry(c.kind.as_str()).or_default();
            e.0 += 1;
            e.1 += c.accounts;
        }
        let parts: Vec<String> = by_kind
            .iter()
            .map(|(k, (n, a))| format!("{n} {} campaign{} ({} accounts)", plain(k), if *n == 1 { "" } else { "s" }, thousands((*a).max(0) as u64)))
            .collect();
        out.push(Finding { kind: FindingKind::CoordinatedMisuse, text: format!("Also coordinated: {}.", join_and(&parts)), campaign_id: None });
    }
    let mut ended: Vec<&CampaignEntry> = r.campaigns.iter().filter(|c| c.kind == CampaignKind::Influence && c.status == WeekStatus::Ended).collect();
    ended.sort_by(by_size);
    if let Some(largest) = ended.first() {
        out.push(Finding {
            kind: FindingKind::InfluenceEnded,
            text: format!(
                "{} influence operation{} went quiet during the week (largest: \u{201c}{}\u{201d}, {} accounts).",
                ended.len(),
                if ended.len() == 1 { "" } else { "s" },
                largest.label,
                thousands(largest.accounts.max(0) as u64)
            ),
            campaign_id: Some(largest.campaign_id.clone()),
        });
    }
    let t = &r.totals;
    let busiest = r.areas.iter().filter(|a| a.area != "none").max_by(|a, b| a.total.cmp(&b.total).then(b.area.cmp(&a.area)));
    let mut volume = format!("{} conversations this week", thousands(t.conversations));
    if let Some(p) = t.change_pct {
        volume.push_str(&format!(" ({} on the week before)", signed_pct(Some(p))));
    }
    if let Some(a) = busiest {
        volume.push_str(&format!("; the largest policy area was {} with {} conversations", plain(&a.area), thousands(a.total)));
        if a.change_pct.is_some() {
            volume.push_str(&format!(" ({})", signed_pct(a.change_pct)));
        }
    }
    volume.push('.');
    out.push(Finding { kind: FindingKind::Volume, text: volume, campaign_id: None });
    if let Some(e) = r.emerging_clusters.first() {
        let why = match (e.trend.as_str(), e.change_pct) {
            ("new", _) => "new this week".to_owned(),
            ("growing", Some(p)) => format!("{} on the week before", signed_pct(Some(p))),
            _ => "rising through the week".to_owned(),
        };
        out.push(Finding {
            kind: FindingKind::EmergingTopic,
            text: format!("Emerging topic: \u{201c}{}\u{201d}, {} conversations from {} accounts, {why}.", e.name, thousands(e.conversations), thousands(e.accounts)),
            campaign_id: None,
        });
    }
    let c = &r.concern;
    let mut concern = format!("{:.1}% of conversations were high-concern (level {HIGH_CONCERN}\u{2013}5)", c.week_high_share * 100.0);
    if let Some(p) = c.previous_high_share {
        concern.push_str(&format!(", against {:.1}% the week before", p * 100.0));
    }
    concern.push('.');
    out.push(Finding { kind: FindingKind::Concern, text: concern, campaign_id: None });
    out
}

pub(super) fn join_and(parts: &[String]) -> String {
    match parts.len() {
        0 => String::new(),
        1 => parts[0].clone(),
        n => format!("{} and {}", parts[..n - 1].join(", "), parts[n - 1]),
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    fn campaign(id: &str, kind: CampaignKind, status: WeekStatus, accounts: i64) -> CampaignEntry {
        CampaignEntry {
            campaign_id: id.into(),
            kind,
            status,
            label: format!("label {id}"),
            narrative: None,
            accounts,
            previous_accounts: None,
            conversations: accounts * 2,
            languages: vec!["en".into()],
            score: 0.5,
            first_seen: "2026-11-16".into(),
            last_seen: "2026-11-22".into(),
        }
    }

    /// A small report for tests of the findings and of writing it.
    pub(in crate::report) fn report(campaigns: Vec<CampaignEntry>) -> WeeklyReport {
        WeeklyReport {
            week_start: "2026-11-16".into(),
            week_end: "2026-11-22".into(),
            days: (16..=22).map(|d| format!("2026-11-{d}")).collect(),
            previous_week_available: false,
            missing_days: Vec::new(),
            generated_by: "vigil test".into(),
            encoders: vec!["use-m3@test".into()],
            privacy: super::super::Privacy { min_accounts: 5, min_conversations: 15 },
            headline: Vec::new(),
            totals: super::super::Totals { conversations: 1000, previous_conversations: None, change_pct: None, high_concern: 10 },
            areas: Vec::new(),
            concern: super::super::ConcernTrend { daily_high_share: vec![0.01; 7], week_high_share: 0.01, previous_high_share: None },
            top_clusters: Vec::new(),
            emerging_clusters: Vec::new(),
            campaigns,
            campaigns_below_threshold: 0,
        }
    }

    #[test]
    fn only_active_influence_campaigns_are_named_largest_first_and_decoys_never() {
        let r = report(vec![
            campaign("classroom", CampaignKind::BenignAutomation, WeekStatus::New, 900),
            campaign("small", CampaignKind::Influence, WeekStatus::New, 6),
            campaign("farm", CampaignKind::Influence, WeekStatus::Continuing, 300),
            campaign("gone", CampaignKind::Influence, WeekStatus::Ended, 500),
            campaign("spam", CampaignKind::Spam, WeekStatus::New, 40),
            campaign("mid", CampaignKind::Influence, WeekStatus::Growing, 40),
            campaign("tiny", CampaignKind::Influence, WeekStatus::New, 5),
        ]);
        let f = findings(&r);
        let named: Vec<&str> = f.iter().filter(|x| x.kind == FindingKind::InfluenceCampaign).filter_map(|x| x.campaign_id.as_deref()).collect();
        assert_eq!(named, ["farm", "mid", "small"], "largest three active, in order: {f:?}");
        assert!(f.iter().all(|x| !x.text.contains("label classroom")), "a decoy is never named: {f:?}");
        assert!(f[0].text.starts_with("4 influence operations were active"), "{}", f[0].text);
        assert!(f.iter().any(|x| x.kind == FindingKind::CoordinatedMisuse && x.text.contains("1 spam campaign (40 accounts)")));
        assert!(f.iter().any(|x| x.kind == FindingKind::InfluenceEnded && x.campaign_id.as_deref() == Some("gone")));
        let quiet = findings(&report(vec![campaign("classroom", CampaignKind::BenignAutomation, WeekStatus::New, 900)]));
        assert_eq!(quiet[0].text, "No influence operation was detected this week.");
    }

    #[test]
    fn lists_read_naturally() {
        assert_eq!(join_and(&["a".into()]), "a");
        assert_eq!(join_and(&["a".into(), "b".into(), "c".into()]), "a, b and c");
    }
}
