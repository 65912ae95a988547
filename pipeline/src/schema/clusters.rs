//! The `clusters` table, defined once: its Arrow schema, a typed row, the batch builder nightly
//! writes with and the contract-checked reader the report, nightly's topic matching and the
//! demo read with.

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use arrow::array::{Array, ArrayRef, AsArray, BooleanBuilder, Date32Builder, Float32Builder, Int32Builder, Int64Builder, RecordBatch, StringArray, StringBuilder};
use arrow::datatypes::{DataType, Date32Type, Field, Float32Type, Int32Type, Int64Type, Schema, SchemaRef};

use super::{for_each_whole_batch, utf8_list, utf8_list_builder};
use crate::error::Result;

/// `clusters`: one row per cluster and level, for the window ending on the partition date.
/// Suppressed clusters (below the privacy thresholds) have no name, summary or exemplar.
pub static CLUSTERS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("cluster_id", DataType::Utf8, false),
        Field::new("level", DataType::Int32, false),
        Field::new("parent_id", DataType::Utf8, true),
        Field::new("name", DataType::Utf8, true),
        Field::new("summary", DataType::Utf8, true),
        Field::new("exemplar", DataType::Utf8, true),
        Field::new("terms", utf8_list(), false),
        Field::new("conversations", DataType::Int64, false),
        Field::new("accounts", DataType::Int64, false),
        Field::new("suppressed", DataType::Boolean, false),
        Field::new("children", DataType::Int32, false),
        Field::new("top_language", DataType::Utf8, true),
        Field::new("policy_area", DataType::Utf8, false),
        Field::new("mean_concern", DataType::Float32, false),
        Field::new("max_concern", DataType::Int32, false),
        Field::new("window_start", DataType::Date32, false),
        Field::new("window_end", DataType::Date32, false),
        // The catalogue topic this cluster is tonight (`topics`); null for a suppressed
        // cluster that continues no topic.
        Field::new("topic_id", DataType::Utf8, true),
    ]))
});

/// One `clusters` row.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterRow {
    /// Cluster id.
    pub id: String,
    /// Hierarchy level (0 = leaf).
    pub level: i32,
    /// The parent cluster's id (None at the top).
    pub parent_id: Option<String>,
    /// k-anonymous name (None when suppressed).
    pub name: Option<String>,
    /// k-anonymous summary.
    pub summary: Option<String>,
    /// Masked exemplar request.
    pub exemplar: Option<String>,
    /// Distinctive phrases.
    pub terms: Vec<String>,
    /// Conversations in the window.
    pub conversations: i64,
    /// Distinct accounts.
    pub accounts: i64,
    /// Below the privacy thresholds: counts only.
    pub suppressed: bool,
    /// Child clusters.
    pub children: i32,
    /// Most common language.
    pub top_language: Option<String>,
    /// Most common policy area (`none` included).
    pub policy_area: String,
    /// Mean concern (1–5).
    pub mean_concern: f32,
    /// Highest concern.
    pub max_concern: i32,
    /// First day of the window, as days since 1970-01-01.
    pub window_start: i32,
    /// Last day of the window.
    pub window_end: i32,
    /// The catalogue topic it is tonight.
    pub topic_id: Option<String>,
}

/// Builds a `clusters` batch.
pub fn clusters_batch<'a>(rows: impl IntoIterator<Item = &'a ClusterRow>) -> Result<RecordBatch> {
    let (mut id, mut parent, mut name, mut summary, mut exemplar) =
        (StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    let (mut level, mut children, mut max) = (Int32Builder::new(), Int32Builder::new(), Int32Builder::new());
    let mut terms = utf8_list_builder();
    let (mut conversations, mut accounts) = (Int64Builder::new(), Int64Builder::new());
    let mut suppressed = BooleanBuilder::new();
    let (mut language, mut area, mut topic) = (StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    let mut mean = Float32Builder::new();
    let (mut ws, mut we) = (Date32Builder::new(), Date32Builder::new());
    for c in rows {
        id.append_value(&c.id);
        level.append_value(c.level);
        parent.append_option(c.parent_id.as_deref());
        name.append_option(c.name.as_deref());
        summary.append_option(c.summary.as_deref());
        exemplar.append_option(c.exemplar.as_deref());
        for t in &c.terms {
            terms.values().append_value(t);
        }
        terms.append(true);
        conversations.append_value(c.conversations);
        accounts.append_value(c.accounts);
        suppressed.append_value(c.suppressed);
        children.append_value(c.children);
        language.append_option(c.top_language.as_deref());
        area.append_value(&c.policy_area);
        mean.append_value(c.mean_concern);
        max.append_value(c.max_concern);
        ws.append_value(c.window_start);
        we.append_value(c.window_end);
        topic.append_option(c.topic_id.as_deref());
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(level.finish()),
        Arc::new(parent.finish()),
        Arc::new(name.finish()),
        Arc::new(summary.finish()),
        Arc::new(exemplar.finish()),
        Arc::new(terms.finish()),
        Arc::new(conversations.finish()),
        Arc::new(accounts.finish()),
        Arc::new(suppressed.finish()),
        Arc::new(children.finish()),
        Arc::new(language.finish()),
        Arc::new(area.finish()),
        Arc::new(mean.finish()),
        Arc::new(max.finish()),
        Arc::new(ws.finish()),
        Arc::new(we.finish()),
        Arc::new(topic.finish()),
    ];
    Ok(RecordBatch::try_new(CLUSTERS.clone(), columns)?)
}

/// Reads every `clusters` row of the given files, in file order.
pub fn read_clusters(files: &[PathBuf]) -> Result<Vec<ClusterRow>> {
    let mut out = Vec::new();
    for_each_whole_batch(files, &CLUSTERS, |_, b| {
        // Types and nulls are checked against the contract before a batch arrives here.
        let s = |i: usize| b.column(i).as_string::<i32>();
        let i32s = |i: usize| b.column(i).as_primitive::<Int32Type>();
        let i64s = |i: usize| b.column(i).as_primitive::<Int64Type>();
        let days = |i: usize| b.column(i).as_primitive::<Date32Type>();
        let optional = |a: &StringArray, r: usize| a.is_valid(r).then(|| a.value(r).to_owned());
        let (id, parent, name, summary, exemplar, language, area, topic) = (s(0), s(2), s(3), s(4), s(5), s(11), s(12), s(17));
        let terms = b.column(6).as_list::<i32>();
        let suppressed = b.column(9).as_boolean();
        let mean = b.column(13).as_primitive::<Float32Type>();
        for r in 0..b.num_rows() {
            out.push(ClusterRow {
                id: id.value(r).to_owned(),
                level: i32s(1).value(r),
                parent_id: optional(parent, r),
                name: optional(name, r),
                summary: optional(summary, r),
                exemplar: optional(exemplar, r),
                terms: terms.value(r).as_string::<i32>().iter().flatten().map(str::to_owned).collect(),
                conversations: i64s(7).value(r),
                accounts: i64s(8).value(r),
                suppressed: suppressed.value(r),
                children: i32s(10).value(r),
                top_language: optional(language, r),
                policy_area: area.value(r).to_owned(),
                mean_concern: mean.value(r),
                max_concern: i32s(14).value(r),
                window_start: days(15).value(r),
                window_end: days(16).value(r),
                topic_id: optional(topic, r),
            });
        }
        Ok(())
    })?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_written_are_the_rows_read() {
        let dir = tempfile::tempdir().unwrap();
        let row = |id: &str, name: Option<&str>| ClusterRow {
            id: id.into(),
            level: 1,
            parent_id: None,
            name: name.map(str::to_owned),
            summary: name.map(|n| format!("about {n}")),
            exemplar: None,
            terms: vec!["tax".into(), "refund".into()],
            conversations: 40,
            accounts: 12,
            suppressed: name.is_none(),
            children: 2,
            top_language: Some("en".into()),
            policy_area: "none".into(),
            mean_concern: 1.25,
            max_concern: 3,
            window_start: 20_400,
            window_end: 20_406,
            topic_id: name.map(|_| "topic-a".to_owned()),
        };
        let rows = vec![row("c-1", Some("tax refunds")), row("c-2", None)];
        let path = dir.path().join("c.parquet");
        let batch = clusters_batch(&rows).unwrap();
        let mut w = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None).unwrap();
        w.write(&batch).unwrap();
        w.close().unwrap();
        assert_eq!(read_clusters(&[path]).unwrap(), rows);
    }
}
