//! Agreement with scikit-learn's HDBSCAN on the same points (ARI ≥ 0.95), on blobs of
//! different densities with uniform background noise, in 2 and 16 dimensions.

use std::io::Write;
use std::process::Command;

use vigil::cluster::{adjusted_rand_index, hdbscan, HdbscanConfig};

/// Gaussian-ish blobs (sum of uniforms) plus uniform noise; deterministic.
fn data(n_blobs: usize, per: usize, noise: usize, dim: usize, seed: u64) -> Vec<f32> {
    let mut s = seed;
    let mut uniform = move || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s >> 11) as f32 / (1u64 << 53) as f32
    };
    let mut out = Vec::new();
    let centers: Vec<Vec<f32>> = (0..n_blobs).map(|_| (0..dim).map(|_| uniform() * 40.0 - 20.0).collect()).collect();
    for (b, c) in centers.iter().enumerate() {
        let spread = 0.5 + b as f32 * 0.3;
        for _ in 0..per {
            for &x in c {
                let g = (0..4).map(|_| uniform()).sum::<f32>() - 2.0;
                out.push(x + spread * g);
            }
        }
    }
    for _ in 0..noise {
        for _ in 0..dim {
            out.push(uniform() * 50.0 - 25.0);
        }
    }
    out
}

fn sklearn_labels(points: &[f32], dim: usize, config: &HdbscanConfig) -> Vec<i32> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("points.csv");
    let mut f = std::fs::File::create(&path).unwrap();
    for row in points.chunks(dim) {
        let line: Vec<String> = row.iter().map(|v| format!("{v:.7}")).collect();
        writeln!(f, "{}", line.join(",")).unwrap();
    }
    let script = r#"
import sys, numpy as np
from sklearn.cluster import HDBSCAN
X = np.loadtxt(sys.argv[1], delimiter=",", dtype=np.float64, ndmin=2)
labels = HDBSCAN(min_cluster_size=int(sys.argv[2]), min_samples=int(sys.argv[3])).fit_predict(X)
print(" ".join(map(str, labels)))
"#;
    let out = Command::new("python3")
        .args(["-c", script, path.to_str().unwrap(), &config.min_cluster_size.to_string(), &config.min_samples.to_string()])
        .output()
        .expect("python3");
    assert!(out.status.success(), "scikit-learn reference failed (pip install -r requirements-dev.txt): {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap().split_whitespace().map(|t| t.parse().unwrap()).collect()
}

#[test]
fn agrees_with_scikit_learn() {
    for (dim, blobs, per, noise, mcs, ms, seed) in [(2, 6, 300, 200, 25, 10, 1u64), (16, 8, 400, 300, 30, 10, 2), (2, 4, 500, 50, 15, 15, 3)] {
        let points = data(blobs, per, noise, dim, seed);
        let config = HdbscanConfig { min_cluster_size: mcs, min_samples: ms };
        let ours = hdbscan(&points, dim, &config).unwrap();
        let theirs = sklearn_labels(&points, dim, &config);
        let ari = adjusted_rand_index(&ours, &theirs);
        let clusters = |l: &[i32]| l.iter().filter(|&&x| x >= 0).collect::<std::collections::BTreeSet<_>>().len();
        assert!(ari >= 0.95, "dim {dim}: ARI {ari:.4} (ours {} clusters, sklearn {})", clusters(&ours), clusters(&theirs));
    }
}
