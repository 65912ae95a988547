//! The little dense linear algebra the analysis needs: a symmetric eigensolver for matrices of
//! at most a few hundred rows (PCA covariances, SVD Gram matrices).
//!
//! Why not a crate: nalgebra or ndarray-linalg (LAPACK) would add build time and a second
//! matrix type for one routine on ≤ 300 × 300 matrices; cyclic Jacobi is exact to machine
//! precision, deterministic, and fast enough at this size (a 256 × 256 solve takes ~0.1 s).

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
