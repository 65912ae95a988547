//! Clustering: density clustering (HDBSCAN) of embedding vectors, and labeling agreement.

mod hdbscan;
mod kdtree;
mod metrics;

pub use hdbscan::{hdbscan, HdbscanConfig};
pub use metrics::adjusted_rand_index;
