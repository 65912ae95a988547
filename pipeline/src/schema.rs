//! Arrow schemas of the warehouse tables (the contract in DESIGN.md, plus extra columns).
//!
//! The `date` partition column is not stored in the files: it is the Hive directory
//! `date=YYYY-MM-DD`, which DuckDB, Polars, pyarrow, Spark and DataFusion all read back.

use std::sync::{Arc, LazyLock};

use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};

use crate::redact::PiiKind;

/// Table names, as they appear as directories under the warehouse root.
pub mod table {
    /// One row per conversation (restricted zone).
    pub const CONVERSATIONS: &str = "conversations";
    /// One row per message (restricted zone).
    pub const MESSAGES: &str = "messages";
    /// One row per rejected input record, with the reason (restricted zone).
    pub const QUARANTINE: &str = "quarantine";
}

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// Fields of the `pii` struct column: one count per [`PiiKind`].
pub fn pii_fields() -> Fields {
    PiiKind::ALL.iter().map(|k| Field::new(k.column(), DataType::Int32, false)).collect()
}

/// `conversations`: one row per conversation, identifiers pseudonymized, text redacted.
pub static CONVERSATIONS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("conversation_id", DataType::Utf8, false),
        Field::new("account_id", DataType::Utf8, false),
        Field::new("org_id", DataType::Utf8, true),
        Field::new("created_at", utc_micros(), false),
        Field::new("client", DataType::Utf8, true),
        Field::new("ip_prefix", DataType::Utf8, true),
        Field::new("user_agent", DataType::Utf8, true),
        Field::new("user_agent_family", DataType::Utf8, true),
        Field::new("language", DataType::Utf8, false),
        Field::new("turns", DataType::Int32, false),
        Field::new("message_count", DataType::Int32, false),
        Field::new("user_chars", DataType::Int32, false),
        Field::new("assistant_chars", DataType::Int32, false),
        Field::new("user_text", DataType::Utf8, false),
        Field::new("pii", DataType::Struct(pii_fields()), false),
        Field::new("pii_total", DataType::Int32, false),
        Field::new("metadata", DataType::Utf8, true),
        Field::new("source", DataType::Utf8, false),
        Field::new("source_line", DataType::Int64, false),
    ]))
});

/// `messages`: one row per message, content redacted.
pub static MESSAGES: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("conversation_id", DataType::Utf8, false),
        Field::new("idx", DataType::Int32, false),
        Field::new("role", DataType::Utf8, false),
        Field::new("content", DataType::Utf8, false),
        Field::new("chars", DataType::Int32, false),
        Field::new("pii_total", DataType::Int32, false),
    ]))
});

/// `quarantine`: rejected records with a reason; `raw` is redacted and truncated.
pub static QUARANTINE: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("source", DataType::Utf8, false),
        Field::new("line", DataType::Int64, false),
        Field::new("reason_code", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new("raw", DataType::Utf8, false),
        Field::new("record_key", DataType::Utf8, false),
    ]))
});
