//! Integration tests: the real `vigil` binary on generated fixtures, with the Parquet read
//! back. One test binary, a module per area.

mod util;

mod campaigns;
mod cli;
mod ingest;
mod jobs;
mod nightly;
mod policy;
mod python_readers;
mod query;
mod redact;
mod weekly;
