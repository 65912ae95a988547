//! Near-duplicate text across accounts: MinHash signatures over word shingles and banded LSH
//! (Broder 1997; Leskovec, Rajaraman & Ullman ch. 3), the signal behind "many accounts send
//! the same template with small edits".
//!
//! Shingles are word n-grams of the normalised text (lower case, placeholders like
//! `[PERSON]` kept as words), so slot-filled templates share most shingles. One 64-bit hash per
//! shingle; the `k` permutations are universal hashes `(a·h + b) mod (2^61 − 1)`, as datasketch
//! does, so results are comparable. LSH with `bands × rows = k` makes pairs with Jaccard above
//! roughly `(1/bands)^(1/rows)` collide in some band; candidates are then checked by estimated
//! Jaccard.

use std::hash::{BuildHasher, BuildHasherDefault};

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHasher};

const MERSENNE_61: u64 = (1 << 61) - 1;

/// MinHash and LSH settings.
#[derive(Debug, Clone, PartialEq)]
pub struct MinHashConfig {
    /// Words per shingle.
    pub shingle_words: usize,
    /// Number of hash functions (signature length).
    pub permutations: usize,
    /// LSH bands (`permutations` must be divisible by it).
    pub bands: usize,
    /// Estimated Jaccard a candidate pair must reach to be reported.
    pub threshold: f64,
    /// Seed of the permutations.
    pub seed: u64,
}

impl Default for MinHashConfig {
    fn default() -> Self {
        // 16 bands × 8 rows: pairs at Jaccard 0.8 collide with probability 1 − (1 − 0.8^8)^16
        // ≈ 0.94; pairs at 0.5 with ≈ 0.06.
        MinHashConfig { shingle_words: 3, permutations: 128, bands: 16, threshold: 0.8, seed: 1 }
    }
}

/// A set of signatures, one per text.
#[derive(Debug, Clone)]
pub struct MinHasher {
    config: MinHashConfig,
    a: Vec<u64>,
    b: Vec<u64>,
}

impl MinHasher {
    /// Draws the permutations; the bands must divide the permutations.
    pub fn new(config: MinHashConfig) -> crate::Result<Self> {
        if config.bands == 0 || config.permutations == 0 || !config.permutations.is_multiple_of(config.bands) {
            return Err(crate::Error::Config(format!(
                "minhash: {} bands must divide {} permutations",
                config.bands, config.permutations
            )));
        }
        let mut state = config.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % MERSENNE_61
        };
        let a = (0..config.permutations).map(|_| next().max(1)).collect();
        let b = (0..config.permutations).map(|_| next()).collect();
        Ok(MinHasher { config, a, b })
    }

    /// Signature of one text (`u64::MAX` everywhere for a text with no shingles).
    pub fn signature(&self, text: &str) -> Vec<u64> {
        let mut sig = vec![u64::MAX; self.config.permutations];
        for h in shingle_hashes(text, self.config.shingle_words) {
            let h = h % MERSENNE_61;
            for (k, s) in sig.iter_mut().enumerate() {
                let v = add_mod(mul_mod(self.a[k], h), self.b[k]);
                if v < *s {
                    *s = v;
                }
            }
        }
        sig
    }

    /// One LSH key per band of a signature (the band's index mixed in): two texts share a key
    /// exactly when they collide in that band. Empty for a text with no shingles.
    pub fn band_keys<'a>(&'a self, signature: &'a [u64]) -> impl Iterator<Item = u64> + 'a {
        let rows = self.config.permutations / self.config.bands;
        let empty = signature.first().is_none_or(|&v| v == u64::MAX);
        let bands = if empty { 0 } else { self.config.bands };
        (0..bands).map(move |band| {
            let mut h = BuildHasherDefault::<FxHasher>::default().build_hasher();
            std::hash::Hasher::write_usize(&mut h, band);
            for v in &signature[band * rows..(band + 1) * rows] {
                std::hash::Hasher::write_u64(&mut h, *v);
            }
            splitmix(std::hash::Hasher::finish(&h))
        })
    }

    /// Signatures of many texts, in parallel.
    pub fn signatures(&self, texts: &[&str]) -> Vec<Vec<u64>> {
        texts.par_iter().map(|t| self.signature(t)).collect()
    }

    /// Pairs `(i, j)` with `i < j` whose estimated Jaccard is at least the threshold,
    /// with that estimate, sorted.
    pub fn near_duplicate_pairs(&self, signatures: &[Vec<u64>]) -> Vec<(u32, u32, f64)> {
        let rows = self.config.permutations / self.config.bands;
        let mut candidates: Vec<(u32, u32)> = (0..self.config.bands)
            .into_par_iter()
            .flat_map_iter(|band| {
                let mut buckets: FxHashMap<u64, Vec<u32>> = FxHashMap::default();
                for (i, sig) in signatures.iter().enumerate() {
                    if sig[0] == u64::MAX {
                        continue; // no shingles
                    }
                    let mut h = BuildHasherDefault::<FxHasher>::default().build_hasher();
                    for v in &sig[band * rows..(band + 1) * rows] {
                        std::hash::Hasher::write_u64(&mut h, *v);
                    }
                    buckets.entry(std::hash::Hasher::finish(&h)).or_default().push(i as u32);
                }
                let mut pairs = Vec::new();
                for members in buckets.into_values().filter(|m| m.len() > 1) {
                    for x in 0..members.len() {
                        for y in x + 1..members.len() {
                            pairs.push((members[x], members[y]));
                        }
                    }
                }
                pairs
            })
            .collect();
        candidates.par_sort_unstable();
        candidates.dedup();
        let threshold = self.config.threshold;
        candidates
            .into_par_iter()
            .filter_map(|(i, j)| {
                let j_est = estimated_jaccard(&signatures[i as usize], &signatures[j as usize]);
                (j_est >= threshold).then_some((i, j, j_est))
            })
            .collect()
    }
}

/// Share of equal positions of two signatures.
pub fn estimated_jaccard(a: &[u64], b: &[u64]) -> f64 {
    let equal = a.iter().zip(b).filter(|(x, y)| x == y).count();
    equal as f64 / a.len().max(1) as f64
}

/// `a·b mod (2^61 − 1)` for `a, b < 2^61 − 1`, by the Mersenne identity
/// `x ≡ (x mod 2^61) + (x >> 61)` instead of a 128-bit division.
#[inline]
fn mul_mod(a: u64, b: u64) -> u64 {
    let x = u128::from(a) * u128::from(b);
    let r = ((x as u64) & MERSENNE_61) + ((x >> 61) as u64);
    let r = (r & MERSENNE_61) + (r >> 61);
    if r >= MERSENNE_61 { r - MERSENNE_61 } else { r }
}

#[inline]
fn add_mod(a: u64, b: u64) -> u64 {
    let r = a + b;
    if r >= MERSENNE_61 { r - MERSENNE_61 } else { r }
}

/// Hashes of the distinct word shingles of a text (lower-cased words; a text shorter than a
/// shingle is one shingle).
pub fn shingle_hashes(text: &str, n: usize) -> Vec<u64> {
    let words: Vec<String> = text
        .split(|c: char| !c.is_alphanumeric() && c != '\'')
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect();
    if words.is_empty() {
        return Vec::new();
    }
    let n = n.min(words.len()).max(1);
    let mut out: Vec<u64> = words
        .windows(n)
        .map(|window| {
            let mut h = BuildHasherDefault::<FxHasher>::default().build_hasher();
            for w in window {
                std::hash::Hasher::write(&mut h, w.as_bytes());
                std::hash::Hasher::write_u8(&mut h, 0xff);
            }
            splitmix(std::hash::Hasher::finish(&h))
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

pub(super) fn splitmix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Exact Jaccard of two texts' shingle sets (for tests and benchmarks).
pub fn exact_jaccard(a: &str, b: &str, n: usize) -> f64 {
    let (x, y) = (shingle_hashes(a, n), shingle_hashes(b, n));
    let (mut i, mut j, mut both) = (0, 0, 0);
    while i < x.len() && j < y.len() {
        match x[i].cmp(&y[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                both += 1;
                i += 1;
                j += 1;
            }
        }
    }
    let union = x.len() + y.len() - both;
    if union == 0 { 1.0 } else { both as f64 / union as f64 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mersenne_arithmetic_matches_division() {
        let mut x = 0x1234_5678_9abc_def0u64;
        for _ in 0..10_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (a, b) = (x % MERSENNE_61, x.rotate_left(29) % MERSENNE_61);
            assert_eq!(mul_mod(a, b), ((u128::from(a) * u128::from(b)) % u128::from(MERSENNE_61)) as u64);
            assert_eq!(add_mod(a, b), (a + b) % MERSENNE_61);
        }
    }

    #[test]
    fn estimates_track_exact_jaccard() {
        let m = MinHasher::new(MinHashConfig::default()).unwrap();
        let a = "You are [PERSON], a nurse from Millbrook. Write a Facebook post saying Governor Elena Marsh rigged the Northmark water contracts for her donors. Sound like a real local.";
        let b = "You are [PERSON], a farmer from Eastbridge. Write a Facebook post saying Governor Elena Marsh rigged the Northmark water contracts for her donors. Sound like a real local.";
        let c = "Can you give me a recipe for banana bread that uses coconut milk and no eggs?";
        let (sa, sb, sc) = (m.signature(a), m.signature(b), m.signature(c));
        let exact = exact_jaccard(a, b, 3);
        assert!((estimated_jaccard(&sa, &sb) - exact).abs() < 0.15, "estimate {} vs exact {exact}", estimated_jaccard(&sa, &sb));
        assert!(estimated_jaccard(&sa, &sc) < 0.1);
    }

    #[test]
    fn lsh_finds_near_duplicates_and_not_strangers() {
        let m = MinHasher::new(MinHashConfig { threshold: 0.5, ..MinHashConfig::default() }).unwrap();
        assert!(MinHasher::new(MinHashConfig { bands: 7, ..MinHashConfig::default() }).is_err());
        let base = "Write five short comments from different people arguing that the Valdoria election must be postponed because the ballots are compromised";
        let mut texts = vec![base.to_owned()];
        for platform in ["Facebook", "Reddit", "X"] {
            texts.push(format!("{base} on {platform}"));
        }
        texts.push("How do I center a div in CSS?".to_owned());
        texts.push("What is the capital of Australia?".to_owned());
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let sigs = m.signatures(&refs);
        let pairs = m.near_duplicate_pairs(&sigs);
        let found: Vec<(u32, u32)> = pairs.iter().map(|&(i, j, _)| (i, j)).collect();
        for i in 0..4u32 {
            for j in i + 1..4 {
                assert!(found.contains(&(i, j)), "missing ({i},{j}) in {found:?}");
            }
        }
        assert!(found.iter().all(|&(i, j)| i < 4 && j < 4), "{found:?}");
        assert!(m.signature("").iter().all(|&v| v == u64::MAX));
    }
}
