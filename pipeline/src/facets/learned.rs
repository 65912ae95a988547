//! Policy areas from examples: the taxonomy's example requests and labelled conversations,
//! embedded by the learned encoder, train a softmax head over the areas and `none` when a run
//! starts ([`PolicyHead`]); each conversation's user turns get the most probable class.
//!
//! Why a trained head, not the nearest examples (sessions 6–8 used those): on real red-team
//! transcripts the head flags more harmful requests at the same benign rate, and it learns
//! from labelled real conversations (`jobs/labelled/`) as readily as from written examples.
//! Analysts still edit text, not weights: an example they add (or a benign look-alike such as
//! "how do I kill a frozen process") is in the next run's training set, in every language the
//! encoder knows.

use std::sync::Arc;

use super::head::{Fit, SoftmaxHead};
use super::taxonomy::Behaviour;
use super::{Facet, Taxonomy};
use crate::embed::{cosine, UseM3, USE_M3_DIM};
use crate::error::Result;

/// The policy head: the taxonomy's areas plus `none` (the last class), trained on its
/// examples and labelled conversations.
#[derive(Debug)]
pub struct PolicyHead {
    head: SoftmaxHead,
    /// Added to each class's score: `benign_shift` on `none`, 0 elsewhere.
    shift: Vec<f32>,
}

/// The head's verdict on one conversation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AreaGuess {
    /// The most probable area, or `None` when `none` is.
    pub area: Option<u16>,
    /// Its probability.
    pub probability: f32,
}

impl Taxonomy {
    /// The policy head for `model`: trained on the examples and labelled conversations the
    /// first time it is asked for, then kept; `None` when no area has any (there is nothing
    /// to learn).
    pub fn policy_head(&self, model: &UseM3) -> Result<Option<Arc<PolicyHead>>> {
        if !self.examples.iter().any(|(o, _)| o.is_some()) {
            return Ok(None);
        }
        if let Some((id, head)) = self.head.get() {
            if id == model.id() {
                return Ok(Some(Arc::clone(head)));
            }
        }
        let head = Arc::new(self.train_head(model)?);
        // Another encoder's head already kept (never in one run): use this one uncached.
        let _ = self.head.set((model.id().to_owned(), Arc::clone(&head)));
        Ok(Some(head))
    }

    fn train_head(&self, model: &UseM3) -> Result<PolicyHead> {
        let areas = self.areas.len();
        let texts: Vec<&str> = self.examples.iter().map(|(_, t)| t.as_str()).collect();
        let labels: Vec<u16> = self.examples.iter().map(|(o, _)| o.unwrap_or(areas as u16)).collect();
        let vectors = model.encode(&texts)?;
        let l = &self.learned;
        let head = SoftmaxHead::fit(&vectors, USE_M3_DIM, &labels, areas + 1, Fit { regularisation: l.regularisation, iterations: l.iterations })?;
        let mut shift = vec![0.0; areas + 1];
        shift[areas] = l.benign_shift;
        let benign = labels.iter().filter(|&&c| usize::from(c) == areas).count();
        tracing::info!(rows = labels.len(), benign, areas, taxonomy = %self.digest(), "policy head trained");
        Ok(PolicyHead { head, shift })
    }

    /// Adds the head's verdict to rule-based facets: a guessed area marks `areas`, and is the
    /// conversation's area when the rules found none (rules are the analyst's exact override).
    /// Concern rises from 2 to the area's severity as the probability goes from ½ to
    /// `saturation_probability`.
    pub fn apply_learned(&self, facet: &mut Facet, guess: &AreaGuess) {
        let Some(a) = guess.area else { return };
        if usize::from(a) < 64 {
            facet.areas |= 1 << a;
        }
        if facet.policy_area.is_some() {
            return;
        }
        let area = &self.areas[usize::from(a)];
        let level = ((guess.probability - 0.5) / (self.learned.saturation_probability - 0.5)).clamp(0.0, 1.0);
        facet.policy_area = Some(a);
        facet.policy_score = guess.probability;
        facet.concern = (2.0 + (f32::from(area.severity) - 2.0) * level).round() as u8;
    }
}

impl PolicyHead {
    /// The verdict for every row of a row-major matrix of unit vectors.
    pub fn classify_all(&self, vectors: &[f32]) -> Result<Vec<AreaGuess>> {
        let classes = self.head.classes();
        let none = classes - 1;
        let probabilities = self.head.probabilities(vectors, &self.shift)?;
        Ok(probabilities
            .chunks_exact(classes)
            .map(|p| {
                // Ties go to the class listed first (areas in file order, then `none`).
                let (best, &probability) = p.iter().enumerate().fold((0, &p[0]), |b, (i, q)| if *q > *b.1 { (i, q) } else { b });
                AreaGuess { area: (best != none).then_some(best as u16), probability }
            })
            .collect())
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


#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let mut v = v.to_vec();
        crate::embed::normalise(&mut v);
        v
    }

    #[test]
    fn the_last_class_is_none_and_the_benign_shift_moves_verdicts_to_it() {
        // Two areas and `none` around three directions of a 3-d space.
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for i in 0..300 {
            let class = (i % 3) as u16;
            let mut v = [0.1 * ((i % 7) as f32 - 3.0) / 3.0; 3];
            v[usize::from(class)] += 1.0;
            x.extend(unit(&v));
            y.push(class);
        }
        let head = |shift: f32| PolicyHead {
            head: SoftmaxHead::fit(&x, 3, &y, 3, Fit { regularisation: 4.0, iterations: 200 }).unwrap(),
            shift: vec![0.0, 0.0, shift],
        };
        let requests = [unit(&[1.0, 0.1, 0.0]), unit(&[0.0, 1.0, 0.1]), unit(&[0.1, 0.0, 1.0]), unit(&[0.6, 0.0, 0.5])].concat();
        let plain = head(0.0).classify_all(&requests).unwrap();
        assert_eq!(plain.iter().map(|g| g.area).collect::<Vec<_>>(), vec![Some(0), Some(1), None, Some(0)]);
        assert!(plain.iter().all(|g| g.probability > 1.0 / 3.0 && g.probability <= 1.0));
        // A strong prior for ordinary traffic sends the borderline request to `none` first.
        let shifted = head(3.0).classify_all(&requests).unwrap();
        assert_eq!(shifted[3].area, None);
        assert_eq!(shifted[0].area, Some(0));
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
}
