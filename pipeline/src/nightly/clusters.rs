//! Levels 2–3 of the hierarchy: leaf clusters by HDBSCAN over PCA-reduced embeddings, parents
//! by Ward agglomeration of child centroids, and k-anonymous names and summaries.

use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::{NightlyConfig, PrivacyConfig};
use super::window::Window;
use crate::cluster::{hdbscan, ward_natural_parents, ward_parents, HdbscanConfig, Pca};
use crate::embed::{cosine as dot, WindowEncoder};
use crate::error::Result;
use crate::facets::{Facet, Taxonomy};
use crate::summarize::{nearest_phrase_names, pick_non_overlapping, ranked_terms, short_terms, ClusterTerms, Doc, NameRequest, Phrase, Term, MAX_PHRASE_WORDS};

/// How conversations are clustered and clusters described.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusteringConfig {
    /// Principal components kept before density clustering.
    pub pca_components: usize,
    /// HDBSCAN: smallest cluster.
    pub min_cluster_size: usize,
    /// HDBSCAN: neighbours defining density (0: same as `min_cluster_size`).
    pub min_samples: usize,
    /// Most conversations clustered exactly; beyond, a fixed-stride sample is clustered and
    /// the rest assigned to the nearest leaf.
    pub max_exact: usize,
    /// Noise and unsampled conversations join the nearest leaf when their cosine similarity
    /// to its centroid reaches this; otherwise they stay unclustered.
    pub assign_min_similarity: f32,
    /// Stop adding levels once a level has at most this many clusters.
    pub top_max: usize,
    /// Never make a level smaller than this many clusters.
    pub top_min: usize,
    /// Children per parent aimed at when adding a level.
    pub branching: usize,
    /// Phrases considered for a name (the cluster's most distinctive shared ones); the one
    /// nearest the cluster's centroid wins.
    pub name_candidates: usize,
    /// Distinctive terms listed per cluster.
    pub summary_terms: usize,
    /// Largest share of masked words an exemplar may have.
    pub exemplar_max_masked: f32,
    /// Most requests per cluster read for names (a fixed-stride sample beyond).
    pub max_docs_per_cluster: usize,
}

impl Default for ClusteringConfig {
    fn default() -> Self {
        ClusteringConfig {
            pca_components: 24,
            min_cluster_size: 15,
            min_samples: 5,
            max_exact: 60_000,
            assign_min_similarity: 0.3,
            top_max: 30,
            top_min: 10,
            branching: 4,
            name_candidates: 24,
            summary_terms: 8,
            exemplar_max_masked: 0.4,
            max_docs_per_cluster: 4000,
        }
    }
}

/// Weight of policy-area shares against unit centroids when building parents: two clusters of
/// different areas are at least this × √2 apart, more than most topical distances.
const AREA_SEPARATION: f32 = 1.0;

/// Cosine by which a conversation may be nearer another leaf tonight and still stay in the
/// one that continues its leaf of last night.
const KEEP_MARGIN: f32 = 0.05;

/// A split of last night's leaf stands when its parts are at least as distinct as this quantile
/// of tonight's leaves from their nearest leaf (the median: as distinct as a typical pair).
const RECUT_SPLIT_QUANTILE: f32 = 0.5;

/// Last night's leaves merged tonight stay merged only when they are less distinct than this
/// quantile of tonight's leaves from their nearest leaf (nearly indistinguishable).
const RECUT_MERGE_QUANTILE: f32 = 0.05;

/// The top level keeps last night's parents unless tonight's children alone would be cut into
/// fewer than this share of them.
const REGROUP_BELOW: f32 = 0.75;

/// One cluster at some level.
#[derive(Debug, Clone)]
pub struct Cluster {
    /// `<date>-L<level>-<rank>`.
    pub id: String,
    /// 0 = leaf.
    pub level: u32,
    /// Index of the parent in the next level.
    pub parent: Option<usize>,
    /// Indices of children in the level below.
    pub children: Vec<usize>,
    /// Window rows, ascending.
    pub members: Vec<u32>,
    /// Unit centroid in embedding space.
    pub centroid: Vec<f32>,
    /// Distinct accounts.
    pub accounts: usize,
    /// Below the privacy thresholds: no text.
    pub suppressed: bool,
    /// Short name (None when suppressed).
    pub name: Option<String>,
    /// Few-sentence summary (None when suppressed).
    pub summary: Option<String>,
    /// k-anonymous central request (None when suppressed or none qualifies).
    pub exemplar: Option<String>,
    /// Distinctive shared terms (empty when suppressed).
    pub terms: Vec<Term>,
    /// Most common language used by at least `min_accounts` accounts.
    pub top_language: Option<String>,
    /// Most common policy area ("none" included).
    pub policy_area: String,
    /// Mean and max concern of members.
    pub mean_concern: f32,
    /// Highest concern of a member.
    pub max_concern: u8,
}

/// The clusters of a run, level 0 (leaves) first.
#[derive(Debug, Default)]
pub struct Hierarchy {
    /// `levels[l][i]`: cluster `i` of level `l`, largest first.
    pub levels: Vec<Vec<Cluster>>,
    /// Per window row: leaf index, if clustered.
    pub leaf_of: Vec<Option<u32>>,
    /// Per window row: cosine similarity to its leaf's centroid (0 if unclustered).
    pub similarity: Vec<f32>,
    /// Whether the leaves came from a sample (the window exceeded `max_exact`).
    pub sampled: bool,
}

/// Builds the hierarchy for the window; `encoder` placed `embeddings` and embeds name phrases.
/// `prior[level][row]` is the group the previous night put each window row in at each level
/// (empty on a first night): boundary conversations keep their leaf, and children most of
/// whose conversations shared a parent then keep it together.
#[allow(clippy::too_many_arguments)]
pub fn build(
    window: &Window,
    facets: &[Facet],
    embeddings: &[f32],
    dim: usize,
    encoder: &WindowEncoder<'_>,
    nightly: &NightlyConfig,
    taxonomy: &Taxonomy,
    prior: &[Vec<Option<u32>>],
    date: &str,
) -> Result<Hierarchy> {
    let (config, privacy) = (&nightly.clustering, &nightly.privacy);
    let n = window.len();
    if n == 0 {
        return Ok(Hierarchy::default());
    }
    let pca = Pca::fit(embeddings, dim, config.pca_components)?;
    let mut reduced = pca.transform(embeddings);
    let k = pca.components();
    // Unit rows: density in angle, as the embeddings are compared by cosine.
    reduced.par_chunks_mut(k).for_each(|row| {
        let norm = row.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            row.iter_mut().for_each(|v| *v /= norm);
        }
    });
    let hdb = HdbscanConfig { min_cluster_size: config.min_cluster_size, min_samples: config.min_samples };
    let (sample, sampled): (Vec<u32>, bool) = if n <= config.max_exact {
        ((0..n as u32).collect(), false)
    } else {
        let stride = n.div_ceil(config.max_exact);
        ((0..n as u32).step_by(stride).collect(), true)
    };
    let sample_points: Vec<f32> = sample.iter().flat_map(|&i| reduced[i as usize * k..(i as usize + 1) * k].iter().copied()).collect();
    let labels = hdbscan(&sample_points, k, &hdb)?;
    let clusters_found = labels.iter().copied().max().map_or(0, |m| (m + 1).max(0) as usize);
    let mut members: Vec<Vec<u32>> = vec![Vec::new(); clusters_found];
    for (&row, &label) in sample.iter().zip(&labels) {
        if label >= 0 {
            members[label as usize].push(row);
        }
    }
    // Assign noise and unsampled rows to the nearest leaf (by reduced-space centroid, checked
    // by cosine in full space).
    let full: Vec<Vec<f32>> = members.iter().map(|m| unit_mean(m, embeddings, dim)).collect();
    let near: Vec<Vec<f32>> = members.iter().map(|m| mean(m, &reduced, k)).collect();
    let mut leaf_of: Vec<Option<u32>> = vec![None; n];
    for (c, m) in members.iter().enumerate() {
        for &row in m {
            leaf_of[row as usize] = Some(c as u32);
        }
    }
    if !members.is_empty() {
        let assigned: Vec<(usize, Option<u32>)> = (0..n)
            .into_par_iter()
            .filter(|&i| leaf_of[i].is_none())
            .map(|i| {
                let point = &reduced[i * k..(i + 1) * k];
                let (best, _) = near.iter().enumerate().fold((0usize, f32::INFINITY), |(bi, bd), (c, centre)| {
                    let d: f32 = point.iter().zip(centre).map(|(a, b)| (a - b) * (a - b)).sum();
                    if d < bd { (c, d) } else { (bi, bd) }
                });
                let cos = dot(&embeddings[i * dim..(i + 1) * dim], &full[best]);
                (i, (cos >= config.assign_min_similarity).then_some(best as u32))
            })
            .collect();
        for (i, leaf) in assigned {
            if let Some(leaf) = leaf {
                members[leaf as usize].push(i as u32);
                leaf_of[i] = Some(leaf);
            }
        }
        undo_prior_recuts(&mut members, &mut leaf_of, prior.first(), embeddings, dim, config.min_cluster_size);
        keep_prior_leaves(&mut members, &mut leaf_of, prior.first(), embeddings, dim, config.assign_min_similarity);
        members.iter_mut().for_each(|m| m.sort_unstable());
    }
    // Leaves, largest first (ties: earliest member).
    let mut order: Vec<usize> = (0..members.len()).collect();
    order.sort_by_key(|&c| (std::cmp::Reverse(members[c].len()), members[c].first().copied().unwrap_or(u32::MAX)));
    let mut rank = vec![0u32; members.len()];
    for (r, &c) in order.iter().enumerate() {
        rank[c] = r as u32;
    }
    let leaf_of: Vec<Option<u32>> = leaf_of.into_iter().map(|l| l.map(|c| rank[c as usize])).collect();
    let leaves: Vec<Cluster> = order.iter().map(|&c| new_cluster(0, std::mem::take(&mut members[c]), embeddings, dim)).collect();
    let similarity: Vec<f32> = (0..n)
        .into_par_iter()
        .map(|i| leaf_of[i].map_or(0.0, |l| dot(&embeddings[i * dim..(i + 1) * dim], &leaves[l as usize].centroid)))
        .collect();

    let mut levels = vec![leaves];
    loop {
        let below = levels.last().expect("leaves exist");
        let count = below.len();
        // Intermediate levels divide by `branching`; the top level is cut where the dendrogram
        // says, within top_min..=top_max.
        if count <= config.top_min || (count <= config.top_max && levels.len() > 1) {
            break;
        }
        // Children are compared by topic (centroid) and by policy area: the area shares,
        // scaled, are appended to the centroid so that a news burst and an influence campaign
        // about the same place do not merge into one parent named after the wrong one.
        let areas = taxonomy.areas().len() + 1;
        let wide = dim + areas;
        let mut centroids: Vec<f32> = Vec::with_capacity(count * wide);
        for c in below.iter() {
            centroids.extend_from_slice(&c.centroid);
            let mut shares = vec![0.0f32; areas];
            for &r in &c.members {
                shares[facets[r as usize].policy_area.map_or(0, |a| a as usize + 1)] += 1.0;
            }
            centroids.extend(shares.iter().map(|s| AREA_SEPARATION * s / c.members.len().max(1) as f32));
        }
        let sizes: Vec<u64> = below.iter().map(|c| c.members.len() as u64).collect();
        // Children that were mostly under one parent last night enter Ward as one group (Ward
        // compares groups only by weight and centroid, so this is Ward constrained to keep
        // them together): a re-cut of the leaves then does not reshuffle the topics above
        // them, while children with no such parent (new ones) join wherever they are nearest.
        let (unit_of, units, kept) = prior_groups(below, prior.get(levels.len()));
        let mut unit_centroids = vec![0.0f32; units * wide];
        let mut unit_sizes = vec![0u64; units];
        for (child, &u) in unit_of.iter().enumerate() {
            unit_sizes[u] += sizes[child];
            let weight = sizes[child] as f32;
            for (acc, v) in unit_centroids[u * wide..(u + 1) * wide].iter_mut().zip(&centroids[child * wide..(child + 1) * wide]) {
                *acc += weight * v;
            }
        }
        for (u, &size) in unit_sizes.iter().enumerate() {
            unit_centroids[u * wide..(u + 1) * wide].iter_mut().for_each(|v| *v /= size.max(1) as f32);
        }
        let intermediate = count.div_ceil(config.branching.max(2));
        let parent_of_unit = if intermediate > config.top_max {
            ward_parents(&unit_centroids, wide, &unit_sizes, intermediate)
        } else {
            // No fewer parents than last night's kept, unless tonight's children alone would
            // be cut into far fewer (hysteresis): else the natural cut, finding its largest gap
            // among the kept groups, would merge a few of them every night and the top level
            // would shrink one merge at a time; but a top level cut too finely on a thin
            // window (a first night) is still consolidated once the data says so.
            let max = config.top_max.min(count - 1);
            let keep = kept > config.top_min && {
                let fresh = ward_natural_parents(&centroids, wide, &sizes, config.top_min, max);
                let fresh = fresh.iter().copied().max().map_or(0, |m| m as usize + 1);
                tracing::debug!(kept, fresh, "top level: last night's parents kept, and tonight's children cut alone");
                fresh as f32 >= REGROUP_BELOW * kept as f32
            };
            let min = if keep { kept.min(config.top_max) } else { config.top_min };
            ward_natural_parents(&unit_centroids, wide, &unit_sizes, min, max)
        };
        let parent_of: Vec<u32> = unit_of.iter().map(|&u| parent_of_unit[u]).collect();
        let parents_count = parent_of.iter().copied().max().map_or(0, |m| m as usize + 1);
        let mut parent_members: Vec<Vec<u32>> = vec![Vec::new(); parents_count];
        let mut parent_children: Vec<Vec<usize>> = vec![Vec::new(); parents_count];
        for (child, &p) in parent_of.iter().enumerate() {
            parent_members[p as usize].extend_from_slice(&below[child].members);
            parent_children[p as usize].push(child);
        }
        let level = levels.len() as u32;
        let parents: Vec<Cluster> = parent_members
            .into_iter()
            .zip(parent_children)
            .map(|(mut m, children)| {
                m.sort_unstable();
                let mut c = new_cluster(level, m, embeddings, dim);
                c.children = children;
                c
            })
            .collect();
        let below = levels.last_mut().expect("leaves exist");
        for (child, &p) in parent_of.iter().enumerate() {
            below[child].parent = Some(p as usize);
        }
        levels.push(parents);
    }

    for (l, level) in levels.iter_mut().enumerate() {
        for (i, c) in level.iter_mut().enumerate() {
            c.id = format!("{date}-L{l}-{i:04}");
            describe_facets(c, window, facets, taxonomy, privacy);
        }
    }
    let mut phrases = PhraseVectors::default();
    let mut candidates = name_leaves(&mut levels[0], window, embeddings, dim, config, privacy, encoder, &mut phrases)?;
    for l in 1..levels.len() {
        let (lower, upper) = levels.split_at_mut(l);
        candidates = name_parents(&mut upper[0], &lower[l - 1], &candidates, config, privacy, &phrases);
    }
    Ok(Hierarchy { levels, leaf_of, similarity, sampled })
}

/// Leaves keep last night's boundary conversations: a conversation whose leaf last night
/// (`prior[row]`) is, by strict majority, tonight's leaf L' stays in L' when it is within
/// [`KEEP_MARGIN`] cosine of being as close to L' as to the leaf it was put in tonight (or,
/// unclustered tonight, when it is as close to L' as assignment requires). A conversation
/// equally near two leaves otherwise flips with every re-cut; real moves (clearly nearer the
/// other leaf) still happen.
fn keep_prior_leaves(members: &mut Vec<Vec<u32>>, leaf_of: &mut [Option<u32>], prior: Option<&Vec<Option<u32>>>, embeddings: &[f32], dim: usize, min_similarity: f32) {
    let Some(prior) = prior.filter(|p| p.len() == leaf_of.len()) else { return };
    // Last night's leaf → tonight's leaf most of whose members were in it (the one with the
    // most of them when several are).
    let mut leaf_of_topic: FxHashMap<u32, (u32, usize)> = FxHashMap::default();
    for (c, m) in members.iter().enumerate() {
        if let Some((t, n)) = majority_prior(m, prior) {
            let entry = leaf_of_topic.entry(t).or_insert((c as u32, n));
            if n > entry.1 {
                *entry = (c as u32, n);
            }
        }
    }
    if leaf_of_topic.is_empty() {
        return;
    }
    let centroids: Vec<Vec<f32>> = members.iter().map(|m| unit_mean(m, embeddings, dim)).collect();
    let moves: Vec<(usize, u32)> = (0..leaf_of.len())
        .into_par_iter()
        .filter_map(|i| {
            let (&(kept, _), now) = (leaf_of_topic.get(&prior[i]?)?, leaf_of[i]);
            if now == Some(kept) {
                return None;
            }
            let row = &embeddings[i * dim..(i + 1) * dim];
            let bar = now.map_or(min_similarity, |l| dot(row, &centroids[l as usize]) - KEEP_MARGIN);
            (dot(row, &centroids[kept as usize]) >= bar).then_some((i, kept))
        })
        .collect();
    if moves.is_empty() {
        return;
    }
    for (i, kept) in moves {
        leaf_of[i] = Some(kept);
    }
    rebuild_members(members, leaf_of);
}

/// Rebuilds `members` from `leaf_of` (one pass, rows ascending); a leaf left with no member is
/// dropped and the others renumbered in order.
fn rebuild_members(members: &mut Vec<Vec<u32>>, leaf_of: &mut [Option<u32>]) {
    let mut rebuilt: Vec<Vec<u32>> = vec![Vec::new(); members.len()];
    for (i, leaf) in leaf_of.iter().enumerate() {
        if let Some(l) = leaf {
            rebuilt[*l as usize].push(i as u32);
        }
    }
    let mut new_index = vec![u32::MAX; rebuilt.len()];
    let mut next = 0u32;
    for (l, m) in rebuilt.iter().enumerate() {
        if !m.is_empty() {
            new_index[l] = next;
            next += 1;
        }
    }
    rebuilt.retain(|m| !m.is_empty());
    for leaf in leaf_of.iter_mut().flatten() {
        *leaf = new_index[*leaf as usize];
    }
    *members = rebuilt;
}

/// Undoes HDBSCAN's re-cuts of last night's leaves (`prior[row]`) unless the data clearly
/// supports them. A slide of the window leaves six of its seven days in place, and density
/// clustering of nearly the same points still splits a leaf one night and merges two the
/// next; each such re-cut gives every member of the part that loses the id a new topic.
/// Distinctness is measured as [`split_gain`] and judged against tonight's own leaves (each
/// leaf's gain against its nearest leaf), so the bars follow the encoder's geometry:
///
/// * leaves tonight whose members were, by strict majority, one leaf last night are merged
///   back into the largest of them unless they are as distinct as the
///   [`RECUT_SPLIT_QUANTILE`] of tonight's leaves;
/// * a leaf tonight that holds most of two or more of last night's leaves (each at least
///   `min_size` members here) is divided back along last night's lines (its other members
///   to the nearest part) unless they are less distinct than the [`RECUT_MERGE_QUANTILE`].
///
/// Between the two bars last night's cut stands either way (hysteresis). Leaves made mostly of
/// conversations not clustered last night (new traffic, a burst) are never touched.
fn undo_prior_recuts(members: &mut Vec<Vec<u32>>, leaf_of: &mut [Option<u32>], prior: Option<&Vec<Option<u32>>>, embeddings: &[f32], dim: usize, min_size: usize) {
    let Some(prior) = prior.filter(|p| p.len() == leaf_of.len()) else { return };
    let started = std::time::Instant::now();
    let mut separation = nearest_leaf_gains(members, embeddings, dim);
    if separation.is_empty() {
        return;
    }
    separation.sort_unstable_by(f32::total_cmp);
    let quantile = |q: f32| separation[((separation.len() - 1) as f32 * q).round() as usize];
    let (split_bar, merge_bar) = (quantile(RECUT_SPLIT_QUANTILE), quantile(RECUT_MERGE_QUANTILE));
    tracing::debug!(split_bar, merge_bar, "leaf re-cuts: tonight's bars");
    let (mut splits_undone, mut merges_undone) = (0usize, 0usize);
    // Splits: tonight's leaves grouped by last night's leaf most of their members were in.
    let mut split_of: BTreeMap<u32, Vec<usize>> = BTreeMap::new();
    for (c, m) in members.iter().enumerate() {
        if let Some((p, _)) = majority_prior(m, prior) {
            split_of.entry(p).or_default().push(c);
        }
    }
    for leaves in split_of.values().filter(|l| l.len() > 1) {
        let &largest = leaves.iter().max_by_key(|&&c| (members[c].len(), std::cmp::Reverse(c))).expect("two or more");
        for &c in leaves.iter().filter(|&&c| c != largest) {
            let gain = split_gain(&[&members[largest], &members[c]], embeddings, dim);
            tracing::debug!(gain, sizes = ?(members[largest].len(), members[c].len()), "leaf re-cut: a split of last night's leaf");
            if gain < split_bar {
                let moved = std::mem::take(&mut members[c]);
                members[largest].extend(moved);
                splits_undone += 1;
            }
        }
    }
    // Merges: where most of each of last night's leaves is tonight.
    let mut present: FxHashMap<u32, usize> = FxHashMap::default();
    let mut per_leaf: Vec<FxHashMap<u32, usize>> = vec![FxHashMap::default(); members.len()];
    for (c, m) in members.iter().enumerate() {
        for p in m.iter().filter_map(|&r| prior[r as usize]) {
            *present.entry(p).or_default() += 1;
            *per_leaf[c].entry(p).or_default() += 1;
        }
    }
    let leaves = members.len();
    for c in 0..leaves {
        let mut arrived: Vec<u32> = per_leaf[c].iter().filter(|&(p, &n)| n >= min_size.max(1) && 2 * n > present[p]).map(|(&p, _)| p).collect();
        if arrived.len() < 2 {
            continue;
        }
        arrived.sort_unstable();
        let cores: Vec<Vec<u32>> = arrived.iter().map(|&p| members[c].iter().copied().filter(|&r| prior[r as usize] == Some(p)).collect()).collect();
        let centres: Vec<Vec<f32>> = cores.iter().map(|m| unit_mean(m, embeddings, dim)).collect();
        let mut parts: Vec<Vec<u32>> = vec![Vec::new(); arrived.len()];
        for &r in &members[c] {
            let part = match prior[r as usize].and_then(|p| arrived.binary_search(&p).ok()) {
                Some(part) => part,
                None => {
                    let row = &embeddings[r as usize * dim..(r as usize + 1) * dim];
                    let near = centres.iter().map(|centre| dot(row, centre));
                    near.enumerate().fold((0, f32::NEG_INFINITY), |(bi, bs), (i, s)| if s > bs { (i, s) } else { (bi, bs) }).0
                }
            };
            parts[part].push(r);
        }
        let gain = split_gain(&parts.iter().map(Vec::as_slice).collect::<Vec<_>>(), embeddings, dim);
        tracing::debug!(gain, parts = arrived.len(), size = members[c].len(), "leaf re-cut: a merge of last night's leaves");
        if gain >= merge_bar {
            parts.sort_by_key(|p| std::cmp::Reverse(p.len()));
            let mut parts = parts.into_iter();
            members[c] = parts.next().expect("two or more");
            members.extend(parts);
            merges_undone += 1;
        }
    }
    tracing::debug!(splits_undone, merges_undone, seconds = started.elapsed().as_secs_f32(), "leaf re-cuts undone");
    if splits_undone + merges_undone > 0 {
        leaf_of.iter_mut().for_each(|l| *l = None);
        for (c, m) in members.iter().enumerate() {
            for &r in m {
                leaf_of[r as usize] = Some(c as u32);
            }
        }
        rebuild_members(members, leaf_of);
    }
}

/// Per leaf, its [`split_gain`] against the leaf with the nearest centroid (none for fewer
/// than two leaves). Quadratic in the leaves (a few thousand at most: HDBSCAN runs on a sample
/// of bounded size), linear in the rows.
fn nearest_leaf_gains(members: &[Vec<u32>], embeddings: &[f32], dim: usize) -> Vec<f32> {
    if members.len() < 2 {
        return Vec::new();
    }
    let sums: Vec<Vec<f32>> = members.par_iter().map(|m| row_sum(m, embeddings, dim)).collect();
    let norms: Vec<f32> = sums.iter().map(|s| dot(s, s).sqrt()).collect();
    (0..sums.len())
        .into_par_iter()
        .map(|a| {
            let cosine = |b: usize| dot(&sums[a], &sums[b]) / (norms[a] * norms[b]).max(f32::MIN_POSITIVE);
            let (b, _) = (0..sums.len()).filter(|&b| b != a).map(|b| (b, cosine(b))).max_by(|x, y| x.1.total_cmp(&y.1)).expect("two or more leaves");
            let together: Vec<f32> = sums[a].iter().zip(&sums[b]).map(|(x, y)| x + y).collect();
            (norms[a] + norms[b] - dot(&together, &together).sqrt()) / (members[a].len() + members[b].len()).max(1) as f32
        })
        .collect()
}

/// The sum of `rows` of `data` (accumulated in f64: leaves of a large window have many rows).
fn row_sum(rows: &[u32], data: &[f32], dim: usize) -> Vec<f32> {
    let mut sum = vec![0.0f64; dim];
    for &r in rows {
        sum.iter_mut().zip(&data[r as usize * dim..(r as usize + 1) * dim]).for_each(|(s, v)| *s += f64::from(*v));
    }
    sum.into_iter().map(|s| s as f32).collect()
}

/// How much nearer, on average, the rows of `parts` are to their own part's centroid than to
/// the centroid of all of them (cosine): what keeping the parts apart explains. Rows are unit
/// vectors, so a set's summed similarity to its unit centroid is the norm of its summed rows.
fn split_gain(parts: &[&[u32]], embeddings: &[f32], dim: usize) -> f32 {
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    let mut total = vec![0.0f32; dim];
    let (mut apart, mut n) = (0.0f32, 0usize);
    for part in parts {
        let sum = row_sum(part, embeddings, dim);
        apart += norm(&sum);
        total.iter_mut().zip(&sum).for_each(|(t, s)| *t += s);
        n += part.len();
    }
    (apart - norm(&total)) / n.max(1) as f32
}

/// Groups children by the parent most of their conversations had last night (`prior[row]`,
/// a strict majority of the child's members): per child its group, the number of groups, and
/// how many of them are last night's parents. Children with no such parent are groups of their
/// own; groups are numbered by first child.
fn prior_groups(children: &[Cluster], prior: Option<&Vec<Option<u32>>>) -> (Vec<usize>, usize, usize) {
    let mut group_of_parent: FxHashMap<u32, usize> = FxHashMap::default();
    let mut groups = 0;
    let unit_of = children
        .iter()
        .map(|child| {
            let majority = prior.and_then(|prior| majority_prior(&child.members, prior)).map(|(p, _)| p);
            let fresh = |groups: &mut usize| std::mem::replace(groups, *groups + 1);
            match majority {
                Some(p) => *group_of_parent.entry(p).or_insert_with(|| fresh(&mut groups)),
                None => fresh(&mut groups),
            }
        })
        .collect();
    (unit_of, groups, group_of_parent.len())
}

/// The group a strict majority of `members` were in last night (`prior[row]`), and how many
/// of them were. Boyer–Moore's vote finds the only possible candidate in one pass without a
/// map, and a second pass counts it.
fn majority_prior(members: &[u32], prior: &[Option<u32>]) -> Option<(u32, usize)> {
    let group = |&r: &u32| prior.get(r as usize).copied().flatten();
    let (mut candidate, mut lead) = (None, 0usize);
    for g in members.iter().map(group) {
        if lead == 0 {
            (candidate, lead) = (g, 1);
        } else if g == candidate {
            lead += 1;
        } else {
            lead -= 1;
        }
    }
    let candidate = candidate?;
    let count = members.iter().filter(|r| group(r) == Some(candidate)).count();
    (2 * count > members.len()).then_some((candidate, count))
}

fn new_cluster(level: u32, members: Vec<u32>, embeddings: &[f32], dim: usize) -> Cluster {
    Cluster {
        id: String::new(),
        level,
        parent: None,
        children: Vec::new(),
        centroid: unit_mean(&members, embeddings, dim),
        members,
        accounts: 0,
        suppressed: true,
        name: None,
        summary: None,
        exemplar: None,
        terms: Vec::new(),
        top_language: None,
        policy_area: "none".into(),
        mean_concern: 0.0,
        max_concern: 0,
    }
}

/// Mean of the given rows (sequential: the same bits on every run).
fn mean(rows: &[u32], data: &[f32], dim: usize) -> Vec<f32> {
    let n = rows.len().max(1) as f32;
    let mut m = row_sum(rows, data, dim);
    m.iter_mut().for_each(|v| *v /= n);
    m
}

fn unit_mean(rows: &[u32], data: &[f32], dim: usize) -> Vec<f32> {
    let mut m = mean(rows, data, dim);
    let norm = m.iter().map(|v| v * v).sum::<f32>().sqrt();
    if norm > 0.0 {
        m.iter_mut().for_each(|v| *v /= norm);
    }
    m
}

/// Account count, privacy gate and facet aggregates of a cluster.
fn describe_facets(c: &mut Cluster, window: &Window, facets: &[Facet], taxonomy: &Taxonomy, privacy: &PrivacyConfig) {
    let mut accounts: Vec<u32> = c.members.iter().map(|&r| window.account[r as usize]).collect();
    accounts.sort_unstable();
    accounts.dedup();
    c.accounts = accounts.len();
    c.suppressed = c.accounts < privacy.min_accounts || c.members.len() < privacy.min_conversations;
    // Languages count only when enough accounts use them.
    let mut languages: BTreeMap<&str, (u64, Vec<u32>)> = BTreeMap::new();
    let mut areas: BTreeMap<&str, u64> = BTreeMap::new();
    let (mut concern_sum, mut concern_max) = (0u64, 0u8);
    for &r in &c.members {
        let r = r as usize;
        let entry = languages.entry(window.language(r)).or_default();
        entry.0 += 1;
        entry.1.push(window.account[r]);
        let f = &facets[r];
        *areas.entry(taxonomy.area_name(f.policy_area)).or_default() += 1;
        concern_sum += u64::from(f.concern);
        concern_max = concern_max.max(f.concern);
    }
    c.top_language = languages
        .into_iter()
        .filter_map(|(lang, (count, mut accts))| {
            accts.sort_unstable();
            accts.dedup();
            (accts.len() >= privacy.min_accounts).then_some((count, lang))
        })
        .max_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(a.1)))
        .map(|(_, l)| l.to_owned());
    c.policy_area = areas.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).map_or("none", |(a, _)| a).to_owned();
    c.mean_concern = concern_sum as f32 / c.members.len().max(1) as f32;
    c.max_concern = concern_max;
}

/// Unit vectors of candidate name phrases, each embedded once per run.
#[derive(Default)]
struct PhraseVectors {
    row: FxHashMap<String, usize>,
    vectors: Vec<f32>,
    dim: usize,
}

impl PhraseVectors {
    /// Embeds the phrases not seen yet.
    fn add<'t>(&mut self, phrases: impl Iterator<Item = &'t str>, encoder: &WindowEncoder<'_>) -> Result<()> {
        let mut fresh: Vec<&str> = Vec::new();
        for p in phrases {
            if !self.row.contains_key(p) {
                self.row.insert(p.to_owned(), self.row.len());
                fresh.push(p);
            }
        }
        if !fresh.is_empty() {
            let vectors = encoder.embed(&fresh)?;
            self.dim = vectors.len() / fresh.len();
            self.vectors.extend_from_slice(&vectors);
        }
        Ok(())
    }

    fn get(&self, phrase: &str) -> Option<&[f32]> {
        self.row.get(phrase).map(|&r| &self.vectors[r * self.dim..(r + 1) * self.dim])
    }
}

fn name_requests<'a>(clusters: &'a [Cluster], candidates: &'a [Vec<Phrase>]) -> Vec<NameRequest<'a>> {
    clusters.iter().zip(candidates).map(|(c, t)| NameRequest { candidates: t, centroid: &c.centroid, accounts: c.accounts }).collect()
}

/// Names, terms, exemplars and summaries of the leaves; returns each leaf's name candidates.
#[allow(clippy::too_many_arguments)]
fn name_leaves(
    leaves: &mut [Cluster],
    window: &Window,
    embeddings: &[f32],
    dim: usize,
    config: &ClusteringConfig,
    privacy: &PrivacyConfig,
    encoder: &WindowEncoder<'_>,
    phrases: &mut PhraseVectors,
) -> Result<Vec<Vec<Phrase>>> {
    let terms: Vec<ClusterTerms> = leaves
        .par_iter()
        .map(|c| {
            let stride = c.members.len().div_ceil(config.max_docs_per_cluster.max(1)).max(1);
            let docs: Vec<Doc<'_>> = c
                .members
                .iter()
                .step_by(stride)
                .map(|&r| Doc { text: window.first_message(r as usize), account: window.account[r as usize] })
                .collect();
            ClusterTerms::count(&docs, privacy.min_accounts, MAX_PHRASE_WORDS)
        })
        .collect();
    let ranked = ranked_terms(&terms);
    let candidates: Vec<Vec<Phrase>> = leaves
        .iter()
        .zip(&terms)
        .zip(&ranked)
        .map(|((c, t), r)| if c.suppressed { Vec::new() } else { t.phrase_candidates(r, config.name_candidates) })
        .collect();
    phrases.add(candidates.iter().flatten().map(|t| t.text.as_str()), encoder)?;
    let names = nearest_phrase_names(&name_requests(leaves, &candidates), |p| phrases.get(p));
    let exemplars: Vec<Option<String>> = leaves
        .par_iter()
        .zip(&terms)
        .map(|(c, t)| if c.suppressed { None } else { exemplar(c, t, window, embeddings, dim, config) })
        .collect();
    for (((c, ranked), name), exemplar) in leaves.iter_mut().zip(ranked).zip(names).zip(exemplars) {
        let terms = pick_non_overlapping(short_terms(ranked), config.summary_terms);
        let Some(name) = name.filter(|_| !c.suppressed && !terms.is_empty()) else {
            c.suppressed = true;
            continue;
        };
        c.name = Some(name);
        c.exemplar = exemplar;
        c.terms = terms;
        c.summary = Some(leaf_summary(c));
    }
    Ok(candidates)
}

/// Exemplar candidates tried, most central first.
const EXEMPLAR_CANDIDATES: usize = 25;

/// The most central request that stays readable once made k-anonymous.
fn exemplar(c: &Cluster, terms: &ClusterTerms, window: &Window, embeddings: &[f32], dim: usize, config: &ClusteringConfig) -> Option<String> {
    let mut central: Vec<(f32, u32)> = c.members.iter().map(|&r| (dot(&embeddings[r as usize * dim..(r as usize + 1) * dim], &c.centroid), r)).collect();
    central.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    central
        .iter()
        .take(EXEMPLAR_CANDIDATES)
        .find_map(|&(_, r)| terms.k_anonymous(&crate::facets::request_line(window.first_message(r as usize)), config.exemplar_max_masked))
}

fn leaf_summary(c: &Cluster) -> String {
    let mut s = format!("{} conversations from {} accounts", c.members.len(), c.accounts);
    if let Some(lang) = &c.top_language {
        s.push_str(&format!(", mostly in {lang}"));
    }
    s.push('.');
    if let Some(ex) = &c.exemplar {
        s.push_str(&format!(" Typical request: \u{201c}{ex}\u{201d}."));
    }
    let more: Vec<&str> = c.terms.iter().map(|t| t.text.as_str()).collect();
    if !more.is_empty() {
        s.push_str(&format!(" Distinctive phrases: {}.", more.join(", ")));
    }
    if c.policy_area != "none" {
        s.push_str(&format!(" Policy area: {} (mean concern {:.1}).", c.policy_area, c.mean_concern));
    }
    s
}

/// Names, terms and summaries of one level's parents from their children's (already
/// k-anonymous) phrases; returns each parent's name candidates.
fn name_parents(
    parents: &mut [Cluster],
    children: &[Cluster],
    child_candidates: &[Vec<Phrase>],
    config: &ClusteringConfig,
    privacy: &PrivacyConfig,
    phrases: &PhraseVectors,
) -> Vec<Vec<Phrase>> {
    let mut candidates: Vec<Vec<Phrase>> = Vec::with_capacity(parents.len());
    for p in parents.iter() {
        // Every phrase a named child could be named by (its vector is already known), with
        // the children's accounts added up: the parent's reach, counting an account that wrote
        // it in two children twice.
        let mut merged: BTreeMap<&str, Phrase> = BTreeMap::new();
        for &i in &p.children {
            if !children[i].suppressed {
                for t in &child_candidates[i] {
                    merged
                        .entry(t.text.as_str())
                        .and_modify(|e| {
                            e.accounts += t.accounts;
                            e.complete |= t.complete;
                        })
                        .or_insert_with(|| t.clone());
                }
            }
        }
        candidates.push(if p.suppressed { Vec::new() } else { merged.into_values().collect() });
    }
    let names = nearest_phrase_names(&name_requests(parents, &candidates), |t| phrases.get(t));
    for (p, name) in parents.iter_mut().zip(names) {
        let named: Vec<&Cluster> = p.children.iter().map(|&i| &children[i]).filter(|c| !c.suppressed).collect();
        if p.suppressed || named.is_empty() {
            p.suppressed = true;
            continue;
        }
        // Terms from the children's terms, weighted by child size.
        let mut merged: BTreeMap<&str, (f32, u32)> = BTreeMap::new();
        for c in &named {
            let weight = c.members.len() as f32;
            for t in &c.terms {
                let e = merged.entry(t.text.as_str()).or_default();
                e.0 += t.score * weight;
                e.1 = e.1.max(t.accounts);
            }
        }
        let mut sorted: Vec<Term> = merged
            .into_iter()
            .filter(|(_, (_, accounts))| *accounts as usize >= privacy.min_accounts)
            .map(|(text, (score, accounts))| Term { text: text.to_owned(), score, accounts })
            .collect();
        sorted.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.text.cmp(&b.text)));
        let terms = pick_non_overlapping(sorted, config.summary_terms);
        let Some(name) = name.filter(|_| !terms.is_empty()) else {
            p.suppressed = true;
            continue;
        };
        p.name = Some(name);
        // The exemplar of the child that contributes most to the parent's top term.
        let top = terms[0].text.as_str();
        p.exemplar = named
            .iter()
            .filter(|c| c.exemplar.is_some())
            .max_by(|a, b| {
                let weight = |c: &Cluster| c.terms.iter().find(|t| t.text == top).map_or(0.0, |t| t.score * c.members.len() as f32);
                weight(a).total_cmp(&weight(b)).then(b.members.len().cmp(&a.members.len()))
            })
            .and_then(|c| c.exemplar.clone());
        let parts: Vec<String> = named
            .iter()
            .take(4)
            .map(|c| format!("{} ({})", c.name.as_deref().unwrap_or_default(), c.members.len()))
            .collect();
        let others = named.len().saturating_sub(4);
        let mut s = format!("{} conversations from {} accounts in {} sub-clusters: {}", p.members.len(), p.accounts, p.children.len(), parts.join("; "));
        if others > 0 {
            s.push_str(&format!("; and {others} more"));
        }
        s.push('.');
        if p.policy_area != "none" {
            s.push_str(&format!(" Policy area: {} (mean concern {:.1}).", p.policy_area, p.mean_concern));
        }
        p.summary = Some(s);
        p.terms = terms;
    }
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn majority_vote_agrees_with_counting(prior in proptest::collection::vec(proptest::option::of(0u32..3), 0..24), members in proptest::collection::vec(0u32..30, 0..24)) {
            let mut counts: FxHashMap<u32, usize> = FxHashMap::default();
            for g in members.iter().filter_map(|&r| prior.get(r as usize).copied().flatten()) {
                *counts.entry(g).or_default() += 1;
            }
            let counted = counts.into_iter().find(|&(_, n)| 2 * n > members.len());
            prop_assert_eq!(majority_prior(&members, &prior), counted);
        }
    }

    fn child(members: &[u32]) -> Cluster {
        new_cluster(0, members.to_vec(), &vec![1.0; 16], 1)
    }

    #[test]
    fn boundary_conversations_keep_their_leaf_and_clear_moves_happen() {
        // Two directions; row 2 lies between them, row 6 squarely in leaf 0's.
        let rows: [[f32; 2]; 10] = [[1.0, 0.0], [1.0, 0.0], [0.6, 0.8], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [1.0, 0.0], [0.1, 0.995], [0.0, 1.0]];
        let embeddings: Vec<f32> = rows.iter().flatten().copied().collect();
        // Last night: rows 0, 1, 7 in leaf 4; rows 2–6, 8, 9 in leaf 9.
        let prior: Vec<Option<u32>> = (0..10).map(|r| Some(if matches!(r, 0 | 1 | 7) { 4 } else { 9 })).collect();
        let mut members = vec![vec![0, 1, 2, 6, 7], vec![3, 4, 5], vec![9]];
        let mut leaf_of = vec![Some(0), Some(0), Some(0), Some(1), Some(1), Some(1), Some(0), Some(0), None, Some(2)];
        keep_prior_leaves(&mut members, &mut leaf_of, Some(&prior), &embeddings, 2, 0.3);
        assert_eq!(members, vec![vec![0, 1, 6, 7], vec![2, 3, 4, 5, 8, 9]], "2 (on the boundary), 8 (unclustered) and 9 go back; 6 is clearly in leaf 0; leaf 2 is emptied and dropped");
        assert_eq!(leaf_of, vec![Some(0), Some(0), Some(1), Some(1), Some(1), Some(1), Some(0), Some(0), Some(1), Some(1)]);
    }

    #[test]
    fn noise_recuts_of_last_nights_leaves_are_undone_and_clear_ones_stand() {
        const DIM: usize = 12;
        let basis = |i: usize, sign: f32| -> Vec<f32> { (0..DIM).map(|d| if d == i { sign } else { 0.0 }).collect() };
        let tilted = |i: usize, j: usize, t: f32| -> Vec<f32> {
            let n = (1.0 + t * t).sqrt();
            (0..DIM).map(|d| if d == i { 1.0 / n } else if d == j { t / n } else { 0.0 }).collect()
        };
        // Tonight's leaves, five rows each: (direction, last night's leaf of its rows).
        let leaves: Vec<(Vec<Vec<f32>>, Vec<Option<u32>>)> = vec![
            (vec![basis(0, 1.0)], vec![Some(0)]),
            (vec![basis(1, 1.0)], vec![Some(1)]),
            (vec![basis(2, 1.0)], vec![Some(2)]),
            (vec![basis(3, 1.0)], vec![Some(3)]),
            // Leaf 6 of last night cut in two nearly identical halves: a noise split.
            (vec![tilted(6, 10, 0.1)], vec![Some(6)]),
            (vec![tilted(6, 10, -0.1)], vec![Some(6)]),
            // Leaf 7 of last night cut into two opposite directions: a split the data supports.
            (vec![basis(7, 1.0)], vec![Some(7)]),
            (vec![basis(7, -1.0)], vec![Some(7)]),
            // Leaves 8 and 9 of last night, distinct, merged tonight.
            (vec![basis(8, 1.0), basis(9, 1.0)], vec![Some(8), Some(9)]),
            // New traffic, as near leaf 6 as its halves are to each other: untouched.
            (vec![tilted(6, 10, 0.3)], vec![None]),
        ];
        let (mut embeddings, mut prior, mut members) = (Vec::new(), Vec::new(), Vec::new());
        for (directions, priors) in &leaves {
            let mut m = Vec::new();
            for (direction, p) in directions.iter().zip(priors) {
                for _ in 0..5 {
                    m.push(prior.len() as u32);
                    embeddings.extend_from_slice(direction);
                    prior.push(*p);
                }
            }
            members.push(m);
        }
        let mut leaf_of: Vec<Option<u32>> = vec![None; prior.len()];
        for (c, m) in members.iter().enumerate() {
            m.iter().for_each(|&r| leaf_of[r as usize] = Some(c as u32));
        }
        undo_prior_recuts(&mut members, &mut leaf_of, Some(&prior), &embeddings, DIM, 3);
        let leaf = |r: usize| leaf_of[r].expect("every row stays clustered");
        assert_eq!(leaf(20), leaf(25), "the noise split of leaf 6 is merged back");
        assert_ne!(leaf(30), leaf(35), "the clear split of leaf 7 stands");
        assert_ne!(leaf(40), leaf(45), "the merge of leaves 8 and 9 is divided back");
        assert!((40..45).all(|r| leaf(r) == leaf(40)) && (45..50).all(|r| leaf(r) == leaf(45)));
        assert!((50..55).all(|r| leaf(r) == leaf(50)) && leaf(50) != leaf(20), "new traffic is not folded into an old leaf");
        assert_eq!(members.len(), 10);
        for (c, m) in members.iter().enumerate() {
            assert!(m.windows(2).all(|w| w[0] < w[1]) && m.iter().all(|&r| leaf(r as usize) == c as u32), "members and leaf_of agree");
        }
        // A first night (no prior) leaves HDBSCAN's cut alone.
        let before = members.clone();
        undo_prior_recuts(&mut members, &mut leaf_of, None, &embeddings, DIM, 3);
        assert_eq!(members, before);
    }

    #[test]
    fn children_keep_last_nights_parent_by_strict_majority() {
        // Rows 0..8 were under parent 7 last night, 8..12 under parent 3; 12.. are new.
        let prior: Vec<Option<u32>> = (0..16).map(|r| match r {
            0..8 => Some(7),
            8..12 => Some(3),
            _ => None,
        }).collect();
        let children = [child(&[0, 1, 2]), child(&[8, 9, 12]), child(&[3, 4, 5, 13]), child(&[10, 13, 14, 15]), child(&[6, 11])];
        let (unit_of, units, kept) = prior_groups(&children, Some(&prior));
        assert_eq!(unit_of, vec![0, 1, 0, 2, 3], "0 and 2 stay together; 3 (half new) and 4 (a tie) have no majority");
        assert_eq!((units, kept), (4, 2));
        let (unit_of, units, kept) = prior_groups(&children, None);
        assert_eq!((unit_of, units, kept), (vec![0, 1, 2, 3, 4], 5, 0), "a first night: every child on its own");
    }
}
