//! Arrow batches of the tables a nightly run owns, written in chunks to bound memory.

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Date32Builder, FixedSizeListBuilder, Float32Builder, Int32Builder, Int8Builder,
    ListBuilder, RecordBatch, StringBuilder,
};
use arrow::datatypes::{Field, SchemaRef};
use chrono::NaiveDate;

use super::{keyword_df, Analysis, NightlyConfig};
use crate::error::Result;
use crate::facets::{keywords, Taxonomy};
use crate::schema::{self, days_since_epoch, table, utc_micros_builder, utf8_list_builder};
use crate::warehouse::StagedWrite;

const CHUNK: usize = 64 * 1024;

/// Writes every owned partition for `date`; returns the number of conversations of that day.
pub(super) fn write(staged: &mut StagedWrite, date: NaiveDate, a: &Analysis, config: &NightlyConfig, taxonomy: &Taxonomy) -> Result<usize> {
    let embeddings_schema = schema::embeddings(a.dim);
    for (name, schema) in [
        (table::FACETS, schema::FACETS.clone()),
        (table::EMBEDDINGS, embeddings_schema.clone()),
        (table::ACCOUNTS, schema::ACCOUNTS.clone()),
        (table::CLUSTERS, schema::CLUSTERS.clone()),
        (table::CLUSTER_MEMBERS, schema::CLUSTER_MEMBERS.clone()),
        (table::CAMPAIGNS, schema::CAMPAIGNS.clone()),
        (table::CAMPAIGN_MEMBERS, schema::CAMPAIGN_MEMBERS.clone()),
        (table::TOPICS, schema::TOPICS.clone()),
        (table::TOPIC_DAILY, schema::TOPIC_DAILY.clone()),
    ] {
        staged.declare(name, date, &schema)?;
    }
    let rows: Vec<usize> = (0..a.window.len()).filter(|&i| a.window.day(i) == date).collect();
    let df = keyword_df(&a.window);
    for chunk in rows.chunks(CHUNK) {
        staged.write(table::FACETS, date, &facets_batch(chunk, a, config, taxonomy, &df)?)?;
        staged.write(table::EMBEDDINGS, date, &embeddings_batch(chunk, a, &a.vector_model, &embeddings_schema)?)?;
    }
    crate::killpoint::reached("nightly.staged.facets");
    for chunk in a.accounts.chunks(CHUNK) {
        staged.write(table::ACCOUNTS, date, &accounts_batch(chunk, a)?)?;
    }
    crate::killpoint::reached("nightly.staged.accounts");
    staged.write(table::CLUSTERS, date, &schema::clusters_batch(&cluster_rows(a))?)?;
    let mut members = MembersBuilder::default();
    for level in &a.hierarchy.levels {
        for c in level {
            for &r in &c.members {
                let r = r as usize;
                let similarity = if c.level == 0 {
                    a.hierarchy.similarity[r]
                } else {
                    crate::embed::cosine(&a.embeddings[r * a.dim..(r + 1) * a.dim], &c.centroid)
                };
                members.push(&c.id, a.window.conversation_id(r), a.window.account_id(r), c.level, similarity);
                if members.len == CHUNK {
                    staged.write(table::CLUSTER_MEMBERS, date, &members.finish()?)?;
                }
            }
        }
    }
    staged.write(table::CLUSTER_MEMBERS, date, &members.finish()?)?;
    crate::killpoint::reached("nightly.staged.clusters");
    let campaigns: Vec<schema::CampaignRow> = a.campaigns.iter().map(|c| c.row()).collect();
    staged.write(table::CAMPAIGNS, date, &schema::campaigns_batch(&campaigns)?)?;
    staged.write(table::CAMPAIGN_MEMBERS, date, &schema::members_batch(a.campaigns.iter().flat_map(|c| c.member_rows()))?)?;
    staged.write(table::TOPICS, date, &schema::topics_batch(&a.topics.catalogue)?)?;
    let days = a.topics.daily.iter().map(|row| {
        let topic = &a.topics.catalogue[row.topic];
        schema::TopicDay { topic_id: &topic.id, day: days_since_epoch(row.day), level: topic.level as i32, conversations: row.conversations, accounts: row.accounts }
    });
    staged.write(table::TOPIC_DAILY, date, &schema::topic_daily_batch(days)?)?;
    Ok(rows.len())
}

fn facets_batch(rows: &[usize], a: &Analysis, config: &NightlyConfig, taxonomy: &Taxonomy, df: &rustc_hash::FxHashMap<String, u32>) -> Result<RecordBatch> {
    let w = &a.window;
    let mut id = StringBuilder::new();
    let mut account = StringBuilder::new();
    let mut created = utc_micros_builder();
    let mut language = StringBuilder::new();
    let (mut turns, mut uc, mut ac) = (Int32Builder::new(), Int32Builder::new(), Int32Builder::new());
    let mut request = StringBuilder::new();
    let mut task = StringBuilder::new();
    let mut kw = utf8_list_builder();
    let mut area = StringBuilder::new();
    let mut score = Float32Builder::new();
    let mut concern = Int32Builder::new();
    let mut tax = StringBuilder::new();
    for &i in rows {
        let f = &a.facets[i];
        id.append_value(w.conversation_id(i));
        account.append_value(w.account_id(i));
        created.append_value(w.created_at[i]);
        language.append_value(w.language(i));
        turns.append_value(w.turns(i));
        uc.append_value(w.user_chars(i));
        ac.append_value(w.assistant_chars(i));
        request.append_value(&f.request);
        task.append_value(taxonomy.task_name(f.task));
        for k in keywords(w.first_message(i), df, config.facets.keywords, config.facets.keyword_min_conversations) {
            kw.values().append_value(k);
        }
        kw.append(true);
        area.append_value(taxonomy.area_name(f.policy_area));
        score.append_value(f.policy_score);
        concern.append_value(i32::from(f.concern));
        tax.append_value(taxonomy.digest());
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(id.finish()),
        Arc::new(account.finish()),
        Arc::new(created.finish()),
        Arc::new(language.finish()),
        Arc::new(turns.finish()),
        Arc::new(uc.finish()),
        Arc::new(ac.finish()),
        Arc::new(request.finish()),
        Arc::new(task.finish()),
        Arc::new(kw.finish()),
        Arc::new(area.finish()),
        Arc::new(score.finish()),
        Arc::new(concern.finish()),
        Arc::new(tax.finish()),
    ];
    Ok(RecordBatch::try_new(schema::FACETS.clone(), columns)?)
}

fn embeddings_batch(rows: &[usize], a: &Analysis, model: &str, schema: &SchemaRef) -> Result<RecordBatch> {
    let mut id = StringBuilder::new();
    let mut m = StringBuilder::new();
    let mut vectors = FixedSizeListBuilder::with_capacity(Int8Builder::with_capacity(rows.len() * a.dim), a.dim as i32, rows.len())
        .with_field(Arc::new(Field::new("item", arrow::datatypes::DataType::Int8, false)));
    for &i in rows {
        id.append_value(a.window.conversation_id(i));
        m.append_value(model);
        for &x in &a.embeddings[i * a.dim..(i + 1) * a.dim] {
            vectors.values().append_value(crate::embed::quantize(x));
        }
        vectors.append(true);
    }
    Ok(RecordBatch::try_new(schema.clone(), vec![Arc::new(id.finish()), Arc::new(m.finish()), Arc::new(vectors.finish())])?)
}

fn accounts_batch(chunk: &[super::accounts::AccountSummary], a: &Analysis) -> Result<RecordBatch> {
    let (start, end) = (days_since_epoch(a.window.start), days_since_epoch(a.window.end));
    let mut account = StringBuilder::new();
    let (mut ws, mut we) = (Date32Builder::new(), Date32Builder::new());
    let (mut conversations, mut days) = (Int32Builder::new(), Int32Builder::new());
    let (mut first, mut last) = (utc_micros_builder(), utc_micros_builder());
    let mut languages = utf8_list_builder();
    let (mut tasks, mut areas) = (StringBuilder::new(), StringBuilder::new());
    let mut peak = Int32Builder::new();
    let mut mean = Float32Builder::new();
    let mut hours = ListBuilder::new(Int32Builder::new()).with_field(Arc::new(Field::new("item", arrow::datatypes::DataType::Int32, false)));
    let (mut top, mut representative) = (utf8_list_builder(), utf8_list_builder());
    let mut summary = StringBuilder::new();
    for s in chunk {
        account.append_value(&a.window.accounts[s.account as usize]);
        ws.append_value(start);
        we.append_value(end);
        conversations.append_value(s.conversations as i32);
        days.append_value(s.active_days as i32);
        first.append_value(s.first_seen);
        last.append_value(s.last_seen);
        for l in &s.languages {
            languages.values().append_value(l);
        }
        languages.append(true);
        tasks.append_value(serde_json::to_string(&s.task_mix)?);
        areas.append_value(serde_json::to_string(&s.policy_mix)?);
        peak.append_value(i32::from(s.peak_concern));
        mean.append_value(s.mean_concern);
        for &h in &s.hour_profile {
            hours.values().append_value(h as i32);
        }
        hours.append(true);
        for c in &s.top_clusters {
            top.values().append_value(c);
        }
        top.append(true);
        for c in &s.representative {
            representative.values().append_value(c);
        }
        representative.append(true);
        summary.append_value(&s.summary);
    }
    let columns: Vec<ArrayRef> = vec![
        Arc::new(account.finish()),
        Arc::new(ws.finish()),
        Arc::new(we.finish()),
        Arc::new(conversations.finish()),
        Arc::new(days.finish()),
        Arc::new(first.finish()),
        Arc::new(last.finish()),
        Arc::new(languages.finish()),
        Arc::new(tasks.finish()),
        Arc::new(areas.finish()),
        Arc::new(peak.finish()),
        Arc::new(mean.finish()),
        Arc::new(hours.finish()),
        Arc::new(top.finish()),
        Arc::new(representative.finish()),
        Arc::new(summary.finish()),
    ];
    Ok(RecordBatch::try_new(schema::ACCOUNTS.clone(), columns)?)
}

/// Tonight's clusters as `clusters` rows, every level, leaves first.
fn cluster_rows(a: &Analysis) -> Vec<schema::ClusterRow> {
    let (start, end) = (days_since_epoch(a.window.start), days_since_epoch(a.window.end));
    let levels = &a.hierarchy.levels;
    let mut rows = Vec::new();
    for (l, clusters) in levels.iter().enumerate() {
        for (i, c) in clusters.iter().enumerate() {
            rows.push(schema::ClusterRow {
                id: c.id.clone(),
                level: c.level as i32,
                parent_id: c.parent.map(|p| levels[l + 1][p].id.clone()),
                name: c.name.clone(),
                summary: c.summary.clone(),
                exemplar: c.exemplar.clone(),
                terms: c.terms.iter().map(|t| t.text.clone()).collect(),
                conversations: c.members.len() as i64,
                accounts: c.accounts as i64,
                suppressed: c.suppressed,
                children: c.children.len() as i32,
                top_language: c.top_language.clone(),
                policy_area: c.policy_area.clone(),
                mean_concern: c.mean_concern,
                max_concern: i32::from(c.max_concern),
                window_start: start,
                window_end: end,
                topic_id: a.topics.of_cluster.get(l).and_then(|t| t[i]).map(|t| a.topics.catalogue[t].id.clone()),
            });
        }
    }
    rows
}

#[derive(Default)]
struct MembersBuilder {
    cluster: StringBuilder,
    conversation: StringBuilder,
    account: StringBuilder,
    level: Int32Builder,
    similarity: Float32Builder,
    len: usize,
}

impl MembersBuilder {
    fn push(&mut self, cluster: &str, conversation: &str, account: &str, level: u32, similarity: f32) {
        self.cluster.append_value(cluster);
        self.conversation.append_value(conversation);
        self.account.append_value(account);
        self.level.append_value(level as i32);
        self.similarity.append_value(similarity);
        self.len += 1;
    }

    fn finish(&mut self) -> Result<RecordBatch> {
        self.len = 0;
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.cluster.finish()),
            Arc::new(self.conversation.finish()),
            Arc::new(self.account.finish()),
            Arc::new(self.level.finish()),
            Arc::new(self.similarity.finish()),
        ];
        Ok(RecordBatch::try_new(schema::CLUSTER_MEMBERS.clone(), columns)?)
    }
}

