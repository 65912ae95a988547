//! Arrow schemas of the warehouse tables (the contract in DESIGN.md, plus extra columns).
//!
//! The `date` partition column is not stored in the files: it is the Hive directory
//! `date=YYYY-MM-DD`, which DuckDB, Polars, pyarrow, Spark and DataFusion all read back.

use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use arrow::array::{ListBuilder, RecordBatch, StringBuilder, TimestampMicrosecondBuilder};
use arrow::datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit};
use chrono::NaiveDate;

use crate::redact::PiiKind;
use crate::warehouse::for_each_contract_batch;

mod campaigns;
mod clusters;
mod topics;

pub use campaigns::{
    campaigns_batch, for_each_member, members_batch, read_campaigns, CampaignKind, CampaignRow, CampaignStatus, MemberRef, CAMPAIGNS, CAMPAIGN_MEMBERS,
};
pub use clusters::{clusters_batch, read_clusters, ClusterRow, CLUSTERS};
pub use topics::{for_each_topic_day, read_topics, topic_daily_batch, topics_batch, Event, LineageEntry, Topic, TopicDay, TOPICS, TOPIC_DAILY};

/// Table names, as they appear as directories under the warehouse root.
pub mod table {
    /// One row per conversation (restricted zone).
    pub const CONVERSATIONS: &str = "conversations";
    /// One row per message (restricted zone).
    pub const MESSAGES: &str = "messages";
    /// One row per rejected input record, with the reason (restricted zone).
    pub const QUARANTINE: &str = "quarantine";
    /// Per-conversation facets: request, task, policy area, concern (restricted zone).
    pub const FACETS: &str = "facets";
    /// Per-conversation embedding vectors (restricted zone).
    pub const EMBEDDINGS: &str = "embeddings";
    /// Per-account usage summaries over the window (restricted zone).
    pub const ACCOUNTS: &str = "accounts";
    /// Clusters at every level with k-anonymous names and summaries (aggregate zone).
    pub const CLUSTERS: &str = "clusters";
    /// Which conversation belongs to which cluster (restricted zone).
    pub const CLUSTER_MEMBERS: &str = "cluster_members";
    /// Coordinated campaigns found in the window (restricted zone: names accounts' behaviour).
    pub const CAMPAIGNS: &str = "campaigns";
    /// Which account and conversation belongs to which campaign (restricted zone).
    pub const CAMPAIGN_MEMBERS: &str = "campaign_members";
    /// Raw account and org ids, each encrypted to the reveal key (restricted zone; only
    /// `vigil reveal` with shares from two key holders can read them).
    pub const IDENTITIES: &str = "identities";
    /// The topic catalogue as of each night: stable topic ids, names, centroids and lineage
    /// (aggregate zone; one snapshot per nightly run).
    pub const TOPICS: &str = "topics";
    /// Conversations and accounts per topic and window day, as each nightly run's clusters
    /// place them (aggregate zone).
    pub const TOPIC_DAILY: &str = "topic_daily";
    /// Restricted tables: per-conversation or per-account rows.
    pub const RESTRICTED: &[&str] =
        &[CONVERSATIONS, MESSAGES, QUARANTINE, FACETS, EMBEDDINGS, ACCOUNTS, CLUSTER_MEMBERS, CAMPAIGNS, CAMPAIGN_MEMBERS, IDENTITIES];
    /// Aggregate tables: k-anonymous by construction.
    pub const AGGREGATE: &[&str] = &[CLUSTERS, TOPICS, TOPIC_DAILY];
}

/// How the tables store time: timestamps as µs since the epoch (UTC), days as Arrow's `Date32`.
/// UTC day of a µs timestamp.
pub fn day_of_micros(micros: i64) -> NaiveDate {
    chrono::DateTime::from_timestamp_micros(micros).map_or(NaiveDate::MIN, |t| t.date_naive())
}

/// A date as Arrow's `Date32` stores it: days since 1970-01-01.
pub fn days_since_epoch(d: NaiveDate) -> i32 {
    d.to_epoch_days()
}

/// The date of a `Date32` value; `None` beyond what chrono can hold.
pub fn date_of_days(days: i32) -> Option<NaiveDate> {
    NaiveDate::from_epoch_days(days)
}

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

/// A builder of a [`utc_micros`] column.
pub(crate) fn utc_micros_builder() -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::new().with_timezone("UTC")
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

/// Separates the user turns joined in `conversations.user_text`. Ingest folds every blank line
/// inside a turn to one line break, so the separator only ever stands between turns and
/// [`user_turns`] gives them back as they were joined.
pub const USER_TURN_SEPARATOR: &str = "\n\n";

/// The user turns of a `conversations.user_text` value, in order, blank ones skipped.
pub fn user_turns(user_text: &str) -> impl Iterator<Item = &str> {
    user_text.split(USER_TURN_SEPARATOR).filter(|turn| !turn.trim().is_empty())
}

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

fn utf8_list() -> DataType {
    DataType::List(Arc::new(utf8_item()))
}

fn utf8_item() -> Field {
    Field::new("item", DataType::Utf8, true)
}

/// A builder of a [`utf8_list`] column.
pub(crate) fn utf8_list_builder() -> ListBuilder<StringBuilder> {
    ListBuilder::new(StringBuilder::new()).with_field(Arc::new(utf8_item()))
}

/// Streams every column of a table's files, in the contract's order and checked against it
/// (see [`for_each_contract_batch`]): the typed readers' one way in.
fn for_each_whole_batch(files: &[PathBuf], contract: &Schema, each: impl FnMut(&Path, RecordBatch) -> crate::error::Result<()>) -> crate::error::Result<()> {
    let columns: Vec<&str> = contract.fields().iter().map(|f| f.name().as_str()).collect();
    for_each_contract_batch(files, contract, &columns, each)
}

/// `facets`: one row per conversation, partitioned by the conversation's day.
pub static FACETS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("conversation_id", DataType::Utf8, false),
        Field::new("account_id", DataType::Utf8, false),
        Field::new("created_at", utc_micros(), false),
        Field::new("language", DataType::Utf8, false),
        Field::new("turns", DataType::Int32, false),
        Field::new("user_chars", DataType::Int32, false),
        Field::new("assistant_chars", DataType::Int32, false),
        Field::new("request", DataType::Utf8, false),
        Field::new("task", DataType::Utf8, false),
        Field::new("keywords", utf8_list(), false),
        Field::new("policy_area", DataType::Utf8, false),
        Field::new("policy_score", DataType::Float32, false),
        Field::new("concern", DataType::Int32, false),
        Field::new("taxonomy", DataType::Utf8, false),
    ]))
});

/// `embeddings`: one row per conversation; `vector` is the unit vector quantized to int8
/// (`round(x * 127)`): a quarter of the float size, cosine error below 0.01.
pub fn embeddings(dim: usize) -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("conversation_id", DataType::Utf8, false),
        Field::new("model", DataType::Utf8, false),
        Field::new("vector", DataType::FixedSizeList(Arc::new(Field::new("item", DataType::Int8, false)), dim as i32), false),
    ]))
}

/// `accounts`: one row per account active in the window ending on the partition date.
pub static ACCOUNTS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("account_id", DataType::Utf8, false),
        Field::new("window_start", DataType::Date32, false),
        Field::new("window_end", DataType::Date32, false),
        Field::new("conversations", DataType::Int32, false),
        Field::new("active_days", DataType::Int32, false),
        Field::new("first_seen", utc_micros(), false),
        Field::new("last_seen", utc_micros(), false),
        Field::new("languages", utf8_list(), false),
        Field::new("task_mix", DataType::Utf8, false),
        Field::new("policy_mix", DataType::Utf8, false),
        Field::new("peak_concern", DataType::Int32, false),
        Field::new("mean_concern", DataType::Float32, false),
        Field::new("hour_profile", DataType::List(Arc::new(Field::new("item", DataType::Int32, false))), false),
        Field::new("top_clusters", utf8_list(), false),
        Field::new("representative", utf8_list(), false),
        Field::new("summary", DataType::Utf8, false),
    ]))
});


/// `cluster_members`: one row per conversation and level of the hierarchy.
pub static CLUSTER_MEMBERS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("cluster_id", DataType::Utf8, false),
        Field::new("conversation_id", DataType::Utf8, false),
        Field::new("account_id", DataType::Utf8, false),
        Field::new("level", DataType::Int32, false),
        Field::new("similarity", DataType::Float32, false),
    ]))
});

/// `identities`: one row per escrowed pseudonym, partitioned by the ingest run's date.
pub static IDENTITIES: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("pseudonym", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("ciphertext", DataType::Binary, false),
        Field::new("data_key", DataType::Binary, false),
        Field::new("first_seen", utc_micros(), false),
    ]))
});

/// The contract schema of a table whose columns do not depend on configuration (every table
/// but `embeddings`, whose vector width is the configured dimension).
pub fn of_table(name: &str) -> Option<SchemaRef> {
    let schema = match name {
        table::CONVERSATIONS => &CONVERSATIONS,
        table::MESSAGES => &MESSAGES,
        table::QUARANTINE => &QUARANTINE,
        table::FACETS => &FACETS,
        table::ACCOUNTS => &ACCOUNTS,
        table::CLUSTERS => &CLUSTERS,
        table::CLUSTER_MEMBERS => &CLUSTER_MEMBERS,
        table::CAMPAIGNS => &CAMPAIGNS,
        table::CAMPAIGN_MEMBERS => &CAMPAIGN_MEMBERS,
        table::IDENTITIES => &IDENTITIES,
        table::TOPICS => &TOPICS,
        table::TOPIC_DAILY => &TOPIC_DAILY,
        _ => return None,
    };
    Some(SchemaRef::clone(schema))
}
