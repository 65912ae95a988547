//! The `topics` and `topic_daily` tables, defined once: their Arrow schemas, the lineage
//! entries `topics.lineage` holds, a typed row and the builders and readers nightly and the
//! weekly report use.

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use arrow::array::{Array, ArrayRef, AsArray, Date32Builder, Float32Builder, Int32Builder, Int64Builder, ListBuilder, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Date32Type, Field, Float32Type, Int32Type, Int64Type, Schema, SchemaRef};
use chrono::NaiveDate;

use super::{date_of_days, days_since_epoch, for_each_whole_batch, utf8_list, utf8_list_builder};
use crate::error::{Error, Result};

/// `topics`: the topic catalogue after the partition date's nightly run: every topic seen
/// tonight and those seen within the retention period before. Only clusters that pass the
/// privacy gate create a topic or move its centroid and name.
pub static TOPICS: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("topic_id", DataType::Utf8, false),
        Field::new("name", DataType::Utf8, true),
        Field::new("level", DataType::Int32, false),
        Field::new("parent_topic_id", DataType::Utf8, true),
        Field::new("first_seen", DataType::Date32, false),
        Field::new("last_seen", DataType::Date32, false),
        Field::new("encoder", DataType::Utf8, false),
        // `<night> <event> <topic_id>` entries, oldest first (see [`Event`]).
        Field::new("lineage", utf8_list(), false),
        // Tonight's cluster (null when the topic was not seen tonight).
        Field::new("cluster_id", DataType::Utf8, true),
        Field::new("conversations", DataType::Int64, false),
        Field::new("accounts", DataType::Int64, false),
        // Conversations that joined (+) or left (−) the topic tonight because the clusters were
        // cut differently (see [`Topic::net_transfer`]); null on a first night.
        Field::new("net_transfer", DataType::Int64, true),
        // Unit centroid in the encoder's space; null under LSA (refitted per window).
        Field::new("centroid", DataType::List(Arc::new(Field::new("item", DataType::Float32, false))), true),
    ]))
});

/// `topic_daily`: per topic whose cluster passed the privacy gate and per day of the window, the
/// day's conversations in the topic and their distinct accounts, as the partition date's
/// nightly run clustered them. One night's rows are one consistent cut of its window: a week's
/// series is read from the partition of its last night (`date = day` rows are each day as its
/// own night saw it).
pub static TOPIC_DAILY: LazyLock<SchemaRef> = LazyLock::new(|| {
    Arc::new(Schema::new(vec![
        Field::new("topic_id", DataType::Utf8, false),
        Field::new("day", DataType::Date32, false),
        Field::new("level", DataType::Int32, false),
        Field::new("conversations", DataType::Int64, false),
        Field::new("accounts", DataType::Int64, false),
    ]))
});

/// What happened to a topic on some night (the `lineage` column's events).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// Created from a cluster most of whose members were in the named topic.
    SplitFrom,
    /// Continued by a cluster that also took most of the named topic's members.
    Absorbed,
    /// Not continued: most of its members went into the named topic.
    MergedInto,
    /// Continued under a new encoder; the entry names the old one.
    ReanchoredFrom,
}

impl Event {
    /// The word stored in `lineage`.
    pub fn as_str(self) -> &'static str {
        match self {
            Event::SplitFrom => "split_from",
            Event::Absorbed => "absorbed",
            Event::MergedInto => "merged_into",
            Event::ReanchoredFrom => "reanchored_from",
        }
    }

    /// Parses a stored word.
    pub fn parse(word: &str) -> Option<Self> {
        [Event::SplitFrom, Event::Absorbed, Event::MergedInto, Event::ReanchoredFrom].into_iter().find(|e| e.as_str() == word)
    }
}

/// One `lineage` entry: `<night> <event> <topic id or encoder>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineageEntry<'a> {
    /// The night it happened.
    pub night: NaiveDate,
    /// What happened.
    pub event: Event,
    /// The other topic's id (the old encoder's id for [`Event::ReanchoredFrom`]).
    pub other: &'a str,
}

impl<'a> LineageEntry<'a> {
    /// Parses a stored entry; `None` for text this version does not write.
    pub fn parse(entry: &'a str) -> Option<Self> {
        let mut parts = entry.splitn(3, ' ');
        let night = NaiveDate::parse_from_str(parts.next()?, "%Y-%m-%d").ok()?;
        let event = Event::parse(parts.next()?)?;
        Some(LineageEntry { night, event, other: parts.next()? })
    }

    /// The stored text of an entry.
    pub(crate) fn format(night: NaiveDate, event: Event, other: &str) -> String {
        format!("{night} {} {other}", event.as_str())
    }
}

/// A topic of the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct Topic {
    /// `topic-<first night>-L<level>-<rank>`, stable from then on.
    pub id: String,
    /// Hierarchy level (0 = leaf).
    pub level: u32,
    /// Latest k-anonymous name.
    pub name: Option<String>,
    /// Tonight's parent topic (None when not seen tonight or at the top).
    pub parent: Option<String>,
    /// First night seen.
    pub first_seen: NaiveDate,
    /// Latest night seen.
    pub last_seen: NaiveDate,
    /// The encoder of `centroid` (and of the clusters that continued it last).
    pub encoder: String,
    /// Events, oldest first ([`LineageEntry`] text).
    pub lineage: Vec<String>,
    /// Tonight's cluster id (None when not seen tonight).
    pub cluster: Option<String>,
    /// Tonight's conversations in the window (0 when not seen).
    pub conversations: i64,
    /// Tonight's distinct accounts in the window (0 when not seen).
    pub accounts: i64,
    /// Conversations that joined (+) or left (−) the topic tonight because the clusters were
    /// cut differently: members both windows hold that were elsewhere (or unclustered) last
    /// night, less last night's members now elsewhere. Tonight's window count is last night's
    /// plus the day added, less the day dropped, plus this; so a week's growth net of re-cuts
    /// is `conversations − conversations a week earlier − Σ net_transfer`. None when there was
    /// no earlier night to compare with.
    pub net_transfer: Option<i64>,
    /// Unit centroid (None under LSA, whose space changes every window).
    pub centroid: Option<Vec<f32>>,
}

/// One `topic_daily` row, borrowed from where it was read or built.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TopicDay<'a> {
    /// The topic.
    pub topic_id: &'a str,
    /// The day, as days since 1970-01-01 (Arrow's `Date32`).
    pub day: i32,
    /// The topic's level.
    pub level: i32,
    /// Its conversations that day.
    pub conversations: i64,
    /// Their distinct accounts.
    pub accounts: i64,
}

/// Builds a `topics` batch.
pub fn topics_batch<'a>(topics: impl IntoIterator<Item = &'a Topic>) -> Result<RecordBatch> {
    let (mut id, mut name, mut parent, mut encoder, mut cluster) =
        (StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), StringBuilder::new(), StringBuilder::new());
    let mut level = Int32Builder::new();
    let (mut first, mut last) = (Date32Builder::new(), Date32Builder::new());
    let mut lineage = utf8_list_builder();
    let (mut conversations, mut accounts, mut net) = (Int64Builder::new(), Int64Builder::new(), Int64Builder::new());
    let mut centroid = ListBuilder::new(Float32Builder::new()).with_field(Arc::new(Field::new("item", DataType::Float32, false)));
    for t in topics {
        id.append_value(&t.id);
        name.append_option(t.name.as_deref());
        level.append_value(t.level as i32);
        parent.append_option(t.parent.as_deref());
        first.append_value(days_since_epoch(t.first_seen));
        last.append_value(days_since_epoch(t.last_seen));
        encoder.append_value(&t.encoder);
        for entry in &t.lineage {
            lineage.values().append_value(entry);
        }
        lineage.append(true);
        cluster.append_option(t.cluster.as_deref());
        conversations.append_value(t.conversations);
        accounts.append_value(t.accounts);
        net.append_option(t.net_transfer);
        match &t.centroid {
            Some(v) => {
                centroid.values().append_slice(v);
                centroid.append(true);
            }
            None => centroid.append(false),
        }
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(name.finish()),
        Arc::new(level.finish()),
        Arc::new(parent.finish()),
        Arc::new(first.finish()),
        Arc::new(last.finish()),
        Arc::new(encoder.finish()),
        Arc::new(lineage.finish()),
        Arc::new(cluster.finish()),
        Arc::new(conversations.finish()),
        Arc::new(accounts.finish()),
        Arc::new(net.finish()),
        Arc::new(centroid.finish()),
    ];
    Ok(RecordBatch::try_new(TOPICS.clone(), columns)?)
}

/// Builds a `topic_daily` batch.
pub fn topic_daily_batch<'a>(rows: impl IntoIterator<Item = TopicDay<'a>>) -> Result<RecordBatch> {
    let mut id = StringBuilder::new();
    let mut day = Date32Builder::new();
    let mut level = Int32Builder::new();
    let (mut conversations, mut accounts) = (Int64Builder::new(), Int64Builder::new());
    for row in rows {
        id.append_value(row.topic_id);
        day.append_value(row.day);
        level.append_value(row.level);
        conversations.append_value(row.conversations);
        accounts.append_value(row.accounts);
    }
    let columns: Vec<ArrayRef> =
        vec![Arc::new(id.finish()), Arc::new(day.finish()), Arc::new(level.finish()), Arc::new(conversations.finish()), Arc::new(accounts.finish())];
    Ok(RecordBatch::try_new(TOPIC_DAILY.clone(), columns)?)
}

/// Reads every `topics` row of the given files, in file order.
pub fn read_topics(files: &[PathBuf]) -> Result<Vec<Topic>> {
    let mut out = Vec::new();
    for_each_whole_batch(files, &TOPICS, |path, b| {
        // Types and nulls are checked against the contract before a batch arrives here.
        let s = |i: usize| b.column(i).as_string::<i32>();
        let (id, name, parent, encoder, cluster) = (s(0), s(1), s(3), s(6), s(8));
        let level = b.column(2).as_primitive::<Int32Type>();
        let (first, last) = (b.column(4).as_primitive::<Date32Type>(), b.column(5).as_primitive::<Date32Type>());
        let lineage = b.column(7).as_list::<i32>();
        let (conversations, accounts, net) =
            (b.column(9).as_primitive::<Int64Type>(), b.column(10).as_primitive::<Int64Type>(), b.column(11).as_primitive::<Int64Type>());
        let centroid = b.column(12).as_list::<i32>();
        let optional = |a: &arrow::array::StringArray, i: usize| a.is_valid(i).then(|| a.value(i).to_owned());
        for i in 0..b.num_rows() {
            let date = |days: i32| date_of_days(days).ok_or_else(|| Error::warehouse(path, format!("topics: date {days} is out of range")));
            out.push(Topic {
                id: id.value(i).to_owned(),
                level: u32::try_from(level.value(i)).map_err(|_| Error::warehouse(path, format!("topics: negative level {}", level.value(i))))?,
                name: optional(name, i),
                parent: optional(parent, i),
                first_seen: date(first.value(i))?,
                last_seen: date(last.value(i))?,
                encoder: encoder.value(i).to_owned(),
                lineage: lineage.value(i).as_string::<i32>().iter().flatten().map(str::to_owned).collect(),
                cluster: optional(cluster, i),
                conversations: conversations.value(i),
                accounts: accounts.value(i),
                net_transfer: net.is_valid(i).then(|| net.value(i)),
                centroid: centroid.is_valid(i).then(|| centroid.value(i).as_primitive::<Float32Type>().values().to_vec()),
            });
        }
        Ok(())
    })?;
    Ok(out)
}

/// Streams the `topic_daily` rows of the given files to `each`.
pub fn for_each_topic_day(files: &[PathBuf], mut each: impl FnMut(TopicDay<'_>)) -> Result<()> {
    for_each_whole_batch(files, &TOPIC_DAILY, |_, b| {
        let topic = b.column(0).as_string::<i32>();
        let day = b.column(1).as_primitive::<Date32Type>();
        let level = b.column(2).as_primitive::<Int32Type>();
        let (conversations, accounts) = (b.column(3).as_primitive::<Int64Type>(), b.column(4).as_primitive::<Int64Type>());
        for i in 0..b.num_rows() {
            each(TopicDay { topic_id: topic.value(i), day: day.value(i), level: level.value(i), conversations: conversations.value(i), accounts: accounts.value(i) });
        }
        Ok(())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_written_are_the_rows_read() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, batch: &RecordBatch| {
            let path = dir.path().join(name);
            let mut w = parquet::arrow::ArrowWriter::try_new(std::fs::File::create(&path).unwrap(), batch.schema(), None).unwrap();
            w.write(batch).unwrap();
            w.close().unwrap();
            path
        };
        let night = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let topic = |id: &str, centroid: Option<Vec<f32>>, cluster: Option<&str>| Topic {
            id: id.into(),
            level: 1,
            name: Some("tax questions".into()),
            parent: None,
            first_seen: night,
            last_seen: night,
            encoder: "use-m3@abc".into(),
            lineage: vec![LineageEntry::format(night, Event::Absorbed, "topic-x")],
            cluster: cluster.map(str::to_owned),
            conversations: 40,
            accounts: 12,
            net_transfer: cluster.map(|_| -3),
            centroid,
        };
        let topics = vec![topic("topic-a", Some(vec![0.6, 0.8]), Some("c-1")), topic("topic-b", None, None)];
        assert_eq!(read_topics(&[write("t.parquet", &topics_batch(&topics).unwrap())]).unwrap(), topics);
        let rows = [TopicDay { topic_id: "topic-a", day: days_since_epoch(night), level: 1, conversations: 7, accounts: 5 }];
        let path = write("d.parquet", &topic_daily_batch(rows).unwrap());
        let mut seen = Vec::new();
        for_each_topic_day(&[path], |d| seen.push((d.topic_id.to_owned(), d.day, d.level, d.conversations, d.accounts))).unwrap();
        assert_eq!(seen, vec![("topic-a".to_owned(), days_since_epoch(night), 1, 7, 5)]);
        assert_eq!(LineageEntry::parse(&topics[0].lineage[0]), Some(LineageEntry { night, event: Event::Absorbed, other: "topic-x" }));
    }
}
