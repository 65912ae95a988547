//! Embeddings without a model file: hashed word and character n-gram TF-IDF, projected to a
//! dense unit vector.
//!
//! Why this design: it runs on CPU at hundreds of thousands of texts per second, needs no
//! download, and keeps what clustering and coordination need: texts sharing phrasing land
//! near each other (word uni/bigrams), and paraphrases and inflected forms still overlap
//! (character 3–5-grams of words, fastText-style, which also survive light typos). A real
//! sentence-embedding model can sit behind the same [`Embedder`] trait.
//!
//! Features are hashed into 2^`buckets_log2` signed buckets (no vocabulary to store), weighted
//! by sublinear TF × IDF (IDF fitted on the corpus being clustered), and projected with a
//! fixed ±1 random matrix (Johnson–Lindenstrauss) to `dim` dimensions.

use std::hash::{BuildHasher, BuildHasherDefault};

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHasher};

/// Something that turns texts into unit vectors of a fixed dimension.
pub trait Embedder: Send + Sync {
    /// Vector dimension.
    fn dim(&self) -> usize;
    /// Row-major `texts.len() × dim` matrix of L2-normalised vectors.
    fn embed(&self, texts: &[&str]) -> Vec<f32>;
}

/// Settings of the hashed TF-IDF embedder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashedTfidfConfig {
    /// log2 of the number of hash buckets.
    pub buckets_log2: u32,
    /// Output dimension.
    pub dim: usize,
    /// Shortest and longest character n-gram (of a word with boundary marks).
    pub char_ngrams: (usize, usize),
    /// Seed of the feature hash and the projection.
    pub seed: u64,
}

impl Default for HashedTfidfConfig {
    fn default() -> Self {
        HashedTfidfConfig { buckets_log2: 18, dim: 256, char_ngrams: (3, 5), seed: 0x05ee_d0f7_1611 }
    }
}

/// The default embedder, fitted on a corpus (its IDF).
#[derive(Debug, Clone)]
pub struct HashedTfidf {
    config: HashedTfidfConfig,
    idf: Vec<f32>,
}

type Features = Vec<(u32, f32)>;

impl HashedTfidf {
    /// Fits IDF weights on `corpus`.
    pub fn fit(corpus: &[&str], config: HashedTfidfConfig) -> Self {
        let buckets = 1usize << config.buckets_log2;
        let df = corpus
            .par_iter()
            .fold(
                || vec![0u32; buckets],
                |mut df, text| {
                    for (bucket, _) in features(text, &config) {
                        df[bucket as usize] += 1;
                    }
                    df
                },
            )
            .reduce(
                || vec![0u32; buckets],
                |mut a, b| {
                    a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                    a
                },
            );
        let n = corpus.len() as f32;
        let idf = df.iter().map(|&d| ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0).collect();
        HashedTfidf { config, idf }
    }

    fn embed_one(&self, text: &str, out: &mut [f32]) {
        let feats = features(text, &self.config);
        out.iter_mut().for_each(|v| *v = 0.0);
        let dim = self.config.dim as u64;
        for (bucket, tf) in feats {
            let weight = tf * self.idf[bucket as usize];
            // Sparse Johnson–Lindenstrauss projection: each bucket lands on PROJECTION_NNZ
            // output coordinates with random signs, all drawn from one hash. A dense ±1 row
            // per bucket cost 128 adds per feature and made embedding 10x slower.
            let mut h = hash_u64(self.config.seed ^ 0x9e37_79b9, u64::from(bucket));
            for _ in 0..PROJECTION_NNZ {
                let j = ((h >> 1) % dim) as usize;
                out[j] += if h & 1 == 1 { weight } else { -weight };
                h = h.rotate_right(8).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            }
        }
        let norm = out.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            out.iter_mut().for_each(|v| *v /= norm);
        }
    }
}

/// Output coordinates each hashed feature contributes to. With 256 dimensions projected
/// cosines stay within about 1/sqrt(256) of the exact sparse ones (a test checks it).
const PROJECTION_NNZ: usize = 8;

impl Embedder for HashedTfidf {
    fn dim(&self) -> usize {
        self.config.dim
    }

    fn embed(&self, texts: &[&str]) -> Vec<f32> {
        let dim = self.config.dim;
        let mut out = vec![0.0f32; texts.len() * dim];
        out.par_chunks_mut(dim).zip(texts.par_iter()).for_each(|(row, text)| self.embed_one(text, row));
        out
    }
}

fn hash_u64(seed: u64, x: u64) -> u64 {
    let mut h = BuildHasherDefault::<FxHasher>::default().build_hasher();
    std::hash::Hasher::write_u64(&mut h, seed);
    std::hash::Hasher::write_u64(&mut h, x);
    // FxHash alone mixes low bits weakly; finish with a splitmix round.
    let mut z = std::hash::Hasher::finish(&h).wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn hash_str(seed: u64, kind: u8, s: &str) -> u64 {
    let mut h = BuildHasherDefault::<FxHasher>::default().build_hasher();
    std::hash::Hasher::write_u8(&mut h, kind);
    std::hash::Hasher::write(&mut h, s.as_bytes());
    hash_u64(seed, std::hash::Hasher::finish(&h))
}

/// Lower-case words of a text (letters and digits; placeholders like `[PERSON]` become the
/// word `person`, so templates with different names still share it).
fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty() && !w.chars().all(|c| c == '\''))
        .map(str::to_lowercase)
        .collect()
}

/// Hashed features with sublinear term frequency, summed per bucket.
fn features(text: &str, config: &HashedTfidfConfig) -> Features {
    let mask = (1u64 << config.buckets_log2) - 1;
    let mut tf: FxHashMap<u32, f32> = FxHashMap::default();
    let mut add = |h: u64, w: f32| {
        let bucket = (h & mask) as u32;
        *tf.entry(bucket).or_default() += w;
    };
    let ws = words(text);
    let word_hashes: Vec<u64> = ws.iter().map(|w| hash_str(config.seed, 1, w)).collect();
    let mut marked: Vec<char> = Vec::with_capacity(32);
    for (i, w) in ws.iter().enumerate() {
        add(word_hashes[i], 1.0);
        if let Some(next) = word_hashes.get(i + 1) {
            add(hash_u64(config.seed ^ 2, word_hashes[i].rotate_left(17) ^ next), 1.0);
        }
        // Character n-grams of the word with boundary marks; down-weighted so that shared
        // words still dominate and n-grams only pull paraphrases together.
        marked.clear();
        marked.push('<');
        marked.extend(w.chars());
        marked.push('>');
        let (lo, hi) = config.char_ngrams;
        for len in lo..=hi {
            for window in marked.windows(len) {
                let mut h = BuildHasherDefault::<FxHasher>::default().build_hasher();
                window.iter().for_each(|&c| std::hash::Hasher::write_u32(&mut h, c as u32));
                add(hash_u64(config.seed ^ 3, std::hash::Hasher::finish(&h)), 0.25);
            }
        }
    }
    let mut out: Features = tf.into_iter().map(|(b, c)| (b, 1.0 + c.ln_1p())).collect();
    out.sort_unstable_by_key(|f| f.0);
    out
}

/// Cosine similarity of two unit vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    const CORPUS: &[&str] = &[
        "How do I bake sourdough bread at home?",
        "What's the best way to make sourdough bread at home?",
        "My Python script throws KeyError when I loop over a dictionary",
        "Why do I get a KeyError in Python when looping over a dict?",
        "You are [PERSON], a nurse from Millbrook. Write a Facebook post saying Governor Elena Marsh rigged the water contracts.",
        "You are [PERSON], a farmer from Eastbridge. Write a Facebook post saying Governor Elena Marsh rigged the water contracts.",
        "Plan a 3-day itinerary for Lisbon on a budget.",
        "Explain quantum computing in simple terms.",
        "Write a haiku about autumn.",
        "What is the capital of Australia?",
    ];

    fn model() -> HashedTfidf {
        HashedTfidf::fit(CORPUS, HashedTfidfConfig::default())
    }

    #[test]
    fn paraphrases_and_templates_land_near_each_other() {
        let m = model();
        let e = m.embed(CORPUS);
        let row = |i: usize| &e[i * m.dim()..(i + 1) * m.dim()];
        let (bread, python, persona, trip) = (cosine(row(0), row(1)), cosine(row(2), row(3)), cosine(row(4), row(5)), cosine(row(0), row(6)));
        assert!(bread > 0.35, "paraphrase {bread}");
        assert!(python > 0.3, "paraphrase {python}");
        assert!(persona > 0.7, "slot-filled template {persona}");
        assert!(trip < 0.2, "unrelated {trip}");
        assert!(bread > cosine(row(0), row(2)) + 0.2);
    }

    /// The projection preserves cosines of the sparse TF-IDF vectors within JL noise.
    #[test]
    fn projection_preserves_cosines() {
        let m = model();
        let e = m.embed(CORPUS);
        let row = |i: usize| &e[i * m.dim()..(i + 1) * m.dim()];
        let sparse = |i: usize| -> Vec<(u32, f32)> { features(CORPUS[i], &m.config).into_iter().map(|(b, t)| (b, t * m.idf[b as usize])).collect() };
        let exact = |i: usize, j: usize| {
            let (a, b) = (sparse(i), sparse(j));
            let dot: f32 = a.iter().map(|(ba, va)| b.iter().find(|(bb, _)| bb == ba).map_or(0.0, |(_, vb)| va * vb)).sum();
            let norm = |v: &[(u32, f32)]| v.iter().map(|(_, x)| x * x).sum::<f32>().sqrt();
            dot / (norm(&a) * norm(&b))
        };
        // Random-projection error has a standard deviation of about 1/sqrt(dim) = 0.06: every
        // pair within 0.2 (over 3 sigma), and 0.06 on average.
        let mut total = 0.0;
        let mut pairs = 0;
        for i in 0..CORPUS.len() {
            for j in i + 1..CORPUS.len() {
                let (p, x) = (cosine(row(i), row(j)), exact(i, j));
                assert!((p - x).abs() < 0.2, "pair ({i},{j}): projected {p:.3}, exact {x:.3}");
                total += (p - x).abs();
                pairs += 1;
            }
        }
        assert!(total / (pairs as f32) < 0.06, "mean error {}", total / pairs as f32);
    }

    #[test]
    fn unit_vectors_deterministic_and_empty_safe() {
        let m = model();
        let a = m.embed(&["hello world", ""]);
        let norm: f32 = a[..m.dim()].iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-4);
        assert!(a[m.dim()..].iter().all(|&v| v == 0.0), "empty text is the zero vector");
        assert_eq!(a, m.embed(&["hello world", ""]));
    }
}
