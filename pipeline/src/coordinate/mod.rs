//! Coordination signals between accounts. Today: near-duplicate text (MinHash LSH).

mod minhash;

pub use minhash::{estimated_jaccard, exact_jaccard, shingle_hashes, MinHashConfig, MinHasher};
