//! Parents for clusters: Ward agglomeration of child centroids (weighted by child size), cut
//! at a target number of parents.
//!
//! Why Ward on centroids: the parents should be groups of similar topics of comparable weight
//! (Clio's hierarchy does the same with k-means on child embeddings); Ward is deterministic,
//! needs no seed, and with the nearest-neighbour chain it is O(n²) time for the few thousand
//! leaf clusters a night produces. Written here because it is ~80 lines and no trusted crate
//! offers weighted Ward on precomputed centroids.

/// Groups `n` children (`n × dim` row-major `centroids`, with `sizes`) into at most `target`
/// parents. Returns each child's parent index; parents are numbered by decreasing total size
/// (ties: smallest child index first).
pub fn ward_parents(centroids: &[f32], dim: usize, sizes: &[u64], target: usize) -> Vec<u32> {
    let n = sizes.len();
    assert_eq!(centroids.len(), n * dim, "centroids are n × dim");
    if n == 0 {
        return Vec::new();
    }
    let merges = nn_chain_ward(centroids, dim, sizes);
    cut(&merges, sizes, target.clamp(1, n))
}

/// Like [`ward_parents`], choosing the number of parents in `min..=max` where the dendrogram
/// has its largest relative jump in merge cost: the most natural number of groups.
pub fn ward_natural_parents(centroids: &[f32], dim: usize, sizes: &[u64], min: usize, max: usize) -> Vec<u32> {
    let n = sizes.len();
    assert_eq!(centroids.len(), n * dim, "centroids are n × dim");
    if n == 0 {
        return Vec::new();
    }
    let merges = nn_chain_ward(centroids, dim, sizes);
    let mut heights: Vec<f64> = merges.iter().map(|m| m.2).collect();
    heights.sort_by(f64::total_cmp);
    let (min, max) = (min.clamp(1, n), max.clamp(1, n));
    // Cutting to t groups applies the n - t cheapest merges; the gap is the next merge's cost
    // over the last applied one's.
    let target = (min..=max.max(min))
        .filter(|&t| t < n && t >= 1 && n - t >= 1)
        .max_by(|&a, &b| {
            let gap = |t: usize| heights[n - t] / heights[n - t - 1].max(1e-12);
            gap(a).total_cmp(&gap(b)).then(b.cmp(&a))
        })
        .unwrap_or(min);
    cut(&merges, sizes, target)
}

/// Applies the cheapest merges until `target` groups remain; numbers the groups.
fn cut(merges: &[(usize, usize, f64)], sizes: &[u64], target: usize) -> Vec<u32> {
    let n = sizes.len();
    // Ward is reducible, so replaying the chain's merges by increasing cost gives the
    // dendrogram.
    let mut order: Vec<usize> = (0..merges.len()).collect();
    order.sort_by(|&a, &b| merges[a].2.total_cmp(&merges[b].2).then(a.cmp(&b)));
    let mut parent: Vec<usize> = (0..n).collect();
    fn find(parent: &mut [usize], mut x: usize) -> usize {
        while parent[x] != x {
            parent[x] = parent[parent[x]];
            x = parent[x];
        }
        x
    }
    for &m in order.iter().take(n - target) {
        let (a, b, _) = merges[m];
        let (ra, rb) = (find(&mut parent, a), find(&mut parent, b));
        parent[ra.max(rb)] = ra.min(rb);
    }
    let roots: Vec<usize> = (0..n).map(|i| find(&mut parent, i)).collect();
    let mut totals: Vec<(u64, usize)> = Vec::new();
    let mut root_slot = vec![usize::MAX; n];
    for (i, &r) in roots.iter().enumerate() {
        if root_slot[r] == usize::MAX {
            root_slot[r] = totals.len();
            totals.push((0, i));
        }
        totals[root_slot[r]].0 += sizes[i];
    }
    let mut ranked: Vec<usize> = (0..totals.len()).collect();
    ranked.sort_by(|&a, &b| totals[b].0.cmp(&totals[a].0).then(totals[a].1.cmp(&totals[b].1)));
    let mut rank = vec![0u32; totals.len()];
    for (r, &slot) in ranked.iter().enumerate() {
        rank[slot] = r as u32;
    }
    roots.iter().map(|&r| rank[root_slot[r]]).collect()
}

/// Merges `(a, b, cost)` of Ward's method by the nearest-neighbour chain. Cluster slots are
/// child indices; after merging, the union lives in the smaller slot.
fn nn_chain_ward(centroids: &[f32], dim: usize, sizes: &[u64]) -> Vec<(usize, usize, f64)> {
    let n = sizes.len();
    let idx = |i: usize, j: usize| if i < j { i * n + j } else { j * n + i };
    // Full matrix (upper half used): simple indexing; n is in the low thousands.
    let mut d = vec![0.0f64; n * n];
    for i in 0..n {
        for j in i + 1..n {
            let (wi, wj) = (sizes[i].max(1) as f64, sizes[j].max(1) as f64);
            let e: f64 = centroids[i * dim..(i + 1) * dim]
                .iter()
                .zip(&centroids[j * dim..(j + 1) * dim])
                .map(|(a, b)| f64::from(a - b).powi(2))
                .sum();
            d[i * n + j] = wi * wj / (wi + wj) * e;
        }
    }
    let mut weight: Vec<f64> = sizes.iter().map(|&s| s.max(1) as f64).collect();
    let mut active = vec![true; n];
    let mut merges = Vec::with_capacity(n.saturating_sub(1));
    let mut chain: Vec<usize> = Vec::new();
    for _ in 0..n.saturating_sub(1) {
        if chain.is_empty() {
            chain.push(active.iter().position(|&a| a).expect("an active cluster remains"));
        }
        loop {
            let top = *chain.last().expect("non-empty");
            let prev = chain.len().checked_sub(2).map(|i| chain[i]);
            // Nearest active neighbour; prefer the previous chain element on ties so the
            // chain terminates.
            let mut best = prev.unwrap_or(usize::MAX);
            let mut best_d = prev.map_or(f64::INFINITY, |p| d[idx(top, p)]);
            for j in 0..n {
                if j != top && active[j] && d[idx(top, j)] < best_d {
                    best = j;
                    best_d = d[idx(top, j)];
                }
            }
            if Some(best) == prev {
                chain.pop();
                chain.pop();
                let (a, b) = (top.min(best), top.max(best));
                merges.push((a, b, best_d));
                // Lance–Williams update for Ward's merge cost.
                let (wa, wb) = (weight[a], weight[b]);
                for k in 0..n {
                    if active[k] && k != a && k != b {
                        let wk = weight[k];
                        let v = ((wa + wk) * d[idx(k, a)] + (wb + wk) * d[idx(k, b)] - wk * best_d) / (wa + wb + wk);
                        d[idx(k, a)] = v;
                    }
                }
                weight[a] = wa + wb;
                active[b] = false;
                break;
            }
            chain.push(best);
        }
    }
    merges
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_nearby_children_and_ranks_parents_by_size() {
        // Three tight groups on a line; the middle one is heaviest.
        let centroids = [0.0f32, 0.1, 0.2, 10.0, 10.1, 20.0, 20.2, 20.1];
        let sizes = [1, 1, 1, 50, 50, 2, 2, 2];
        let parents = ward_parents(&centroids, 1, &sizes, 3);
        assert_eq!(parents, [2, 2, 2, 0, 0, 1, 1, 1]);
        assert_eq!(ward_parents(&centroids, 1, &sizes, 1), [0; 8]);
        assert_eq!(ward_parents(&centroids, 1, &sizes, 8).iter().collect::<std::collections::HashSet<_>>().len(), 8);
        assert!(ward_parents(&[], 4, &[], 3).is_empty());
        // Three well separated groups: the natural cut finds them within a wide range.
        assert_eq!(ward_natural_parents(&centroids, 1, &sizes, 2, 6), [2, 2, 2, 0, 0, 1, 1, 1]);
    }

    #[test]
    fn matches_greedy_ward_on_random_points() {
        // The O(n³) textbook algorithm: always merge the globally cheapest pair.
        let mut x = 12345u64;
        let mut rnd = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x % 1000) as f32 / 100.0
        };
        let n = 40;
        let pts: Vec<f32> = (0..n * 2).map(|_| rnd()).collect();
        let sizes: Vec<u64> = (0..n as u64).map(|i| 1 + i % 5).collect();
        for target in [2, 5, 11] {
            let fast = ward_parents(&pts, 2, &sizes, target);
            let mut groups: Vec<(Vec<usize>, f64, [f64; 2])> = (0..n)
                .map(|i| (vec![i], sizes[i] as f64, [f64::from(pts[2 * i]), f64::from(pts[2 * i + 1])]))
                .collect();
            while groups.len() > target {
                let mut best = (f64::INFINITY, 0, 0);
                for a in 0..groups.len() {
                    for b in a + 1..groups.len() {
                        let (wa, wb) = (groups[a].1, groups[b].1);
                        let e = (groups[a].2[0] - groups[b].2[0]).powi(2) + (groups[a].2[1] - groups[b].2[1]).powi(2);
                        let cost = wa * wb / (wa + wb) * e;
                        if cost < best.0 {
                            best = (cost, a, b);
                        }
                    }
                }
                let (_, a, b) = best;
                let gb = groups.remove(b);
                let ga = &mut groups[a];
                let w = ga.1 + gb.1;
                ga.2 = [(ga.2[0] * ga.1 + gb.2[0] * gb.1) / w, (ga.2[1] * ga.1 + gb.2[1] * gb.1) / w];
                ga.1 = w;
                ga.0.extend(gb.0);
            }
            for g in &groups {
                let p = fast[g.0[0]];
                assert!(g.0.iter().all(|&i| fast[i] == p), "target {target}: group {:?} split in {fast:?}", g.0);
            }
        }
    }
}
