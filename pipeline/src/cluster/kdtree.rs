//! A KD-tree over `f32` points for the two queries HDBSCAN needs: k nearest neighbours (core
//! distances) and "nearest point in another component" (Borůvka rounds).
//!
//! Points are copied into tree order so a leaf's points are contiguous in memory; node
//! bounding boxes prune whole subtrees.

/// Points per leaf: small enough to prune well, large enough that a leaf scan is a tight loop.
const LEAF_SIZE: usize = 24;

pub(crate) struct KdTree {
    pub dim: usize,
    /// Points in tree order, `n × dim`.
    pub points: Vec<f32>,
    /// `order[i]`: original index of the point at tree position `i`.
    pub order: Vec<u32>,
    pub nodes: Vec<Node>,
    /// Bounding boxes, `nodes × dim` each.
    pub lo: Vec<f32>,
    pub hi: Vec<f32>,
}

#[derive(Clone, Copy)]
pub(crate) struct Node {
    pub start: u32,
    pub end: u32,
    /// Children (0 for a leaf; the root is never a child).
    pub left: u32,
    pub right: u32,
}

impl Node {
    pub fn is_leaf(&self) -> bool {
        self.left == 0
    }
}

impl KdTree {
    pub fn build(data: &[f32], dim: usize) -> Self {
        let n = data.len() / dim;
        let mut order: Vec<u32> = (0..n as u32).collect();
        let mut tree = KdTree { dim, points: Vec::new(), order: Vec::new(), nodes: Vec::new(), lo: Vec::new(), hi: Vec::new() };
        if n > 0 {
            tree.build_node(data, &mut order, 0, n);
        }
        tree.points = Vec::with_capacity(n * dim);
        for &i in &order {
            tree.points.extend_from_slice(&data[i as usize * dim..(i as usize + 1) * dim]);
        }
        tree.order = order;
        tree
    }

    fn build_node(&mut self, data: &[f32], order: &mut [u32], start: usize, end: usize) -> u32 {
        let dim = self.dim;
        let id = self.nodes.len() as u32;
        self.nodes.push(Node { start: start as u32, end: end as u32, left: 0, right: 0 });
        let (mut lo, mut hi) = (vec![f32::INFINITY; dim], vec![f32::NEG_INFINITY; dim]);
        for &i in &order[start..end] {
            let p = &data[i as usize * dim..(i as usize + 1) * dim];
            for k in 0..dim {
                lo[k] = lo[k].min(p[k]);
                hi[k] = hi[k].max(p[k]);
            }
        }
        let split_dim = (0..dim).max_by(|&a, &b| (hi[a] - lo[a]).total_cmp(&(hi[b] - lo[b]))).unwrap_or(0);
        let spread = hi[split_dim] - lo[split_dim];
        self.lo.extend_from_slice(&lo);
        self.hi.extend_from_slice(&hi);
        if end - start <= LEAF_SIZE || spread <= 0.0 {
            return id;
        }
        let mid = start + (end - start) / 2;
        order[start..end].select_nth_unstable_by(mid - start, |&a, &b| {
            data[a as usize * dim + split_dim].total_cmp(&data[b as usize * dim + split_dim])
        });
        let left = self.build_node(data, order, start, mid);
        let right = self.build_node(data, order, mid, end);
        self.nodes[id as usize].left = left;
        self.nodes[id as usize].right = right;
        id
    }

    pub fn len(&self) -> usize {
        self.order.len()
    }

    /// The point at tree position `i`.
    pub fn point(&self, i: usize) -> &[f32] {
        &self.points[i * self.dim..(i + 1) * self.dim]
    }

    /// Squared distance from `q` to node `node`'s bounding box.
    #[inline]
    pub fn box_dist2(&self, node: usize, q: &[f32]) -> f32 {
        let (lo, hi) = (&self.lo[node * self.dim..(node + 1) * self.dim], &self.hi[node * self.dim..(node + 1) * self.dim]);
        let mut d = 0.0;
        for k in 0..self.dim {
            let v = if q[k] < lo[k] {
                lo[k] - q[k]
            } else if q[k] > hi[k] {
                q[k] - hi[k]
            } else {
                0.0
            };
            d += v * v;
        }
        d
    }

    /// Squared distances to the `k` nearest points of tree position `i` (itself included),
    /// ascending, written into `out` (length `k`).
    pub fn knn_dist2(&self, i: usize, k: usize, out: &mut Vec<f32>) {
        out.clear();
        out.resize(k, f32::INFINITY);
        self.knn_visit(0, self.point(i), out);
    }

    fn knn_visit(&self, node: usize, q: &[f32], best: &mut [f32]) {
        let worst = best[best.len() - 1];
        if self.box_dist2(node, q) >= worst && worst.is_finite() {
            return;
        }
        let n = self.nodes[node];
        if n.is_leaf() {
            for j in n.start as usize..n.end as usize {
                let d = dist2(q, self.point(j));
                if d < best[best.len() - 1] {
                    // Insertion into the sorted list of the k best.
                    let mut pos = best.len() - 1;
                    while pos > 0 && best[pos - 1] > d {
                        best[pos] = best[pos - 1];
                        pos -= 1;
                    }
                    best[pos] = d;
                }
            }
            return;
        }
        let (l, r) = (n.left as usize, n.right as usize);
        let (dl, dr) = (self.box_dist2(l, q), self.box_dist2(r, q));
        let (first, second) = if dl <= dr { (l, r) } else { (r, l) };
        self.knn_visit(first, q, best);
        self.knn_visit(second, q, best);
    }
}

#[inline]
pub(crate) fn dist2(a: &[f32], b: &[f32]) -> f32 {
    let mut d = 0.0;
    for k in 0..a.len() {
        let v = a[k] - b[k];
        d += v * v;
    }
    d
}
