//! Extractive, k-anonymous names and summaries for clusters.
//!
//! For each cluster we count word n-grams (1..=3) of its members' requests and, for each, the
//! number of *distinct accounts* using it. Only n-grams used by at least `min_accounts`
//! accounts are ever emitted ("shared" n-grams). Names are the most distinctive shared
//! n-grams by class-based TF-IDF (c-TF-IDF, as in BERTopic: a cluster's term frequency against
//! the term's frequency over all clusters); the exemplar is a central request in which every
//! word not covered by a shared trigram is masked, so a phrase one person typed never leaves
//! the restricted zone. Parents are named from their children's terms, never from raw text.

use std::hash::{BuildHasher, Hasher};

use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};

use crate::text::{is_placeholder, is_stopword, lower_into, word_spans};

/// Longest n-gram counted.
pub const MAX_NGRAM: usize = 3;

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
    /// Counts the n-grams of `docs`, keeping those used by at least `min_accounts` accounts.
    pub fn count(docs: &[Doc<'_>], min_accounts: usize) -> Self {
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
                for n in 1..=MAX_NGRAM {
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
            for n in 1..=MAX_NGRAM {
                for window in refs.windows(n) {
                    let h = gram_hash(window);
                    let (count, accounts) = stats[&h];
                    if accounts >= min_accounts && !shared.contains_key(&h) {
                        shared.insert(h, Gram { text: window.join(" "), words: n as u8, count, accounts });
                    }
                }
            }
        }
        ClusterTerms { shared, words: total_words }
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

/// Whether a shared n-gram can stand in a name: no placeholder, no number-only word, and
/// neither end a function word (so "recipe for" gives way to "recipe").
fn nameable(gram: &Gram) -> bool {
    let words: Vec<&str> = gram.text.split(' ').collect();
    !words.iter().any(|w| is_placeholder(w) || w.chars().all(|c| c.is_ascii_digit()))
        && !is_stopword(words[0])
        && !is_stopword(words[words.len() - 1])
        && words.iter().map(|w| w.chars().count()).max().unwrap_or(0) >= 3
}

/// The `top` most distinctive shared n-grams of each cluster (c-TF-IDF): the term's share of
/// the cluster's words times `ln(1 + average words per cluster / the term's count over all
/// clusters)`. Sub-phrases of a better-scoring chosen term are skipped.
pub fn distinctive_terms(clusters: &[ClusterTerms], top: usize) -> Vec<Vec<Term>> {
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
            pick_non_overlapping(scored, top)
        })
        .collect()
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
        let terms = ClusterTerms::count(&d, 3);
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
        let terms = ClusterTerms::count(&d, 3);
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
        let t2 = ClusterTerms::count(&d2, 3);
        assert_eq!(t2.k_anonymous("you are a farmer from Westvale write it", 0.9).unwrap(), "you are a farmer from … write it");
        let strict = ClusterTerms::count(&d, 4);
        assert_eq!(strict.k_anonymous("Can you give me a recipe", 0.9), None, "nothing is shared by 4 accounts");
    }

    #[test]
    fn distinctive_terms_prefer_what_sets_a_cluster_apart() {
        let cooking = docs(&[("recipe for lasagna please help", 1), ("recipe for risotto please help", 2), ("easy recipe please help", 3)]);
        let coding = docs(&[("python error please help", 4), ("python keyerror please help", 5), ("python script please help", 6)]);
        let terms = distinctive_terms(&[ClusterTerms::count(&cooking, 3), ClusterTerms::count(&coding, 3)], 2);
        assert_eq!(terms[0][0].text, "recipe");
        assert_eq!(terms[1][0].text, "python");
    }

    #[test]
    fn overlapping_terms_are_skipped() {
        let t = |text: &str, score| Term { text: text.into(), score, accounts: 5 };
        let picked = pick_non_overlapping(vec![t("slow cooker", 3.0), t("cooker", 2.0), t("slow", 1.5), t("air fryer", 1.0)], 3);
        assert_eq!(picked.iter().map(|t| t.text.as_str()).collect::<Vec<_>>(), ["slow cooker", "air fryer"]);
    }
}
