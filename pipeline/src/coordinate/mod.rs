//! Coordination between accounts: near-duplicate text (MinHash LSH) and campaign detection
//! over an IDF-weighted account graph.

pub mod campaigns;
mod minhash;
mod simhash;

pub use campaigns::{detect, CampaignConfig, Group, Input};
pub use minhash::{estimated_jaccard, exact_jaccard, shingle_hashes, MinHashConfig, MinHasher};
