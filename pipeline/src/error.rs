//! The library's one error type, with variants by phase.
//!
//! Record-level problems in input data are *not* errors: they become quarantine rows (see
//! [`crate::ingest`]). An [`Error`] means the job itself cannot go on: a missing key, an
//! unreadable warehouse, a failed write.

use std::path::PathBuf;

/// Result with the library's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can stop a Vigil job.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pseudonym key is missing or malformed.
    #[error("pseudonym key: {0}")]
    Key(String),
    /// A configuration value is invalid.
    #[error("config: {0}")]
    Config(String),
    /// An input file could not be opened or read at all.
    #[error("input {path}: {source}")]
    Input {
        /// The input file.
        path: PathBuf,
        /// What went wrong.
        source: std::io::Error,
    },
    /// The warehouse directory is unusable or a partition could not be published.
    #[error("warehouse {path}: {message}")]
    Warehouse {
        /// The file or directory involved.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Another run holds the warehouse lock.
    #[error("warehouse is locked by another run ({0}); wait for it or remove a stale lock")]
    Locked(PathBuf),
    /// A redaction pattern failed to compile (a bug, or a bad custom pattern).
    #[error("redaction pattern: {0}")]
    Pattern(String),
    /// A learned model's files are missing, altered or unreadable, or inference failed.
    #[error("model {path}: {message}")]
    Model {
        /// The model directory or file involved.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// The chain of custody refuses the run: a key other than the warehouse's, or a ledger
    /// that cannot be appended to.
    #[error("custody: {0}")]
    Custody(String),
    /// A reveal was refused: too few or mismatched shares, no reason, unknown pseudonyms.
    #[error("reveal refused: {0}")]
    Reveal(String),
    /// A SQL statement failed or was refused.
    #[error("query: {0}")]
    Query(String),
    /// Arrow error.
    #[error(transparent)]
    Arrow(#[from] arrow::error::ArrowError),
    /// Parquet error.
    #[error(transparent)]
    Parquet(#[from] parquet::errors::ParquetError),
    /// I/O error not tied to one input file.
    #[error(transparent)]
    Io(#[from] std::io::Error),
    /// JSON error outside record parsing (manifests, ledgers).
    #[error(transparent)]
    Json(#[from] serde_json::Error),
}

impl Error {
    pub(crate) fn model(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        Error::Model { path: path.into(), message: message.to_string() }
    }

    pub(crate) fn warehouse(path: impl Into<PathBuf>, message: impl std::fmt::Display) -> Self {
        Error::Warehouse { path: path.into(), message: message.to_string() }
    }
}
