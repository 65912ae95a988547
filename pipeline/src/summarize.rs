//! Extractive, k-anonymous names and summaries for clusters.
//!
//! For each cluster we count word n-grams (1..=3, or up to [`MAX_PHRASE_WORDS`] for names) of
//! its members' requests and, for each, the number of *distinct accounts* using it. Only
//! n-grams used by at least `min_accounts` accounts are ever emitted ("shared" n-grams).
//! Distinctive terms are ranked by class-based TF-IDF (c-TF-IDF, as in BERTopic: a cluster's
//! term frequency against the term's frequency over all clusters). A name is one shared phrase:
//! of the most distinctive ones, the phrase whose embedding lies nearest the cluster's centroid
//! (KeyBERT's idea, restricted to what enough accounts wrote), so it reads as a person would
//! name the topic, in whichever language the cluster mostly uses. The exemplar is a central
//! request in which every word not covered by a shared trigram is masked, so a phrase one
//! person typed never leaves the restricted zone. Parents are named from their children's
//! phrases, never from raw text.

use std::hash::{BuildHasher, Hasher};

use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};

use crate::text::{is_placeholder, is_stopword, lower_into, word_spans};

/// Longest n-gram of distinctive terms, and the window of the exemplar's k-anonymity check.
pub const MAX_NGRAM: usize = 3;

/// Longest phrase a name may be.
pub const MAX_NAME_WORDS: usize = 6;

/// Longest n-gram counted for names: one more than a name, to tell whether a name-length
/// phrase is complete.
pub const MAX_PHRASE_WORDS: usize = MAX_NAME_WORDS + 1;

/// Punctuation that ends a clause.
const CLAUSE_BREAKS: &[char] = &['.', ',', ';', ':', '?', '!', '¿', '¡', '…', '(', ')', '"', '\n'];

/// One request of a cluster member.
#[derive(Debug, Clone, Copy)]
pub struct Doc<'a> {
    /// Redacted request text.
    pub text: &'a str,
    /// Account, as an index (only equality matters).
    pub account: u32,
}

/// A shared n-gram of one cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Gram {
    /// Lower-cased words joined by single spaces.
    pub text: String,
    /// The words as first written (case kept), joined by single spaces.
    pub surface: String,
    /// Hash of the n-gram without its last word (0 for one word): an n-gram this one extends.
    pub prefix: u64,
    /// Hash of the n-gram without its first word (0 for one word).
    pub suffix: u64,
    /// Whether, where first written, no punctuation cut it (no `.`, `,`, `?`, `;` … between
    /// its words): a name never runs across two clauses.
    pub one_clause: bool,
    /// Words in it.
    pub words: u8,
    /// Occurrences in the cluster.
    pub count: u32,
    /// Distinct accounts using it.
    pub accounts: u32,
}

/// The shared n-grams of one cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterTerms {
    /// By n-gram hash; only n-grams with at least `min_accounts` accounts.
    pub shared: FxHashMap<u64, Gram>,
    /// Words counted in the cluster (the c-TF-IDF denominator).
    pub words: u64,
}

fn gram_hash(words: &[&str]) -> u64 {
    let mut h = FxBuildHasher.build_hasher();
    for w in words {
        h.write(w.as_bytes());
        h.write_u8(0xff);
    }
    h.finish()
}

/// Lower-cased words of a text (placeholders kept as-is, so they bridge n-grams harmlessly).
fn lower_words(text: &str, buf: &mut String, out: &mut Vec<String>) {
    out.clear();
    for (s, e) in word_spans(text) {
        let w = &text[s..e];
        if is_placeholder(w) {
            out.push(w.to_owned());
        } else {
            lower_into(w, buf);
            out.push(buf.clone());
        }
    }
}

impl ClusterTerms {
    /// Counts the n-grams of `docs` of 1..=`max_words` words (at least [`MAX_NGRAM`]), keeping
    /// those used by at least `min_accounts` accounts.
    pub fn count(docs: &[Doc<'_>], min_accounts: usize, max_words: usize) -> Self {
        let max_words = max_words.max(MAX_NGRAM);
        let min_accounts = min_accounts.max(1) as u32;
        let mut order: Vec<usize> = (0..docs.len()).collect();
        order.sort_by_key(|&i| (docs[i].account, i));
        // hash → (count, accounts); the account count is exact because docs are grouped by
        // account and each account adds each n-gram once.
        let mut stats: FxHashMap<u64, (u32, u32)> = FxHashMap::default();
        let mut per_account: FxHashSet<u64> = FxHashSet::default();
        let (mut buf, mut words) = (String::new(), Vec::new());
        let mut total_words = 0u64;
        let mut i = 0;
        while i < order.len() {
            let account = docs[order[i]].account;
            per_account.clear();
            while i < order.len() && docs[order[i]].account == account {
                lower_words(docs[order[i]].text, &mut buf, &mut words);
                total_words += words.len() as u64;
                let refs: Vec<&str> = words.iter().map(String::as_str).collect();
                for n in 1..=max_words {
                    for window in refs.windows(n) {
                        let h = gram_hash(window);
                        stats.entry(h).or_default().0 += 1;
                        per_account.insert(h);
                    }
                }
                i += 1;
            }
            for h in &per_account {
                stats.get_mut(h).expect("counted above").1 += 1;
            }
        }
        // Second pass: text for the shared n-grams only.
        let mut shared: FxHashMap<u64, Gram> = FxHashMap::default();
        for doc in docs {
            lower_words(doc.text, &mut buf, &mut words);
            let refs: Vec<&str> = words.iter().map(String::as_str).collect();
            let spans: Vec<(usize, usize)> = word_spans(doc.text).collect();
            // Clause number of each word: punctuation between two words starts a new clause.
            let mut clause = vec![0u32; spans.len()];
            for i in 1..spans.len() {
                let gap = &doc.text[spans[i - 1].1..spans[i].0];
                clause[i] = clause[i - 1] + u32::from(gap.contains(CLAUSE_BREAKS));
            }
            for n in 1..=max_words {
                for (start, window) in refs.windows(n).enumerate() {
                    let h = gram_hash(window);
                    let (count, accounts) = stats[&h];
                    if accounts >= min_accounts && !shared.contains_key(&h) {
                        let (prefix, suffix) = if n > 1 { (gram_hash(&window[..n - 1]), gram_hash(&window[1..])) } else { (0, 0) };
                        let surface = spans[start..start + n].iter().map(|&(s, e)| &doc.text[s..e]).collect::<Vec<_>>().join(" ");
                        let one_clause = clause[start] == clause[start + n - 1];
                        shared.insert(h, Gram { text: window.join(" "), surface, prefix, suffix, one_clause, words: n as u8, count, accounts });
                    }
                }
            }
        }
        ClusterTerms { shared, words: total_words }
    }

    /// Up to `top` name candidates from the cluster's `ranked` terms (best first, as
    /// [`ranked_terms`] gives them), each in the case it was first written: complete phrases of
    /// at most [`MAX_NAME_WORDS`] words that run across no punctuation. A phrase is incomplete
    /// when a one-word extension of it (after it, or before it by a word a name may start with)
    /// was written by at least [`COMPLETE_SHARE`] of its accounts: "long should i cook" inside
    /// "how long should i cook", "trying" inside "trying to". That is a fragment of a longer
    /// phrase, whatever the language; it stays a candidate, marked, as a question asked word
    /// for word has fragments only.
    pub fn phrase_candidates(&self, ranked: &[Term], top: usize) -> Vec<Phrase> {
        let mut extended: FxHashMap<u64, u32> = FxHashMap::default();
        for g in self.shared.values().filter(|g| g.words > 1) {
            // A word after a phrase always extends it ("how do I market" → "… market my"); a
            // word before only when a name may start with it ("the brakes squeal" leaves
            // "brakes squeal" whole). Without parts of speech, "study plan" → "study plan for"
            // is a fragment too.
            let parts = [Some(g.prefix), opens_a_phrase(&g.text).then_some(g.suffix)];
            for part in parts.into_iter().flatten() {
                let e = extended.entry(part).or_default();
                *e = (*e).max(g.accounts);
            }
        }
        let by_text: FxHashMap<&str, (u64, &Gram)> = self.shared.iter().map(|(&hash, g)| (g.text.as_str(), (hash, g))).collect();
        ranked
            .iter()
            .filter_map(|t| {
                let &(hash, g) = by_text.get(t.text.as_str()).filter(|(_, g)| g.one_clause && usize::from(g.words) <= MAX_NAME_WORDS)?;
                let longest = extended.get(&hash).copied().unwrap_or(0);
                Some(Phrase { text: g.surface.clone(), accounts: g.accounts, complete: f64::from(longest) < COMPLETE_SHARE * f64::from(g.accounts) })
            })
            .take(top)
            .collect()
    }

    /// Whether the n-gram `words` (lower-cased) is shared.
    fn is_shared(&self, words: &[&str]) -> bool {
        self.shared.contains_key(&gram_hash(words))
    }

    /// The request with every word masked (`…`, runs collapsed) that is not inside a run of
    /// words whose every `MAX_NGRAM`-gram (or the whole text, when shorter) is shared: the
    /// output contains no n-gram of that length that fewer than `min_accounts` accounts wrote.
    /// `None` when more than `max_masked` of the words would be masked.
    pub fn k_anonymous(&self, text: &str, max_masked: f32) -> Option<String> {
        let spans: Vec<(usize, usize)> = word_spans(text).collect();
        if spans.is_empty() {
            return None;
        }
        let mut buf = String::new();
        let mut lower = Vec::new();
        lower_words(text, &mut buf, &mut lower);
        let refs: Vec<&str> = lower.iter().map(String::as_str).collect();
        let n = MAX_NGRAM.min(refs.len());
        // Runs of consecutive shared windows; two runs must be separated by at least one
        // masked word, or the words across the seam would form an unshared n-gram.
        let mut keep = vec![false; refs.len()];
        let mut last_end: Option<usize> = None;
        let mut start = 0;
        while start + n <= refs.len() {
            if !self.is_shared(&refs[start..start + n]) {
                start += 1;
                continue;
            }
            let mut end = start + n - 1;
            while end + 1 < refs.len() && self.is_shared(&refs[end + 2 - n..end + 2]) {
                end += 1;
            }
            let from = match last_end {
                Some(e) if start <= e + 1 => e + 2,
                _ => start,
            };
            if from <= end {
                keep[from..=end].iter_mut().for_each(|k| *k = true);
                last_end = Some(end);
            }
            start = end + 2 - n;
        }
        let masked = keep.iter().filter(|k| !**k).count();
        if masked as f32 > max_masked * keep.len() as f32 || masked == keep.len() {
            return None;
        }
        let mut out = String::new();
        let mut last_masked = false;
        for (i, &(s, e)) in spans.iter().enumerate() {
            if !keep[i] && last_masked {
                continue;
            }
            if !out.is_empty() {
                out.push(' ');
            }
            out.push_str(if keep[i] { &text[s..e] } else { "…" });
            last_masked = !keep[i];
        }
        Some(out)
    }
}

/// A distinctive term of a cluster with its c-TF-IDF score.
#[derive(Debug, Clone, PartialEq)]
pub struct Term {
    /// The n-gram.
    pub text: String,
    /// c-TF-IDF score.
    pub score: f32,
    /// Distinct accounts of the cluster using it.
    pub accounts: u32,
}

/// A shared phrase that could name a cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct Phrase {
    /// The words as first written, joined by single spaces.
    pub text: String,
    /// Distinct accounts that wrote it.
    pub accounts: u32,
    /// Whether it is whole rather than a fragment of a longer shared phrase
    /// ([`ClusterTerms::phrase_candidates`]).
    pub complete: bool,
}

/// Share of a phrase's accounts that, writing one word more around it, make it a fragment.
pub const COMPLETE_SHARE: f64 = 0.8;

/// Function words a name may start with: questions and requests open with them ("how long
/// should I cook", "write a …" needs none). Other function words (articles, prepositions,
/// conjunctions) at the start mark a fragment. A fallback for readability, not a classifier.
const OPENERS: &str = "how what why which who when where can could would should is are do does i my \
    cómo qué cuál cuándo dónde por comment quoi pourquoi quel quelle quand où wie was warum welche wann wo como porque qual quando onde come perché quale quando dove";

static OPENER_WORDS: std::sync::LazyLock<FxHashSet<&'static str>> = std::sync::LazyLock::new(|| OPENERS.split_whitespace().collect());

/// Whether a phrase (lower-cased) may start a name: its first word is not a function word,
/// or is one questions open with.
fn opens_a_phrase(text: &str) -> bool {
    let first = text.split(' ').next().unwrap_or_default();
    !is_stopword(first) || OPENER_WORDS.contains(first)
}

/// Whether a shared n-gram can stand in a name: no placeholder, no number-only word, not ending
/// in a function word (so "recipe for" gives way to "recipe") nor starting with one that is not
/// an opener.
fn nameable(gram: &Gram) -> bool {
    let words: Vec<&str> = gram.text.split(' ').collect();
    !words.iter().any(|w| is_placeholder(w) || w.chars().all(|c| c.is_ascii_digit()))
        && opens_a_phrase(&gram.text)
        && !is_stopword(words[words.len() - 1])
        && words.iter().map(|w| w.chars().count()).max().unwrap_or(0) >= 3
}

/// Every shared n-gram of each cluster that can stand in a name, most distinctive first (c-TF-IDF): the term's
/// share of the cluster's words times `ln(1 + average words per cluster / the term's count over
/// all clusters)`, with a mild boost per extra word.
pub fn ranked_terms(clusters: &[ClusterTerms]) -> Vec<Vec<Term>> {
    let mut frequency: FxHashMap<u64, u64> = FxHashMap::default();
    for c in clusters {
        for (h, g) in &c.shared {
            *frequency.entry(*h).or_default() += u64::from(g.count);
        }
    }
    let average_words = clusters.iter().map(|c| c.words as f64).sum::<f64>() / clusters.len().max(1) as f64;
    clusters
        .iter()
        .map(|c| {
            let mut scored: Vec<Term> = c
                .shared
                .iter()
                .filter(|(_, g)| nameable(g))
                .map(|(h, g)| {
                    let tf = f64::from(g.count) / c.words.max(1) as f64;
                    let idf = (1.0 + average_words / frequency[h] as f64).ln();
                    // Longer phrases read better as names: a mild boost per extra word.
                    let length = 1.0 + 0.25 * f64::from(g.words - 1);
                    Term { text: g.text.clone(), score: (tf * idf * length) as f32, accounts: g.accounts }
                })
                .collect();
            scored.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.text.cmp(&b.text)));
            scored
        })
        .collect()
}

/// The `top` most distinctive shared n-grams of at most [`MAX_NGRAM`] words of each cluster
/// ([`ranked_terms`]); sub-phrases of a better-scoring chosen term are skipped.
pub fn distinctive_terms(clusters: &[ClusterTerms], top: usize) -> Vec<Vec<Term>> {
    ranked_terms(clusters).into_iter().map(|ranked| pick_non_overlapping(short_terms(ranked), top)).collect()
}

/// The terms of at most [`MAX_NGRAM`] words that start with a content word, order kept.
pub fn short_terms(ranked: Vec<Term>) -> Vec<Term> {
    ranked.into_iter().filter(|t| t.text.split(' ').count() <= MAX_NGRAM && !t.text.split(' ').next().is_some_and(is_stopword)).collect()
}

/// How much a name candidate's reach (the share of the cluster's accounts that wrote it) counts
/// against its closeness to the centroid: `cosine × reach^REACH_WEIGHT`. Without it the nearest
/// phrase is often one slot-filled instance ("how do I practice speaking Italian" for a
/// cluster of every language learnt) rather than what the cluster shares.
pub const REACH_WEIGHT: f32 = 0.25;

/// A fragment's score against a whole phrase's.
pub const FRAGMENT_WEIGHT: f32 = 0.8;

/// One cluster to name.
#[derive(Debug, Clone, Copy)]
pub struct NameRequest<'a> {
    /// Its candidate phrases ([`ClusterTerms::phrase_candidates`]).
    pub candidates: &'a [Phrase],
    /// Its unit centroid.
    pub centroid: &'a [f32],
    /// Its distinct accounts.
    pub accounts: usize,
}

/// One name per cluster: of its candidate phrases, the one nearest (cosine) the cluster's unit
/// centroid, weighed by reach ([`REACH_WEIGHT`]), and not already another cluster's name;
/// clusters choose in order, so earlier (larger) ones keep their best phrase. A cluster whose
/// every candidate is taken joins its two best with " · ". `vector_of` gives a phrase's unit
/// vector (`None`: not embedded, never chosen). `None` for a cluster without candidates.
pub fn nearest_phrase_names<'v>(clusters: &[NameRequest<'_>], vector_of: impl Fn(&str) -> Option<&'v [f32]>) -> Vec<Option<String>> {
    let mut taken: FxHashSet<String> = FxHashSet::default();
    clusters
        .iter()
        .enumerate()
        .map(|(cluster, c)| {
            let mut near: Vec<(f32, &str)> = c
                .candidates
                .iter()
                .filter_map(|t| {
                    let v = vector_of(&t.text)?;
                    let cosine = crate::embed::cosine(v, c.centroid);
                    let reach = (t.accounts as f32 / c.accounts.max(1) as f32).min(1.0);
                    tracing::trace!(cluster, phrase = %t.text, cosine, reach, complete = t.complete, "name candidate");
                    let form = if t.complete { 1.0 } else { FRAGMENT_WEIGHT };
                    Some((cosine * reach.powf(REACH_WEIGHT) * form, t.text.as_str()))
                })
                .collect();
            near.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(b.1)));
            let name = match near.iter().find(|(_, t)| !taken.contains(&t.to_lowercase())) {
                Some((_, t)) => (*t).to_owned(),
                None => match near.as_slice() {
                    [] => return None,
                    [(_, only)] => (*only).to_owned(),
                    [(_, a), (_, b), ..] => format!("{a} · {b}"),
                },
            };
            taken.insert(name.to_lowercase());
            Some(capitalised(&name))
        })
        .collect()
}

/// The text with its first letter upper-cased.
fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map_or_else(String::new, |first| first.to_uppercase().chain(chars).collect())
}

/// Greedy pick of the best terms, skipping one that contains or is contained in a chosen one.
pub fn pick_non_overlapping(sorted: Vec<Term>, top: usize) -> Vec<Term> {
    let mut chosen: Vec<Term> = Vec::with_capacity(top);
    for t in sorted {
        if chosen.len() == top {
            break;
        }
        let padded = format!(" {} ", t.text);
        if chosen.iter().any(|c| padded.contains(&format!(" {} ", c.text)) || format!(" {} ", c.text).contains(&padded)) {
            continue;
        }
        chosen.push(t);
    }
    chosen
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docs<'a>(rows: &[(&'a str, u32)]) -> Vec<Doc<'a>> {
        rows.iter().map(|&(text, account)| Doc { text, account }).collect()
    }

    #[test]
    fn only_ngrams_of_enough_accounts_are_shared() {
        let d = docs(&[
            ("a recipe for lasagna please", 1),
            ("a recipe for lasagna please", 1),
            ("a recipe for lasagna tonight", 2),
            ("recipe for lasagna with Bartholomew", 3),
        ]);
        let terms = ClusterTerms::count(&d, 3, MAX_NGRAM);
        let texts: FxHashSet<&str> = terms.shared.values().map(|g| g.text.as_str()).collect();
        assert!(texts.contains("recipe for lasagna"));
        assert!(!texts.contains("please"), "two docs but one account");
        assert!(!texts.contains("bartholomew"));
        let g = terms.shared.values().find(|g| g.text == "recipe").unwrap();
        assert_eq!((g.count, g.accounts), (4, 3));
    }

    #[test]
    fn exemplars_mask_what_fewer_than_k_accounts_wrote() {
        let d = docs(&[
            ("Can you give me a recipe for lasagna that uses zucchini?", 1),
            ("Can you give me a recipe for risotto that uses tofu?", 2),
            ("Can you give me a recipe for paella that uses spinach?", 3),
        ]);
        let terms = ClusterTerms::count(&d, 3, MAX_NGRAM);
        let ex = terms.k_anonymous("Can you give me a recipe for lasagna that uses zucchini?", 0.5).unwrap();
        // "that uses" is shared, but only inside trigrams no three accounts share: masked too.
        assert_eq!(ex, "Can you give me a recipe for …");
        assert_eq!(terms.k_anonymous("Bartholomew lives on Quackenbush Lane", 0.5), None);
        // Two shared trigrams that overlap ("a farmer from", "from Westvale write") must not be
        // stitched into an unshared one ("farmer from Westvale").
        let d2 = docs(&[
            ("you are a farmer from Lakeport", 1),
            ("you are a farmer from Eastbridge", 2),
            ("you are a farmer from Millbrook", 3),
            ("a nurse from Westvale write it", 4),
            ("a teacher from Westvale write it", 5),
            ("a pastor from Westvale write it", 6),
        ]);
        let t2 = ClusterTerms::count(&d2, 3, MAX_NGRAM);
        assert_eq!(t2.k_anonymous("you are a farmer from Westvale write it", 0.9).unwrap(), "you are a farmer from … write it");
        let strict = ClusterTerms::count(&d, 4, MAX_NGRAM);
        assert_eq!(strict.k_anonymous("Can you give me a recipe", 0.9), None, "nothing is shared by 4 accounts");
    }

    #[test]
    fn distinctive_terms_prefer_what_sets_a_cluster_apart() {
        let cooking = docs(&[("recipe for lasagna please help", 1), ("recipe for risotto please help", 2), ("easy recipe please help", 3)]);
        let coding = docs(&[("python error please help", 4), ("python keyerror please help", 5), ("python script please help", 6)]);
        let terms = distinctive_terms(&[ClusterTerms::count(&cooking, 3, MAX_NGRAM), ClusterTerms::count(&coding, 3, MAX_NGRAM)], 2);
        assert_eq!(terms[0][0].text, "recipe");
        assert_eq!(terms[1][0].text, "python");
    }

    #[test]
    fn overlapping_terms_are_skipped() {
        let t = |text: &str, score| Term { text: text.into(), score, accounts: 5 };
        let picked = pick_non_overlapping(vec![t("slow cooker", 3.0), t("cooker", 2.0), t("slow", 1.5), t("air fryer", 1.0)], 3);
        assert_eq!(picked.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(), ["slow cooker", "air fryer"]);
    }

    fn candidates(rows: &[(&str, u32)]) -> Vec<Phrase> {
        let terms = ClusterTerms::count(&docs(rows), 3, MAX_PHRASE_WORDS);
        let ranked = ranked_terms(std::slice::from_ref(&terms)).pop().unwrap();
        terms.phrase_candidates(&ranked, 50)
    }

    #[test]
    fn name_candidates_are_phrases_within_one_clause_marked_whole_or_fragment() {
        let found = candidates(&[
            ("How long should I cook lasagna? The brakes squeal.", 1),
            ("How long should I cook risotto? The brakes squeal.", 2),
            ("how long should I cook paella? The brakes squeal.", 3),
            ("How long should I cook ramen", 4),
        ]);
        let complete = |text: &str| found.iter().find(|p| p.text == text).map(|p| p.complete);
        // As first written, question word included.
        assert_eq!(complete("How long should I cook"), Some(true), "{found:?}");
        // Every account that wrote "long should i cook" wrote "how" before it.
        assert_eq!(complete("long should I cook"), Some(false));
        assert_eq!(complete("should I cook"), Some(false));
        // An article before it leaves a phrase whole.
        assert_eq!(complete("brakes squeal"), Some(true));
        // Nothing runs across the question mark, nor ends or starts with a function word.
        assert!(!found.iter().any(|p| p.text.to_lowercase().contains("cook the") || p.text.starts_with("The")), "{found:?}");
        assert!(found.iter().all(|p| p.text.split(' ').count() <= MAX_NAME_WORDS && p.accounts >= 3));
        // Any word after a phrase extends it.
        let plans = candidates(&[("How do I market my bakery", 1), ("How do I market my bike shop", 2), ("How do I market my studio", 3)]);
        assert_eq!(plans.iter().find(|p| p.text == "How do I market").map(|p| p.complete), Some(false), "{plans:?}");
    }

    #[test]
    fn names_are_the_nearest_shared_phrase_weighed_by_reach_and_used_once() {
        let p = |text: &str, accounts| Phrase { text: text.into(), accounts, complete: true };
        let vectors: FxHashMap<&str, [f32; 2]> =
            [("alpha", [1.0, 0.0]), ("beta", [0.8, 0.6]), ("rare", [1.0, 0.0]), ("common", [0.9, 0.436]), ("part", [1.0, 0.0]), ("whole", [0.9, 0.436])]
                .into_iter()
                .collect();
        let a = [p("beta", 10), p("alpha", 10), p("unembedded", 10)];
        let reach = [p("rare", 1), p("common", 100)];
        let only = [p("alpha", 10)];
        let two = [p("alpha", 10), p("beta", 10)];
        let fragment = [Phrase { complete: false, ..p("part", 10) }, p("whole", 10)];
        let request = |candidates, centroid| NameRequest { candidates, centroid, accounts: 100 };
        let x: &[f32] = &[1.0, 0.0];
        let names = nearest_phrase_names(
            &[request(&a, x), request(&reach, x), request(&a, x), request(&only, x), request(&two, x), request(&fragment, x), request(&[], x)],
            |p| vectors.get(p).map(|v| v.as_slice()),
        );
        assert_eq!(names[0].as_deref(), Some("Alpha"), "nearest, capitalised");
        assert_eq!(names[1].as_deref(), Some("Common"), "one account's phrase does not name a hundred");
        assert_eq!(names[2].as_deref(), Some("Beta"), "a name is used once per level");
        assert_eq!(names[3].as_deref(), Some("Alpha"), "a lone candidate is kept even when taken");
        assert_eq!(names[4].as_deref(), Some("Alpha · beta"), "every candidate taken: the two best");
        assert_eq!(names[5].as_deref(), Some("Whole"), "a whole phrase over a slightly nearer fragment");
        assert_eq!(names[6], None);
    }

}
