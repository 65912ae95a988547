//! Clustering: PCA to a few dimensions, density clustering (HDBSCAN) into leaf clusters, Ward
//! agglomeration of leaf centroids into parents, and labeling agreement (ARI).

mod hdbscan;
mod hierarchy;
mod kdtree;
mod metrics;
mod reduce;

pub use hdbscan::{hdbscan, HdbscanConfig};
pub use hierarchy::{ward_natural_parents, ward_parents};
pub use metrics::adjusted_rand_index;
pub use reduce::Pca;
