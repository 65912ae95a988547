#!/usr/bin/env python3
"""Side by side: Vigil's HDBSCAN (KD-tree + Borůvka, Rust, rayon) against Python's
fast_hdbscan on the same 16-d blob vectors, both on all cores. Prints times, their ratio and
the adjusted Rand index between the two labelings.

    pip install fast_hdbscan scikit-learn
    python3 benches/hdbscan_vs_fast_hdbscan.py [N] [DIM]      (default 100000 16)
"""
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
DIM = int(sys.argv[2]) if len(sys.argv) > 2 else 16
MCS, MS = 50, 10
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "target", "release", "examples", "hdbscan_file")


def main():
    if not os.path.exists(EXAMPLE):
        subprocess.run(["cargo", "build", "--release", "-p", "vigil-pipeline", "--example", "hdbscan_file"], cwd=ROOT, check=True)
    X, _ = make_blobs(n_samples=N, n_features=DIM, centers=40, cluster_std=1.5, random_state=7)
    X = X.astype(np.float32)

    import fast_hdbscan

    fast_hdbscan.HDBSCAN(min_cluster_size=MCS, min_samples=MS).fit_predict(X[:2000])  # numba JIT warm-up
    start = time.perf_counter()
    theirs = fast_hdbscan.HDBSCAN(min_cluster_size=MCS, min_samples=MS).fit_predict(X)
    t_fast = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as d:
        points, labels = os.path.join(d, "points.f32"), os.path.join(d, "labels.txt")
        X.astype("<f4").tofile(points)
        out = subprocess.run([EXAMPLE, points, str(DIM), str(MCS), str(MS), labels], check=True, capture_output=True, text=True)
        t_vigil = float(out.stdout.strip())
        ours = np.loadtxt(labels, dtype=np.int64)

    ari = adjusted_rand_score(theirs, ours)
    print(f"points: {N} x {DIM}, min_cluster_size={MCS}, min_samples={MS}, {os.cpu_count()} cores")
    print(f"fast_hdbscan: {t_fast:.2f}s ({len(set(theirs)) - (1 if -1 in theirs else 0)} clusters, {np.sum(theirs < 0)} noise)")
    print(f"vigil:        {t_vigil:.2f}s ({len(set(ours)) - (1 if -1 in ours else 0)} clusters, {np.sum(ours < 0)} noise)")
    print(f"time ratio vigil/fast_hdbscan: {t_vigil / t_fast:.2f} (target <= 1.0); ARI: {ari:.4f} (target >= 0.95)")


if __name__ == "__main__":
    main()
