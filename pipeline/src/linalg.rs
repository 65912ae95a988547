//! The little dense linear algebra the analysis needs: a symmetric eigensolver for matrices of
//! at most a few hundred rows (PCA covariances, SVD Gram matrices), and the top eigenvectors
//! of larger ones.
//!
//! Why not a crate: nalgebra or ndarray-linalg (LAPACK) would add build time and a second
//! matrix type for one routine on ≤ 300 × 300 matrices; cyclic Jacobi is exact to machine
//! precision, deterministic, and fast enough at this size (a 256 × 256 solve takes ~0.1 s).
//! Its cost grows with n³ per sweep, though: the learned encoder's 512 × 512 covariance took
//! ~7 s, when PCA needs only its top two dozen directions, which subspace iteration
//! ([`top_eigenvectors`]) finds in a fraction of that.

use rayon::prelude::*;

/// Matrices up to this size are solved exactly by [`symmetric_eigen`] in [`top_eigenvectors`].
const EXACT_MAX: usize = 256;
/// Extra directions iterated beyond the `k` wanted (they speed up convergence of the last ones).
const OVERSAMPLE: usize = 8;
/// Subspace iterations: the error of eigenvector `i` shrinks like (λ_{k+9} / λ_i)^iterations.
const ITERATIONS: usize = 100;

/// The `k` largest eigenvalues of a symmetric positive semi-definite `n × n` row-major matrix
/// and their eigenvectors as rows, as [`symmetric_eigen`] orders and signs them: exactly for
/// `n <= 256`, else by subspace iteration from a fixed start with a Rayleigh–Ritz step (the
/// same bits on every run and thread count).
pub(crate) fn top_eigenvectors(matrix: &[f64], n: usize, k: usize) -> (Vec<f64>, Vec<f64>) {
    let k = k.min(n);
    if n <= EXACT_MAX {
        let (values, vectors) = symmetric_eigen(matrix, n);
        return (values[..k].to_vec(), vectors[..k * n].to_vec());
    }
    let b = (k + OVERSAMPLE).min(n);
    // Basis as b rows of length n; a fixed, full-rank start.
    let mut q: Vec<f64> = (0..b * n).map(|x| ((x.wrapping_mul(2_654_435_761) >> 7) % 1009) as f64 / 1009.0 - 0.5).collect();
    orthonormalise_rows(&mut q, n);
    for _ in 0..ITERATIONS {
        q = times_rows(matrix, n, &q);
        orthonormalise_rows(&mut q, n);
    }
    // Rayleigh–Ritz: H = Q A Qᵀ (b × b), solved exactly, rotated back.
    let aq = times_rows(matrix, n, &q);
    let mut h = vec![0.0f64; b * b];
    for i in 0..b {
        for j in 0..b {
            h[i * b + j] = dot(&q[i * n..(i + 1) * n], &aq[j * n..(j + 1) * n]);
        }
    }
    let (values, small) = symmetric_eigen(&h, b);
    let mut vectors = vec![0.0f64; k * n];
    for e in 0..k {
        let row = &mut vectors[e * n..(e + 1) * n];
        for (i, &w) in small[e * b..(e + 1) * b].iter().enumerate() {
            row.iter_mut().zip(&q[i * n..(i + 1) * n]).for_each(|(r, x)| *r += w * x);
        }
        let flip = row.iter().fold(0.0f64, |m, &x| if x.abs() > m.abs() { x } else { m }) < 0.0;
        if flip {
            row.iter_mut().for_each(|x| *x = -*x);
        }
    }
    (values[..k].to_vec(), vectors)
}

fn dot(a: &[f64], b: &[f64]) -> f64 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// `rows · Aᵀ` = each row of `rows` times the symmetric `a`.
fn times_rows(a: &[f64], n: usize, rows: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0f64; rows.len()];
    out.par_chunks_mut(n).zip(rows.par_chunks(n)).for_each(|(o, r)| {
        for (i, oi) in o.iter_mut().enumerate() {
            *oi = dot(&a[i * n..(i + 1) * n], r);
        }
    });
    out
}

/// Modified Gram–Schmidt over the rows (length `n`), twice for stability.
fn orthonormalise_rows(rows: &mut [f64], n: usize) {
    let b = rows.len() / n;
    for _ in 0..2 {
        for i in 0..b {
            for j in 0..i {
                let (done, rest) = rows.split_at_mut(i * n);
                let (qj, qi) = (&done[j * n..(j + 1) * n], &mut rest[..n]);
                let r = dot(qj, qi);
                qi.iter_mut().zip(qj).for_each(|(x, y)| *x -= r * y);
            }
            let qi = &mut rows[i * n..(i + 1) * n];
            let norm = dot(qi, qi).sqrt();
            if norm > 0.0 {
                qi.iter_mut().for_each(|x| *x /= norm);
            }
        }
    }
}

/// Eigen-decomposition of a symmetric `n × n` row-major matrix by cyclic Jacobi rotations.
/// Returns eigenvalues in decreasing order and the matching eigenvectors as rows
/// (`vectors[i * n..(i + 1) * n]`), each with its largest coordinate positive.
pub(crate) fn symmetric_eigen(matrix: &[f64], n: usize) -> (Vec<f64>, Vec<f64>) {
    assert_eq!(matrix.len(), n * n, "square matrix");
    let mut a = matrix.to_vec();
    // Columns of v are eigenvectors.
    let mut v = vec![0.0f64; n * n];
    for i in 0..n {
        v[i * n + i] = 1.0;
    }
    let scale: f64 = a.iter().map(|x| x * x).sum::<f64>().sqrt().max(f64::MIN_POSITIVE);
    for _sweep in 0..60 {
        let off: f64 = (0..n).flat_map(|i| (0..n).filter(move |&j| j != i).map(move |j| (i, j))).map(|(i, j)| a[i * n + j].powi(2)).sum::<f64>();
        if off.sqrt() <= 1e-13 * scale {
            break;
        }
        for p in 0..n {
            for q in p + 1..n {
                let apq = a[p * n + q];
                if apq.abs() <= 1e-300 {
                    continue;
                }
                let theta = (a[q * n + q] - a[p * n + p]) / (2.0 * apq);
                let t = theta.signum() / (theta.abs() + (theta * theta + 1.0).sqrt());
                let t = if theta == 0.0 { 1.0 } else { t };
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                for k in 0..n {
                    let (akp, akq) = (a[k * n + p], a[k * n + q]);
                    a[k * n + p] = c * akp - s * akq;
                    a[k * n + q] = s * akp + c * akq;
                }
                for k in 0..n {
                    let (apk, aqk) = (a[p * n + k], a[q * n + k]);
                    a[p * n + k] = c * apk - s * aqk;
                    a[q * n + k] = s * apk + c * aqk;
                }
                for k in 0..n {
                    let (vkp, vkq) = (v[k * n + p], v[k * n + q]);
                    v[k * n + p] = c * vkp - s * vkq;
                    v[k * n + q] = s * vkp + c * vkq;
                }
            }
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by(|&x, &y| a[y * n + y].total_cmp(&a[x * n + x]).then(x.cmp(&y)));
    let values = order.iter().map(|&i| a[i * n + i]).collect();
    let mut vectors = Vec::with_capacity(n * n);
    for &i in &order {
        let column: Vec<f64> = (0..n).map(|k| v[k * n + i]).collect();
        let flip = column.iter().fold(0.0f64, |m, &x| if x.abs() > m.abs() { x } else { m }) < 0.0;
        vectors.extend(column.into_iter().map(|x| if flip { -x } else { x }));
    }
    (values, vectors)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_eigenvectors_of_a_large_matrix_match_the_exact_solver() {
        // A 300 × 300 covariance-like matrix with a decaying spectrum: B Bᵀ / m.
        let (n, m) = (300, 400);
        let b: Vec<f64> = (0..n * m).map(|x| (((x * 7919) % 101) as f64 - 50.0) / 50.0 * 0.97f64.powi((x / m) as i32)).collect();
        let mut a = vec![0.0f64; n * n];
        for i in 0..n {
            for j in 0..n {
                a[i * n + j] = dot(&b[i * m..(i + 1) * m], &b[j * m..(j + 1) * m]) / m as f64;
            }
        }
        let (exact_values, exact) = symmetric_eigen(&a, n);
        let (values, vectors) = top_eigenvectors(&a, n, 12);
        for e in 0..12 {
            assert!((values[e] - exact_values[e]).abs() <= 1e-8 * exact_values[0], "value {e}");
            let c = dot(&vectors[e * n..(e + 1) * n], &exact[e * n..(e + 1) * n]);
            assert!(c > 0.999_999, "vector {e}: {c}");
        }
        assert_eq!(top_eigenvectors(&a, n, 12), (values, vectors), "deterministic");
    }

    #[test]
    fn eigen_decomposition_reconstructs_the_matrix() {
        let n = 6;
        let mut m = vec![0.0f64; n * n];
        for i in 0..n {
            for j in 0..n {
                m[i * n + j] = ((i * 7 + j * 7 + i * j) % 11) as f64 - 5.0;
            }
        }
        let (values, vectors) = symmetric_eigen(&m, n);
        assert!(values.windows(2).all(|w| w[0] >= w[1]), "{values:?}");
        for i in 0..n {
            for j in 0..n {
                let r: f64 = (0..n).map(|e| values[e] * vectors[e * n + i] * vectors[e * n + j]).sum();
                assert!((r - m[i * n + j]).abs() < 1e-9, "({i},{j}): {r} vs {}", m[i * n + j]);
            }
        }
    }
}
