//! Policy areas from examples: each area's example requests (and the benign examples) embedded
//! by the learned encoder, and a conversation given the area whose examples its request is
//! nearest — when it is near enough, and nearer than to any ordinary request.
//!
//! Why nearest examples rather than a trained head: analysts edit one TOML file, and an example
//! they add takes effect on the next run, in every language the encoder knows, without a
//! training step; a benign look-alike they add ("how do I kill a frozen process") pulls its
//! neighbourhood back out of an area the same way. Averaging the best `neighbours` matches
//! (rather than taking one) keeps one odd example from claiming a region on its own.

use rayon::prelude::*;

use super::taxonomy::Behaviour;
use super::{Facet, Taxonomy};
use crate::dense::{matmul, Dense};
use crate::embed::{cosine, UseM3, USE_M3_DIM};
use crate::error::Result;

/// The taxonomy's examples, embedded.
#[derive(Debug, Clone)]
pub struct Prototypes {
    /// Row-major examples × dim.
    vectors: Vec<f32>,
    /// Per example: its area, or `None` for a benign example.
    owner: Vec<Option<u16>>,
    areas: usize,
    dim: usize,
}

/// The learned match of one request.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LearnedMatch {
    /// The nearest area, whether or not it passed the thresholds.
    pub area: u16,
    /// Mean similarity of its best examples.
    pub similarity: f32,
    /// Mean similarity of the best benign examples (−1 when there are none).
    pub benign: f32,
}

impl Taxonomy {
    /// Embeds the examples with `model`.
    pub fn prototypes(&self, model: &UseM3) -> Result<Prototypes> {
        let texts: Vec<&str> = self.examples.iter().map(|(_, t)| t.as_str()).collect();
        let vectors = model.encode(&texts)?;
        Ok(Prototypes { vectors, owner: self.examples.iter().map(|(o, _)| *o).collect(), areas: self.areas.len(), dim: USE_M3_DIM })
    }

    /// Whether a learned match passes the `[learned]` thresholds.
    pub fn accepts(&self, m: &LearnedMatch) -> bool {
        m.similarity >= self.learned.min_similarity && m.similarity - m.benign >= self.learned.min_margin
    }

    /// Adds a learned match to rule-based facets: the area is taken when the rules found none
    /// and the match passes the thresholds (rules are the analyst's exact override); either way
    /// an accepted match marks its area in `areas`.
    pub fn apply_learned(&self, facet: &mut Facet, m: &LearnedMatch) {
        if !self.accepts(m) {
            return;
        }
        if usize::from(m.area) < 64 {
            facet.areas |= 1 << m.area;
        }
        if facet.policy_area.is_some() {
            return;
        }
        let area = &self.areas[usize::from(m.area)];
        let l = &self.learned;
        let level = ((m.similarity - l.min_similarity) / (l.saturation_similarity - l.min_similarity).max(f32::EPSILON)).clamp(0.0, 1.0);
        facet.policy_area = Some(m.area);
        facet.policy_score = m.similarity;
        facet.concern = (2.0 + (f32::from(area.severity) - 2.0) * level).round() as u8;
    }
}

/// One behaviour's examples and contrast, row-major × dim, with its thresholds.
#[derive(Debug, Clone)]
struct EmbeddedBehaviour {
    behaviour: Behaviour,
    examples: Vec<f32>,
    contrast: Vec<f32>,
    min_similarity: f32,
    min_margin: f32,
}

/// The taxonomy's behaviour examples and their contrasting look-alikes, embedded.
#[derive(Debug, Clone)]
pub struct BehaviourPrototypes {
    behaviours: Vec<EmbeddedBehaviour>,
    neighbours: usize,
    dim: usize,
}

impl Taxonomy {
    /// Embeds the behaviour examples with `model` (`None` when the file defines none).
    pub fn behaviour_prototypes(&self, model: &UseM3) -> Result<Option<BehaviourPrototypes>> {
        if self.behaviours.is_empty() {
            return Ok(None);
        }
        let mut behaviours = Vec::new();
        for b in &self.behaviours {
            let examples: Vec<&str> = b.examples.iter().map(String::as_str).collect();
            let contrast: Vec<&str> = b.contrast.iter().map(String::as_str).collect();
            behaviours.push(EmbeddedBehaviour {
                behaviour: b.behaviour,
                examples: model.encode(&examples)?,
                contrast: model.encode(&contrast)?,
                min_similarity: b.min_similarity,
                min_margin: b.min_margin,
            });
        }
        Ok(Some(BehaviourPrototypes { behaviours, neighbours: self.learned.neighbours, dim: USE_M3_DIM }))
    }
}

impl BehaviourPrototypes {
    /// Whether a group of requests shows `behaviour`: averaged over the group, the similarity
    /// to its best `neighbours` examples is near enough, and nearer by the margin than to its
    /// best contrasting look-alikes (one request's judgement is noisy; a group's mean is
    /// steady). Returns the mean (example, contrast) similarities with the verdict; `None`
    /// when the file does not define the behaviour or the group is empty.
    pub fn group_shows<'a>(&self, behaviour: Behaviour, vectors: impl Iterator<Item = &'a [f32]>) -> Option<(bool, f32, f32)> {
        let b = self.behaviours.iter().find(|b| b.behaviour == behaviour)?;
        let (mut example, mut contrast, mut n) = (0.0f32, 0.0f32, 0usize);
        for v in vectors {
            let (e, c) = (top_mean(&b.examples, v, self.dim, self.neighbours), top_mean(&b.contrast, v, self.dim, self.neighbours));
            example += e;
            contrast += c;
            n += 1;
        }
        if n == 0 {
            return None;
        }
        let (example, contrast) = (example / n as f32, contrast / n as f32);
        Some((example >= b.min_similarity && example - contrast >= b.min_margin, example, contrast))
    }
}

/// Mean of the `k` best cosines between `vector` and the rows of `rows`.
fn top_mean(rows: &[f32], vector: &[f32], dim: usize, k: usize) -> f32 {
    let mut sims: Vec<f32> = rows.chunks_exact(dim).map(|r| cosine(vector, r)).collect();
    sims.sort_unstable_by(|a, b| b.total_cmp(a));
    let k = k.clamp(1, sims.len().max(1));
    sims.iter().take(k).sum::<f32>() / k as f32
}

impl Prototypes {
    /// Whether there is anything to match against.
    pub fn is_empty(&self) -> bool {
        !self.owner.iter().any(Option::is_some)
    }

    /// The nearest area of one unit vector (`None` without area examples).
    pub fn nearest(&self, vector: &[f32], neighbours: usize) -> Option<LearnedMatch> {
        let sims: Vec<f32> = self.vectors.chunks_exact(self.dim).map(|row| cosine(vector, row)).collect();
        self.best_area(&sims, neighbours)
    }

    /// [`Self::nearest`] for every row of a row-major matrix: the similarities of a block of
    /// rows to every example as one matrix product (a window of a million conversations
    /// against ~800 examples is ~4·10¹¹ multiply-adds, which one dot product at a time took
    /// minutes), blocks in parallel.
    pub fn nearest_all(&self, vectors: &[f32], neighbours: usize) -> Vec<Option<LearnedMatch>> {
        let examples = self.owner.len();
        if examples == 0 {
            return vec![None; vectors.len() / self.dim.max(1)];
        }
        let mut transposed = vec![0.0f32; self.dim * examples];
        for (e, row) in self.vectors.chunks_exact(self.dim).enumerate() {
            for (d, &x) in row.iter().enumerate() {
                transposed[d * examples + e] = x;
            }
        }
        let Some(transposed) = Dense::new(transposed, self.dim, examples) else {
            return vectors.par_chunks_exact(self.dim).map(|v| self.nearest(v, neighbours)).collect();
        };
        vectors
            .par_chunks(ROWS_PER_PRODUCT * self.dim)
            .flat_map_iter(|block| {
                let rows = block.len() / self.dim;
                match matmul(&block[..rows * self.dim], rows, &transposed, "policy examples") {
                    Ok(sims) => sims.chunks_exact(examples).map(|s| self.best_area(s, neighbours)).collect::<Vec<_>>(),
                    Err(_) => block.chunks_exact(self.dim).map(|v| self.nearest(v, neighbours)).collect(),
                }
            })
            .collect()
    }

    /// The area whose best `neighbours` examples are nearest on average, from one request's
    /// similarity to every example (in `owner` order).
    fn best_area(&self, sims: &[f32], neighbours: usize) -> Option<LearnedMatch> {
        // Best `k` similarities per area (slot `areas` is the benign examples), kept sorted
        // descending in a small fixed buffer: examples are few, areas at most 64.
        let k = neighbours.clamp(1, 8);
        let mut best = vec![[f32::NEG_INFINITY; 8]; self.areas + 1];
        for (&s, owner) in sims.iter().zip(&self.owner) {
            let slot = owner.map_or(self.areas, usize::from);
            let top = &mut best[slot];
            if s > top[k - 1] {
                let mut at = k - 1;
                while at > 0 && top[at - 1] < s {
                    top[at] = top[at - 1];
                    at -= 1;
                }
                top[at] = s;
            }
        }
        let mean = |top: &[f32; 8]| -> Option<f32> {
            let found = top[..k].iter().filter(|s| s.is_finite());
            let n = found.clone().count();
            (n > 0).then(|| found.sum::<f32>() / n as f32)
        };
        let benign = mean(&best[self.areas]).unwrap_or(-1.0);
        (0..self.areas)
            .filter_map(|a| mean(&best[a]).map(|s| (a, s)))
            // Ties go to the area listed first.
            .fold(None::<(usize, f32)>, |b, (a, s)| if b.is_none_or(|(_, bs)| s > bs) { Some((a, s)) } else { b })
            .map(|(a, s)| LearnedMatch { area: a as u16, similarity: s, benign })
    }
}

/// Requests per matrix product in [`Prototypes::nearest_all`].
const ROWS_PER_PRODUCT: usize = 256;

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let mut v = v.to_vec();
        crate::embed::normalise(&mut v);
        v
    }

    #[test]
    fn a_group_shows_a_behaviour_when_its_requests_are_nearer_its_examples_than_its_contrast() {
        let p = BehaviourPrototypes {
            behaviours: vec![EmbeddedBehaviour {
                behaviour: Behaviour::AudienceContent,
                examples: [unit(&[1.0, 0.0, 0.0]), unit(&[0.8, 0.2, 0.0])].concat(),
                contrast: unit(&[0.0, 1.0, 0.0]),
                min_similarity: 0.5,
                min_margin: 0.05,
            }],
            neighbours: 2,
            dim: 3,
        };
        let shows = |rows: &[Vec<f32>]| p.group_shows(Behaviour::AudienceContent, rows.iter().map(Vec::as_slice)).map(|g| g.0);
        assert_eq!(shows(&[unit(&[1.0, 0.3, 0.0]), unit(&[1.0, 0.0, 0.1])]), Some(true));
        assert_eq!(shows(&[unit(&[0.2, 1.0, 0.0])]), Some(false));
        // One request near the contrast outweighs a weak one near the examples.
        assert_eq!(shows(&[unit(&[0.5, 0.4, 0.0]), unit(&[0.0, 1.0, 0.0])]), Some(false));
        // Like neither: nearer the examples, but not near enough.
        assert_eq!(shows(&[unit(&[0.3, 0.0, 1.0])]), Some(false));
        assert_eq!(shows(&[]), None, "an empty group shows nothing");
        assert_eq!(p.group_shows(Behaviour::PublicAffairs, std::iter::once(unit(&[1.0, 0.0, 0.0]).as_slice())), None, "not defined in the file");
    }

    #[test]
    fn nearest_area_and_margin_over_benign() {
        // Two areas and benign examples in a 3-d toy space.
        let rows = [unit(&[1.0, 0.0, 0.0]), unit(&[0.9, 0.1, 0.0]), unit(&[0.0, 1.0, 0.0]), unit(&[0.0, 0.0, 1.0])];
        let p = Prototypes { vectors: rows.concat(), owner: vec![Some(0), Some(0), Some(1), None], areas: 2, dim: 3 };
        let m = p.nearest(&unit(&[1.0, 0.05, 0.0]), 2).unwrap();
        assert_eq!(m.area, 0);
        assert!(m.similarity > 0.95 && m.benign < 0.1);
        // Nearer the benign example than any area: the match says so.
        let m = p.nearest(&unit(&[0.1, 0.1, 1.0]), 1).unwrap();
        assert!(m.benign > m.similarity);
        assert!(!p.is_empty());
        // The blocked matrix product agrees with one request at a time, past a block's end.
        let requests: Vec<f32> = (0..ROWS_PER_PRODUCT + 7).flat_map(|i| unit(&[1.0, (i % 5) as f32 * 0.3, (i % 3) as f32 * 0.7])).collect();
        let one_by_one: Vec<Option<LearnedMatch>> = requests.chunks_exact(3).map(|v| p.nearest(v, 2)).collect();
        let all = p.nearest_all(&requests, 2);
        assert_eq!(all.len(), one_by_one.len());
        for (a, b) in all.iter().zip(&one_by_one) {
            let (a, b) = (a.unwrap(), b.unwrap());
            assert!(a.area == b.area && (a.similarity - b.similarity).abs() < 1e-5 && (a.benign - b.benign).abs() < 1e-5, "{a:?} vs {b:?}");
        }
    }
}
