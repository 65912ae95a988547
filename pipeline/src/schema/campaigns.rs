//! The `campaigns` and `campaign_members` tables, defined once: their Arrow schemas, the closed
//! sets their `kind` and `status` columns hold, a typed row, the batch builders nightly writes
//! with and the readers nightly, the report and the CLI read with.
//!
//! A file whose columns are missing, of another type, null where the contract says never, or
//! hold a kind or status outside the sets below is one error naming the file and the column,
//! whoever reads it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use arrow::array::{Array, ArrayRef, AsArray, Float32Builder, Int64Builder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Float32Type, Int64Type, Schema, SchemaRef, TimestampMicrosecondType};
use serde::{Deserialize, Serialize};

use super::{for_each_whole_batch, utc_micros, utc_micros_builder};
use crate::error::{Error, Result};

/// `campaigns`: one row per campaign active in the window ending on the partition date, plus
/// `status = 'ended'` rows for the previous night's campaigns not found again.
pub static CAMPAIGNS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("campaign_id", DataType::Utf8, false),
        Field::new("status", DataType::Utf8, false),
        Field::new("kind", DataType::Utf8, false),
        Field::new("score", DataType::Float32, false),
        Field::new("accounts", DataType::Int64, false),
        Field::new("conversations", DataType::Int64, false),
        Field::new("previous_accounts", DataType::Int64, true),
        Field::new("first_seen", utc_micros(), false),
        Field::new("last_seen", utc_micros(), false),
        Field::new("summary", DataType::Utf8, false),
        Field::new("evidence", DataType::Utf8, false),
    ]))
});

/// `campaign_members`: one row per campaign conversation.
pub static CAMPAIGN_MEMBERS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("campaign_id", DataType::Utf8, false),
        Field::new("account_id", DataType::Utf8, false),
        Field::new("conversation_id", DataType::Utf8, false),
        Field::new("created_at", utc_micros(), false),
    ]))
});

/// What a coordinated group is doing (the `kind` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignKind {
    /// Content for an audience in voices not the requesters' own, about public affairs.
    Influence,
    /// Bulk promotional or deceptive messages, varied to evade filters.
    Spam,
    /// Scams and fraud: the payload rather than the delivery.
    Fraud,
    /// One fixed text with nothing of concern: a class's homework, a company tool's template.
    BenignAutomation,
    /// Similar accounts with no clearer kind.
    Other,
}

impl CampaignKind {
    /// Every kind.
    pub const ALL: [CampaignKind; 5] = [Self::Influence, Self::Spam, Self::Fraud, Self::BenignAutomation, Self::Other];

    /// The contract's string, as stored in `campaigns.kind`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Influence => "influence",
            Self::Spam => "spam",
            Self::Fraud => "fraud",
            Self::BenignAutomation => "benign_automation",
            Self::Other => "other",
        }
    }

    /// The kind a contract string names.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Kinds a policy area can stand for (its `role` in the taxonomy): a group whose
    /// conversations are mostly in that area is of that kind.
    pub fn is_area_role(self) -> bool {
        matches!(self, Self::Influence | Self::Spam | Self::Fraud)
    }

    /// Misuse, as opposed to benign automation.
    pub fn is_misuse(self) -> bool {
        self != Self::BenignAutomation
    }

    /// Ordinary users of common phrasing, unless shown otherwise: `benign_automation` and
    /// `other`.
    pub fn is_benign(self) -> bool {
        matches!(self, Self::BenignAutomation | Self::Other)
    }
}

impl fmt::Display for CampaignKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A campaign's status on the night of the partition (the `status` column).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    /// Not matched to any campaign of the previous night.
    New,
    /// The same campaign as one of the previous night's (by member overlap).
    Continuing,
    /// Active the previous night, not found tonight.
    Ended,
}

impl CampaignStatus {
    /// Every status.
    pub const ALL: [CampaignStatus; 3] = [Self::New, Self::Continuing, Self::Ended];

    /// The contract's string, as stored in `campaigns.status`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::New => "new",
            Self::Continuing => "continuing",
            Self::Ended => "ended",
        }
    }

    /// The status a contract string names.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl fmt::Display for CampaignStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One `campaigns` row.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignRow {
    /// Stable id (`camp-…`).
    pub id: String,
    /// Its status on the partition's night.
    pub status: CampaignStatus,
    /// What it is doing.
    pub kind: CampaignKind,
    /// Detection score, 0–1.
    pub score: f32,
    /// Member accounts.
    pub accounts: i64,
    /// Member conversations (for ended campaigns: as last seen).
    pub conversations: i64,
    /// Accounts the previous night, if it was seen then.
    pub previous_accounts: Option<i64>,
    /// First activity (µs since the epoch, UTC), carried over from earlier nights.
    pub first_seen: i64,
    /// Last activity (µs).
    pub last_seen: i64,
    /// Narrative (redacted text only).
    pub summary: String,
    /// Machine-readable evidence (JSON).
    pub evidence: String,
}

/// One `campaign_members` row, borrowed from the batch it was read from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemberRef<'a> {
    /// The campaign.
    pub campaign_id: &'a str,
    /// The member conversation's account (pseudonym).
    pub account_id: &'a str,
    /// The member conversation.
    pub conversation_id: &'a str,
    /// When the conversation started (µs).
    pub created_at: i64,
}

/// Builds a `campaigns` batch.
pub fn campaigns_batch<'a>(rows: impl IntoIterator<Item = &'a CampaignRow>) -> Result<RecordBatch> {
    let (mut id, mut status, mut kind) = (StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    let mut score = Float32Builder::new();
    let (mut accounts, mut conversations, mut previous) = (Int64Builder::new(), Int64Builder::new(), Int64Builder::new());
    let (mut first, mut last) = (utc_micros_builder(), utc_micros_builder());
    let (mut summary, mut evidence) = (StringBuilder::new(), StringBuilder::new());
    for c in rows {
        id.append_value(&c.id);
        status.append_value(c.status.as_str());
        kind.append_value(c.kind.as_str());
        score.append_value(c.score);
        accounts.append_value(c.accounts);
        conversations.append_value(c.conversations);
        previous.append_option(c.previous_accounts);
        first.append_value(c.first_seen);
        last.append_value(c.last_seen);
        summary.append_value(&c.summary);
        evidence.append_value(&c.evidence);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(status.finish()),
        Arc::new(kind.finish()),
        Arc::new(score.finish()),
        Arc::new(accounts.finish()),
        Arc::new(conversations.finish()),
        Arc::new(previous.finish()),
        Arc::new(first.finish()),
        Arc::new(last.finish()),
        Arc::new(summary.finish()),
        Arc::new(evidence.finish()),
    ];
    Ok(RecordBatch::try_new(CAMPAIGNS.clone(), columns)?)
}

/// Builds a `campaign_members` batch from (campaign id, member) pairs.
pub fn members_batch<'a>(rows: impl IntoIterator<Item = MemberRef<'a>>) -> Result<RecordBatch> {
    let (mut id, mut account, mut conversation) = (StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    let mut created = utc_micros_builder();
    for m in rows {
        id.append_value(m.campaign_id);
        account.append_value(m.account_id);
        conversation.append_value(m.conversation_id);
        created.append_value(m.created_at);
    }
    let columns: Vec<ArrayRef> = vec![Arc::new(id.finish()), Arc::new(account.finish()), Arc::new(conversation.finish()), Arc::new(created.finish())];
    Ok(RecordBatch::try_new(CAMPAIGN_MEMBERS.clone(), columns)?)
}

/// Reads every `campaigns` row of the given files, in file order.
pub fn read_campaigns(files: &[PathBuf]) -> Result<Vec<CampaignRow>> {
    let mut out = Vec::new();
    for_each_whole_batch(files, &CAMPAIGNS, |path, b| {
        // Types and nulls are checked against the contract before a batch arrives here.
        let s = |i: usize| b.column(i).as_string::<i32>();
        let (id, status, kind, summary, evidence) = (s(0), s(1), s(2), s(9), s(10));
        let score = b.column(3).as_primitive::<Float32Type>();
        let (accounts, conversations, previous) =
            (b.column(4).as_primitive::<Int64Type>(), b.column(5).as_primitive::<Int64Type>(), b.column(6).as_primitive::<Int64Type>());
        let (first, last) = (b.column(7).as_primitive::<TimestampMicrosecondType>(), b.column(8).as_primitive::<TimestampMicrosecondType>());
        for i in 0..b.num_rows() {
            out.push(CampaignRow {
                id: id.value(i).to_owned(),
                status: CampaignStatus::parse(status.value(i)).ok_or_else(|| unknown(path, "status", status.value(i)))?,
                kind: CampaignKind::parse(kind.value(i)).ok_or_else(|| unknown(path, "kind", kind.value(i)))?,
                score: score.value(i),
                accounts: accounts.value(i),
                conversations: conversations.value(i),
                previous_accounts: previous.is_valid(i).then(|| previous.value(i)),
                first_seen: first.value(i),
                last_seen: last.value(i),
                summary: summary.value(i).to_owned(),
                evidence: evidence.value(i).to_owned(),
            });
        }
        Ok(())
    })?;
    Ok(out)
}

/// Streams the `campaign_members` rows of the given files to `each`.
pub fn for_each_member(files: &[PathBuf], mut each: impl FnMut(MemberRef<'_>)) -> Result<()> {
    for_each_whole_batch(files, &CAMPAIGN_MEMBERS, |_, b| {
        let (campaign, account, conversation) = (b.column(0).as_string::<i32>(), b.column(1).as_string::<i32>(), b.column(2).as_string::<i32>());
        let created = b.column(3).as_primitive::<TimestampMicrosecondType>();
        for i in 0..b.num_rows() {
            each(MemberRef {
                campaign_id: campaign.value(i),
                account_id: account.value(i),
                conversation_id: conversation.value(i),
                created_at: created.value(i),
            });
        }
        Ok(())
    })
}

fn unknown(path: &Path, column: &str, value: &str) -> Error {
    let known: Vec<&str> = match column {
        "kind" => CampaignKind::ALL.iter().map(|k| k.as_str()).collect(),
        _ => CampaignStatus::ALL.iter().map(|k| k.as_str()).collect(),
    };
    Error::warehouse(path, format!("campaigns.{column} {value:?} is not one of {}", known.join(", ")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, status: CampaignStatus, kind: CampaignKind) -> CampaignRow {
        CampaignRow {
            id: id.into(),
            status,
            kind,
            score: 0.75,
            accounts: 12,
            conversations: 40,
            previous_accounts: (status == CampaignStatus::Continuing).then_some(10),
            first_seen: 1_700_000_000_000_000,
            last_seen: 1_700_100_000_000_000,
            summary: "12 accounts".into(),
            evidence: "{}".into(),
        }
    }

    fn write(dir: &Path, name: &str, batch: &RecordBatch) -> PathBuf {
        let path = dir.join(name);
        let mut w = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None).unwrap();
        w.write(batch).unwrap();
        w.close().unwrap();
        path
    }

    #[test]
    fn closed_sets_round_trip_through_the_contract_strings() {
        for k in CampaignKind::ALL {
            assert_eq!(CampaignKind::parse(k.as_str()), Some(k));
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("\"{k}\""));
        }
        for s in CampaignStatus::ALL {
            assert_eq!(CampaignStatus::parse(s.as_str()), Some(s));
            assert_eq!(serde_json::to_string(&s).unwrap(), format!("\"{s}\""));
        }
        assert_eq!(CampaignKind::parse("influence_operation"), None);
        assert_eq!(CampaignStatus::parse("Ended"), None);
    }

    #[test]
    fn rows_written_are_the_rows_read() {
        let dir = tempfile::tempdir().unwrap();
        let rows = vec![row("camp-a", CampaignStatus::New, CampaignKind::Influence), row("camp-b", CampaignStatus::Continuing, CampaignKind::BenignAutomation)];
        let path = write(dir.path(), "c.parquet", &campaigns_batch(&rows).unwrap());
        assert_eq!(read_campaigns(&[path]).unwrap(), rows);

        let members = [MemberRef { campaign_id: "camp-a", account_id: "acct-1", conversation_id: "conv-9", created_at: 5 }];
        let path = write(dir.path(), "m.parquet", &members_batch(members).unwrap());
        let mut seen = Vec::new();
        for_each_member(&[path], |m| seen.push((m.campaign_id.to_owned(), m.account_id.to_owned(), m.conversation_id.to_owned(), m.created_at))).unwrap();
        assert_eq!(seen, vec![("camp-a".to_owned(), "acct-1".to_owned(), "conv-9".to_owned(), 5)]);
    }

    #[test]
    fn a_file_off_the_contract_is_one_error_naming_file_and_column() {
        let dir = tempfile::tempdir().unwrap();
        let good = campaigns_batch(&[row("camp-a", CampaignStatus::New, CampaignKind::Spam)]).unwrap();
        let message = |batch: RecordBatch, name: &str| read_campaigns(&[write(dir.path(), name, &batch)]).unwrap_err().to_string();

        let without = good.project(&(0..good.num_columns()).filter(|&i| i != 2).collect::<Vec<_>>()).unwrap();
        let m = message(without, "missing.parquet");
        assert!(m.contains("missing.parquet") && m.contains("`kind`"), "{m}");

        let mut columns = good.columns().to_vec();
        columns[4] = Arc::new(arrow::array::StringArray::from(vec!["12"]));
        let mut fields: Vec<Field> = good.schema().fields().iter().map(|f| f.as_ref().clone()).collect();
        fields[4] = Field::new("accounts", DataType::Utf8, false);
        let retyped = RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap();
        let m = message(retyped, "retyped.parquet");
        assert!(m.contains("retyped.parquet") && m.contains("`accounts`") && m.contains("Int64"), "{m}");

        let mut columns = good.columns().to_vec();
        columns[2] = Arc::new(arrow::array::StringArray::from(vec!["influence_operation"]));
        let m = message(RecordBatch::try_new(CAMPAIGNS.clone(), columns).unwrap(), "kind.parquet");
        assert!(m.contains("kind.parquet") && m.contains("\"influence_operation\" is not one of influence, spam"), "{m}");

        let mut fields: Vec<Field> = CAMPAIGNS.fields().iter().map(|f| f.as_ref().clone()).collect();
        fields[0] = Field::new("campaign_id", DataType::Utf8, true);
        let mut columns = good.columns().to_vec();
        columns[0] = Arc::new(arrow::array::StringArray::from(vec![None::<&str>]));
        let m = message(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns).unwrap(), "null.parquet");
        assert!(m.contains("null.parquet") && m.contains("`campaign_id`") && m.contains("null"), "{m}");
    }
}
