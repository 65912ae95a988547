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
    /// A SQL statement failed in the user's terms: a time limit, a memory limit, a bad
    /// parameter.
    #[error("query: {0}")]
    Query(String),
    /// A statement that would change the warehouse (DDL, DML, COPY, SET): the warehouse is
    /// read-only to SQL.
    #[error("query refused: the warehouse is read-only here; only queries run (SELECT, WITH, EXPLAIN, SHOW, DESCRIBE) — {0} is not one")]
    Refused(String),
    /// DataFusion failed planning or running a statement. Its error is kept typed (callers
    /// match on it, e.g. `find_root()`), and shown in this error's message rather than as
    /// `source()`: DataFusion's messages already include their own causes, and the CLI prints
    /// the whole chain, which would repeat them.
    #[error("{context}: {error}")]
    DataFusion {
        /// What Vigil was doing.
        context: String,
        /// DataFusion's error.
        error: Box<datafusion::error::DataFusionError>,
    },
    /// A stage's own invariant broke: mismatched shapes between steps, values that cannot
    /// occur, a worker thread that panicked, a graph the community detection rejected. A bug
    /// (or memory corruption), never a problem with the configuration or the input records.
    #[error("internal error in {stage}: {message} (a bug: please report it with the run manifest)")]
    Internal {
        /// The stage (`hdbscan`, `campaign graph`, `ingest reader`, ...).
        stage: &'static str,
        /// What broke.
        message: String,
    },
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

    pub(crate) fn internal(stage: &'static str, message: impl std::fmt::Display) -> Self {
        Error::Internal { stage, message: message.to_string() }
    }

    pub(crate) fn datafusion(context: impl std::fmt::Display, source: datafusion::error::DataFusionError) -> Self {
        Error::DataFusion { context: context.to_string(), error: Box::new(source) }
    }
}
