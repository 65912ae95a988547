//! Semantic near-duplicates across accounts: random-hyperplane LSH (Charikar 2002) over the
//! conversations' sentence vectors.
//!
//! Two requests whose vectors are at angle θ agree on one hyperplane's side with probability
//! `1 − θ/π`, so a band of `bits` hyperplanes puts them in the same bucket with probability
//! `(1 − θ/π)^bits`, and `bands` independent bands make near-duplicates collide in some band:
//! the same narrative slot-filled with other names and towns, or translated, lands in shared
//! buckets even when no word is shared. Buckets are keys like any other coordination key, so
//! the account graph's rarity weighting applies: a bucket thousands of accounts fall into (a
//! popular topic) weighs nothing, one a few dozen accounts share weighs a lot.
//!
//! Vectors are centred on the window's mean before hashing: sentence encoders put every
//! request in a narrow cone, and hyperplanes through the origin would split little of it.

use candle_core::{Device, Tensor};

use super::minhash::splitmix;
use crate::error::{Error, Result};

/// Rows projected per matrix product (bounds the projection buffer to rows × bands × bits).
const CHUNK_ROWS: usize = 16_384;

/// Random hyperplanes for `bands × bits` sign bits of `dim`-dimensional vectors.
pub struct SemanticHasher {
    dim: usize,
    bands: usize,
    bits: usize,
    /// `dim × (bands·bits)`, row-major, standard normal entries.
    planes: Tensor,
}

impl SemanticHasher {
    /// Hyperplanes drawn from `seed` (the same seed gives the same buckets on every run).
    pub fn new(dim: usize, bands: usize, bits: usize, seed: u64) -> Result<Self> {
        if dim == 0 || bands == 0 || !(1..=32).contains(&bits) {
            return Err(Error::Config(format!("semantic LSH: {bands} bands of {bits} bits over {dim} dimensions (bits must be 1–32)")));
        }
        let mut state = seed;
        let mut uniform = || (splitmix64(&mut state) >> 11) as f64 / (1u64 << 53) as f64;
        // Box–Muller: Gaussian entries make the hyperplane directions uniform on the sphere.
        let planes: Vec<f32> = (0..dim * bands * bits)
            .map(|_| {
                let (u, v) = (uniform().max(f64::MIN_POSITIVE), uniform());
                ((-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()) as f32
            })
            .collect();
        let planes = Tensor::from_vec(planes, (dim, bands * bits), &Device::Cpu).map_err(|e| Error::internal("semantic LSH", e))?;
        Ok(SemanticHasher { dim, bands, bits, planes })
    }

    /// Per row of `vectors` (row-major `n × dim`), one bucket id per band:
    /// `band << 32 | signature`, so equal ids mean the same band and the same side of every
    /// one of its hyperplanes. Rows are centred on their mean first.
    pub fn buckets(&self, vectors: &[f32]) -> Result<Vec<u64>> {
        let d = self.dim;
        if !vectors.len().is_multiple_of(d) {
            return Err(Error::internal("semantic LSH", format!("{} values are not rows of {d}", vectors.len())));
        }
        let n = vectors.len() / d;
        let width = self.bands * self.bits;
        let fail = |e: candle_core::Error| Error::internal("semantic LSH", e);
        let mut mean = vec![0.0f64; d];
        for row in vectors.chunks_exact(d) {
            mean.iter_mut().zip(row).for_each(|(m, &x)| *m += f64::from(x));
        }
        let mean: Vec<f32> = mean.iter().map(|m| (m / n.max(1) as f64) as f32).collect();
        // sign((x − μ)·w) = sign(x·w − μ·w): project raw rows, subtract the mean's projection.
        let offset = Tensor::from_slice(&mean, (1, d), &Device::Cpu).and_then(|m| m.matmul(&self.planes)).and_then(|t| t.flatten_all()).and_then(|t| t.to_vec1::<f32>()).map_err(fail)?;
        let mut out = Vec::with_capacity(n * self.bands);
        for chunk in vectors.chunks(CHUNK_ROWS * d) {
            let rows = chunk.len() / d;
            let projected = Tensor::from_slice(chunk, (rows, d), &Device::Cpu)
                .and_then(|x| x.matmul(&self.planes))
                .and_then(|t| t.flatten_all())
                .and_then(|t| t.to_vec1::<f32>())
                .map_err(fail)?;
            for row in projected.chunks_exact(width) {
                for (band, bits) in row.chunks_exact(self.bits).enumerate() {
                    let base = band * self.bits;
                    let signature = bits.iter().enumerate().fold(0u64, |s, (i, &p)| s | (u64::from(p > offset[base + i]) << i));
                    out.push((band as u64) << 32 | signature);
                }
            }
        }
        Ok(out)
    }
}

/// The SplitMix64 sequence (Steele, Lea & Flood 2014) from `state`: full-period and good
/// enough to draw hyperplanes, without a random-number crate in the pipeline.
fn splitmix64(state: &mut u64) -> u64 {
    let z = splitmix(*state);
    *state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: Vec<f32>) -> Vec<f32> {
        let n = v.iter().map(|x| x * x).sum::<f32>().sqrt();
        v.into_iter().map(|x| x / n).collect()
    }

    #[test]
    fn near_vectors_share_buckets_and_far_ones_rarely_do() {
        let dim = 64;
        let mut state = 3u64;
        let mut gauss = || (splitmix64(&mut state) >> 40) as f32 / (1u64 << 24) as f32 - 0.5;
        let base: Vec<f32> = (0..dim).map(|_| gauss()).collect();
        let mut rows = Vec::new();
        // 40 slight variations of one vector, then 40 unrelated vectors.
        for _ in 0..40 {
            rows.extend(unit(base.iter().map(|b| b + 0.05 * gauss()).collect()));
        }
        for _ in 0..40 {
            rows.extend(unit((0..dim).map(|_| gauss()).collect()));
        }
        let h = SemanticHasher::new(dim, 8, 10, 7).unwrap();
        let b = h.buckets(&rows).unwrap();
        assert_eq!(b.len(), 80 * 8);
        let shared = |i: usize, j: usize| (0..8).filter(|k| b[i * 8 + k] == b[j * 8 + k]).count();
        let near: usize = (1..40).map(|j| shared(0, j)).sum();
        let far: usize = (41..80).map(|j| shared(40, j)).sum();
        assert!(near >= 39 * 4, "near pairs share {near} of {} bands", 39 * 8);
        assert!(far <= 39, "unrelated pairs share {far} of {} bands", 39 * 8);
        assert_eq!(b, h.buckets(&rows).unwrap(), "deterministic");
    }

    #[test]
    fn bad_shapes_are_errors() {
        assert!(SemanticHasher::new(8, 4, 0, 1).is_err());
        assert!(SemanticHasher::new(8, 4, 33, 1).is_err());
        let h = SemanticHasher::new(8, 2, 4, 1).unwrap();
        assert!(h.buckets(&[0.0; 7]).is_err());
        assert!(h.buckets(&[]).unwrap().is_empty());
    }
}
