//! A softmax (multinomial logistic regression) head over the encoder's vectors, trained when
//! the taxonomy is loaded from its example requests and labelled conversations.
//!
//! Why a trained head rather than only the nearest examples: on real red-team transcripts the
//! nearest-examples rule trades recall for false alarms along one curve whatever its
//! thresholds, because a single similarity cannot say which directions of the space matter.
//! A linear head learns them from the same examples: at the benign rate the rule reached it
//! flags more harmful requests and names more of them right (`benches/README.md`). It stays
//! editable: an example an analyst adds to the taxonomy is in the next run's training set.
//!
//! Why written here rather than taken from a crate: the training set is a few thousand rows
//! and the model one matrix, trained once per run. Full-batch Nesterov gradient descent on the
//! convex loss, through the same GEMM as the encoder, converges in a few hundred steps in about
//! a second, and it is deterministic (fixed blocks, fixed summation order), which the
//! byte-identical reruns need; linfa's solvers pull in ndarray and BLAS-style dependencies for
//! the same result.

use rayon::prelude::*;

use crate::dense::{matmul, Dense};
use crate::error::{Error, Result};

/// Rows per block in training and prediction: blocks run in parallel, and their partial
/// gradients are summed in block order so the result never depends on scheduling.
const ROWS_PER_BLOCK: usize = 512;

/// How the head is fitted.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Fit {
    /// Inverse L2 strength, as scikit-learn's `C`: larger trusts the examples more.
    pub regularisation: f32,
    /// Full-batch gradient steps.
    pub iterations: usize,
}

/// A trained head: `classes` linear scores over `dim`-dimensional unit vectors.
#[derive(Debug)]
pub(crate) struct SoftmaxHead {
    /// `dim × classes`, row-major.
    weight: Vec<f32>,
    bias: Vec<f32>,
    dim: usize,
    classes: usize,
}

impl SoftmaxHead {
    /// Fits the head to `x` (row-major, `labels.len()` rows of `dim`) and each row's class
    /// (`< classes`). The loss is the mean cross-entropy plus `1 / (2 · C · n)` of the squared
    /// weights (the bias is not penalised), scikit-learn's `LogisticRegression` objective.
    pub(crate) fn fit(x: &[f32], dim: usize, labels: &[u16], classes: usize, fit: Fit) -> Result<SoftmaxHead> {
        let n = labels.len();
        if n == 0 || dim == 0 || classes < 2 || x.len() != n * dim {
            return Err(Error::Config(format!("policy head: need labelled rows and two classes (got {n} rows, {classes} classes)")));
        }
        if let Some(&bad) = labels.iter().find(|&&l| usize::from(l) >= classes) {
            return Err(Error::Config(format!("policy head: class {bad} is not below {classes}")));
        }
        if !(fit.regularisation.is_finite() && fit.regularisation > 0.0) {
            return Err(Error::Config(format!("policy head: regularisation {} must be positive", fit.regularisation)));
        }
        let lambda = 1.0 / (fit.regularisation * n as f32);
        // The loss's gradient is Lipschitz with constant at most ½·max‖(x, 1)‖² + λ = 1 + λ
        // for unit rows with a bias input, so 1 / (1 + λ) is a step that never overshoots.
        let step = 1.0 / (1.0 + lambda);
        let transposed: Vec<Vec<f32>> = x.par_chunks(ROWS_PER_BLOCK * dim).map(|block| transpose(block, dim)).collect();
        let (mut w, mut b) = (vec![0.0f32; dim * classes], vec![0.0f32; classes]);
        let (mut look_w, mut look_b) = (w.clone(), b.clone());
        let mut t = 1.0f32;
        for _ in 0..fit.iterations {
            let (grad_w, grad_b) = gradient(x, &transposed, labels, dim, classes, &look_w, &look_b)?;
            let next_t = (1.0 + (1.0 + 4.0 * t * t).sqrt()) / 2.0;
            let momentum = (t - 1.0) / next_t;
            for (i, g) in grad_w.iter().enumerate() {
                let next = look_w[i] - step * (g / n as f32 + lambda * look_w[i]);
                look_w[i] = next + momentum * (next - w[i]);
                w[i] = next;
            }
            for (i, g) in grad_b.iter().enumerate() {
                let next = look_b[i] - step * g / n as f32;
                look_b[i] = next + momentum * (next - b[i]);
                b[i] = next;
            }
            t = next_t;
        }
        Ok(SoftmaxHead { weight: w, bias: b, dim, classes })
    }

    /// Class probabilities of every row of `x` (row-major × `dim`), `classes` per row, with
    /// `shift` added to each class's score first (a prior the caller sets, e.g. for a class
    /// that is more common in real traffic than in the examples).
    pub(crate) fn probabilities(&self, x: &[f32], shift: &[f32]) -> Result<Vec<f32>> {
        let weight = Dense::new(self.weight.clone(), self.dim, self.classes).expect("dim × classes by construction");
        let blocks: Vec<Result<Vec<f32>>> = x
            .par_chunks(ROWS_PER_BLOCK * self.dim)
            .map(|block| {
                let mut scores = matmul(block, block.len() / self.dim, &weight, "policy head")?;
                for row in scores.chunks_exact_mut(self.classes) {
                    for ((s, b), sh) in row.iter_mut().zip(&self.bias).zip(shift.iter().chain(std::iter::repeat(&0.0))) {
                        *s += b + sh;
                    }
                    softmax(row);
                }
                Ok(scores)
            })
            .collect();
        let mut out = Vec::with_capacity(x.len() / self.dim.max(1) * self.classes);
        for block in blocks {
            out.extend(block?);
        }
        Ok(out)
    }

    /// Number of classes.
    pub(crate) fn classes(&self) -> usize {
        self.classes
    }
}

/// Sum over rows of `(x_r, 1) ⊗ (p_r − y_r)`: the unscaled gradient of the cross-entropy for
/// weights and bias at (`w`, `b`).
fn gradient(x: &[f32], transposed: &[Vec<f32>], labels: &[u16], dim: usize, classes: usize, w: &[f32], b: &[f32]) -> Result<(Vec<f32>, Vec<f32>)> {
    let weight = Dense::new(w.to_vec(), dim, classes).expect("dim × classes by construction");
    let partial: Vec<Result<(Vec<f32>, Vec<f32>)>> = x
        .par_chunks(ROWS_PER_BLOCK * dim)
        .zip(labels.par_chunks(ROWS_PER_BLOCK))
        .zip(transposed.par_iter())
        .map(|((block, labels), block_t)| {
            let rows = labels.len();
            let mut residual = matmul(block, rows, &weight, "policy head")?;
            for (row, &label) in residual.chunks_exact_mut(classes).zip(labels) {
                for (s, bias) in row.iter_mut().zip(b) {
                    *s += bias;
                }
                softmax(row);
                row[usize::from(label)] -= 1.0;
            }
            let mut grad_b = vec![0.0f32; classes];
            for row in residual.chunks_exact(classes) {
                for (g, r) in grad_b.iter_mut().zip(row) {
                    *g += r;
                }
            }
            let residual = Dense::new(residual, rows, classes).expect("rows × classes by construction");
            Ok((matmul(block_t, dim, &residual, "policy head")?, grad_b))
        })
        .collect();
    let (mut grad_w, mut grad_b) = (vec![0.0f32; dim * classes], vec![0.0f32; classes]);
    for p in partial {
        let (gw, gb) = p?;
        grad_w.iter_mut().zip(&gw).for_each(|(a, b)| *a += b);
        grad_b.iter_mut().zip(&gb).for_each(|(a, b)| *a += b);
    }
    Ok((grad_w, grad_b))
}

/// `rows × dim` row-major → `dim × rows` row-major.
fn transpose(block: &[f32], dim: usize) -> Vec<f32> {
    let rows = block.len() / dim;
    let mut out = vec![0.0f32; block.len()];
    for (r, row) in block.chunks_exact(dim).enumerate() {
        for (d, &v) in row.iter().enumerate() {
            out[d * rows + r] = v;
        }
    }
    out
}

/// In-place softmax, stable for large scores.
fn softmax(row: &mut [f32]) {
    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let mut sum = 0.0;
    for s in row.iter_mut() {
        *s = (*s - max).exp();
        sum += *s;
    }
    for s in row.iter_mut() {
        *s /= sum;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(v: &[f32]) -> Vec<f32> {
        let mut v = v.to_vec();
        crate::embed::normalise(&mut v);
        v
    }

    /// Three classes around three directions of a 4-d space, with noise; more rows than one
    /// block so the blocked gradient is exercised.
    fn toy(n: usize, seed: u64) -> (Vec<f32>, Vec<u16>) {
        let mut state = seed;
        let mut noise = || {
            state = state.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
            ((state >> 33) as f32 / (1u64 << 31) as f32 - 0.5) * 0.8
        };
        let (mut x, mut y) = (Vec::new(), Vec::new());
        for i in 0..n {
            let class = (i % 3) as u16;
            let mut v = [noise(), noise(), noise(), noise()];
            v[usize::from(class)] += 1.0;
            x.extend(unit(&v));
            y.push(class);
        }
        (x, y)
    }

    #[test]
    fn learns_separable_classes_and_generalises() {
        let (x, y) = toy(1200, 1);
        let head = SoftmaxHead::fit(&x, 4, &y, 3, Fit { regularisation: 4.0, iterations: 300 }).unwrap();
        let (tx, ty) = toy(300, 2);
        let p = head.probabilities(&tx, &[]).unwrap();
        let right = p.chunks_exact(3).zip(&ty).filter(|(row, c)| row.iter().enumerate().max_by(|a, b| a.1.total_cmp(b.1)).unwrap().0 == usize::from(**c)).count();
        assert!(right as f32 / ty.len() as f32 > 0.95, "{right} of {}", ty.len());
        for row in p.chunks_exact(3) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-4 && row.iter().all(|&q| (0.0..=1.0).contains(&q)));
        }
        // A shift toward a class raises its probability everywhere.
        let shifted = head.probabilities(&tx, &[0.0, 0.0, 2.0]).unwrap();
        assert!(shifted.chunks_exact(3).zip(p.chunks_exact(3)).all(|(s, q)| s[2] >= q[2]));
    }

    #[test]
    fn training_is_deterministic_and_regularisation_shrinks_weights() {
        let (x, y) = toy(700, 3);
        let fit = |c: f32| SoftmaxHead::fit(&x, 4, &y, 3, Fit { regularisation: c, iterations: 100 }).unwrap();
        let (a, b) = (fit(4.0), fit(4.0));
        assert_eq!(a.weight, b.weight);
        assert_eq!(a.bias, b.bias);
        let norm = |h: &SoftmaxHead| h.weight.iter().map(|w| w * w).sum::<f32>();
        assert!(norm(&fit(0.01)) < norm(&a));
    }

    #[test]
    fn bad_training_sets_are_refused() {
        let fit = Fit { regularisation: 1.0, iterations: 10 };
        assert!(SoftmaxHead::fit(&[], 4, &[], 3, fit).is_err());
        assert!(SoftmaxHead::fit(&[1.0, 0.0], 2, &[5], 3, fit).is_err());
        assert!(SoftmaxHead::fit(&[1.0, 0.0], 2, &[0], 1, fit).is_err());
        assert!(SoftmaxHead::fit(&[1.0, 0.0, 0.0], 2, &[0], 3, fit).is_err());
        assert!(SoftmaxHead::fit(&[1.0, 0.0], 2, &[0], 3, Fit { regularisation: f32::NAN, iterations: 1 }).is_err());
    }
}
