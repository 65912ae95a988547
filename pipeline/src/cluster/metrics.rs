//! Agreement between two labelings.

use std::collections::HashMap;

/// Adjusted Rand index (Hubert & Arabie) between two labelings of the same items: 1 for
/// identical partitions, about 0 for random ones. Noise (`-1`) is treated as one more label,
/// as scikit-learn's `adjusted_rand_score` does.
pub fn adjusted_rand_index(a: &[i32], b: &[i32]) -> f64 {
    assert_eq!(a.len(), b.len(), "labelings must cover the same items");
    let n = a.len() as f64;
    if a.len() < 2 {
        return 1.0;
    }
    let choose2 = |x: f64| x * (x - 1.0) / 2.0;
    let mut joint: HashMap<(i32, i32), u64> = HashMap::new();
    let mut rows: HashMap<i32, u64> = HashMap::new();
    let mut cols: HashMap<i32, u64> = HashMap::new();
    for (&x, &y) in a.iter().zip(b) {
        *joint.entry((x, y)).or_default() += 1;
        *rows.entry(x).or_default() += 1;
        *cols.entry(y).or_default() += 1;
    }
    let index: f64 = joint.values().map(|&v| choose2(v as f64)).sum();
    let sum_rows: f64 = rows.values().map(|&v| choose2(v as f64)).sum();
    let sum_cols: f64 = cols.values().map(|&v| choose2(v as f64)).sum();
    let expected = sum_rows * sum_cols / choose2(n);
    let max = (sum_rows + sum_cols) / 2.0;
    if (max - expected).abs() < f64::EPSILON {
        return 1.0;
    }
    (index - expected) / (max - expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ari_bounds() {
        assert!((adjusted_rand_index(&[0, 0, 1, 1], &[5, 5, 7, 7]) - 1.0).abs() < 1e-12);
        // scikit-learn: adjusted_rand_score([0,0,1,1],[0,1,0,1]) == -0.5
        assert!((adjusted_rand_index(&[0, 0, 1, 1], &[0, 1, 0, 1]) + 0.5).abs() < 1e-12);
        // adjusted_rand_score([0,0,1,2],[0,0,1,1]) == 0.5714285714285715
        assert!((adjusted_rand_index(&[0, 0, 1, 2], &[0, 0, 1, 1]) - 0.571_428_571_428_571_5).abs() < 1e-9);
    }
}
