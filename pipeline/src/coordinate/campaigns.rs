//! Campaign detection: groups of accounts acting in concert within the window.
//!
//! ```text
//!  conversation keys ─▶ IDF-weighted account profiles ─▶ cosine account graph ─▶ Leiden
//!  (LSH bands of the text skeleton,   (popular keys dropped,     (edges need shared      communities
//!   named-entity pairs, IP prefix)     weights ∝ rarity)          content, not only infra)  ─▶ score, kind
//! ```
//!
//! Why profiles and cosine: it is the IDF-weighted account similarity of the coordination
//! literature (e.g. coordination-network-toolkit). A key many accounts share weighs little
//! (and one shared by more than `max_key_accounts` is dropped: a popular question is not a
//! campaign); the cosine is symmetric and normalised by both accounts' activity, so one
//! hyperactive account that touches everything cannot make an edge on its own; and an account
//! that spends a small part of its activity on shared content stays weakly linked, while
//! campaign accounts, whose activity is the campaign, link strongly.
//!
//! Keys are robust to the ways campaigns vary text: the *skeleton* (capitalised words, numbers
//! and placeholders replaced by one slot token) makes slot-filled personas identical, MinHash
//! LSH bands over its word shingles catch light paraphrase and reordering, and pairs of named
//! entities and hashtags (`northmark` + `notreatysellout`) survive translation.

use std::collections::{BTreeMap, BTreeSet};

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use super::minhash::{splitmix, MinHashConfig, MinHasher};
use super::simhash::SemanticHasher;
use crate::embed::cosine;
use crate::error::Result;
use crate::text::{is_placeholder, is_stopword, lower_into, word_spans};

/// Detection settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct CampaignConfig {
    /// Run campaign detection at all.
    pub enabled: bool,
    /// Fewest accounts in a campaign.
    pub min_accounts: usize,
    /// A key shared by more accounts than this is popular content, not coordination.
    pub max_key_accounts: usize,
    /// Keys shared by at most this many accounts propose candidate account pairs (wider keys
    /// still count in each candidate's similarity).
    pub pair_key_accounts: usize,
    /// Cosine similarity of two accounts' profiles needed for an edge.
    pub edge_min_similarity: f32,
    /// How much shared infrastructure (IP prefix, client fingerprint) strengthens an edge that
    /// content made.
    pub infra_weight: f32,
    /// How much a shared topic (leaf cluster) strengthens an edge that content made.
    pub topic_weight: f32,
    /// Campaigns scoring below this are not reported.
    pub min_score: f32,
    /// Leiden resolution (higher: smaller communities).
    pub resolution: f64,
    /// LSH bands over 128 MinHash permutations (more bands: looser matching); must divide 128.
    pub lsh_bands: usize,
    /// Member overlap (Jaccard of accounts) for a campaign to keep the previous night's id.
    pub match_min_overlap: f32,
    /// Co-activity window in minutes for the synchrony signal.
    pub synchrony_minutes: i64,
    /// Random-hyperplane LSH bands over the conversations' sentence vectors (0: no semantic
    /// keys). More bands: more near-duplicate pairs found, and more keys per conversation.
    pub semantic_bands: usize,
    /// Hyperplanes per band (more: only closer vectors share a bucket).
    pub semantic_bits: usize,
}

impl Default for CampaignConfig {
    fn default() -> Self {
        CampaignConfig {
            enabled: true,
            min_accounts: 3,
            max_key_accounts: 1000,
            pair_key_accounts: 100,
            edge_min_similarity: 0.3,
            infra_weight: 0.5,
            topic_weight: 0.25,
            min_score: 0.3,
            resolution: 1.0,
            lsh_bands: 32,
            match_min_overlap: 0.3,
            synchrony_minutes: 30,
            semantic_bands: 16,
            semantic_bits: 12,
        }
    }
}

/// MinHash permutations per text skeleton; `lsh_bands` must divide it.
const MINHASH_PERMUTATIONS: usize = 128;

/// Most semantic LSH bands: each is `semantic_bits` hyperplanes over the encoder's dimensions,
/// held in memory and applied to every conversation.
const MAX_SEMANTIC_BANDS: usize = 64;

impl CampaignConfig {
    /// What is wrong with these settings, each as `campaigns.<name> = <value> (why)`: checked
    /// before a run starts, so a bad value never fails a night after clustering has run.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let mut check = |ok: bool, name: &str, value: String, rule: &str| {
            if !ok {
                problems.push(format!("campaigns.{name} = {value} ({rule})"));
            }
        };
        check(self.min_accounts >= 2, "min_accounts", self.min_accounts.to_string(), "must be at least 2");
        check(self.max_key_accounts >= 2, "max_key_accounts", self.max_key_accounts.to_string(), "must be at least 2");
        check(
            (2..=self.max_key_accounts.max(2)).contains(&self.pair_key_accounts),
            "pair_key_accounts",
            self.pair_key_accounts.to_string(),
            "must be 2..=max_key_accounts",
        );
        for (name, value) in [("edge_min_similarity", self.edge_min_similarity), ("match_min_overlap", self.match_min_overlap)] {
            check(value > 0.0 && value <= 1.0, name, value.to_string(), "must be in (0, 1]");
        }
        for (name, value) in [("infra_weight", self.infra_weight), ("topic_weight", self.topic_weight), ("min_score", self.min_score)] {
            check(value.is_finite() && value >= 0.0, name, value.to_string(), "must be a finite number, at least 0");
        }
        check(self.resolution.is_finite() && self.resolution > 0.0, "resolution", self.resolution.to_string(), "must be a finite number above 0");
        check(
            self.lsh_bands > 0 && MINHASH_PERMUTATIONS.is_multiple_of(self.lsh_bands),
            "lsh_bands",
            self.lsh_bands.to_string(),
            "must divide the 128 MinHash permutations: 1, 2, 4, 8, 16, 32, 64 or 128",
        );
        check((1..=24 * 60).contains(&self.synchrony_minutes), "synchrony_minutes", self.synchrony_minutes.to_string(), "must be 1..=1440");
        check(self.semantic_bands <= MAX_SEMANTIC_BANDS, "semantic_bands", self.semantic_bands.to_string(), "must be 0..=64");
        check((1..=32).contains(&self.semantic_bits), "semantic_bits", self.semantic_bits.to_string(), "must be 1..=32");
        problems
    }
}

/// What detection needs per conversation (window rows).
pub struct Input<'a> {
    /// Account index per row.
    pub account: &'a [u32],
    /// Number of accounts (indices are below it).
    pub accounts: usize,
    /// First user message per row (redacted).
    pub text: &'a [&'a str],
    /// Network-prefix pseudonym per row.
    pub ip_prefix: &'a [Option<&'a str>],
    /// Client fingerprint per row (user-agent family and client).
    pub agent: &'a [Option<String>],
    /// Topic (leaf cluster) per row.
    pub topic: &'a [Option<u32>],
    /// Creation time per row, µs.
    pub created_at: &'a [i64],
    /// Sentence vectors, row-major `rows × dim` (empty: no semantic keys).
    pub vectors: &'a [f32],
    /// Their dimension.
    pub dim: usize,
}

/// A detected group, before kind and score (which need facets; see the nightly job).
#[derive(Debug, Clone)]
pub struct Group {
    /// Member accounts, ascending.
    pub accounts: Vec<u32>,
    /// The members' conversations that share content keys with another member, ascending.
    pub rows: Vec<u32>,
    /// Mean similarity over the group's edges.
    pub cohesion: f32,
    /// Edges inside the group.
    pub edges: usize,
    /// Mean content-only similarity over the edges.
    pub content: f32,
    /// Share of conversations with another member's conversation within the synchrony window.
    pub synchrony: f32,
    /// Share of conversations from the group's most common IP prefix.
    pub shared_infra: f32,
    /// Mean share of entity-pair keys among the shared content keys (translation signal).
    pub entity_share: f32,
    /// Campaign conversations per account.
    pub repeat: f32,
    /// Mean infrastructure similarity (IP prefix, client fingerprint) over the edges.
    pub infra_similarity: f32,
    /// Mean topic similarity (shared leaf clusters) over the edges.
    pub topic_similarity: f32,
    /// How much more alike the members' hour-of-day profiles are than accounts' in general
    /// (0 = no more than usual, 1 = identical working hours).
    pub shared_hours: f32,
}

/// An account-graph edge with its per-signal similarities.
#[derive(Debug, Clone, Copy)]
struct Edge {
    a: u32,
    b: u32,
    /// Weight used for communities: content strengthened by infrastructure and topic.
    total: f32,
    content: f32,
    infra: f32,
    topic: f32,
}

const KIND_CONTENT: u64 = 0;
const KIND_ENTITY: u64 = 1;
const KIND_INFRA: u64 = 2;
const KIND_TOPIC: u64 = 3;
const KIND_SEMANTIC: u64 = 4;
const KINDS: [u64; 5] = [KIND_CONTENT, KIND_ENTITY, KIND_INFRA, KIND_TOPIC, KIND_SEMANTIC];

/// The key's kind in its top three bits.
fn tag(kind: u64, h: u64) -> u64 {
    (h & !(7 << 61)) | (kind << 61)
}

fn kind_of(key: u64) -> u64 {
    key >> 61
}

/// Keys that say two conversations carry the same content (not the same network or topic).
fn is_content(key: u64) -> bool {
    matches!(kind_of(key), KIND_CONTENT | KIND_ENTITY | KIND_SEMANTIC)
}

/// The text with capitalised words (except a sentence's first), numbers and placeholders
/// replaced by `§`: slot-filled templates collapse onto one skeleton.
pub fn skeleton(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut sentence_start = true;
    let mut last = 0;
    for (s, e) in word_spans(text) {
        let between = &text[last..s];
        if between.contains(['.', '!', '?', '\n', ':']) {
            sentence_start = true;
        }
        let w = &text[s..e];
        let slot = is_placeholder(w) || w.chars().any(|c| c.is_ascii_digit()) || (!sentence_start && w.chars().next().is_some_and(char::is_uppercase));
        if !out.is_empty() {
            out.push(' ');
        }
        if slot {
            out.push('§');
        } else {
            out.push_str(w);
        }
        sentence_start = false;
        last = e;
    }
    out
}

/// Named entities and hashtags of a text, lower-cased: capitalised words not opening a
/// sentence, not function words, at least 3 letters; and `#tags`.
pub fn entities(text: &str) -> Vec<String> {
    let mut out = BTreeSet::new();
    let mut sentence_start = true;
    let mut last = 0;
    let mut lower = String::new();
    for (s, e) in word_spans(text) {
        let between = &text[last..s];
        if between.contains(['.', '!', '?', '\n', ':']) {
            sentence_start = true;
        }
        let w = &text[s..e];
        last = e;
        let hashtag = between.ends_with('#');
        let capital = !sentence_start && w.chars().next().is_some_and(char::is_uppercase);
        sentence_start = false;
        if is_placeholder(w) || w.chars().count() < 3 || !(hashtag || capital) {
            continue;
        }
        lower_into(w, &mut lower);
        // "Northmark's" and "Northmark" are one entity.
        for suffix in ["'s", "’s"] {
            if let Some(stem) = lower.strip_suffix(suffix) {
                lower.truncate(stem.len());
            }
        }
        if !is_stopword(&lower) {
            out.insert(lower.clone());
        }
    }
    out.into_iter().collect()
}

/// Most entities of one text turned into pair keys.
const MAX_ENTITIES: usize = 8;

/// Keys of one conversation.
fn keys(minhash: &MinHasher, text: &str, semantic: &[u64], ip: Option<&str>, agent: Option<&str>, topic: Option<u32>) -> Vec<u64> {
    let skeleton = skeleton(text);
    let mut out: Vec<u64> = minhash.band_keys(&minhash.signature(&skeleton)).map(|k| tag(KIND_CONTENT, k)).collect();
    // Spread the bucket ids (band << 32 | signature) over 64 bits: the kind tag takes the top three.
    out.extend(semantic.iter().map(|&b| tag(KIND_SEMANTIC, splitmix(b))));
    let ents = entities(text);
    let ents = &ents[..ents.len().min(MAX_ENTITIES)];
    for i in 0..ents.len() {
        for j in i + 1..ents.len() {
            out.push(tag(KIND_ENTITY, blake3_u64(&[ents[i].as_bytes(), b"\x00", ents[j].as_bytes()])));
        }
    }
    if let Some(ip) = ip {
        out.push(tag(KIND_INFRA, blake3_u64(&[b"ip:", ip.as_bytes()])));
    }
    if let Some(agent) = agent {
        out.push(tag(KIND_INFRA, blake3_u64(&[b"agent:", agent.as_bytes()])));
    }
    if let Some(topic) = topic {
        out.push(tag(KIND_TOPIC, blake3_u64(&[b"topic:", &topic.to_le_bytes()])));
    }
    out.sort_unstable();
    out.dedup();
    out
}

fn blake3_u64(parts: &[&[u8]]) -> u64 {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(p);
    }
    u64::from_le_bytes(h.finalize().as_bytes()[..8].try_into().expect("8 bytes"))
}

/// Finds coordinated groups. Deterministic for the same input and config.
pub fn detect(input: &Input<'_>, config: &CampaignConfig) -> Result<Vec<Group>> {
    let n = input.text.len();
    let minhash = MinHasher::new(MinHashConfig { shingle_words: 3, permutations: MINHASH_PERMUTATIONS, bands: config.lsh_bands, threshold: 0.0, seed: 7 })?;
    let semantic = match (config.semantic_bands, input.dim) {
        (0, _) | (_, 0) => Vec::new(),
        (bands, dim) if input.vectors.len() == n * dim => SemanticHasher::new(dim, bands, config.semantic_bits, 0x5e3a)?.buckets(input.vectors)?,
        _ => return Err(crate::Error::internal("campaigns", format!("{} vector values for {n} rows of {}", input.vectors.len(), input.dim))),
    };
    let per_row = if semantic.is_empty() { 0 } else { config.semantic_bands };
    let row_keys: Vec<Vec<u64>> = (0..n)
        .into_par_iter()
        .map(|i| keys(&minhash, input.text[i], &semantic[i * per_row..(i + 1) * per_row], input.ip_prefix[i], input.agent[i].as_deref(), input.topic[i]))
        .collect();
    drop(semantic);

    // Accounts per key.
    let mut pairs: Vec<(u64, u32)> = row_keys.iter().enumerate().flat_map(|(i, ks)| ks.iter().map(move |&k| (k, input.account[i]))).collect();
    pairs.par_sort_unstable();
    pairs.dedup();
    let mut key_accounts: FxHashMap<u64, u32> = FxHashMap::default();
    for &(k, _) in &pairs {
        *key_accounts.entry(k).or_default() += 1;
    }
    drop(pairs);
    let total_accounts = input.accounts.max(1) as f32;
    // A key only one account uses cannot link accounts, but it still counts in that account's
    // norm: an account whose shared content is a small part of its activity stays weakly
    // linked (one popular question among many other requests).
    let weight_of = |k: u64| -> Option<f32> {
        let a = *key_accounts.get(&k)? as usize;
        if a > config.max_key_accounts {
            return None;
        }
        Some((total_accounts / a.max(2) as f32).ln().max(0.0) + 0.1)
    };

    // Account profiles: key → (1 + ln count) × weight, normalised per key kind so that a
    // conversation's ~30 text-band keys do not drown its few entity pairs.
    let mut by_account: Vec<Vec<u32>> = vec![Vec::new(); input.accounts];
    for i in 0..n {
        by_account[input.account[i] as usize].push(i as u32);
    }
    let profiles: Vec<Vec<(u64, f32)>> = by_account
        .par_iter()
        .map(|rows| {
            let mut counts: BTreeMap<u64, u32> = BTreeMap::new();
            for &r in rows {
                for &k in &row_keys[r as usize] {
                    *counts.entry(k).or_default() += 1;
                }
            }
            let mut p: Vec<(u64, f32)> = counts.into_iter().filter_map(|(k, c)| weight_of(k).map(|w| (k, (1.0 + (c as f32).ln()) * w))).collect();
            for kind in KINDS {
                let norm = p.iter().filter(|(k, _)| kind_of(*k) == kind).map(|(_, w)| w * w).sum::<f32>().sqrt();
                if norm > 0.0 {
                    p.iter_mut().filter(|(k, _)| kind_of(*k) == kind).for_each(|(_, w)| *w /= norm);
                }
            }
            p
        })
        .collect();

    // Candidate pairs come only from keys few accounts share (`pair_key_accounts`): enumerating
    // every pair under a key a thousand accounts use costs half a million pairs per key. The
    // exact cosine of each candidate then merges the two sorted profiles, so widely shared
    // keys still count in the similarity; they just never propose a pair on their own. Any
    // campaign shares some rarer key (an entity pair, a less common band) among its members.
    let mut index: BTreeMap<u64, Vec<u32>> = BTreeMap::new();
    for (a, p) in profiles.iter().enumerate() {
        for &(k, _) in p {
            index.entry(k).or_default().push(a as u32);
        }
    }
    let mut candidates: Vec<(u32, u32)> = Vec::new();
    for list in index.values().filter(|l| l.len() >= 2 && l.len() <= config.pair_key_accounts) {
        for x in 0..list.len() {
            for y in x + 1..list.len() {
                candidates.push((list[x].min(list[y]), list[x].max(list[y])));
            }
        }
    }
    drop(index);
    candidates.par_sort_unstable();
    candidates.dedup();
    let dots: Vec<((u32, u32), [f32; KINDS.len()])> = candidates
        .into_par_iter()
        .map(|(a, b)| {
            let (pa, pb) = (&profiles[a as usize], &profiles[b as usize]);
            let mut d = [0.0f32; KINDS.len()];
            let (mut i, mut j) = (0, 0);
            while i < pa.len() && j < pb.len() {
                match pa[i].0.cmp(&pb[j].0) {
                    std::cmp::Ordering::Less => i += 1,
                    std::cmp::Ordering::Greater => j += 1,
                    std::cmp::Ordering::Equal => {
                        d[kind_of(pa[i].0) as usize] += pa[i].1 * pb[j].1;
                        i += 1;
                        j += 1;
                    }
                }
            }
            ((a, b), d)
        })
        .collect();
    // Similarity: the strongest of text, entity and semantic overlap, strengthened by shared
    // infrastructure (IP prefix, client fingerprint) and shared topic — which alone never make
    // an edge (an office behind one NAT, or two people asking about cooking, is no campaign).
    let mut edges: Vec<Edge> = dots
        .into_iter()
        .filter_map(|((a, b), d)| {
            let content = d[KIND_CONTENT as usize].max(d[KIND_ENTITY as usize]).max(d[KIND_SEMANTIC as usize]);
            let boost = config.infra_weight * d[KIND_INFRA as usize] + config.topic_weight * d[KIND_TOPIC as usize];
            (content >= config.edge_min_similarity).then_some(Edge {
                a,
                b,
                total: (content * (1.0 + boost)).min(1.0),
                content,
                infra: d[KIND_INFRA as usize],
                topic: d[KIND_TOPIC as usize],
            })
        })
        .collect();
    edges.sort_unstable_by_key(|e| (e.a, e.b));
    tracing::debug!(rows = n, accounts = input.accounts, semantic_bands = per_row, edges = edges.len(), "campaign graph");
    if edges.is_empty() {
        return Ok(Vec::new());
    }

    // Communities over the accounts that have edges.
    let mut nodes: Vec<u32> = edges.iter().flat_map(|e| [e.a, e.b]).collect();
    nodes.sort_unstable();
    nodes.dedup();
    let node_of: FxHashMap<u32, usize> = nodes.iter().enumerate().map(|(i, &a)| (a, i)).collect();
    let mut builder = leiden_rs::GraphDataBuilder::new(nodes.len());
    for e in &edges {
        builder.add_edge(node_of[&e.a], node_of[&e.b], f64::from(e.total)).map_err(|e| crate::Error::internal("campaign graph", e))?;
    }
    let graph = builder.build().map_err(|e| crate::Error::internal("campaign graph", e))?;
    let leiden = leiden_rs::Leiden::new(leiden_rs::LeidenConfig { seed: Some(0x5eed), resolution: config.resolution, ..leiden_rs::LeidenConfig::default() });
    let result = leiden.run(&graph).map_err(|e| crate::Error::internal("community detection", e))?;
    let mut communities: BTreeMap<usize, Vec<u32>> = BTreeMap::new();
    for (i, &a) in nodes.iter().enumerate() {
        communities.entry(result.partition.community_of(i)).or_default().push(a);
    }
    let mut groups: Vec<Vec<u32>> = communities.into_values().filter(|m| m.len() >= config.min_accounts).collect();
    groups.iter_mut().for_each(|g| g.sort_unstable());
    groups.sort();

    let edge_map: FxHashMap<(u32, u32), Edge> = edges.iter().map(|e| ((e.a, e.b), *e)).collect();
    let window = config.synchrony_minutes * 60_000_000;
    let hours = HourProfiles::new(input, &by_account);
    Ok(groups
        .into_iter()
        .map(|accounts| describe(accounts, input, &row_keys, &by_account, &edge_map, &key_accounts, config.max_key_accounts, window, &hours))
        .filter(|g| g.rows.len() >= 2)
        .collect())
}

#[allow(clippy::too_many_arguments)]
fn describe(
    accounts: Vec<u32>,
    input: &Input<'_>,
    row_keys: &[Vec<u64>],
    by_account: &[Vec<u32>],
    edges: &FxHashMap<(u32, u32), Edge>,
    key_accounts: &FxHashMap<u64, u32>,
    max_key_accounts: usize,
    window_micros: i64,
    hours: &HourProfiles,
) -> Group {
    // Content keys → member accounts using them.
    let mut key_members: FxHashMap<u64, FxHashSet<u32>> = FxHashMap::default();
    for &a in &accounts {
        for &r in &by_account[a as usize] {
            for &k in &row_keys[r as usize] {
                if is_content(k) && key_accounts.get(&k).is_some_and(|&a| a as usize <= max_key_accounts) {
                    key_members.entry(k).or_default().insert(a);
                }
            }
        }
    }
    let mut rows = Vec::new();
    let (mut entity_keys, mut shared_keys) = (0usize, 0usize);
    for &a in &accounts {
        for &r in &by_account[a as usize] {
            let shared: Vec<u64> = row_keys[r as usize].iter().copied().filter(|k| key_members.get(k).is_some_and(|m| m.len() >= 2)).collect();
            if !shared.is_empty() {
                rows.push(r);
                shared_keys += shared.len();
                entity_keys += shared.iter().filter(|&&k| kind_of(k) == KIND_ENTITY).count();
            }
        }
    }
    rows.sort_unstable();
    let (mut total, mut content, mut infra, mut topic, mut count) = (0.0f32, 0.0f32, 0.0f32, 0.0f32, 0usize);
    for (i, &a) in accounts.iter().enumerate() {
        for &b in &accounts[i + 1..] {
            if let Some(e) = edges.get(&(a.min(b), a.max(b))) {
                total += e.total;
                content += e.content;
                infra += e.infra;
                topic += e.topic;
                count += 1;
            }
        }
    }
    let mean = |x: f32| if count > 0 { x / count as f32 } else { 0.0 };
    // Synchrony: a conversation with another member's within the window.
    let mut times: Vec<(i64, u32)> = rows.iter().map(|&r| (input.created_at[r as usize], input.account[r as usize])).collect();
    times.sort_unstable();
    let synced = (0..times.len())
        .filter(|&i| {
            let (t, a) = times[i];
            let before = times[..i].iter().rev().take_while(|(u, _)| t - u <= window_micros).any(|(_, b)| *b != a);
            let after = times[i + 1..].iter().take_while(|(u, _)| u - t <= window_micros).any(|(_, b)| *b != a);
            before || after
        })
        .count();
    let mut prefixes: BTreeMap<&str, usize> = BTreeMap::new();
    for &r in &rows {
        if let Some(p) = input.ip_prefix[r as usize] {
            *prefixes.entry(p).or_default() += 1;
        }
    }
    let top_prefix = prefixes.values().copied().max().unwrap_or(0);
    let n_rows = rows.len().max(1) as f32;
    Group {
        repeat: rows.len() as f32 / accounts.len().max(1) as f32,
        cohesion: mean(total),
        content: mean(content),
        infra_similarity: mean(infra),
        topic_similarity: mean(topic),
        shared_hours: hours.excess(&accounts),
        edges: count,
        synchrony: excess_synchrony(synced as f32 / n_rows, &times, window_micros),
        shared_infra: top_prefix as f32 / n_rows,
        entity_share: if shared_keys > 0 { entity_keys as f32 / shared_keys as f32 } else { 0.0 },
        accounts,
        rows,
    }
}

/// Hour-of-day activity profiles of every account, and how alike accounts are in general.
struct HourProfiles {
    /// Unit 24-vectors per account (zero for an account without conversations).
    unit: Vec<[f32; 24]>,
    /// Mean cosine of an account's profile to the window-wide profile.
    baseline: f32,
}

impl HourProfiles {
    fn new(input: &Input<'_>, by_account: &[Vec<u32>]) -> Self {
        let hour = |r: u32| (input.created_at[r as usize].rem_euclid(86_400_000_000) / 3_600_000_000) as usize;
        let unit: Vec<[f32; 24]> = by_account
            .iter()
            .map(|rows| {
                let mut h = [0.0f32; 24];
                rows.iter().for_each(|&r| h[hour(r)] += 1.0);
                normalise(h)
            })
            .collect();
        let mut overall = [0.0f32; 24];
        for u in &unit {
            overall.iter_mut().zip(u).for_each(|(o, x)| *o += x);
        }
        let overall = normalise(overall);
        let active: Vec<&[f32; 24]> = unit.iter().filter(|u| u.iter().any(|&x| x > 0.0)).collect();
        let baseline = active.iter().map(|u| cosine(u.as_slice(), &overall)).sum::<f32>() / active.len().max(1) as f32;
        HourProfiles { unit, baseline }
    }

    /// How much closer the members' profiles are to their own mean than accounts in general
    /// are to the window's: 0 = no more than usual, 1 = identical.
    fn excess(&self, accounts: &[u32]) -> f32 {
        let mut group = [0.0f32; 24];
        for &a in accounts {
            group.iter_mut().zip(&self.unit[a as usize]).for_each(|(g, x)| *g += x);
        }
        let group = normalise(group);
        let observed = accounts.iter().map(|&a| cosine(&self.unit[a as usize], &group)).sum::<f32>() / accounts.len().max(1) as f32;
        if self.baseline >= 1.0 { 0.0 } else { ((observed - self.baseline) / (1.0 - self.baseline)).clamp(0.0, 1.0) }
    }
}

fn normalise(mut h: [f32; 24]) -> [f32; 24] {
    let norm = h.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norm > 0.0 {
        h.iter_mut().for_each(|x| *x /= norm);
    }
    h
}


/// Observed co-activity beyond what the same number of conversations spread uniformly over
/// their time span would show by chance (0 = chance, 1 = every conversation synchronised):
/// large groups are always co-active somewhere, small bursty cells are not by chance.
fn excess_synchrony(observed: f32, times: &[(i64, u32)], window_micros: i64) -> f32 {
    let (Some(first), Some(last)) = (times.first(), times.last()) else { return 0.0 };
    let span = (last.0 - first.0).max(window_micros) as f64;
    let others = times.len().saturating_sub(1) as f64;
    let expected = (1.0 - (-others * 2.0 * window_micros as f64 / span).exp()) as f32;
    if expected >= 1.0 { 0.0 } else { ((observed - expected) / (1.0 - expected)).clamp(0.0, 1.0) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_that_would_fail_a_run_are_named_before_it() {
        assert!(CampaignConfig::default().problems().is_empty());
        let bad = CampaignConfig { lsh_bands: 7, resolution: f64::NAN, pair_key_accounts: 5000, semantic_bands: 1_000_000, ..CampaignConfig::default() };
        let problems = bad.problems();
        for name in ["lsh_bands = 7", "resolution = NaN", "pair_key_accounts = 5000", "semantic_bands = 1000000"] {
            assert!(problems.iter().any(|p| p.contains(name)), "{name} not in {problems:?}");
        }
        assert_eq!(problems.len(), 4, "{problems:?}");
    }

    #[test]
    fn skeletons_collapse_slot_filled_templates() {
        let a = skeleton("You are Linda Carter, a 54-year-old nurse from Millbrook. Write a Facebook post.");
        let b = skeleton("You are [PERSON], a 31-year-old nurse from Port Aldous. Write a TikTok post.");
        assert_eq!(a, "You are § § a § nurse from § Write a § post");
        assert_eq!(b, "You are § a § nurse from § § Write a § post");
        assert_eq!(skeleton("Write a haiku about autumn."), "Write a haiku about autumn");
    }

    #[test]
    fn entities_survive_translation() {
        let en = entities("Write a post saying Northmark's new treaty sells out farmers. Use #NoTreatySellout.");
        let es = entities("Escribe una publicación diciendo que el tratado de Northmark vende a los agricultores. Usa el hashtag #NoTreatySellout.");
        let shared: Vec<&String> = en.iter().filter(|e| es.contains(e)).collect();
        assert!(shared.contains(&&"northmark".to_owned()), "{en:?} {es:?}");
        assert!(shared.contains(&&"notreatysellout".to_owned()), "{en:?} {es:?}");
        assert!(entities("What is the capital of Australia?").len() == 1);
    }

    fn detect_texts(rows: &[(u32, &str)], accounts: usize) -> Vec<Group> {
        let text: Vec<&str> = rows.iter().map(|r| r.1).collect();
        let account: Vec<u32> = rows.iter().map(|r| r.0).collect();
        let ip = vec![None; rows.len()];
        let agent = vec![None; rows.len()];
        let topic = vec![None; rows.len()];
        let created: Vec<i64> = (0..rows.len() as i64).map(|i| i * 3_600_000_000).collect();
        let input = Input { account: &account, accounts, text: &text, ip_prefix: &ip, agent: &agent, topic: &topic, created_at: &created, vectors: &[], dim: 0 };
        detect(&input, &CampaignConfig::default()).unwrap()
    }

    #[test]
    fn a_slot_filled_cell_is_found_and_a_popular_question_is_not() {
        let mut rows: Vec<(u32, String)> = Vec::new();
        let names = ["Linda Carter", "Mark Hughes", "Greg Wells", "Ray Dawson", "Angela Reyes", "Travis Porter"];
        for (a, name) in names.iter().enumerate() {
            for city in ["Millbrook", "Eastbridge"] {
                rows.push((a as u32, format!("You are {name}, a nurse from {city}. Write a Facebook post in your own voice saying Governor Elena Marsh rigged the Northmark water contracts.")));
            }
        }
        // 40 unrelated accounts: each asks one popular question and three things of its own.
        let word = |mut n: usize| {
            let mut w = String::new();
            for _ in 0..4 {
                w.push((b'a' + (n % 26) as u8) as char);
                n /= 26;
            }
            w
        };
        for a in 6..46u32 {
            rows.push((a, "What is the capital of Australia?".to_owned()));
            for k in 0..3 {
                let words: Vec<String> = (0..8).map(|i| word(((a as usize * 3 + k) * 8 + i) * 7919)).collect();
                rows.push((a, words.join(" ")));
            }
        }
        let refs: Vec<(u32, &str)> = rows.iter().map(|(a, t)| (*a, t.as_str())).collect();
        let groups = detect_texts(&refs, 46);
        assert_eq!(groups.len(), 1, "{groups:?}");
        assert_eq!(groups[0].accounts, (0..6).collect::<Vec<u32>>());
        assert_eq!(groups[0].rows.len(), 12);
    }
}
