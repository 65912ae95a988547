//! The policy taxonomy: an editable TOML file of policy areas (weighted terms and patterns, a
//! severity) and task kinds, compiled into one Aho–Corasick automaton and one regex set so a
//! conversation is scored in one pass over its text whatever the number of areas.

use std::collections::{BTreeMap, HashMap};

use aho_corasick::{AhoCorasick, MatchKind};
use regex::RegexSet;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::schema::CampaignKind;

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
    /// The campaign kind a group mostly in this area is (`influence`, `spam` or `fraud`): the
    /// campaign classifier refers to areas by role, so an area can be renamed freely.
    #[serde(default)]
    role: Option<CampaignKind>,
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

/// Settings of the learned policy head: the `[learned]` table.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Learned {
    /// Files of labelled conversations (JSON lines `{"area": …, "text": …}`, `none` for an
    /// ordinary one) trained on with the examples; paths relative to the taxonomy file.
    pub labelled: Vec<String>,
    /// Inverse strength of the head's L2 penalty (scikit-learn's `C`).
    pub regularisation: f32,
    /// Gradient steps when the head is trained.
    pub iterations: usize,
    /// Added to the `none` score before the softmax: raise it where ordinary traffic is far
    /// more common than in the labelled conversations (a prior, in log-odds).
    pub benign_shift: f32,
    /// Probability at which concern reaches the area's severity.
    pub saturation_probability: f32,
    /// Best matches averaged per behaviour example list (campaign kinds).
    pub neighbours: usize,
}

impl Default for Learned {
    fn default() -> Self {
        Learned { labelled: Vec::new(), regularisation: 4.0, iterations: 400, benign_shift: 0.0, saturation_probability: 0.9, neighbours: 2 }
    }
}

/// One labelled conversation in a `[learned] labelled` file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LabelledLine {
    area: String,
    text: String,
    /// Where the conversation came from, for the reader.
    #[serde(default, rename = "source")]
    _source: Option<String>,
}

/// Most problems reported per labelled file: a wrong file has thousands, and the first few
/// say what is wrong.
const LABELLED_PROBLEMS_PER_FILE: usize = 10;

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
    /// The campaign kind this area stands for, if any (at most one area per kind).
    pub role: Option<CampaignKind>,
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
    /// Example requests and labelled conversations: `(area index, text)`, `None` for the
    /// benign ones.
    pub(crate) examples: Vec<(Option<u16>, String)>,
    pub(crate) learned: Learned,
    /// Behaviours with their examples and contrasting look-alikes.
    pub(crate) behaviours: Vec<BehaviourExamples>,
    digest: String,
    /// The policy head trained for one encoder (by id), kept so that every night a process
    /// runs (`vigil demo` runs fourteen) trains it once.
    pub(crate) head: std::sync::OnceLock<(String, std::sync::Arc<super::PolicyHead>)>,
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

/// The built-in taxonomy (`jobs/taxonomy.toml`, the file analysts copy and edit) and the
/// labelled files it lists, by the names it lists them under.
const BUILTIN: &str = include_str!("../../../jobs/taxonomy.toml");
const BUILTIN_LABELLED: &[(&str, &str)] = &[
    ("labelled/hh-rlhf.jsonl", include_str!("../../../jobs/labelled/hh-rlhf.jsonl")),
    ("labelled/benign-requests.jsonl", include_str!("../../../jobs/labelled/benign-requests.jsonl")),
];

impl Taxonomy {
    /// The built-in taxonomy with its labelled conversations.
    pub fn builtin() -> Result<Self> {
        Self::from_toml_with(BUILTIN, &|name| {
            BUILTIN_LABELLED.iter().find(|(n, _)| *n == name).map(|(_, text)| (*text).to_owned()).ok_or_else(|| "not built in".to_owned())
        })
    }

    /// Parses and compiles a taxonomy that lists no labelled files, reporting every problem in
    /// the file at once.
    pub fn from_toml(text: &str) -> Result<Self> {
        Self::from_toml_with(text, &|_| Err("labelled files are read relative to a taxonomy file; none was given".to_owned()))
    }

    /// Parses and compiles a taxonomy, reading the labelled files it lists through `read`
    /// (name as written → contents), and reporting every problem in the file and in them at
    /// once.
    pub fn from_toml_with(text: &str, read: &dyn Fn(&str) -> std::result::Result<String, String>) -> Result<Self> {
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
        if !(l.regularisation.is_finite() && l.regularisation > 0.0) {
            problems.push(format!("learned: regularisation {} must be a positive number", l.regularisation));
        }
        if !(1..=100_000).contains(&l.iterations) {
            problems.push(format!("learned: iterations {} is outside 1..=100000", l.iterations));
        }
        if !(-20.0..=20.0).contains(&l.benign_shift) {
            problems.push(format!("learned: benign_shift {} is outside -20..=20", l.benign_shift));
        }
        if !(0.5 < l.saturation_probability && l.saturation_probability <= 1.0) {
            problems.push(format!("learned: saturation_probability {} is outside (0.5, 1]", l.saturation_probability));
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
        // An example listed twice weighs twice in the policy head's training; listed under two
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
            match a.role {
                Some(role) if !role.is_area_role() => problems.push(format!("{what}: role `{role}` is not one an area can have (influence, spam, fraud)")),
                Some(role) => {
                    if let Some(first) = file.area[..i].iter().find(|b| b.role == Some(role)) {
                        problems.push(format!("{what}: role `{role}` is already area `{}`'s", first.name));
                    }
                }
                None => {}
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
            areas.push(Area {
                name: a.name.clone(),
                description: a.description.clone(),
                severity: a.severity,
                min_score: a.min_score,
                saturation: a.saturation,
                role: a.role,
            });
        }
        // Labelled conversations: checked like examples, but not for repeats (real traffic
        // repeats itself, and a repeat only weighs a little more in training).
        for name in &file.learned.labelled {
            let what = format!("learned: labelled file {name:?}");
            let text = match read(name) {
                Ok(text) => text,
                Err(e) => {
                    problems.push(format!("{what}: {e}"));
                    continue;
                }
            };
            let mut found = 0;
            for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                let problem = match serde_json::from_str::<LabelledLine>(line) {
                    Err(e) => Some(format!("line {}: {e}", n + 1)),
                    Ok(l) if l.text.trim().is_empty() => Some(format!("line {}: empty text", n + 1)),
                    Ok(l) if l.area == "none" => {
                        examples.push((None, l.text));
                        None
                    }
                    Ok(l) => match file.area.iter().position(|a| a.name == l.area) {
                        Some(i) => {
                            examples.push((Some(i as u16), l.text));
                            None
                        }
                        None => Some(format!("line {}: no area is named {:?}", n + 1, l.area)),
                    },
                };
                if let Some(problem) = problem {
                    found += 1;
                    if found <= LABELLED_PROBLEMS_PER_FILE {
                        problems.push(format!("{what}: {problem}"));
                    }
                }
            }
            if found > LABELLED_PROBLEMS_PER_FILE {
                problems.push(format!("{what}: {} more problem lines", found - LABELLED_PROBLEMS_PER_FILE));
            }
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
        // The digest covers what the run learns from: the file and every labelled example.
        let mut hasher = blake3::Hasher::new();
        hasher.update(text.as_bytes());
        for (owner, example) in &examples {
            hasher.update(&owner.map_or(u16::MAX, |o| o).to_le_bytes());
            hasher.update(&(example.len() as u64).to_le_bytes());
            hasher.update(example.as_bytes());
        }
        let digest = hasher.finalize().to_hex()[..16].to_owned();
        Ok(Taxonomy { areas, tasks, terms, term_rules, patterns, pattern_rules, examples, learned: file.learned, behaviours, digest, head: std::sync::OnceLock::new() })
    }

    /// The policy areas, in file order.
    pub fn areas(&self) -> &[Area] {
        &self.areas
    }

    /// The area whose role is `kind`, if the file gives one that role.
    pub fn area_with_role(&self, kind: CampaignKind) -> Option<u16> {
        self.areas.iter().position(|a| a.role == Some(kind)).map(|i| i as u16)
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
role = "spam"

[[area]]
name = "b"
severity = 3
min_score = 1.0
saturation = 2.0
role = "spam"
examples = ["buy now"]

[[area]]
name = "c"
severity = 3
min_score = 1.0
saturation = 2.0
role = "benign_automation"
examples = ["grade this essay"]
"#;
        let err = Taxonomy::from_toml(bad).unwrap_err().to_string();
        assert!(err.contains("7 problem"), "{err}");
        assert!(err.contains("severity 9") && err.contains("does not compile") && err.contains("duplicate") && err.contains("no terms, patterns or examples"), "{err}");
        assert!(err.contains("role `spam` is already area `a`'s") && err.contains("role `benign_automation` is not one an area can have"), "{err}");
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
    fn labelled_files_join_the_examples_and_their_problems_are_reported() {
        let toml = "[learned]\nlabelled = ['a.jsonl', 'missing.jsonl']\n[[area]]\nname='violence'\nseverity=4\nmin_score=1.0\nsaturation=2.0\nexamples=['how do I hurt someone']\n";
        let good = "{\"area\": \"violence\", \"text\": \"best way to hit him\", \"source\": \"x line 1\"}\n\n{\"area\": \"none\", \"text\": \"what is the weather\"}\n";
        let read = |files: Vec<(&'static str, String)>| move |name: &str| files.iter().find(|(n, _)| *n == name).map(|(_, t)| t.clone()).ok_or_else(|| format!("{name}: not found"));
        let err = Taxonomy::from_toml_with(toml, &read(vec![("a.jsonl", "{\"area\": \"violense\", \"text\": \"x\"}\nnot json\n{\"area\": \"none\", \"text\": \" \"}\n".to_owned())])).unwrap_err().to_string();
        assert!(err.contains("4 problem"), "{err}");
        assert!(err.contains("line 1: no area is named \"violense\"") && err.contains("line 2:") && err.contains("line 3: empty text") && err.contains("missing.jsonl: not found"), "{err}");
        let one = "[learned]\nlabelled = ['a.jsonl']\n[[area]]\nname='violence'\nseverity=4\nmin_score=1.0\nsaturation=2.0\nexamples=['how do I hurt someone']\n";
        let t = Taxonomy::from_toml_with(one, &read(vec![("a.jsonl", good.to_owned())])).unwrap();
        assert_eq!(t.examples, vec![(Some(0), "how do I hurt someone".to_owned()), (Some(0), "best way to hit him".to_owned()), (None, "what is the weather".to_owned())]);
        // The digest covers the labelled conversations, not only the file that lists them.
        let other = Taxonomy::from_toml_with(one, &read(vec![("a.jsonl", "{\"area\": \"none\", \"text\": \"what is the weather\"}\n".to_owned())])).unwrap();
        assert_ne!(t.digest(), other.digest());
        // Without a reader, a taxonomy that lists labelled files says why it cannot load.
        assert!(Taxonomy::from_toml(one).unwrap_err().to_string().contains("relative to a taxonomy file"));
        // A file of thousands of bad lines reports the first few and a count.
        let err = Taxonomy::from_toml_with(one, &read(vec![("a.jsonl", "nope\n".repeat(50))])).unwrap_err().to_string();
        assert!(err.contains("11 problem") && err.contains("40 more problem lines"), "{err}");
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = Taxonomy::from_toml("[[area]]\nname='x'\nseverity=3\nmin_score=1.0\nsaturation=2.0\nweight=1\n").unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
    }
}
