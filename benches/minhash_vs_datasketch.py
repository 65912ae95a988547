#!/usr/bin/env python3
"""Side by side: Vigil's MinHash LSH against datasketch on the same texts (the user text of
fixture conversations), same settings: word 3-gram shingles, 128 permutations, threshold 0.8.
Prints times (signing, LSH) and the recall of pairs whose exact shingle Jaccard is >= 0.8,
relative to all such pairs found by either tool (exact Jaccard checked for every reported pair).

    pip install datasketch
    python3 benches/minhash_vs_datasketch.py FIXTURE_DAY.jsonl.gz [N]     (default N = 20000)
"""
import gzip
import json
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
EXAMPLE = os.path.join(ROOT, "target", "release", "examples", "minhash_pairs")
WORD = re.compile(r"[\w']+", re.UNICODE)


def shingles(text, n=3):
    words = [w.lower() for w in WORD.findall(text) if w.strip("'")]
    words = [w.replace("_", " ") for w in words]
    if not words:
        return set()
    n = min(n, len(words))
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


def load(path, n):
    texts = []
    with gzip.open(path, "rb") as f:
        for raw in f:
            try:
                rec = json.loads(raw)
                msgs = rec["messages"]
            except Exception:
                continue
            user = "\n\n".join(m["content"] for m in msgs if m.get("role") == "user" and isinstance(m.get("content"), str))
            texts.append(user.replace("\n", " "))
            if len(texts) >= n:
                break
    return texts


def main():
    path = sys.argv[1]
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 20000
    texts = load(path, n)
    if not os.path.exists(EXAMPLE):
        subprocess.run(["cargo", "build", "--release", "-p", "vigil-pipeline", "--example", "minhash_pairs"], cwd=ROOT, check=True)

    from datasketch import MinHash, MinHashLSH

    start = time.perf_counter()
    sets = [shingles(t) for t in texts]
    mhs = []
    for s in sets:
        m = MinHash(num_perm=128, seed=1)
        m.update_batch([x.encode() for x in s])
        mhs.append(m)
    t_sign = time.perf_counter() - start
    start = time.perf_counter()
    lsh = MinHashLSH(threshold=0.8, num_perm=128)
    for i, m in enumerate(mhs):
        lsh.insert(str(i), m)
    ds_pairs = set()
    for i, m in enumerate(mhs):
        for key in lsh.query(m):
            j = int(key)
            if j != i:
                ds_pairs.add((min(i, j), max(i, j)))
    t_lsh = time.perf_counter() - start

    with tempfile.TemporaryDirectory() as d:
        tpath, ppath = os.path.join(d, "texts.txt"), os.path.join(d, "pairs.txt")
        with open(tpath, "w") as f:
            f.write("\n".join(texts) + "\n")
        out = subprocess.run([EXAMPLE, tpath, "0.8", ppath], check=True, capture_output=True, text=True)
        v_sign, v_lsh = map(float, out.stdout.split())
        with open(ppath) as f:
            v_pairs = {(int(a), int(b)) for a, b, _ in (line.split() for line in f)}

    def jac(i, j):
        a, b = sets[i], sets[j]
        return len(a & b) / len(a | b) if a or b else 1.0

    true = {p for p in (ds_pairs | v_pairs) if jac(*p) >= 0.8}
    recall = lambda found: len(found & true) / max(1, len(true))
    print(f"texts: {len(texts)} (user text of {os.path.basename(path)}), 128 permutations, threshold 0.8, {os.cpu_count()} cores")
    print(f"datasketch: sign {t_sign:.2f}s + LSH {t_lsh:.2f}s = {t_sign + t_lsh:.2f}s; {len(ds_pairs)} pairs, recall {recall(ds_pairs):.4f}")
    print(f"vigil:      sign {v_sign:.2f}s + LSH {v_lsh:.2f}s = {v_sign + v_lsh:.2f}s; {len(v_pairs)} pairs, recall {recall(v_pairs):.4f}")
    print(f"time ratio vigil/datasketch: {(v_sign + v_lsh) / (t_sign + t_lsh):.3f}; verified pairs at J>=0.8 (union): {len(true)}")


if __name__ == "__main__":
    main()
