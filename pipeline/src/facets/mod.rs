//! Level 0 of the hierarchy: per-conversation facets — a redacted one-line request, the task,
//! keywords, and a policy area with a concern score from the editable [`Taxonomy`]: its exact
//! terms and patterns, and, with the learned encoder, a head trained on its example requests
//! and labelled conversations ([`PolicyHead`]).
//!
//! Everything here reads text that ingest already redacted, so no facet can carry personal
//! data the warehouse does not already hold in redacted form.

mod head;
mod learned;
mod taxonomy;

use rustc_hash::FxHashMap;

pub use learned::{AreaGuess, BehaviourPrototypes, PolicyHead};
pub use taxonomy::{Area, Behaviour, Learned, Taxonomy};
use taxonomy::{Owner, Rule};

use crate::text::{is_placeholder, is_stopword, lower_into, word_spans};

/// Longest `request` summary, in characters.
pub const REQUEST_CHARS: usize = 160;

/// Facets of one conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Facet {
    /// One line: the start of the first user message, whitespace collapsed, cut at a word.
    pub request: String,
    /// Index into [`Taxonomy::tasks`], or `None` for "other".
    pub task: Option<u16>,
    /// Index into [`Taxonomy::areas`], or `None` when no area reached its `min_score`.
    pub policy_area: Option<u16>,
    /// Winning area's score (0 when none).
    pub policy_score: f32,
    /// 1 (no concern) to 5.
    pub concern: u8,
    /// Bit `i` set when area `i` reached its `min_score` (an area may lose to a higher one).
    pub areas: u64,
}

/// Reusable buffers for [`Taxonomy::facet`], one per worker thread.
#[derive(Debug, Default)]
pub struct Scratch {
    lower: String,
    seen_terms: Vec<bool>,
    area_scores: Vec<f32>,
    task_scores: Vec<f32>,
}

impl Taxonomy {
    /// Computes the facets of a conversation from its (redacted) user text.
    pub fn facet(&self, user_text: &str, scratch: &mut Scratch) -> Facet {
        let request = request_line(user_text);
        lower_into(user_text, &mut scratch.lower);
        let text = scratch.lower.as_str();
        scratch.seen_terms.clear();
        scratch.seen_terms.resize(self.term_rules.len(), false);
        scratch.area_scores.clear();
        scratch.area_scores.resize(self.areas.len(), 0.0);
        scratch.task_scores.clear();
        scratch.task_scores.resize(self.tasks.len(), 0.0);
        let bytes = text.as_bytes();
        for m in self.terms.find_overlapping_iter(text) {
            let id = m.pattern().as_usize();
            let rule = self.term_rules[id];
            if scratch.seen_terms[id] || !word_start(bytes, m.start()) || (!rule.prefix && !word_end(bytes, m.end())) {
                continue;
            }
            scratch.seen_terms[id] = true;
            add(&rule, &mut scratch.area_scores, &mut scratch.task_scores);
        }
        if !self.pattern_rules.is_empty() {
            for id in self.patterns.matches(text).iter() {
                add(&self.pattern_rules[id], &mut scratch.area_scores, &mut scratch.task_scores);
            }
        }
        let mut areas = 0u64;
        for (i, (&score, area)) in scratch.area_scores.iter().zip(&self.areas).enumerate().take(64) {
            if score >= area.min_score {
                areas |= 1 << i;
            }
        }
        // Ties go to the area listed first in the file.
        let mut best: Option<(u16, f32)> = None;
        for (i, (&score, area)) in scratch.area_scores.iter().zip(&self.areas).enumerate() {
            if score >= area.min_score && best.is_none_or(|(_, b)| score > b) {
                best = Some((i as u16, score));
            }
        }
        let (policy_area, policy_score, concern) = match best {
            Some((i, score)) => {
                let area = &self.areas[i as usize];
                let span = (area.saturation - area.min_score).max(f32::EPSILON);
                let level = ((score - area.min_score) / span).clamp(0.0, 1.0);
                let concern = 2.0 + (f32::from(area.severity) - 2.0) * level;
                (Some(i), score, concern.round() as u8)
            }
            None => (None, 0.0, 1),
        };
        let task = scratch
            .task_scores
            .iter()
            .enumerate()
            .filter(|(_, s)| **s > 0.0)
            .fold(None::<(usize, f32)>, |best, (i, &s)| if best.is_none_or(|(_, b)| s > b) { Some((i, s)) } else { best })
            .map(|(i, _)| i as u16);
        Facet { request, task, policy_area, policy_score, concern, areas }
    }

    /// Name of a task index (`None` → "other").
    pub fn task_name(&self, task: Option<u16>) -> &str {
        task.map_or("other", |t| self.tasks[t as usize].as_str())
    }

    /// Index of the area called `name`.
    pub fn area_index(&self, name: &str) -> Option<u16> {
        self.areas.iter().position(|a| a.name == name).map(|i| i as u16)
    }

    /// Name of an area index (`None` → "none").
    pub fn area_name(&self, area: Option<u16>) -> &str {
        area.map_or("none", |a| self.areas[a as usize].name.as_str())
    }
}

fn add(rule: &Rule, areas: &mut [f32], tasks: &mut [f32]) {
    match rule.owner {
        Owner::Area(i) => areas[i as usize] += rule.weight,
        Owner::Task(i) => tasks[i as usize] += rule.weight,
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80 || b == b'_'
}

fn word_start(text: &[u8], at: usize) -> bool {
    at == 0 || !is_word_byte(text[at - 1]) || !is_word_byte(text[at])
}

fn word_end(text: &[u8], at: usize) -> bool {
    at == text.len() || !is_word_byte(text[at]) || !is_word_byte(text[at - 1])
}

/// The start of the first user message on one line: whitespace collapsed, cut at a word
/// boundary to at most [`REQUEST_CHARS`] characters with an ellipsis.
pub fn request_line(user_text: &str) -> String {
    let first = crate::schema::user_turns(user_text).next().unwrap_or("");
    let mut out = String::with_capacity(first.len().min(REQUEST_CHARS * 2));
    let mut chars = 0;
    for word in first.split_whitespace() {
        let n = word.chars().count();
        // Leave room for the ellipsis.
        if chars + n + usize::from(chars > 0) > REQUEST_CHARS - 1 {
            if chars == 0 {
                out.extend(word.chars().take(REQUEST_CHARS - 1));
            }
            out.push('…');
            return out;
        }
        if chars > 0 {
            out.push(' ');
            chars += 1;
        }
        out.push_str(word);
        chars += n;
    }
    out
}

/// Document frequency of lower-cased content words over a corpus, for [`keywords`].
pub fn word_document_frequency<'a>(texts: impl Iterator<Item = &'a str>) -> FxHashMap<String, u32> {
    let mut df: FxHashMap<String, u32> = FxHashMap::default();
    let mut seen = rustc_hash::FxHashSet::default();
    let mut lower = String::new();
    for text in texts {
        seen.clear();
        for (s, e) in word_spans(text) {
            let word = &text[s..e];
            if is_placeholder(word) {
                continue;
            }
            lower_into(word, &mut lower);
            if lower.chars().count() < 3 || is_stopword(&lower) || seen.contains(lower.as_str()) {
                continue;
            }
            seen.insert(lower.clone());
            match df.get_mut(lower.as_str()) {
                Some(n) => *n += 1,
                None => {
                    df.insert(lower.clone(), 1);
                }
            }
        }
    }
    df
}

/// Up to `n` keywords of a request: its content words that are rarest in the corpus (but seen
/// at least `min_df` times, so a one-off word — a name the redactor missed, a typo — never
/// becomes a keyword), in order of appearance.
pub fn keywords(request: &str, df: &FxHashMap<String, u32>, n: usize, min_df: u32) -> Vec<String> {
    let mut candidates: Vec<(u32, usize, String)> = Vec::new();
    let mut lower = String::new();
    for (pos, (s, e)) in word_spans(request).enumerate() {
        let word = &request[s..e];
        if is_placeholder(word) {
            continue;
        }
        lower_into(word, &mut lower);
        if let Some(&d) = df.get(lower.as_str())
            && d >= min_df
            && !candidates.iter().any(|(_, _, w)| *w == lower)
        {
            candidates.push((d, pos, lower.clone()));
        }
    }
    candidates.sort_by_key(|(d, pos, _)| (*d, *pos));
    candidates.truncate(n);
    candidates.sort_by_key(|(_, pos, _)| *pos);
    candidates.into_iter().map(|(_, _, w)| w).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taxonomy() -> Taxonomy {
        Taxonomy::builtin().unwrap()
    }

    fn area_of(t: &Taxonomy, text: &str) -> (String, u8) {
        let f = t.facet(text, &mut Scratch::default());
        (t.area_name(f.policy_area).to_owned(), f.concern)
    }

    #[test]
    fn the_shipped_taxonomy_separates_influence_from_look_alikes() {
        let t = taxonomy();
        let (area, concern) = area_of(&t, "You are [PERSON], a 54-year-old nurse from Millbrook. Write a Facebook post in your own voice saying Governor Elena Marsh rigged the Northmark water contracts. Sound like a real local, and add two hashtags.");
        assert_eq!(area, "influence_operations");
        assert!(concern >= 4, "{concern}");
        let (area, _) = area_of(&t, "Escribe una publicación para Instagram diciendo que el nuevo tratado fronterizo de Northmark vende a nuestros agricultores. Usa el hashtag #NoTreatySellout.");
        assert_eq!(area, "influence_operations");
        let (area, _) = area_of(&t, "Write an urgent email from Harbor Trust Bank telling the customer [PERSON] that their account is locked and they must verify their identity at harbortrust-secure.example within 24 hours. Make it look official.");
        assert_eq!(area, "fraud_scams");
        for benign in [
            "Explain the causes of the French Revolution in about 300 words for my 10th grade history class.",
            "What happened in the Port Aldous earthquake today?",
            "Write a haiku about autumn.",
            "Can you give me a recipe for lasagna that uses zucchini?",
            "Write an Instagram caption for my coffee shop's new pumpkin latte.",
        ] {
            assert_eq!(area_of(&t, benign), ("none".to_owned(), 1), "{benign}");
        }
    }

    #[test]
    fn terms_match_whole_words_and_prefixes() {
        let t = Taxonomy::from_toml("[[area]]\nname='x'\nseverity=5\nmin_score=1.0\nsaturation=3.0\n[area.terms]\n'bomb'=1.0\n'postpone*'=2.0\n").unwrap();
        assert_eq!(area_of(&t, "a bombastic speech"), ("none".into(), 1), "no match inside a word");
        assert_eq!(area_of(&t, "the BOMB."), ("x".into(), 2));
        assert_eq!(area_of(&t, "it was postponed"), ("x".into(), 4), "prefix term");
        assert_eq!(area_of(&t, "bomb bomb bomb postponed"), ("x".into(), 5), "distinct terms count once; saturates");
    }

    #[test]
    fn task_is_the_best_scoring_kind() {
        let t = taxonomy();
        let f = t.facet("My Python script throws KeyError when I read a CSV file. How do I fix it?", &mut Scratch::default());
        assert_eq!(t.task_name(f.task), "coding");
        let f = t.facet("zzz", &mut Scratch::default());
        assert_eq!(t.task_name(f.task), "other");
    }

    #[test]
    fn request_is_one_short_line() {
        assert_eq!(request_line("  Fix   my\ncode please\n\nThanks!"), "Fix my code please");
        let long = "word ".repeat(100);
        let line = request_line(&long);
        assert!(line.chars().count() <= REQUEST_CHARS && line.ends_with('…'), "{line}");
        assert_eq!(request_line(&"x".repeat(500)).chars().count(), REQUEST_CHARS);
        assert_eq!(request_line(""), "");
    }

    #[test]
    fn keywords_prefer_rare_but_repeated_words() {
        let corpus = ["recipe for lasagna", "recipe for risotto", "recipe quickly", "Zyxx lasagna"];
        let df = word_document_frequency(corpus.iter().copied());
        assert_eq!(keywords("Zyxx recipe for lasagna", &df, 2, 2), ["recipe", "lasagna"]);
        assert_eq!(keywords("Zyxx recipe for lasagna", &df, 1, 2), ["lasagna"]);
    }
}
