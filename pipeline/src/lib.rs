//! Vigil: misuse analytics over AI-assistant conversation logs.
//!
//! ```text
//!  JSONL (.gz/.zst)       ┌────────────── ingest ──────────────┐      warehouse (Hive Parquet)
//!  native | hh-rlhf ───▶  │ read → parse → pseudonymize → redact│ ───▶ conversations/date=…/
//!                         │   (rayon over chunks, ordered write)│      messages/date=…/
//!                         └─────────────────────────────────────┘      quarantine/date=…/
//!                                                                            │
//!        nightly: facets → embeddings → clusters → campaigns  ◀──────────────┘
//!        weekly:  k-anonymous report
//! ```
//!
//! The library is organised one module per stage; each has a config and one entry point.
//! Today: [`ingest`], [`redact`], [`pseudonym`], [`warehouse`]; for the nightly analysis,
//! [`embed`] (hashed n-gram TF-IDF embeddings) and [`cluster`] (HDBSCAN); for campaign
//! detection, [`coordinate`] (MinHash LSH near-duplicates).
//!
//! ```
//! let redactor = vigil::redact::Redactor::new().unwrap();
//! assert_eq!(redactor.redact("mail jane@example.com"), "mail [EMAIL]");
//! ```
#![deny(missing_docs)]

pub mod access;
pub mod cluster;
pub mod coordinate;
mod dense;
pub mod embed;
mod error;
pub mod escrow;
mod hex;
mod key_text;
pub mod killpoint;
pub mod manifest;
pub mod facets;
pub mod ingest;
pub mod lang;
pub mod ledger;
mod linalg;
mod model_files;
pub mod nightly;
pub mod privacy;
pub mod pseudonym;
pub mod query;
pub mod random;
pub mod redact;
pub mod report;
pub mod schema;
pub mod summarize;
pub mod text;
pub mod warehouse;

pub use error::{Error, Result};
