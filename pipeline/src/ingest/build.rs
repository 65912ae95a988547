//! Turning a chunk of input lines into Arrow batches: parse, pseudonymize, redact, detect
//! language, and group rows by their UTC day. Runs on worker threads; never fails (every bad
//! line becomes a quarantine row).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Arc;

use arrow::array::{ArrayRef, Int32Builder, Int64Builder, RecordBatch, StringBuilder, StructArray, TimestampMicrosecondBuilder};
use chrono::{DateTime, NaiveDate, Utc};
use serde_json::Value;

use super::read::Chunk;
use super::identifiers::IdentifierPolicy;
use super::record::{self, Extra, HhOptions, Limits, Record, Reject, Role};
use super::Format;
use crate::lang::LanguageDetector;
use crate::pseudonym::{IdKind, PseudonymKey};
use crate::redact::{Entity, PiiCounts, PiiKind, Redactor};
use crate::schema::{self, USER_TURN_SEPARATOR};

/// Longest `raw` text kept in a quarantine row, in characters.
const QUARANTINE_RAW_CHARS: usize = 4096;

/// Everything a worker needs, shared read-only across threads.
pub(crate) struct Context<'a> {
    pub key: &'a PseudonymKey,
    pub redactor: &'a Redactor,
    pub languages: &'a LanguageDetector,
    pub format: Format,
    pub limits: Limits,
    pub max_record_bytes: usize,
    pub hh_options: &'a [HhOptions],
    pub run_date: NaiveDate,
    pub identifiers: &'a IdentifierPolicy,
    /// Whether raw account and org ids are collected for escrow.
    pub escrow: bool,
}

/// One day's rows from a chunk.
pub(crate) struct DayRows {
    pub conversations: RecordBatch,
    pub messages: RecordBatch,
    /// Messages per conversation row, to filter messages along with their conversation.
    pub message_counts: Vec<u32>,
}

/// The result of processing one chunk.
pub(crate) struct Processed {
    pub seq: u64,
    pub days: BTreeMap<NaiveDate, DayRows>,
    pub quarantine: Option<RecordBatch>,
    /// Records seen (accepted + quarantined), before de-duplication.
    pub read: u64,
    pub pii: PiiCounts,
    /// Raw account and org ids of written records, each once per chunk (escrow on only).
    pub identities: Vec<crate::escrow::Pending>,
}

#[derive(Default)]
struct ConversationColumns {
    conversation_id: StringBuilder,
    account_id: StringBuilder,
    org_id: StringBuilder,
    created_at: TimestampMicrosecondBuilder,
    client: StringBuilder,
    ip_prefix: StringBuilder,
    user_agent: StringBuilder,
    user_agent_family: StringBuilder,
    language: StringBuilder,
    turns: Int32Builder,
    message_count: Int32Builder,
    user_chars: Int32Builder,
    assistant_chars: Int32Builder,
    user_text: StringBuilder,
    pii: [Int32Builder; 13],
    pii_total: Int32Builder,
    metadata: StringBuilder,
    source: StringBuilder,
    source_line: Int64Builder,
    message_counts: Vec<u32>,
}

impl ConversationColumns {
    /// Builders sized for about `rows` rows and `text_bytes` of user text, so a chunk's
    /// columns are not re-grown (and re-copied) many times over.
    fn with_capacity(rows: usize, text_bytes: usize) -> Self {
        let ids = rows * 24;
        ConversationColumns {
            conversation_id: StringBuilder::with_capacity(rows, ids),
            account_id: StringBuilder::with_capacity(rows, rows * 37),
            user_text: StringBuilder::with_capacity(rows, text_bytes),
            message_counts: Vec::with_capacity(rows),
            ..Default::default()
        }
    }
}

impl MessageColumns {
    fn with_capacity(rows: usize, text_bytes: usize) -> Self {
        MessageColumns {
            conversation_id: StringBuilder::with_capacity(rows, rows * 24),
            content: StringBuilder::with_capacity(rows, text_bytes),
            role: StringBuilder::with_capacity(rows, rows * 9),
            ..Default::default()
        }
    }
}

#[derive(Default)]
struct MessageColumns {
    conversation_id: StringBuilder,
    idx: Int32Builder,
    role: StringBuilder,
    content: StringBuilder,
    chars: Int32Builder,
    pii_total: Int32Builder,
}

#[derive(Default)]
struct QuarantineColumns {
    source: StringBuilder,
    line: Int64Builder,
    reason_code: StringBuilder,
    reason: StringBuilder,
    raw: StringBuilder,
    record_key: StringBuilder,
    rows: usize,
}

fn finish_conversations(c: &mut ConversationColumns) -> RecordBatch {
    let pii_fields = schema::pii_fields();
    let pii_arrays: Vec<ArrayRef> = c.pii.iter_mut().map(|b| Arc::new(b.finish()) as ArrayRef).collect();
    let pii = StructArray::new(pii_fields, pii_arrays, None);
    let columns: Vec<ArrayRef> = vec![
        Arc::new(c.conversation_id.finish()),
        Arc::new(c.account_id.finish()),
        Arc::new(c.org_id.finish()),
        Arc::new(c.created_at.finish().with_timezone("UTC")),
        Arc::new(c.client.finish()),
        Arc::new(c.ip_prefix.finish()),
        Arc::new(c.user_agent.finish()),
        Arc::new(c.user_agent_family.finish()),
        Arc::new(c.language.finish()),
        Arc::new(c.turns.finish()),
        Arc::new(c.message_count.finish()),
        Arc::new(c.user_chars.finish()),
        Arc::new(c.assistant_chars.finish()),
        Arc::new(c.user_text.finish()),
        Arc::new(pii),
        Arc::new(c.pii_total.finish()),
        Arc::new(c.metadata.finish()),
        Arc::new(c.source.finish()),
        Arc::new(c.source_line.finish()),
    ];
    RecordBatch::try_new(schema::CONVERSATIONS.clone(), columns).expect("builders match the conversations schema")
}

fn finish_messages(m: &mut MessageColumns) -> RecordBatch {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(m.conversation_id.finish()),
        Arc::new(m.idx.finish()),
        Arc::new(m.role.finish()),
        Arc::new(m.content.finish()),
        Arc::new(m.chars.finish()),
        Arc::new(m.pii_total.finish()),
    ];
    RecordBatch::try_new(schema::MESSAGES.clone(), columns).expect("builders match the messages schema")
}

fn finish_quarantine(q: &mut QuarantineColumns) -> RecordBatch {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(q.source.finish()),
        Arc::new(q.line.finish()),
        Arc::new(q.reason_code.finish()),
        Arc::new(q.reason.finish()),
        Arc::new(q.raw.finish()),
        Arc::new(q.record_key.finish()),
    ];
    RecordBatch::try_new(schema::QUARANTINE.clone(), columns).expect("builders match the quarantine schema")
}

/// Per-worker reusable buffers, so the per-record path does not allocate once warm.
#[derive(Default)]
pub(crate) struct Scratch {
    redacted: String,
    user_text: String,
    pseudonym: String,
    client: String,
    entities: Vec<Entity>,
    /// User agent → (pseudonym, family). A night's logs hold few distinct user agents, each
    /// on thousands of records; the family alone costs a lower-cased copy and ~20 substring
    /// searches.
    user_agents: rustc_hash::FxHashMap<String, (String, &'static str)>,
    /// Raw metadata → (redacted JSON, what redaction removed). Metadata is a client's
    /// constant fields (`{"app_version":"3.4.1"}`) on nearly every record: parsing, redacting
    /// and re-serialising it cost ~5% of ingest instructions for a handful of distinct values.
    metadata: rustc_hash::FxHashMap<String, (String, PiiCounts)>,
    /// Key being looked up in `metadata`.
    metadata_key: String,
    /// The current record's metadata column value and what its redaction removed.
    metadata_json: String,
    metadata_pii: PiiCounts,
    /// This chunk's identities for escrow, and which pseudonyms it already holds.
    identities: Vec<crate::escrow::Pending>,
    escrowed: rustc_hash::FxHashSet<(bool, u128)>,
}

impl Scratch {
    /// Queues the raw id behind `self.pseudonym` for escrow, once per chunk.
    fn escrow(&mut self, kind: IdKind, raw: &str, seen: i64) {
        let Some(bits) = crate::escrow::pseudonym_bits(&self.pseudonym) else { return };
        if self.escrowed.insert(bits) {
            self.identities.push(crate::escrow::Pending { kind, bits, pseudonym: self.pseudonym.clone(), raw: raw.to_owned(), seen });
        }
    }
}

/// Distinct user agents (and metadata values) remembered per worker before a cache starts over.
const USER_AGENT_CACHE_ENTRIES: usize = 4096;
const METADATA_CACHE_ENTRIES: usize = 4096;
/// Longer metadata is not cached: it is likely unique (free text) and would bloat the cache.
const METADATA_CACHE_MAX_KEY_BYTES: usize = 512;

/// Processes one chunk into per-day batches and quarantine rows.
pub(crate) fn process(ctx: &Context<'_>, chunk: Chunk, seq: u64, scratch: &mut Scratch) -> Processed {
    let mut days: BTreeMap<NaiveDate, (ConversationColumns, MessageColumns)> = BTreeMap::new();
    let mut quarantine = QuarantineColumns::default();
    let mut read = 0u64;
    let mut pii = PiiCounts::default();
    let data = &chunk.data[..];
    let mut line_no = chunk.first_line;
    let mut cut = chunk.cut_lines.iter().peekable();
    let mut pos = 0;
    while pos < data.len() {
        let (line, next, terminated) = match memchr::memchr(b'\n', &data[pos..]) {
            Some(i) => (&data[pos..pos + i], pos + i + 1, true),
            None => (&data[pos..], data.len(), false),
        };
        pos = next;
        let this_line = line_no;
        line_no += 1;
        let was_cut = cut.next_if(|&&l| l == this_line).is_some();
        // The unterminated tail of a truncated stream is the truncation, handled below.
        if !terminated && chunk.truncated.is_some() {
            let detail = format!(
                "input ended early (corrupt or truncated compressed stream) at line {this_line}: {}",
                chunk.truncated.as_deref().unwrap_or_default()
            );
            quarantine_row(ctx, &mut quarantine, &chunk.source, this_line, Reject::new("truncated_input", detail), line, scratch);
            read += 1;
            continue;
        }
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        read += 1;
        if was_cut || line.len() > ctx.max_record_bytes {
            let reject = Reject::new("oversized", format!("record is larger than the {} byte limit", ctx.max_record_bytes));
            quarantine_row(ctx, &mut quarantine, &chunk.source, this_line, reject, line, scratch);
            continue;
        }
        let text = match std::str::from_utf8(line) {
            Ok(t) => t,
            Err(e) => {
                let reject = Reject::new("invalid_utf8", format!("invalid UTF-8 at byte {}", e.valid_up_to()));
                quarantine_row(ctx, &mut quarantine, &chunk.source, this_line, reject, line, scratch);
                continue;
            }
        };
        let parsed = match ctx.format {
            Format::Native => record::parse_native(text, ctx.limits),
            Format::HhRlhf => record::parse_hh(text, &ctx.hh_options[chunk.file_index], ctx.limits),
        };
        // Metadata comes first: a value that cannot be kept quarantines the record rather than
        // vanishing from a row that counts as written.
        let parsed = parsed.and_then(|rec| prepare_metadata(ctx, &rec.extra, scratch).map(|()| rec));
        match parsed {
            Ok(rec) => {
                let date = rec.created_at.date_naive();
                // Sizing guess from the chunk: about 700 bytes and 3 messages per record.
                let (conversations, messages) = days.entry(date).or_insert_with(|| {
                    let rows = data.len() / 700 + 16;
                    (ConversationColumns::with_capacity(rows, data.len() / 3), MessageColumns::with_capacity(rows * 3, data.len()))
                });
                let counts = append_record(ctx, conversations, messages, &rec, &chunk.source, this_line, scratch);
                pii.add(&counts);
            }
            Err(reject) => quarantine_row(ctx, &mut quarantine, &chunk.source, this_line, reject, line, scratch),
        }
    }
    // A truncated stream that ended exactly on a line boundary still gets its row.
    if let Some(err) = &chunk.truncated
        && (data.is_empty() || data.ends_with(b"\n")) {
            let detail = format!("input ended early (corrupt or truncated compressed stream) after line {}: {err}", line_no - 1);
            quarantine_row(ctx, &mut quarantine, &chunk.source, line_no, Reject::new("truncated_input", detail), b"", scratch);
            read += 1;
        }
    let days = days
        .into_iter()
        .map(|(date, (mut c, mut m))| {
            let message_counts = std::mem::take(&mut c.message_counts);
            (date, DayRows { conversations: finish_conversations(&mut c), messages: finish_messages(&mut m), message_counts })
        })
        .collect();
    let quarantine = (quarantine.rows > 0).then(|| finish_quarantine(&mut quarantine));
    scratch.escrowed.clear();
    Processed { seq, days, quarantine, read, pii, identities: std::mem::take(&mut scratch.identities) }
}

fn chars_i32(text: &str) -> i32 {
    i32::try_from(text.chars().count()).unwrap_or(i32::MAX)
}

fn append_record(
    ctx: &Context<'_>,
    c: &mut ConversationColumns,
    m: &mut MessageColumns,
    rec: &Record<'_>,
    source: &str,
    line: u64,
    s: &mut Scratch,
) -> PiiCounts {
    let mut conversation_pii = PiiCounts::default();
    s.user_text.clear();
    let (mut turns, mut user_chars, mut assistant_chars) = (0i32, 0i32, 0i32);
    for (idx, msg) in rec.messages.iter().enumerate() {
        let mut message_pii = PiiCounts::default();
        ctx.redactor.redact_into(&msg.content, &mut s.redacted, &mut message_pii, &mut s.entities);
        let chars = chars_i32(&msg.content);
        m.conversation_id.append_value(&rec.conversation_id);
        m.idx.append_value(i32::try_from(idx).unwrap_or(i32::MAX));
        m.role.append_value(msg.role.as_str());
        m.content.append_value(&s.redacted);
        m.chars.append_value(chars);
        m.pii_total.append_value(i32::try_from(message_pii.total()).unwrap_or(i32::MAX));
        conversation_pii.add(&message_pii);
        match msg.role {
            Role::User => {
                turns += 1;
                user_chars = user_chars.saturating_add(chars);
                if !s.user_text.is_empty() {
                    s.user_text.push_str(USER_TURN_SEPARATOR);
                }
                push_turn(&mut s.user_text, &s.redacted);
            }
            Role::Assistant => assistant_chars = assistant_chars.saturating_add(chars),
            Role::System => {}
        }
    }
    c.message_counts.push(u32::try_from(rec.messages.len()).unwrap_or(u32::MAX));

    c.conversation_id.append_value(&rec.conversation_id);
    ctx.key.pseudonym_into(IdKind::Account, &rec.account_id, &mut s.pseudonym);
    c.account_id.append_value(&s.pseudonym);
    if ctx.escrow {
        s.escrow(IdKind::Account, &rec.account_id, rec.created_at.timestamp_micros());
    }
    match &rec.org_id {
        Some(org) => {
            ctx.key.pseudonym_into(IdKind::Org, org, &mut s.pseudonym);
            c.org_id.append_value(&s.pseudonym);
            if ctx.escrow {
                s.escrow(IdKind::Org, org, rec.created_at.timestamp_micros());
            }
        }
        None => c.org_id.append_null(),
    }
    c.created_at.append_value(rec.created_at.timestamp_micros());
    match &rec.client {
        Some(client) => {
            normalise_client_into(client, &mut s.client);
            c.client.append_value(&s.client);
        }
        None => c.client.append_null(),
    }
    match rec.ip.as_deref().and_then(|ip| ctx.key.net_prefix_pseudonym_into(ip, &mut s.pseudonym)) {
        Some(()) => c.ip_prefix.append_value(&s.pseudonym),
        None => c.ip_prefix.append_null(),
    }
    match &rec.user_agent {
        Some(ua) => {
            if !s.user_agents.contains_key(ua.as_ref()) {
                if s.user_agents.len() >= USER_AGENT_CACHE_ENTRIES {
                    s.user_agents.clear();
                }
                s.user_agents.insert(ua.to_string(), (ctx.key.pseudonym(IdKind::UserAgent, ua), user_agent_family(ua)));
            }
            let (pseudonym, family) = &s.user_agents[ua.as_ref()];
            c.user_agent.append_value(pseudonym);
            c.user_agent_family.append_value(family);
        }
        None => {
            c.user_agent.append_null();
            c.user_agent_family.append_null();
        }
    }
    c.language.append_value(ctx.languages.detect(&s.user_text));
    c.turns.append_value(turns);
    c.message_count.append_value(i32::try_from(rec.messages.len()).unwrap_or(i32::MAX));
    c.user_chars.append_value(user_chars);
    c.assistant_chars.append_value(assistant_chars);
    c.user_text.append_value(&s.user_text);
    if rec.extra.is_empty() {
        c.metadata.append_null();
    } else {
        c.metadata.append_value(&s.metadata_json);
        conversation_pii.add(&s.metadata_pii);
    }
    for kind in PiiKind::ALL {
        c.pii[kind as usize].append_value(i32::try_from(conversation_pii.get(kind)).unwrap_or(i32::MAX));
    }
    c.pii_total.append_value(i32::try_from(conversation_pii.total()).unwrap_or(i32::MAX));
    c.source.append_value(source);
    c.source_line.append_value(i64::try_from(line).unwrap_or(i64::MAX));
    conversation_pii
}

/// Prepares a record's metadata column into `s.metadata_json` and what redaction removed into
/// `s.metadata_pii` (nothing to do without metadata), from the worker's cache when this exact
/// raw metadata was seen before (its counts are added again, as if redacted anew).
fn prepare_metadata(ctx: &Context<'_>, extra: &[Extra<'_>], s: &mut Scratch) -> Result<(), Reject> {
    if extra.is_empty() {
        return Ok(());
    }
    let mut key = std::mem::take(&mut s.metadata_key);
    key.clear();
    for (name, raw) in extra {
        // Names are length-prefixed (a decoded name may hold any character); raw JSON text
        // cannot hold a NUL, so one ends each value.
        let _ = write!(key, "{}:", name.len());
        key.push_str(name);
        key.push_str(raw.get());
        key.push('\0');
    }
    let result = if let Some((json, counts)) = s.metadata.get(&key) {
        s.metadata_json.clone_from(json);
        s.metadata_pii = *counts;
        Ok(())
    } else {
        let mut counts = PiiCounts::default();
        metadata_json(ctx, extra, &mut counts, s).map(|json| {
            if key.len() <= METADATA_CACHE_MAX_KEY_BYTES {
                if s.metadata.len() >= METADATA_CACHE_ENTRIES {
                    s.metadata.clear();
                }
                s.metadata.insert(key.clone(), (json.clone(), counts));
            }
            s.metadata_json = json;
            s.metadata_pii = counts;
        })
    };
    s.metadata_key = key;
    result
}

/// `metadata` object merged with unknown top-level fields: identifiers pseudonymized or
/// dropped ([`IdentifierPolicy`]), every other key and string redacted. A value JSON cannot
/// carry into a column (a number out of range, nesting past serde's limit) is an error.
fn metadata_json(ctx: &Context<'_>, extra: &[Extra<'_>], pii: &mut PiiCounts, s: &mut Scratch) -> Result<String, Reject> {
    let mut object = serde_json::Map::new();
    for (key, raw) in extra {
        let value: Value = serde_json::from_str(raw.get()).map_err(|e| {
            let field = if key == "metadata" { "`metadata`".to_owned() } else { "an unknown top-level field".to_owned() };
            Reject::new("bad_value", format!("{field} holds a value that cannot be stored: {}", record::error_without_values(&e)))
        })?;
        if key == "metadata" {
            if let Value::Object(map) = value {
                object.extend(map);
            }
        } else {
            let name = if object.contains_key(key.as_ref()) { format!("_{key}") } else { key.to_string() };
            object.insert(name, value);
        }
    }
    let mut value = Value::Object(object);
    ctx.identifiers.scrub_value(ctx.key, &mut value);
    redact_json(ctx.redactor, &mut value, pii, s);
    Ok(value.to_string())
}

fn redact_json(redactor: &Redactor, value: &mut Value, pii: &mut PiiCounts, s: &mut Scratch) {
    match value {
        Value::String(text) => {
            if redactor.redact_into(text, &mut s.redacted, pii, &mut s.entities) {
                *text = s.redacted.clone();
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| redact_json(redactor, v, pii, s)),
        Value::Object(map) => {
            // Keys are free text too ({"jane@example.com": true}).
            let mut renamed = Vec::new();
            for k in map.keys() {
                if redactor.redact_into(k, &mut s.redacted, pii, &mut s.entities) {
                    renamed.push((k.clone(), s.redacted.clone()));
                }
            }
            for (old, new) in renamed {
                if let Some(v) = map.remove(&old) {
                    let new = if map.contains_key(&new) { format!("_{new}") } else { new };
                    map.insert(new, v);
                }
            }
            map.values_mut().for_each(|v| redact_json(redactor, v, pii, s));
        }
        // Long digit runs in numbers (a card typed as a JSON number) are redacted too.
        Value::Number(n) => {
            let text = n.to_string();
            if text.len() >= 9 && redactor.redact_into(&text, &mut s.redacted, pii, &mut s.entities) {
                *value = Value::String(s.redacted.clone());
            }
        }
        Value::Bool(_) | Value::Null => {}
    }
}

/// The client name trimmed, lower-cased and cut to 32 bytes, into `out`.
fn normalise_client_into(client: &str, out: &mut String) {
    let trimmed = client.trim();
    let mut end = trimmed.len().min(32);
    while !trimmed.is_char_boundary(end) {
        end -= 1;
    }
    out.clear();
    out.push_str(&trimmed[..end]);
    out.make_ascii_lowercase();
}

/// A coarse, non-identifying family for a user agent: client software and platform.
pub(crate) fn user_agent_family(ua: &str) -> &'static str {
    let ua_l = ua.to_ascii_lowercase();
    let has = |s: &str| ua_l.contains(s);
    let software = if has("python-requests") || has("python-httpx") || has("aiohttp") || has("python/") {
        "python"
    } else if has("curl/") {
        "curl"
    } else if has("go-http-client") {
        "go"
    } else if has("okhttp") {
        "okhttp"
    } else if has("node-fetch") || has("axios") || has("undici") || has("node.js") {
        "node"
    } else if has("postman") {
        "postman"
    } else if has("edg/") {
        "edge"
    } else if has("firefox/") {
        "firefox"
    } else if has("chrome/") || has("crios/") {
        "chrome"
    } else if has("safari/") {
        "safari"
    } else if has("bot") || has("spider") || has("crawler") {
        "bot"
    } else {
        "other"
    };
    let platform = if has("android") {
        "android"
    } else if has("iphone") || has("ipad") || has("ios") {
        "ios"
    } else if has("windows") {
        "windows"
    } else if has("mac os") || has("macintosh") {
        "macos"
    } else if has("linux") || has("x11") {
        "linux"
    } else {
        "unknown"
    };
    match (software, platform) {
        ("chrome", "windows") => "chrome/windows",
        ("chrome", "macos") => "chrome/macos",
        ("chrome", "linux") => "chrome/linux",
        ("chrome", "android") => "chrome/android",
        ("chrome", _) => "chrome/other",
        ("firefox", "windows") => "firefox/windows",
        ("firefox", "macos") => "firefox/macos",
        ("firefox", "linux") => "firefox/linux",
        ("firefox", _) => "firefox/other",
        ("safari", "ios") => "safari/ios",
        ("safari", "macos") => "safari/macos",
        ("safari", _) => "safari/other",
        ("edge", _) => "edge",
        (other, _) => other,
    }
}

fn quarantine_row(ctx: &Context<'_>, q: &mut QuarantineColumns, source: &str, line: u64, reject: Reject, raw: &[u8], s: &mut Scratch) {
    // Redact a generous prefix first, then cut: cutting first could split a card number so
    // that it no longer validates and half of it leaks.
    let lossy = String::from_utf8_lossy(&raw[..raw.len().min(4 * QUARANTINE_RAW_CHARS)]);
    let scrubbed = ctx.identifiers.scrub_raw(ctx.key, &lossy);
    let mut unused = PiiCounts::default();
    ctx.redactor.redact_into(&scrubbed, &mut s.redacted, &mut unused, &mut s.entities);
    let cut = s.redacted.char_indices().nth(QUARANTINE_RAW_CHARS).map_or(s.redacted.len(), |(i, _)| i);
    let mut hasher = blake3::Hasher::new();
    hasher.update(source.as_bytes());
    hasher.update(&line.to_le_bytes());
    hasher.update(raw);
    let key = hasher.finalize();
    // The detail can quote input (serde errors quote values): redact it too.
    let detail = ctx.redactor.redact(&reject.detail);
    q.source.append_value(source);
    q.line.append_value(i64::try_from(line).unwrap_or(i64::MAX));
    q.reason_code.append_value(reject.code);
    q.reason.append_value(detail);
    q.raw.append_value(&s.redacted[..cut]);
    q.record_key.append_value(&key.to_hex()[..32]);
    q.rows += 1;
}

/// Partition date of quarantine rows: the day the run happened (bad records have no
/// trustworthy timestamp of their own).
pub(crate) fn quarantine_date(ctx: &Context<'_>) -> NaiveDate {
    ctx.run_date
}

/// Used by HH-RLHF: a file's modification time as the conversations' time.
pub(crate) fn file_time(path: &std::path::Path) -> DateTime<Utc> {
    std::fs::metadata(path).and_then(|m| m.modified()).map(DateTime::<Utc>::from).unwrap_or_else(|_| Utc::now())
}

/// Appends a user turn to `user_text` with every run of line feeds folded into one:
/// `user_text` separates turns by a blank line, so a blank line inside a turn would cut its
/// first message short for every reader of it (facets, clusters, campaigns). The messages
/// table keeps the turn as written. Linear: each search resumes past the run it folded.
fn push_turn(user_text: &mut String, turn: &str) {
    let mut rest = turn;
    while let Some(at) = rest.find(USER_TURN_SEPARATOR) {
        user_text.push_str(&rest[..=at]);
        rest = rest[at..].trim_start_matches('\n');
    }
    user_text.push_str(rest);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_turns_blank_lines_do_not_split_it() {
        let mut text = String::new();
        push_turn(&mut text, "Dear council,\n\n\nplease fix the road.\n\nThanks\n");
        assert_eq!(text, "Dear council,\nplease fix the road.\nThanks\n");
        text.push_str(USER_TURN_SEPARATOR);
        push_turn(&mut text, "\n\nsecond turn");
        assert_eq!(crate::schema::user_turns(&text).collect::<Vec<_>>(), ["Dear council,\nplease fix the road.\nThanks", "second turn"]);
        let mut plain = String::new();
        push_turn(&mut plain, "no blank line\r\n\r\nhere, é");
        assert_eq!(plain, "no blank line\r\n\r\nhere, é");
    }

    #[test]
    fn user_agent_families_are_coarse() {
        assert_eq!(user_agent_family("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36"), "chrome/windows");
        assert_eq!(user_agent_family("python-requests/2.31.0"), "python");
        assert_eq!(user_agent_family("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 Version/17.0 Mobile/15E148 Safari/604.1"), "safari/ios");
    }
}
