//! Ingest: conversation logs (JSON Lines, plain/gzip/zstd) into the warehouse's
//! `conversations`, `messages` and `quarantine` tables.
//!
//! ```text
//!  reader thread ──chunks──▶ N workers (parse, pseudonymize, redact, language) ──▶ writer
//!   (decompress,    (bounded                                         (bounded    (re-orders by
//!    split lines)    channel)                                         channel)    sequence, de-dups,
//!                                                                                 writes staged Parquet)
//! ```
//!
//! Memory is bounded by the channel capacities (a few chunks per thread) and the Parquet
//! writers' row-group buffers, whatever the input size. Output order follows input order, so
//! the same inputs give the same rows in the same files. Rayon's `par_bridge` would lose that
//! order and has no back-pressure, hence plain scoped threads and bounded channels here.
//!
//! Every record read ends in exactly one of: written, quarantined, or dropped as a duplicate
//! (same `conversation_id` on the same day already in the warehouse or earlier in the run).

mod build;
mod identifiers;
mod read;
mod record;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use arrow::array::{Array, AsArray, RecordBatch};
use chrono::{DateTime, NaiveDate, Utc};

pub use identifiers::{IdentifierAction, IdentifierPolicy, DEFAULT_IDENTIFIER_KEYS};
pub use record::{Reject, Role};

use crate::error::{Error, Result};
use crate::escrow::{EscrowWriter, RevealKey};
use crate::lang::LanguageDetector;
use crate::ledger::RunKeys;
use crate::manifest::RunRecorder;
use crate::pseudonym::PseudonymKey;
use crate::redact::{NerMode, PiiCounts, Redactor};
use crate::schema::table;
use crate::warehouse::{LockGuard, PublishedFile, Warehouse};

/// Input format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Vigil's native JSON Lines schema.
    #[default]
    Native,
    /// Anthropic HH-RLHF transcripts (`{"chosen": …, "rejected": …}`).
    HhRlhf,
}

/// What ingest does and its limits.
#[derive(Debug, Clone)]
pub struct IngestConfig {
    /// Input format of every file.
    pub format: Format,
    /// A line longer than this (bytes) is quarantined as `oversized`.
    pub max_record_bytes: usize,
    /// A message longer than this (bytes) quarantines its record as `oversized`.
    pub max_message_bytes: usize,
    /// A record with more messages than this is quarantined as `oversized`.
    pub max_messages: usize,
    /// Bytes of input per unit of parallel work.
    pub chunk_bytes: usize,
    /// Worker threads (0: one per core).
    pub threads: usize,
    /// HH-RLHF: account for every transcript (default: each transcript is its own account).
    pub hh_account: Option<String>,
    /// HH-RLHF: time of every transcript (default: the file's modification time).
    pub hh_at: Option<DateTime<Utc>>,
    /// The run's date: the partition of quarantine rows.
    pub run_date: NaiveDate,
    /// Metadata keys that hold identifiers, and whether their values are pseudonymized or
    /// dropped (the contract's identifier fields are always pseudonymized).
    pub identifiers: IdentifierPolicy,
    /// Whether redaction uses the learned name recogniser.
    pub ner: NerMode,
    /// Where installed models are (`None`: `$VIGIL_MODELS`, else `.vigil/models`).
    pub models_dir: Option<PathBuf>,
    /// The public reveal key: when set, every raw account and org id is also stored,
    /// encrypted to it, in `identities` (see [`crate::escrow`]).
    pub escrow: Option<RevealKey>,
}

impl Default for IngestConfig {
    fn default() -> Self {
        IngestConfig {
            format: Format::Native,
            max_record_bytes: 16 << 20,
            max_message_bytes: 4 << 20,
            max_messages: 10_000,
            chunk_bytes: 2 << 20,
            threads: 0,
            hh_account: None,
            hh_at: None,
            run_date: Utc::now().date_naive(),
            identifiers: IdentifierPolicy::default(),
            ner: NerMode::default(),
            models_dir: None,
            escrow: None,
        }
    }
}

/// Counts for one input file.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FileSummary {
    /// The file as given.
    pub path: PathBuf,
    /// Records read (non-blank lines, plus one for a truncated stream).
    pub read: u64,
    /// Conversations written.
    pub written: u64,
    /// Records quarantined.
    pub quarantined: u64,
    /// Records dropped as duplicates.
    pub duplicates: u64,
}

/// What an ingest run did. `read == written + quarantined + duplicates` always holds.
#[derive(Debug, Clone, Default)]
pub struct IngestSummary {
    /// Records read.
    pub read: u64,
    /// Conversations written.
    pub written: u64,
    /// Records quarantined.
    pub quarantined: u64,
    /// Records dropped as duplicates (conversations and repeated bad lines).
    pub duplicates: u64,
    /// Messages written.
    pub messages: u64,
    /// Per input file.
    pub files: Vec<FileSummary>,
    /// Quarantine rows by reason code.
    pub quarantine_reasons: BTreeMap<String, u64>,
    /// Personal data removed from written conversations, by kind.
    pub pii: PiiCounts,
    /// Files published into the warehouse.
    pub published: Vec<PublishedFile>,
    /// Files of an earlier, interrupted run published by this one (roll-forward).
    pub recovered_files: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// The run's id.
    pub run_id: String,
    /// Where the run's manifest is.
    pub manifest: PathBuf,
    /// What found names: the learned recogniser's id, or `rules`.
    pub recogniser: String,
    /// Texts longer than [`crate::redact::NER_MAX_BYTES`] whose names past it only the rules
    /// read.
    pub names_read_in_part: u64,
    /// Raw ids escrowed to the reveal key by this run (new to the warehouse).
    pub escrowed: u64,
}

/// Called with the number of (compressed) input bytes consumed, from the reader thread.
pub type ProgressFn = Arc<dyn Fn(u64) + Send + Sync>;

struct Work {
    seq: u64,
    chunk: read::Chunk,
}

/// Ingests `files` into the warehouse. Returns an error only when the run cannot go on
/// (unreadable input file, unwritable warehouse); bad records are quarantined.
pub fn ingest(
    warehouse: &Warehouse,
    files: &[PathBuf],
    key: &PseudonymKey,
    config: &IngestConfig,
    progress: ProgressFn,
) -> Result<IngestSummary> {
    let started = Instant::now();
    if files.is_empty() {
        return Err(Error::Config("no input files".into()));
    }
    // Fail before writing anything if an input cannot be opened.
    for path in files {
        std::fs::File::open(path).map_err(|source| Error::Input { path: path.clone(), source })?;
        if !std::fs::metadata(path).map_err(|source| Error::Input { path: path.clone(), source })?.is_file() {
            let source = std::io::Error::new(std::io::ErrorKind::InvalidInput, "not a regular file");
            return Err(Error::Input { path: path.clone(), source });
        }
    }
    let lock = warehouse.lock(&crate::manifest::lock_name("ingest", config.run_date))?;
    let recovered_files = warehouse.recover_staging(&lock)?.len();
    let run_id = run_id(files);
    let config_json = serde_json::json!({
        "format": format!("{:?}", config.format),
        "max_record_bytes": config.max_record_bytes,
        "max_message_bytes": config.max_message_bytes,
        "max_messages": config.max_messages,
        "hh_account": config.hh_account.is_some(),
        "hh_at": config.hh_at.map(|t| t.to_rfc3339()),
        "ner": format!("{:?}", config.ner),
        "reveal_key": config.escrow.as_ref().map(RevealKey::to_text),
    });
    let digest = crate::manifest::config_digest(&config_json, &[]);
    let keys = RunKeys { pseudonym: Some(key), reveal: config.escrow.as_ref() };
    let mut recorder = RunRecorder::start(warehouse, "ingest", config.run_date, &run_id, config_json, digest, keys)?;
    let result = recorder.add_inputs(files).and_then(|()| ingest_locked(warehouse, &lock, &run_id, files, key, config, progress, &mut recorder));
    match result {
        Ok(mut summary) => {
            summary.recovered_files = recovered_files;
            summary.elapsed = started.elapsed();
            summary.run_id = run_id;
            summary.manifest = recorder.path().to_path_buf();
            recorder.set_stages(&[("ingest", summary.elapsed)]);
            recorder.set_summary(serde_json::json!({
                "read": summary.read, "written": summary.written, "quarantined": summary.quarantined,
                "duplicates": summary.duplicates, "messages": summary.messages,
                "quarantine_reasons": summary.quarantine_reasons, "pii_redacted": summary.pii.total(),
                "recogniser": summary.recogniser, "names_read_in_part": summary.names_read_in_part,
                "escrowed": summary.escrowed,
            }));
            recorder.finish(None)?;
            debug_assert_eq!(summary.read, summary.written + summary.quarantined + summary.duplicates);
            Ok(summary)
        }
        Err(e) => {
            let _ = recorder.finish(Some(&e));
            Err(e)
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn ingest_locked(
    warehouse: &Warehouse,
    lock: &LockGuard,
    run_id: &str,
    files: &[PathBuf],
    key: &PseudonymKey,
    config: &IngestConfig,
    progress: ProgressFn,
    recorder: &mut RunRecorder,
) -> Result<IngestSummary> {

    let (redactor, fallback) = Redactor::with_models(config.ner, &crate::embed::models_dir(config.models_dir.as_deref()))?;
    if let Some(reason) = fallback {
        tracing::warn!("{reason}");
    }
    let languages = LanguageDetector::new();
    let hh_options: Vec<record::HhOptions> = files
        .iter()
        .map(|p| record::HhOptions { account: config.hh_account.clone(), at: config.hh_at.unwrap_or_else(|| build::file_time(p)) })
        .collect();
    let ctx = build::Context {
        key,
        redactor: &redactor,
        languages: &languages,
        format: config.format,
        limits: record::Limits { max_message_bytes: config.max_message_bytes, max_messages: config.max_messages },
        max_record_bytes: config.max_record_bytes,
        hh_options: &hh_options,
        run_date: config.run_date,
        identifiers: &config.identifiers,
        escrow: config.escrow.is_some(),
    };
    let threads = if config.threads == 0 { std::thread::available_parallelism().map_or(2, |n| n.get()) } else { config.threads };
    let mut writer = Writer::new(warehouse, lock, run_id, files, key)?;
    if let Some(reveal) = &config.escrow {
        writer.escrow = Some(EscrowWriter::new(warehouse, reveal, config.run_date)?);
    }

    let (work_tx, work_rx) = crossbeam_channel::bounded::<Work>(threads * 2);
    let (done_tx, done_rx) = crossbeam_channel::bounded::<(usize, build::Processed)>(threads * 2);
    let chunk_bytes = config.chunk_bytes.max(64 * 1024);
    let max_line = config.max_record_bytes.saturating_add(1);

    let outcome: Result<()> = std::thread::scope(|scope| {
        let reader = std::thread::Builder::new().name("ingest-read".into()).spawn_scoped(scope, move || -> Result<()> {
            let mut seq = 0u64;
            for (file_index, path) in files.iter().enumerate() {
                let stream = read::open(path, progress.clone())?;
                let source: Arc<str> = path.file_name().map_or_else(|| path.to_string_lossy(), |n| n.to_string_lossy()).into();
                let mut chunks = read::ChunkReader::new(stream, file_index, source, chunk_bytes, max_line);
                while let Some(chunk) = chunks.next_chunk() {
                    if work_tx.send(Work { seq, chunk }).is_err() {
                        return Ok(()); // the writer stopped; its error is reported
                    }
                    seq += 1;
                }
            }
            Ok(())
        })?;
        for _ in 0..threads {
            let work_rx = work_rx.clone();
            let done_tx = done_tx.clone();
            let ctx = &ctx;
            std::thread::Builder::new().name("ingest-work".into()).spawn_scoped(scope, move || {
                let mut scratch = build::Scratch::default();
                for Work { seq, chunk } in work_rx {
                    let file_index = chunk.file_index;
                    let processed = build::process(ctx, chunk, seq, &mut scratch);
                    if done_tx.send((file_index, processed)).is_err() {
                        break;
                    }
                }
            })?;
        }
        drop(done_tx);
        drop(work_rx);

        let mut pending: BTreeMap<u64, (usize, build::Processed)> = BTreeMap::new();
        let mut next = 0u64;
        let mut result = Ok(());
        for (file_index, processed) in done_rx.iter() {
            pending.insert(processed.seq, (file_index, processed));
            while let Some((file_index, processed)) = pending.remove(&next) {
                if let Err(e) = writer.write(&ctx, file_index, processed) {
                    result = Err(e);
                    break;
                }
                next += 1;
            }
            if result.is_err() {
                break;
            }
        }
        drop(done_rx);
        let read_result = reader.join().map_err(|_| Error::internal("ingest reader", "the reading thread panicked"))?;
        result.and(read_result)
    });
    outcome?;
    if let Some(escrow) = &mut writer.escrow {
        escrow.flush(&mut writer.staged)?;
        writer.summary.escrowed = escrow.written;
    }
    let mut summary = writer.summary;
    summary.recogniser = redactor.recogniser().to_string();
    summary.names_read_in_part = redactor.texts_read_in_part();
    let committed = writer.staged.commit()?;
    recorder.committing(&committed.files())?;
    summary.published = committed.publish()?;
    Ok(summary)
}

/// A run id unique per run and sortable by time.
fn run_id(files: &[PathBuf]) -> String {
    let mut salt = Vec::new();
    for f in files {
        salt.extend_from_slice(f.as_os_str().as_encoded_bytes());
    }
    crate::manifest::new_run_id(&salt)
}

/// 128-bit keyed digest of an id, for de-duplication sets that stay small at millions of rows.
/// Keyed (with a key derived from the pseudonym key), so nobody can choose ids whose digests
/// collide in the sets' buckets, and the sets can use a cheap non-cryptographic hash
/// (SipHash over digests was 2% of ingest instructions, on the one writer thread).
struct IdDigester([u8; 32]);

impl IdDigester {
    fn new(key: &PseudonymKey) -> Self {
        IdDigester(key.derive("vigil 2026 ingest de-duplication digest v1"))
    }

    fn digest(&self, id: &str) -> u128 {
        let hash = blake3::keyed_hash(&self.0, id.as_bytes());
        u128::from_le_bytes(hash.as_bytes()[..16].try_into().expect("16 bytes"))
    }
}

/// A set of id digests.
type DigestSet = rustc_hash::FxHashSet<u128>;

/// The sequential end of the pipeline: de-duplicates and writes in input order.
struct Writer<'w> {
    warehouse: &'w Warehouse,
    staged: crate::warehouse::StagedWrite,
    digester: IdDigester,
    seen: HashMap<NaiveDate, DigestSet>,
    quarantine_keys: DigestSet,
    summary: IngestSummary,
    escrow: Option<EscrowWriter>,
}

impl<'w> Writer<'w> {
    fn new(warehouse: &'w Warehouse, lock: &LockGuard, run_id: &str, files: &[PathBuf], key: &PseudonymKey) -> Result<Self> {
        let digester = IdDigester::new(key);
        let mut keys = HashSet::new();
        warehouse.read_string_column(&warehouse.files(table::QUARANTINE, None)?, "record_key", &mut keys)?;
        let quarantine_keys = keys.iter().map(|k| digester.digest(k)).collect();
        let summary = IngestSummary {
            files: files.iter().map(|p| FileSummary { path: p.clone(), ..Default::default() }).collect(),
            ..Default::default()
        };
        Ok(Writer { warehouse, staged: warehouse.stage(lock, run_id)?, digester, seen: HashMap::new(), quarantine_keys, summary, escrow: None })
    }

    fn seen_for(&mut self, date: NaiveDate) -> Result<&mut DigestSet> {
        if !self.seen.contains_key(&date) {
            let mut ids = HashSet::new();
            self.warehouse.read_string_column(&self.warehouse.files(table::CONVERSATIONS, Some(date))?, "conversation_id", &mut ids)?;
            self.seen.insert(date, ids.iter().map(|id| self.digester.digest(id)).collect());
        }
        Ok(self.seen.get_mut(&date).expect("inserted above"))
    }

    fn write(&mut self, ctx: &build::Context<'_>, file_index: usize, processed: build::Processed) -> Result<()> {
        let file = &mut self.summary.files[file_index];
        file.read += processed.read;
        self.summary.read += processed.read;
        self.summary.pii.add(&processed.pii);
        if let Some(escrow) = &mut self.escrow {
            escrow.add(processed.identities, &mut self.staged)?;
        }
        for (date, rows) in processed.days {
            let ids = rows.conversations.column(0).as_string::<i32>();
            let digests: Vec<u128> = ids.iter().map(|id| self.digester.digest(id.unwrap_or_default())).collect();
            let seen = self.seen_for(date)?;
            let keep: Vec<bool> = digests.into_iter().map(|d| seen.insert(d)).collect();
            let kept = keep.iter().filter(|&&k| k).count() as u64;
            let dropped = keep.len() as u64 - kept;
            let message_keep: Vec<bool> =
                keep.iter().zip(&rows.message_counts).flat_map(|(&k, &n)| std::iter::repeat_n(k, n as usize)).collect();
            self.write_kept(table::CONVERSATIONS, date, &rows.conversations, &keep)?;
            self.summary.messages += self.write_kept(table::MESSAGES, date, &rows.messages, &message_keep)?;
            self.summary.written += kept;
            self.summary.duplicates += dropped;
            let file = &mut self.summary.files[file_index];
            file.written += kept;
            file.duplicates += dropped;
        }
        if let Some(quarantine) = processed.quarantine {
            let keys = quarantine.column(5).as_string::<i32>();
            let codes = quarantine.column(2).as_string::<i32>();
            let mut keep = Vec::with_capacity(keys.len());
            for (key, code) in keys.iter().zip(codes.iter()) {
                let fresh = self.quarantine_keys.insert(self.digester.digest(key.unwrap_or_default()));
                if fresh {
                    *self.summary.quarantine_reasons.entry(code.unwrap_or_default().to_owned()).or_default() += 1;
                }
                keep.push(fresh);
            }
            let kept = self.write_kept(table::QUARANTINE, build::quarantine_date(ctx), &quarantine, &keep)?;
            let dropped = keep.len() as u64 - kept;
            self.summary.quarantined += kept;
            self.summary.duplicates += dropped;
            let file = &mut self.summary.files[file_index];
            file.quarantined += kept;
            file.duplicates += dropped;
        }
        Ok(())
    }

    /// Writes the rows marked `keep` as zero-copy slices (duplicates are rare, so a batch is
    /// usually one slice; filtering would copy every string). Returns the rows written.
    fn write_kept(&mut self, table: &str, date: NaiveDate, batch: &RecordBatch, keep: &[bool]) -> Result<u64> {
        let mut written = 0u64;
        let mut start = 0;
        while start < keep.len() {
            if !keep[start] {
                start += 1;
                continue;
            }
            let end = keep[start..].iter().position(|&k| !k).map_or(keep.len(), |n| start + n);
            self.staged.write(table, date, &batch.slice(start, end - start))?;
            written += (end - start) as u64;
            start = end;
        }
        Ok(written)
    }

}

/// Reads `path`'s size for progress totals (0 if unknown).
pub fn input_size(path: &Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}
