//! The fallback embedder, without a model file: latent semantic analysis (LSA) of hashed word
//! and character n-gram TF-IDF.
//!
//! Why this design: it runs on CPU at tens of thousands of texts per second, needs no download,
//! and keeps what clustering and coordination need. Word uni/bigrams make texts that share
//! phrasing similar; character 3–5-grams of words (fastText-style) let inflected forms and
//! light typos overlap; and the truncated SVD (LSA) maps words that occur in the same contexts
//! onto the same directions — a template asked with many different fillers becomes one
//! topic, which a plain random projection of TF-IDF cannot do (measured on the fixtures: ARI
//! 0.6 with a 256-d random projection, 0.97 with a 30-component SVD, k-means on both). Its
//! limits: the basis is fitted on each window (vectors are not comparable across windows) and
//! it knows no meaning beyond co-occurrence, so the learned encoder ([`super::UseM3`]) is
//! preferred when installed.
//!
//! Features are hashed into 2^`buckets_log2` buckets (no vocabulary to store), weighted by
//! sublinear TF × IDF (IDF fitted on the corpus being analysed), function words skipped. The
//! SVD is fitted on a fixed-stride sample by randomized range finding with power iterations
//! (Halko, Martinsson & Tropp 2011); every text is then projected on the top `dim` right
//! singular vectors and normalised. All sums run in a fixed order: reruns give the same bits.

use std::hash::{BuildHasher, BuildHasherDefault};

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHasher};

use super::Embedder;
use crate::linalg::symmetric_eigen;
use crate::text::{is_placeholder, is_stopword, lower_into, word_spans};

/// Settings of the hashed TF-IDF + LSA embedder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HashedTfidfConfig {
    /// log2 of the number of hash buckets.
    pub buckets_log2: u32,
    /// Output dimension (SVD components).
    pub dim: usize,
    /// Shortest and longest character n-gram (of a word with boundary marks).
    pub char_ngrams: (usize, usize),
    /// Seed of the feature hash and the random range finder.
    pub seed: u64,
    /// Texts the SVD is fitted on (a fixed-stride sample beyond).
    pub fit_sample: usize,
}

impl Default for HashedTfidfConfig {
    fn default() -> Self {
        HashedTfidfConfig { buckets_log2: 18, dim: 128, char_ngrams: (3, 5), seed: 0x05ee_d0f7_1611, fit_sample: 20_000 }
    }
}

/// The default embedder, fitted on a corpus (its IDF and SVD basis).
#[derive(Debug, Clone)]
pub struct HashedTfidf {
    config: HashedTfidfConfig,
    idf: Vec<f32>,
    /// Bucket → row of `basis`, for buckets seen at least twice in the fit sample.
    columns: FxHashMap<u32, u32>,
    /// `columns.len() × dim`, row-major: each feature's coordinates in the LSA space.
    basis: Vec<f32>,
}

type Features = Vec<(u32, f32)>;

/// Extra random directions of the range finder beyond `dim`.
const OVERSAMPLE: usize = 10;
/// Power iterations of the range finder (sharpen the spectrum of a flat TF-IDF matrix).
const POWER_ITERATIONS: usize = 2;
/// Rows per chunk of ordered parallel sums.
const CHUNK_ROWS: usize = 2048;

impl HashedTfidf {
    /// Fits IDF weights on `corpus` and the SVD basis on a sample of it.
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
        let idf: Vec<f32> = df.iter().map(|&d| ((1.0 + n) / (1.0 + d as f32)).ln() + 1.0).collect();
        let stride = corpus.len().div_ceil(config.fit_sample.max(1)).max(1);
        let sample: Vec<&str> = corpus.iter().step_by(stride).copied().collect();
        let (columns, basis) = fit_lsa(&sample, &config, &idf);
        HashedTfidf { config, idf, columns, basis }
    }

    fn embed_one(&self, text: &str, out: &mut [f32]) {
        out.iter_mut().for_each(|v| *v = 0.0);
        let dim = self.config.dim;
        for (bucket, tf) in features(text, &self.config) {
            if let Some(&row) = self.columns.get(&bucket) {
                let weight = tf * self.idf[bucket as usize];
                let axis = &self.basis[row as usize * dim..(row as usize + 1) * dim];
                out.iter_mut().zip(axis).for_each(|(o, a)| *o += weight * a);
            }
        }
        let norm = out.iter().map(|v| v * v).sum::<f32>().sqrt();
        if norm > 0.0 {
            out.iter_mut().for_each(|v| *v /= norm);
        }
    }
}

/// A sparse matrix in both row (CSR) and column (CSC) form, for products with dense blocks.
struct Sparse {
    rows: Vec<Vec<(u32, f32)>>,
    cols: Vec<Vec<(u32, f32)>>,
}

impl Sparse {
    /// `self × dense` (`cols × k` → `rows × k`).
    fn times(&self, dense: &[f32], k: usize) -> Vec<f32> {
        let mut out = vec![0.0f32; self.rows.len() * k];
        out.par_chunks_mut(k).zip(&self.rows).for_each(|(o, row)| {
            for &(c, v) in row {
                o.iter_mut().zip(&dense[c as usize * k..(c as usize + 1) * k]).for_each(|(x, d)| *x += v * d);
            }
        });
        out
    }

    /// `selfᵀ × dense` (`rows × k` → `cols × k`).
    fn transpose_times(&self, dense: &[f32], k: usize) -> Vec<f32> {
        let mut out = vec![0.0f32; self.cols.len() * k];
        out.par_chunks_mut(k).zip(&self.cols).for_each(|(o, col)| {
            for &(r, v) in col {
                o.iter_mut().zip(&dense[r as usize * k..(r as usize + 1) * k]).for_each(|(x, d)| *x += v * d);
            }
        });
        out
    }
}

/// `mᵀ m` for a row-major `rows × k` matrix, summed over fixed chunks in order.
fn gram(m: &[f32], k: usize) -> Vec<f64> {
    let partial: Vec<Vec<f64>> = m
        .par_chunks(CHUNK_ROWS * k)
        .map(|chunk| {
            let mut g = vec![0.0f64; k * k];
            for row in chunk.chunks_exact(k) {
                for i in 0..k {
                    let ri = f64::from(row[i]);
                    if ri == 0.0 {
                        continue;
                    }
                    for j in i..k {
                        g[i * k + j] += ri * f64::from(row[j]);
                    }
                }
            }
            g
        })
        .collect();
    let mut g = vec![0.0f64; k * k];
    for p in partial {
        g.iter_mut().zip(p).for_each(|(a, b)| *a += b);
    }
    for i in 0..k {
        for j in 0..i {
            g[i * k + j] = g[j * k + i];
        }
    }
    g
}

/// `m × w` for row-major `rows × k` and `k × k2`.
fn times_small(m: &[f32], k: usize, w: &[f64], k2: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; m.len() / k * k2];
    out.par_chunks_mut(k2).zip(m.par_chunks_exact(k)).for_each(|(o, row)| {
        for (i, &x) in row.iter().enumerate() {
            if x == 0.0 {
                continue;
            }
            let x = f64::from(x);
            for (j, oj) in o.iter_mut().enumerate() {
                *oj += (x * w[i * k2 + j]) as f32;
            }
        }
    });
    out
}

/// Orthonormal basis of the column space of `m` (`rows × k`), by the eigen-decomposition of
/// its Gram matrix (`m W Λ^-1/2`): two passes over `m`, parallel, deterministic.
fn orthonormal(m: &[f32], k: usize) -> Vec<f32> {
    let (values, vectors) = symmetric_eigen(&gram(m, k), k);
    let top = values.first().copied().unwrap_or(0.0).max(f64::MIN_POSITIVE);
    let mut w = vec![0.0f64; k * k];
    for (e, &lambda) in values.iter().enumerate() {
        if lambda > top * 1e-10 {
            let s = 1.0 / lambda.sqrt();
            for i in 0..k {
                w[i * k + e] = vectors[e * k + i] * s;
            }
        }
    }
    times_small(m, k, &w, k)
}

/// Randomized truncated SVD of the sample's TF-IDF matrix: the feature → LSA-coordinate map.
fn fit_lsa(sample: &[&str], config: &HashedTfidfConfig, idf: &[f32]) -> (FxHashMap<u32, u32>, Vec<f32>) {
    let dim = config.dim;
    let rows: Vec<Features> = sample
        .par_iter()
        .map(|t| {
            let mut f: Features = features(t, config).into_iter().map(|(b, tf)| (b, tf * idf[b as usize])).collect();
            let norm = f.iter().map(|(_, v)| v * v).sum::<f32>().sqrt();
            if norm > 0.0 {
                f.iter_mut().for_each(|(_, v)| *v /= norm);
            }
            f
        })
        .collect();
    // Columns: buckets in at least two sample texts (a feature seen once shapes no topic).
    let mut seen: FxHashMap<u32, u32> = FxHashMap::default();
    for row in &rows {
        for &(b, _) in row {
            *seen.entry(b).or_default() += 1;
        }
    }
    let mut buckets: Vec<u32> = seen.into_iter().filter(|&(_, n)| n >= 2).map(|(b, _)| b).collect();
    buckets.sort_unstable();
    let columns: FxHashMap<u32, u32> = buckets.iter().enumerate().map(|(i, &b)| (b, i as u32)).collect();
    let k = (dim + OVERSAMPLE).min(rows.len()).min(buckets.len());
    if k == 0 {
        return (columns, vec![0.0; buckets.len() * dim]);
    }
    let mut csr: Vec<Vec<(u32, f32)>> = Vec::with_capacity(rows.len());
    let mut csc: Vec<Vec<(u32, f32)>> = vec![Vec::new(); buckets.len()];
    for (r, row) in rows.iter().enumerate() {
        let mapped: Vec<(u32, f32)> = row.iter().filter_map(|&(b, v)| columns.get(&b).map(|&c| (c, v))).collect();
        for &(c, v) in &mapped {
            csc[c as usize].push((r as u32, v));
        }
        csr.push(mapped);
    }
    drop(rows);
    let a = Sparse { rows: csr, cols: csc };
    // Random ±1 test matrix, one hash per entry.
    let omega: Vec<f32> = (0..buckets.len() * k)
        .map(|i| if hash_u64(config.seed ^ 0x5eed, i as u64) & 1 == 1 { 1.0 } else { -1.0 })
        .collect();
    let mut q = orthonormal(&a.times(&omega, k), k);
    for _ in 0..POWER_ITERATIONS {
        let z = orthonormal(&a.transpose_times(&q, k), k);
        q = orthonormal(&a.times(&z, k), k);
    }
    // B = Qᵀ A, held as Z = Bᵀ (columns × k). B Bᵀ = Zᵀ Z = U Σ² Uᵀ; V = Z U Σ⁻¹.
    let z = a.transpose_times(&q, k);
    let (values, vectors) = symmetric_eigen(&gram(&z, k), k);
    let mut w = vec![0.0f64; k * dim];
    let top = values.first().copied().unwrap_or(0.0).max(f64::MIN_POSITIVE);
    for (e, &lambda) in values.iter().enumerate().take(dim) {
        if lambda > top * 1e-10 {
            let s = 1.0 / lambda.sqrt();
            for i in 0..k {
                w[i * dim + e] = vectors[e * k + i] * s;
            }
        }
    }
    // Scale each direction by its singular value so that projecting a text gives U Σ
    // coordinates (LSA's document vectors), then keep `dim` of them.
    let mut basis = times_small(&z, k, &w, dim);
    let sigma: Vec<f32> = (0..dim).map(|e| values.get(e).map_or(0.0, |&l| l.max(0.0).sqrt() as f32)).collect();
    basis.par_chunks_mut(dim).for_each(|row| row.iter_mut().zip(&sigma).for_each(|(x, s)| *x *= s));
    (columns, basis)
}

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

/// Hashed features with sublinear term frequency, summed per bucket. Function words are
/// skipped (they say how something is asked, not what); placeholders like `[PERSON]` count
/// as a word, so slot-filled templates still share them.
fn features(text: &str, config: &HashedTfidfConfig) -> Features {
    let mask = (1u64 << config.buckets_log2) - 1;
    let mut tf: FxHashMap<u32, f32> = FxHashMap::default();
    let mut add = |h: u64, w: f32| {
        let bucket = (h & mask) as u32;
        *tf.entry(bucket).or_default() += w;
    };
    let mut lower = String::new();
    let mut previous: Option<u64> = None;
    let mut marked: Vec<char> = Vec::with_capacity(32);
    for (s, e) in word_spans(text) {
        let word = &text[s..e];
        lower_into(word, &mut lower);
        if !is_placeholder(word) && is_stopword(&lower) {
            continue;
        }
        let h = hash_str(config.seed, 1, &lower);
        add(h, 1.0);
        if let Some(p) = previous {
            add(hash_u64(config.seed ^ 2, p.rotate_left(17) ^ h), 1.0);
        }
        previous = Some(h);
        if is_placeholder(word) {
            continue;
        }
        // Character n-grams of the word with boundary marks; down-weighted so that shared
        // words still dominate and n-grams only pull paraphrases together.
        marked.clear();
        marked.push('<');
        marked.extend(lower.chars());
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::embed::cosine;

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
        assert!(bread > 0.5, "paraphrase {bread}");
        assert!(python > 0.5, "paraphrase {python}");
        assert!(persona > 0.7, "slot-filled template {persona}");
        assert!(trip < 0.3, "unrelated {trip}");
        assert!(bread > cosine(row(0), row(2)) + 0.2);
    }

    /// LSA joins texts that share no word but whose words share contexts: a template asked
    /// with different fillers, and the fillers asked in another template.
    #[test]
    fn contexts_make_topics() {
        let mut corpus = Vec::new();
        let dishes = ["lasagna", "risotto", "paella", "ramen", "curry", "stew"];
        let extras = ["zucchini", "tofu", "spinach", "mushrooms", "chickpeas", "rice"];
        let errors = ["KeyError", "IndexError", "TypeError", "ValueError", "NameError", "OSError"];
        let tasks = ["parse json", "read csv", "sort lists", "merge frames", "open files", "loop dicts"];
        for i in 0..6 {
            for j in 0..6 {
                corpus.push(format!("Give me a recipe for {} with {}", dishes[i], extras[j]));
                corpus.push(format!("How long should I cook {} and {}", dishes[j], extras[i]));
                corpus.push(format!("Python throws {} when I {}", errors[i], tasks[j]));
                corpus.push(format!("Why do I get {} trying to {}", errors[j], tasks[i]));
            }
        }
        let texts: Vec<&str> = corpus.iter().map(String::as_str).collect();
        let m = HashedTfidf::fit(&texts, HashedTfidfConfig { dim: 4, ..HashedTfidfConfig::default() });
        let e = m.embed(&["recipe for lasagna with tofu", "cook paella and spinach", "Python throws KeyError when I read csv"]);
        let row = |i: usize| &e[i * 4..(i + 1) * 4];
        let (same_topic, other_topic) = (cosine(row(0), row(1)), cosine(row(0), row(2)));
        assert!(same_topic > 0.6 && other_topic < 0.2, "same topic {same_topic:.2}, other {other_topic:.2}");
    }

    #[test]
    fn unit_vectors_deterministic_and_empty_safe() {
        let m = model();
        let a = m.embed(&["bake sourdough bread at home", "", "zzyzx qwv"]);
        let norm: f32 = a[..m.dim()].iter().map(|v| v * v).sum();
        assert!((norm - 1.0).abs() < 1e-4);
        assert!(a[m.dim()..].iter().all(|&v| v == 0.0), "empty text, and text sharing no feature with the fit, is the zero vector");
        assert_eq!(a, m.embed(&["bake sourdough bread at home", "", "zzyzx qwv"]));
        assert_eq!(HashedTfidf::fit(CORPUS, HashedTfidfConfig::default()).embed(CORPUS), m.embed(CORPUS), "fit is deterministic");
    }
}
