//! Principal component analysis for the step between embeddings and HDBSCAN.
//!
//! Why: density clustering degrades in hundreds of dimensions (distances concentrate, and a
//! KD-tree cannot prune), while the topical structure of hashed TF-IDF vectors lives in a few
//! dozen directions. PCA is deterministic, linear (new points are projected exactly as the
//! fitted ones) and cheap: the covariance comes from a fixed-stride sample, and the components
//! from an eigen-decomposition of that d × d matrix (exact Jacobi up to 256 × 256, subspace
//! iteration for the learned encoder's 512).
//!
//! Every floating-point sum runs over fixed chunks in a fixed order, so the result does not
//! depend on the number of threads: reruns give the same bytes.

use rayon::prelude::*;

/// Rows used to estimate the covariance.
const MAX_FIT_ROWS: usize = 50_000;
/// Rows per parallel chunk (fixed, so sums do not depend on thread scheduling).
const CHUNK_ROWS: usize = 1024;

/// A fitted projection onto the top principal components.
#[derive(Debug, Clone)]
pub struct Pca {
    dim: usize,
    components: usize,
    mean: Vec<f32>,
    /// `components × dim`, row-major, orthonormal rows.
    basis: Vec<f32>,
}

impl Pca {
    /// Fits `components` principal components to `n × dim` row-major `data`.
    pub fn fit(data: &[f32], dim: usize, components: usize) -> crate::Result<Self> {
        if dim == 0 || !data.len().is_multiple_of(dim) {
            return Err(crate::Error::internal("pca", format!("{} values are not rows of {dim}", data.len())));
        }
        let components = components.clamp(1, dim);
        let n = data.len() / dim;
        let stride = n.div_ceil(MAX_FIT_ROWS).max(1);
        let sample: Vec<&[f32]> = data.chunks_exact(dim).step_by(stride).collect();
        let m = sample.len().max(1) as f64;
        let mean: Vec<f64> = ordered_sum(&sample, dim, |row, acc| {
            for (a, &v) in acc.iter_mut().zip(row.iter()) {
                *a += f64::from(v);
            }
        })
        .into_iter()
        .map(|s| s / m)
        .collect();
        // Upper triangle of the covariance, accumulated in f64.
        let cov_flat = ordered_sum(&sample, dim * dim, |row, acc| {
            for i in 0..dim {
                let xi = f64::from(row[i]) - mean[i];
                if xi == 0.0 {
                    continue;
                }
                let acc_row = &mut acc[i * dim..];
                for j in i..dim {
                    acc_row[j] += xi * (f64::from(row[j]) - mean[j]);
                }
            }
        });
        let mut cov = vec![0.0f64; dim * dim];
        for i in 0..dim {
            for j in i..dim {
                let v = cov_flat[i * dim + j] / m;
                cov[i * dim + j] = v;
                cov[j * dim + i] = v;
            }
        }
        let (_, vectors) = crate::linalg::top_eigenvectors(&cov, dim, components);
        let basis = &vectors[..components * dim];
        Ok(Pca { dim, components, mean: mean.iter().map(|&v| v as f32).collect(), basis: basis.iter().map(|&v| v as f32).collect() })
    }

    /// Output dimension.
    pub fn components(&self) -> usize {
        self.components
    }

    /// Projects `n × dim` rows to `n × components`.
    pub fn transform(&self, data: &[f32]) -> Vec<f32> {
        let (dim, k) = (self.dim, self.components);
        let mut out = vec![0.0f32; data.len() / dim * k];
        out.par_chunks_mut(k).zip(data.par_chunks_exact(dim)).for_each(|(o, row)| {
            for (c, value) in o.iter_mut().enumerate() {
                let axis = &self.basis[c * dim..(c + 1) * dim];
                *value = row.iter().zip(axis).zip(&self.mean).map(|((x, a), m)| (x - m) * a).sum();
            }
        });
        out
    }
}

/// Sums a per-row contribution over fixed chunks in parallel, then adds the chunk sums in
/// chunk order: the same bits whatever the thread count.
fn ordered_sum(rows: &[&[f32]], len: usize, add: impl Fn(&[f32], &mut [f64]) + Sync) -> Vec<f64> {
    let partial: Vec<Vec<f64>> = rows
        .par_chunks(CHUNK_ROWS)
        .map(|chunk| {
            let mut acc = vec![0.0f64; len];
            for row in chunk {
                add(row, &mut acc);
            }
            acc
        })
        .collect();
    let mut total = vec![0.0f64; len];
    for p in partial {
        total.iter_mut().zip(p).for_each(|(t, v)| *t += v);
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_directions_of_largest_variance() {
        // Points spread along (1,1,0)/√2 with variance 100, along z with variance 1.
        let mut data = Vec::new();
        for i in 0..500 {
            let t = (i as f32 - 250.0) / 25.0;
            let z = if i % 2 == 0 { 0.1 } else { -0.1 } * (i % 7) as f32;
            data.extend([t + 5.0, t + 5.0, z]);
        }
        let pca = Pca::fit(&data, 3, 2).unwrap();
        let first = &pca.basis[0..3];
        assert!((first[0] - std::f32::consts::FRAC_1_SQRT_2).abs() < 1e-3 && (first[1] - first[0]).abs() < 1e-3, "{first:?}");
        let second = &pca.basis[3..6];
        assert!(second[2].abs() > 0.99, "{second:?}");
        let projected = pca.transform(&data);
        assert_eq!(projected.len(), 1000);
        let mean0: f32 = projected.chunks(2).map(|r| r[0]).sum::<f32>() / 500.0;
        assert!(mean0.abs() < 1e-3, "centred: {mean0}");
    }

    #[test]
    fn is_deterministic_and_rejects_bad_shapes() {
        let data: Vec<f32> = (0..4000).map(|i| ((i * 7919) % 101) as f32 / 101.0).collect();
        let a = Pca::fit(&data, 8, 3).unwrap().transform(&data);
        let b = Pca::fit(&data, 8, 3).unwrap().transform(&data);
        assert_eq!(a, b);
        assert!(Pca::fit(&data[..7], 8, 3).is_err());
    }
}
