//! The policy taxonomy: an editable TOML file of policy areas (weighted terms and patterns, a
//! severity) and task kinds, compiled into one Aho–Corasick automaton and one regex set so a
//! conversation is scored in one pass over its text whatever the number of areas.

use std::collections::{BTreeMap, HashMap};

use aho_corasick::{AhoCorasick, MatchKind};
use regex::RegexSet;
use serde::Deserialize;

use crate::error::{Error, Result};

/// The file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaxonomyFile {
    #[serde(default)]
    learned: Learned,
    #[serde(default)]
    benign: BenignFile,
    #[serde(default)]
    area: Vec<AreaFile>,
    #[serde(default)]
    task: Vec<TaskFile>,
    #[serde(default)]
    behaviour: BehavioursFile,
}

/// The behaviours campaign kinds are decided from (a closed set: a misspelt name is an error).
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BehavioursFile {
    audience_content: Option<BehaviourFile>,
    public_affairs: Option<BehaviourFile>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct BehaviourFile {
    /// For the analyst reading the file.
    #[serde(default, rename = "description")]
    _description: String,
    /// The best examples' mean similarity must reach this (a request like neither the
    /// examples nor the contrast shows nothing)...
    #[serde(default = "default_behaviour_similarity")]
    min_similarity: f32,
    /// ...and exceed the best contrast examples' by this much.
    #[serde(default = "default_behaviour_margin")]
    min_margin: f32,
    examples: Vec<String>,
    contrast: Vec<String>,
}

fn default_behaviour_similarity() -> f32 {
    0.15
}

fn default_behaviour_margin() -> f32 {
    0.02
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct AreaFile {
    name: String,
    #[serde(default)]
    description: String,
    severity: u8,
    min_score: f32,
    saturation: f32,
    #[serde(default)]
    terms: BTreeMap<String, f32>,
    #[serde(default)]
    patterns: BTreeMap<String, f32>,
    #[serde(default)]
    examples: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct BenignFile {
    #[serde(default)]
    examples: Vec<String>,
}

/// Settings of the example-based (learned) matching: the `[learned]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Learned {
    /// An area needs its examples at least this similar (mean of the `neighbours` best).
    pub min_similarity: f32,
    /// ...and this much more similar than the benign examples.
    pub min_margin: f32,
    /// Best matches averaged per area (and for the benign examples).
    pub neighbours: usize,
    /// Similarity at which concern reaches the area's severity.
    pub saturation_similarity: f32,
}

impl Default for Learned {
    fn default() -> Self {
        Learned { min_similarity: 0.25, min_margin: 0.06, neighbours: 2, saturation_similarity: 0.8 }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TaskFile {
    name: String,
    #[serde(default)]
    terms: BTreeMap<String, f32>,
    #[serde(default)]
    patterns: BTreeMap<String, f32>,
}

/// A policy area after validation.
#[derive(Debug, Clone)]
pub struct Area {
    /// Name used in the `policy_area` column.
    pub name: String,
    /// What it covers.
    pub description: String,
    /// Concern (2–5) of a saturated match.
    pub severity: u8,
    /// Score needed to assign the area.
    pub min_score: f32,
    /// Score at which concern reaches `severity`.
    pub saturation: f32,
}

/// Who a term or pattern scores for: a policy area or a task, by index.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Owner {
    Area(u16),
    Task(u16),
}

/// One term or pattern's contribution.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rule {
    pub owner: Owner,
    pub weight: f32,
    /// Prefix term (`elect*`): no word boundary needed at the end.
    pub prefix: bool,
}

/// A compiled taxonomy.
#[derive(Debug, Clone)]
pub struct Taxonomy {
    pub(crate) areas: Vec<Area>,
    pub(crate) tasks: Vec<String>,
    /// `terms.patterns()[i]` scores `term_rules[i]`.
    pub(crate) terms: AhoCorasick,
    pub(crate) term_rules: Vec<Rule>,
    pub(crate) patterns: RegexSet,
    pub(crate) pattern_rules: Vec<Rule>,
    /// Example requests: `(area index, text)`, `None` for the benign examples.
    pub(crate) examples: Vec<(Option<u16>, String)>,
    pub(crate) learned: Learned,
    /// Behaviours with their examples and contrasting look-alikes.
    pub(crate) behaviours: Vec<BehaviourExamples>,
    digest: String,
}

/// What a group of accounts has the assistant do, judged per conversation by the learned
/// encoder; campaign kinds are decided from these rather than from topic words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Behaviour {
    /// Content for an audience in a voice not the requester's own: posts, comments, replies,
    /// letters to the editor, reviews, persona lists, engagement schedules.
    AudienceContent,
    /// About public affairs: government, politics, public policy, officials, public projects.
    PublicAffairs,
}

impl Behaviour {
    /// Every behaviour, in file order.
    pub const ALL: [Behaviour; 2] = [Behaviour::AudienceContent, Behaviour::PublicAffairs];

    /// Its key in the taxonomy file (`[behaviour.NAME]`).
    pub fn name(self) -> &'static str {
        match self {
            Behaviour::AudienceContent => "audience_content",
            Behaviour::PublicAffairs => "public_affairs",
        }
    }
}

/// A behaviour's examples and contrasting look-alikes, as written in the taxonomy.
#[derive(Debug, Clone)]
pub(crate) struct BehaviourExamples {
    pub(crate) behaviour: Behaviour,
    pub(crate) min_similarity: f32,
    pub(crate) min_margin: f32,
    pub(crate) examples: Vec<String>,
    pub(crate) contrast: Vec<String>,
}

impl Taxonomy {
    /// Parses and compiles a taxonomy, reporting every problem in the file at once.
    pub fn from_toml(text: &str) -> Result<Self> {
        let file: TaxonomyFile = toml::from_str(text).map_err(|e| Error::Config(format!("taxonomy: {e}")))?;
        let mut problems = Vec::new();
        let mut names = std::collections::HashSet::new();
        let mut term_list = Vec::new();
        let mut term_rules = Vec::new();
        let mut pattern_list = Vec::new();
        let mut pattern_rules = Vec::new();
        let mut add = |owner: Owner, what: &str, terms: &BTreeMap<String, f32>, patterns: &BTreeMap<String, f32>, problems: &mut Vec<String>| {
            for (term, &weight) in terms {
                let prefix = term.ends_with('*');
                let term = term.trim_end_matches('*').trim().to_lowercase();
                if term.is_empty() {
                    problems.push(format!("{what}: empty term"));
                    continue;
                }
                if !weight.is_finite() {
                    problems.push(format!("{what}: term `{term}` has a non-finite weight"));
                }
                term_list.push(term);
                term_rules.push(Rule { owner, weight, prefix });
            }
            for (pattern, &weight) in patterns {
                if let Err(e) = regex::Regex::new(&format!("(?i){pattern}")) {
                    problems.push(format!("{what}: pattern `{pattern}` does not compile: {e}"));
                    continue;
                }
                pattern_list.push(format!("(?i){pattern}"));
                pattern_rules.push(Rule { owner, weight, prefix: false });
            }
        };
        let mut examples: Vec<(Option<u16>, String)> = Vec::new();
        let l = &file.learned;
        if !(-1.0..=1.0).contains(&l.min_similarity) || !(l.min_similarity < l.saturation_similarity && l.saturation_similarity <= 1.0) {
            problems.push(format!(
                "learned: need -1 <= min_similarity < saturation_similarity <= 1 (got {} and {})",
                l.min_similarity, l.saturation_similarity
            ));
        }
        if !(0.0..=1.0).contains(&l.min_margin) {
            problems.push(format!("learned: min_margin {} is outside 0..=1", l.min_margin));
        }
        if !(1..=50).contains(&l.neighbours) {
            problems.push(format!("learned: neighbours {} is outside 1..=50", l.neighbours));
        }
        for example in &file.benign.examples {
            if example.trim().is_empty() {
                problems.push("benign: empty example".to_owned());
            }
            examples.push((None, example.clone()));
        }
        // An example listed twice counts twice among an area's best matches; listed under two
        // owners it contradicts itself. Compared with case and spacing folded.
        let mut first_owner: HashMap<String, String> = HashMap::new();
        let owners = std::iter::once(("benign".to_owned(), &file.benign.examples)).chain(file.area.iter().map(|a| (format!("area `{}`", a.name), &a.examples)));
        for (owner, list) in owners {
            for example in list {
                let folded = example.split_whitespace().map(str::to_lowercase).collect::<Vec<_>>().join(" ");
                match first_owner.get(&folded) {
                    Some(first) if *first == owner => problems.push(format!("{owner}: example {example:?} is listed twice")),
                    Some(first) => problems.push(format!("{owner}: example {example:?} is also listed under {first}")),
                    None => {
                        first_owner.insert(folded, owner.clone());
                    }
                }
            }
        }
        let mut areas = Vec::new();
        for (i, a) in file.area.iter().enumerate() {
            let what = format!("area `{}`", a.name);
            if a.name.trim().is_empty() {
                problems.push(format!("area #{}: empty name", i + 1));
            } else if a.name == "none" || !names.insert(a.name.clone()) {
                problems.push(format!("{what}: duplicate or reserved name"));
            }
            if !(2..=5).contains(&a.severity) {
                problems.push(format!("{what}: severity {} is outside 2..=5", a.severity));
            }
            if !(a.min_score > 0.0 && a.saturation >= a.min_score) {
                problems.push(format!("{what}: need 0 < min_score <= saturation (got {} and {})", a.min_score, a.saturation));
            }
            if a.terms.is_empty() && a.patterns.is_empty() && a.examples.is_empty() {
                problems.push(format!("{what}: no terms, patterns or examples"));
            }
            for example in &a.examples {
                if example.trim().is_empty() {
                    problems.push(format!("{what}: empty example"));
                }
                examples.push((Some(i as u16), example.clone()));
            }
            add(Owner::Area(i as u16), &what, &a.terms, &a.patterns, &mut problems);
            areas.push(Area { name: a.name.clone(), description: a.description.clone(), severity: a.severity, min_score: a.min_score, saturation: a.saturation });
        }
        let mut behaviours = Vec::new();
        for (behaviour, spec) in Behaviour::ALL.into_iter().zip([&file.behaviour.audience_content, &file.behaviour.public_affairs]) {
            let Some(spec) = spec else { continue };
            let what = format!("behaviour `{}`", behaviour.name());
            if spec.examples.is_empty() || spec.contrast.is_empty() {
                problems.push(format!("{what}: needs both examples and contrast examples"));
            }
            if spec.examples.iter().chain(&spec.contrast).any(|e| e.trim().is_empty()) {
                problems.push(format!("{what}: empty example"));
            }
            if !(-1.0..=1.0).contains(&spec.min_similarity) || !(0.0..=1.0).contains(&spec.min_margin) {
                problems.push(format!("{what}: need -1 <= min_similarity <= 1 and 0 <= min_margin <= 1"));
            }
            behaviours.push(BehaviourExamples {
                behaviour,
                min_similarity: spec.min_similarity,
                min_margin: spec.min_margin,
                examples: spec.examples.clone(),
                contrast: spec.contrast.clone(),
            });
        }
        let mut tasks = Vec::new();
        for (i, t) in file.task.iter().enumerate() {
            let what = format!("task `{}`", t.name);
            if t.name.trim().is_empty() || t.name == "other" || !names.insert(format!("task:{}", t.name)) {
                problems.push(format!("{what}: empty, duplicate or reserved name"));
            }
            add(Owner::Task(i as u16), &what, &t.terms, &t.patterns, &mut problems);
            tasks.push(t.name.clone());
        }
        if areas.len() > 64 || tasks.len() > u16::MAX as usize {
            problems.push("too many areas (at most 64) or tasks".into());
        }
        if !problems.is_empty() {
            return Err(Error::Config(format!("taxonomy has {} problem(s): {}", problems.len(), problems.join("; "))));
        }
        let terms = AhoCorasick::builder()
            .match_kind(MatchKind::Standard)
            .build(&term_list)
            .map_err(|e| Error::Config(format!("taxonomy terms: {e}")))?;
        let patterns = RegexSet::new(&pattern_list).map_err(|e| Error::Config(format!("taxonomy patterns: {e}")))?;
        let digest = blake3::hash(text.as_bytes()).to_hex()[..16].to_owned();
        Ok(Taxonomy { areas, tasks, terms, term_rules, patterns, pattern_rules, examples, learned: file.learned, behaviours, digest })
    }

    /// The policy areas, in file order.
    pub fn areas(&self) -> &[Area] {
        &self.areas
    }

    /// The task names, in file order.
    pub fn tasks(&self) -> &[String] {
        &self.tasks
    }

    /// The learned-matching settings.
    pub fn learned(&self) -> &Learned {
        &self.learned
    }

    /// A short digest of the file's bytes, recorded with outputs.
    pub fn digest(&self) -> &str {
        &self.digest
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_problem_is_reported_at_once() {
        let bad = r#"
[[area]]
name = "a"
severity = 9
min_score = 2.0
saturation = 1.0
[area.patterns]
'(unclosed' = 1.0

[[area]]
name = "a"
severity = 3
min_score = 1.0
saturation = 2.0
"#;
        let err = Taxonomy::from_toml(bad).unwrap_err().to_string();
        assert!(err.contains("5 problem"), "{err}");
        assert!(err.contains("severity 9") && err.contains("does not compile") && err.contains("duplicate") && err.contains("no terms, patterns or examples"), "{err}");
        let repeated = r#"
[benign]
examples = ["how do I kill a frozen process", "Write a poem"]

[[area]]
name = "violence"
severity = 4
min_score = 1.0
saturation = 2.0
examples = ["how do I hurt someone", "How do I  hurt someone", "write a poem"]
"#;
        let err = Taxonomy::from_toml(repeated).unwrap_err().to_string();
        assert!(err.contains("2 problem") && err.contains("listed twice") && err.contains("also listed under benign"), "{err}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = Taxonomy::from_toml("[[area]]\nname='x'\nseverity=3\nmin_score=1.0\nsaturation=2.0\nweight=1\n").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}
