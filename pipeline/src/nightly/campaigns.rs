//! Campaigns in the nightly run: detected groups (see [`crate::coordinate::campaigns`]) get a
//! kind, a score, evidence and a summary, and keep their id from night to night when their
//! members overlap.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{Days, NaiveDate, Timelike};
use serde_json::json;

use super::{Analysis, NightlyConfig};
use crate::coordinate::campaigns::{detect, Group, Input};
use crate::error::Result;
use crate::facets::{request_line, Behaviour, Taxonomy};
use crate::schema::{day_of_micros, for_each_member, read_campaigns, table, CampaignKind, CampaignRow, CampaignStatus, MemberRef};
use crate::summarize::{distinctive_terms, ClusterTerms, Doc, MAX_NGRAM};
use crate::warehouse::Warehouse;

/// Fewest accounts for a group with nothing of concern to be reported.
const MIN_BENIGN_ACCOUNTS: usize = 5;

/// Mean content similarity above which a group with nothing of concern is one fixed text.
const BENIGN_MIN_CONTENT: f32 = 0.9;

/// Opens the typical request in a campaign's summary; a closing quotation mark ends it.
const TYPICAL_REQUEST: &str = "Typical request: \u{201c}";

/// The typical request quoted in a campaign's `summary`, if it has one.
pub fn typical_request(summary: &str) -> Option<&str> {
    let (_, rest) = summary.split_once(TYPICAL_REQUEST)?;
    Some(rest.split_once('\u{201d}').map_or(rest, |(request, _)| request))
}

/// A campaign as published for the run date.
#[derive(Debug, Clone)]
pub struct Campaign {
    /// Stable id (`camp-…`).
    pub id: String,
    /// Tonight's status.
    pub status: CampaignStatus,
    /// What the group is doing.
    pub kind: CampaignKind,
    /// 0–1.
    pub score: f32,
    /// Member account pseudonyms, sorted.
    pub accounts: Vec<String>,
    /// Campaign conversations: (conversation id, account pseudonym, created_at µs).
    pub members: Vec<(String, String, i64)>,
    /// Conversations (for ended campaigns: as last seen).
    pub conversations: i64,
    /// First activity (µs), carried over from earlier nights.
    pub first_seen: i64,
    /// Last activity (µs).
    pub last_seen: i64,
    /// Redacted narrative.
    pub summary: String,
    /// Machine-readable evidence (JSON).
    pub evidence: String,
    /// Accounts the previous night, if it was seen then.
    pub previous_accounts: Option<i64>,
}

impl Campaign {
    /// Its `campaigns` row.
    pub fn row(&self) -> CampaignRow {
        CampaignRow {
            id: self.id.clone(),
            status: self.status,
            kind: self.kind,
            score: self.score,
            accounts: self.accounts.len() as i64,
            conversations: self.conversations,
            previous_accounts: self.previous_accounts,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
            summary: self.summary.clone(),
            evidence: self.evidence.clone(),
        }
    }

    /// Its `campaign_members` rows.
    pub fn member_rows(&self) -> impl Iterator<Item = MemberRef<'_>> {
        self.members.iter().map(|(conversation, account, at)| MemberRef { campaign_id: &self.id, account_id: account, conversation_id: conversation, created_at: *at })
    }
}

/// A campaign of an earlier night, as read back, with its member accounts.
struct Previous {
    row: CampaignRow,
    accounts: BTreeSet<String>,
}

/// Detects, describes and identifies the window's campaigns.
pub fn campaigns(warehouse: &Warehouse, date: NaiveDate, a: &Analysis, config: &NightlyConfig, taxonomy: &Taxonomy) -> Result<Vec<Campaign>> {
    let c = &config.campaigns;
    let w = &a.window;
    let texts: Vec<&str> = (0..w.len()).map(|i| w.first_message(i)).collect();
    let ips: Vec<Option<&str>> = (0..w.len()).map(|i| w.ip_prefix(i)).collect();
    let agents: Vec<Option<String>> = (0..w.len())
        .map(|i| match (w.user_agent_family(i), w.client(i)) {
            (None, None) => None,
            (ua, client) => Some(format!("{}|{}", ua.unwrap_or(""), client.unwrap_or(""))),
        })
        .collect();
    let input = Input {
        account: &w.account,
        accounts: w.accounts.len(),
        text: &texts,
        ip_prefix: &ips,
        agent: &agents,
        topic: &a.hierarchy.leaf_of,
        created_at: &w.created_at,
        vectors: &a.embeddings,
        dim: a.dim,
    };
    let groups = if c.enabled && !w.is_empty() { detect(&input, c)? } else { Vec::new() };
    let mut found: Vec<Campaign> = groups
        .iter()
        .map(|g| describe(g, a, &texts, taxonomy))
        .inspect(|x| tracing::debug!(accounts = x.accounts.len(), conversations = x.conversations, kind = %x.kind, score = x.score, first = %x.members.first().map_or("", |m| m.0.as_str()), "campaign candidate"))
        .filter(|x| x.score >= c.min_score)
        // A handful of people typing the same common request is chance, not automation.
        .filter(|x| !x.kind.is_benign() || x.accounts.len() >= MIN_BENIGN_ACCOUNTS)
        .collect();
    found.sort_by(|x, y| y.accounts.len().cmp(&x.accounts.len()).then(x.accounts.cmp(&y.accounts)));

    // Stable identity: match the latest earlier night's campaigns by member overlap.
    let previous = read_previous(warehouse, date, config.window_days)?;
    let mut taken = vec![false; previous.len()];
    for campaign in &mut found {
        let members: BTreeSet<&String> = campaign.accounts.iter().collect();
        let best = previous
            .iter()
            .enumerate()
            .filter(|(i, _)| !taken[*i])
            .map(|(i, p)| {
                let inter = p.accounts.iter().filter(|x| members.contains(x)).count();
                let union = p.accounts.len() + members.len() - inter;
                (i, inter as f32 / union.max(1) as f32)
            })
            .filter(|(_, j)| *j >= c.match_min_overlap)
            .max_by(|x, y| x.1.total_cmp(&y.1).then(y.0.cmp(&x.0)));
        if let Some((i, _)) = best {
            taken[i] = true;
            let p = &previous[i];
            campaign.id = p.row.id.clone();
            campaign.status = CampaignStatus::Continuing;
            campaign.first_seen = campaign.first_seen.min(p.row.first_seen);
            campaign.previous_accounts = Some(p.accounts.len() as i64);
        } else {
            let digest = blake3::hash(campaign.accounts.join("\n").as_bytes()).to_hex();
            campaign.id = format!("camp-{}", &digest[..12]);
        }
    }
    for (p, _) in previous.into_iter().zip(taken).filter(|(_, t)| !t) {
        let row = p.row;
        found.push(Campaign {
            id: row.id,
            status: CampaignStatus::Ended,
            kind: row.kind,
            score: row.score,
            previous_accounts: Some(p.accounts.len() as i64),
            accounts: p.accounts.into_iter().collect(),
            members: Vec::new(),
            conversations: row.conversations,
            first_seen: row.first_seen,
            last_seen: row.last_seen,
            summary: row.summary,
            evidence: row.evidence,
        });
    }
    Ok(found)
}

fn describe(g: &Group, a: &Analysis, texts: &[&str], taxonomy: &Taxonomy) -> Campaign {
    let w = &a.window;
    let rows: Vec<usize> = g.rows.iter().map(|&r| r as usize).collect();
    let n = rows.len().max(1) as f32;
    // Areas are found by the role the taxonomy gives them, not by name: an analyst may rename them.
    let share = |kind: CampaignKind| -> f32 {
        taxonomy.area_with_role(kind).map_or(0.0, |i| rows.iter().filter(|&&r| a.facets[r].areas & (1 << i) != 0).count() as f32 / n)
    };
    let mean_concern = rows.iter().map(|&r| f32::from(a.facets[r].concern)).sum::<f32>() / n;
    let (spam, fraud) = (share(CampaignKind::Spam), share(CampaignKind::Fraud));
    // Influence is a behaviour: content for an audience in voices not the requester's own,
    // about public affairs, whatever the topic words and language. With the learned encoder the
    // group is also judged against the taxonomy's behaviour examples (1 when it shows both),
    // which finds narratives whose words no area's examples or terms resemble; the influence
    // area's share (the policy head plus the analyst's terms) decides otherwise.
    let dim = a.dim;
    let vector = |r: usize| &a.embeddings[r * dim..(r + 1) * dim];
    let judge = |b: Behaviour| a.behaviours.as_ref().and_then(|p| p.group_shows(b, rows.iter().map(|&r| vector(r))));
    let (audience, public) = (judge(Behaviour::AudienceContent), judge(Behaviour::PublicAffairs));
    let influence_area = share(CampaignKind::Influence);
    let influence = match (audience, public) {
        (Some((a, _, _)), Some((p, _, _))) if a && p => 1.0,
        // Requests that read more like the behaviour's contrasting look-alikes (an essay in
        // one's own voice, a class's homework) than like content for an audience in other
        // voices are not an operation, however many of them the policy head puts in the
        // influence area: the head judges one request's topic, the behaviour the group's
        // genre.
        (Some((_, example, contrast)), _) if contrast > example => 0.0,
        _ => influence_area,
    };
    // The strongest share at 50% or more decides; on ties the delivery (spam) wins over
    // the payload (fraud), and both over influence: bulk "make each look unique" requests are
    // spam whatever they advertise.
    let best = [(CampaignKind::Spam, spam), (CampaignKind::Fraud, fraud), (CampaignKind::Influence, influence)]
        .into_iter()
        .filter(|(_, s)| *s >= 0.5)
        .fold(None::<(CampaignKind, f32)>, |b, (k, s)| if b.is_none_or(|(_, bs)| s > bs) { Some((k, s)) } else { b });
    let kind = if let Some((k, _)) = best {
        k
    } else if mean_concern < 2.0 && g.content >= BENIGN_MIN_CONTENT {
        // One fixed text (a class's homework, a company tool's template), nothing of concern.
        CampaignKind::BenignAutomation
    } else {
        CampaignKind::Other
    };
    let size = ((g.accounts.len() as f32).ln() / 100f32.ln()).clamp(0.0, 1.0);
    // A kind decided by behaviour carries its area's severity even where no conversation's
    // words put it in that area (an influence narrative in words no taxonomy lists).
    let kind_concern = best.map_or(0.0, |(k, share)| {
        let severity = taxonomy.area_with_role(k).map_or(5, |i| taxonomy.areas()[usize::from(i)].severity);
        share * (f32::from(severity) - 1.0) / 4.0
    });
    let concern = ((mean_concern - 1.0) / 4.0).clamp(0.0, 1.0).max(kind_concern);
    let timing = g.synchrony.max(g.shared_hours);
    let infra = g.shared_infra.max(g.infra_similarity);
    let mut score = (0.35 * g.cohesion.min(1.0) + 0.2 * size + 0.25 * concern + 0.1 * timing + 0.1 * infra).clamp(0.0, 1.0);
    if kind == CampaignKind::Other {
        // Loosely similar accounts with no concern and no fixed text: ordinary users of
        // common phrasing. Halved so that only strong cases pass `min_score`.
        score *= 0.5;
    }

    let mut languages: BTreeMap<&str, usize> = BTreeMap::new();
    let mut areas: BTreeMap<&str, usize> = BTreeMap::new();
    let mut daily: BTreeMap<String, usize> = BTreeMap::new();
    let mut hours = [0u32; 24];
    let mut leaves: BTreeMap<u32, usize> = BTreeMap::new();
    for &r in &rows {
        *languages.entry(w.language(r)).or_default() += 1;
        *areas.entry(taxonomy.area_name(a.facets[r].policy_area)).or_default() += 1;
        *daily.entry(day_of_micros(w.created_at[r]).to_string()).or_default() += 1;
        if let Some(t) = chrono::DateTime::from_timestamp_micros(w.created_at[r]) {
            hours[t.hour() as usize] += 1;
        }
        if let Some(l) = a.hierarchy.leaf_of.get(r).copied().flatten() {
            *leaves.entry(l).or_default() += 1;
        }
    }
    // The medoid request: nearest the mean embedding.
    let mut mean = vec![0.0f32; dim];
    for &r in &rows {
        mean.iter_mut().zip(&a.embeddings[r * dim..(r + 1) * dim]).for_each(|(m, x)| *m += x);
    }
    let mut central: Vec<(f32, usize)> =
        rows.iter().map(|&r| (crate::embed::cosine(&a.embeddings[r * dim..(r + 1) * dim], &mean), r)).collect();
    central.sort_by(|x, y| y.0.total_cmp(&x.0).then(x.1.cmp(&y.1)));
    let examples: Vec<&str> = central.iter().take(5).map(|&(_, r)| w.conversation_id(r)).collect();
    let docs: Vec<Doc<'_>> = rows.iter().map(|&r| Doc { text: texts[r], account: w.account[r] }).collect();
    let terms = distinctive_terms(&[ClusterTerms::count(&docs, 2.min(g.accounts.len()), MAX_NGRAM)], 6).pop().unwrap_or_default();
    let mut langs: Vec<(&str, usize)> = languages.iter().map(|(l, c)| (*l, *c)).collect();
    langs.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(y.0)));
    let first = rows.iter().map(|&r| w.created_at[r]).min().unwrap_or(0);
    let last = rows.iter().map(|&r| w.created_at[r]).max().unwrap_or(0);
    let accounts: Vec<String> = g.accounts.iter().map(|&x| w.accounts[x as usize].clone()).collect();
    let lang_text: Vec<String> = langs.iter().map(|(l, c)| format!("{l} {c}")).collect();
    let mut summary = format!(
        "{} accounts, {} conversations between {} and {} ({}).",
        accounts.len(),
        rows.len(),
        day_of_micros(first),
        day_of_micros(last),
        lang_text.join(", ")
    );
    if langs.len() >= 3 {
        summary.push_str(&format!(" One narrative in {} languages.", langs.len()));
    }
    if let Some(&(_, r)) = central.first() {
        summary.push_str(&format!(" {TYPICAL_REQUEST}{}\u{201d}.", request_line(texts[r])));
    }
    if !terms.is_empty() {
        summary.push_str(&format!(" Distinctive phrases: {}.", terms.iter().map(|t| t.text.as_str()).collect::<Vec<_>>().join(", ")));
    }
    let evidence = json!({
        "signals": {
            "account_similarity": round3(g.cohesion),
            "content_similarity": round3(g.content),
            "cross_language_entities": round3(g.entity_share),
            "temporal_synchrony": round3(g.synchrony),
            "shared_working_hours": round3(g.shared_hours),
            "shared_infrastructure": round3(g.shared_infra),
            "infrastructure_similarity": round3(g.infra_similarity),
            "shared_topic": round3(g.topic_similarity),
            "conversations_per_account": round3(g.repeat),
            "languages": langs.len(),
            "mean_concern": round3(mean_concern),
            "influence_share": round3(influence_area),
            "audience_content": audience.map(|(shows, e, c)| json!({"shows": shows, "similarity": round3(e), "contrast_similarity": round3(c)})),
            "public_affairs": public.map(|(shows, e, c)| json!({"shows": shows, "similarity": round3(e), "contrast_similarity": round3(c)})),
            "spam_share": round3(spam),
            "fraud_share": round3(fraud),
        },
        "edges": g.edges,
        "examples": examples,
        "daily": daily,
        "hours": hours,
        "languages": languages,
        "policy_areas": areas,
        "leaf_clusters": leaves.keys().filter_map(|&l| a.hierarchy.levels.first().map(|lv| lv[l as usize].id.clone())).collect::<Vec<_>>(),
        "terms": terms.iter().map(|t| t.text.clone()).collect::<Vec<_>>(),
    });
    let members = rows.iter().map(|&r| (w.conversation_id(r).to_owned(), w.account_id(r).to_owned(), w.created_at[r])).collect();
    Campaign {
        id: String::new(),
        status: CampaignStatus::New,
        kind,
        score,
        accounts,
        members,
        conversations: rows.len() as i64,
        first_seen: first,
        last_seen: last,
        summary,
        evidence: evidence.to_string(),
        previous_accounts: None,
    }
}

fn round3(x: f32) -> f64 {
    (f64::from(x) * 1000.0).round() / 1000.0
}

/// The campaigns of the latest night before `date` within the window, if any, but those that
/// ended then.
fn read_previous(warehouse: &Warehouse, date: NaiveDate, window_days: u32) -> Result<Vec<Previous>> {
    for back in 1..=u64::from(window_days.max(1)) {
        let Some(day) = date.checked_sub_days(Days::new(back)) else { break };
        let files = warehouse.files(table::CAMPAIGNS, Some(day))?;
        if files.is_empty() {
            continue;
        }
        let mut members: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for_each_member(&warehouse.files(table::CAMPAIGN_MEMBERS, Some(day))?, |m| {
            members.entry(m.campaign_id.to_owned()).or_default().insert(m.account_id.to_owned());
        })?;
        return Ok(read_campaigns(&files)?
            .into_iter()
            .filter(|row| row.status != CampaignStatus::Ended)
            .map(|row| Previous { accounts: members.remove(&row.id).unwrap_or_default(), row })
            .collect());
    }
    Ok(Vec::new())
}
