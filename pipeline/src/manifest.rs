//! Run manifests: the chain of custody of every job run.
//!
//! Each run writes `W/_runs/<job>/<date>/<run-id>.json`: what it read and wrote (paths, row
//! counts, sizes, BLAKE3 digests), stage timings, the digest of its configuration, the binary
//! version and the outcome. The manifest is written three times, each time atomically
//! (temporary file + rename): when the run starts (`running`), at the run's commit point with
//! the digests of the files about to be published (`publishing`), and at the end (`succeeded`
//! or `failed`). A run killed on the way leaves `running` or `publishing`; [`list`] reports
//! those as interrupted once no live run holds the job's lock, and a manifest left at
//! `publishing` still vouches for the files the next run rolls forward.
//!
//! [`verify`] re-hashes every published file against the newest manifest that claims it, so
//! anyone can show a partition is byte for byte what a recorded run produced.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::ledger::{Ledger, PublicKey, Record, RunEvent, RunKeys, SigningKey};
use crate::warehouse::{file_digest, PublishedFile, Warehouse};

/// Directory of the manifests, under the warehouse root (ignored by Hive readers: `_` prefix).
pub const RUNS_DIR: &str = "_runs";

/// How a run ended (or how far it got).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Started, not yet committed.
    Running,
    /// Committed; renaming files into place.
    Publishing,
    /// Finished and published.
    Succeeded,
    /// Stopped by an error; published nothing unless a commit happened before.
    Failed,
}

/// One file a run read or wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// Path relative to the warehouse root when inside it, else as given.
    pub path: String,
    /// Table, for warehouse partitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
    /// Partition date (`YYYY-MM-DD`), for warehouse partitions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub date: Option<String>,
    /// Rows, where known (Parquet files).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rows: Option<u64>,
    /// Size in bytes.
    pub bytes: u64,
    /// BLAKE3 digest of the bytes (hex).
    pub blake3: String,
    /// For published partitions: whether the file replaced its partition or was added to it
    /// (absent in manifests written before it was recorded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub publish: Option<PublishMode>,
}

/// How a run published a partition file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PublishMode {
    /// Added beside the partition's other files (ingest).
    Append,
    /// Renamed over the partition, older files removed (nightly).
    Replace,
}

/// Wall time of one stage.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StageTiming {
    /// Stage name.
    pub stage: String,
    /// Seconds.
    pub seconds: f64,
}

/// A run's manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunManifest {
    /// Job name (`ingest`, `nightly`, `weekly`).
    pub job: String,
    /// The date the run is for (nightly: the run date; weekly: the week's last day; ingest:
    /// the day it ran), `YYYY-MM-DD`.
    pub date: String,
    /// Unique, time-sortable run id.
    pub run_id: String,
    /// `vigil` version that ran.
    pub vigil_version: String,
    /// Process id of the run (to tell a live run from a killed one).
    #[serde(default)]
    pub pid: u32,
    /// Start time (RFC 3339, UTC, microseconds: sorts as text).
    pub started_at: String,
    /// End time (absent while running).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<String>,
    /// Outcome.
    pub outcome: Outcome,
    /// The error that stopped a failed run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// BLAKE3 of the effective configuration (canonical JSON) and anything it loaded (taxonomy).
    pub config_digest: String,
    /// The effective configuration.
    pub config: serde_json::Value,
    /// Files read.
    pub inputs: Vec<FileRecord>,
    /// Files published.
    pub outputs: Vec<FileRecord>,
    /// Stage timings, in order.
    pub stages: Vec<StageTiming>,
    /// Job-specific counts (rows read, campaigns found, …).
    pub summary: serde_json::Value,
}

/// A new run id: UTC start time (sortable) and a short random-enough suffix.
pub fn new_run_id(salt: &[u8]) -> String {
    let now = Utc::now();
    let mut h = blake3::Hasher::new();
    h.update(salt);
    h.update(&std::process::id().to_le_bytes());
    h.update(&now.timestamp_nanos_opt().unwrap_or_default().to_le_bytes());
    format!("{}-{}", now.format("%Y%m%dT%H%M%SZ"), &h.finalize().to_hex()[..8])
}

/// Digest of a configuration: BLAKE3 over its canonical JSON and any extra loaded text.
pub fn config_digest(config: &serde_json::Value, extra: &[&str]) -> String {
    let mut h = blake3::Hasher::new();
    h.update(config.to_string().as_bytes());
    for e in extra {
        h.update(&(e.len() as u64).to_le_bytes());
        h.update(e.as_bytes());
    }
    h.finalize().to_hex().to_string()
}

/// Records one run: created at start, updated at commit and at the end. Every write of the
/// manifest is first entered in the warehouse's [`Ledger`], signed with the warehouse handle's
/// key when it has one.
#[derive(Debug)]
pub struct RunRecorder {
    path: PathBuf,
    root: PathBuf,
    manifest: RunManifest,
    ledger: Ledger,
    signer: Option<std::sync::Arc<SigningKey>>,
    pseudonym_fingerprint: Option<String>,
    reveal_key: Option<String>,
    access: std::sync::Arc<crate::access::AccessPolicy>,
}

impl RunRecorder {
    /// Starts the manifest of a run and writes it with outcome `running`. A run that
    /// pseudonymizes passes its key, whose fingerprint the ledger records; a key (pseudonym or
    /// signing) other than the one the warehouse is bound to is refused before anything is
    /// written.
    pub fn start(
        warehouse: &Warehouse,
        job: &str,
        date: NaiveDate,
        run_id: &str,
        config: serde_json::Value,
        config_digest: String,
        keys: RunKeys<'_>,
    ) -> Result<Self> {
        let ledger = Ledger::of(warehouse);
        ledger.check_keys(keys, warehouse.signer())?;
        let path = warehouse.root().join(RUNS_DIR).join(job).join(date.to_string()).join(format!("{run_id}.json"));
        let manifest = RunManifest {
            job: job.to_owned(),
            date: date.to_string(),
            run_id: run_id.to_owned(),
            vigil_version: env!("CARGO_PKG_VERSION").to_owned(),
            pid: std::process::id(),
            started_at: timestamp(Utc::now()),
            finished_at: None,
            outcome: Outcome::Running,
            error: None,
            config_digest,
            config,
            inputs: Vec::new(),
            outputs: Vec::new(),
            stages: Vec::new(),
            summary: serde_json::Value::Null,
        };
        let recorder = RunRecorder {
            path,
            root: warehouse.root().to_path_buf(),
            manifest,
            ledger,
            signer: warehouse.signer_arc(),
            pseudonym_fingerprint: keys.pseudonym.map(crate::ledger::pseudonym_fingerprint),
            reveal_key: keys.reveal.map(crate::escrow::RevealKey::to_text),
            access: warehouse.access_arc(),
        };
        recorder.write()?;
        Ok(recorder)
    }

    /// The run id.
    pub fn run_id(&self) -> &str {
        &self.manifest.run_id
    }

    /// Where the manifest is.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Records input files (hashed in parallel).
    pub fn add_inputs(&mut self, files: &[PathBuf]) -> Result<()> {
        let records = describe(&self.root, files)?;
        self.manifest.inputs.extend(records);
        Ok(())
    }

    /// Records stage timings.
    pub fn set_stages(&mut self, stages: &[(&str, Duration)]) {
        self.manifest.stages = stages.iter().map(|(s, d)| StageTiming { stage: (*s).to_owned(), seconds: round_ms(d.as_secs_f64()) }).collect();
    }

    /// Records job-specific counts.
    pub fn set_summary(&mut self, summary: serde_json::Value) {
        self.manifest.summary = summary;
    }

    /// At the commit point: records the files about to be published, outcome `publishing`.
    pub fn committing(&mut self, files: &[PublishedFile]) -> Result<()> {
        let records: Vec<FileRecord> = files.iter().map(|f| self.published_record(f)).collect();
        self.manifest.outputs.extend(records);
        self.manifest.outcome = Outcome::Publishing;
        self.write()
    }

    /// Records outputs written outside a staged publish (report files).
    pub fn add_outputs(&mut self, files: &[PathBuf]) -> Result<()> {
        let records = describe(&self.root, files)?;
        self.manifest.outputs.extend(records);
        Ok(())
    }

    /// Ends the run: `succeeded`, or `failed` with the error.
    pub fn finish(mut self, error: Option<&dyn std::fmt::Display>) -> Result<RunManifest> {
        self.manifest.finished_at = Some(timestamp(Utc::now()));
        match error {
            None => self.manifest.outcome = Outcome::Succeeded,
            Some(e) => {
                self.manifest.outcome = Outcome::Failed;
                self.manifest.error = Some(e.to_string());
            }
        }
        crate::killpoint::reached("manifest.finishing");
        self.write()?;
        Ok(self.manifest)
    }

    fn published_record(&self, f: &PublishedFile) -> FileRecord {
        FileRecord {
            path: relative(&self.root, &f.path),
            table: Some(f.table.clone()),
            date: Some(f.date.to_string()),
            rows: Some(f.rows),
            bytes: f.bytes,
            blake3: f.blake3.clone(),
            publish: Some(if f.replaces { PublishMode::Replace } else { PublishMode::Append }),
        }
    }

    /// Writes the manifest: to a temporary file, then its ledger entry, then renamed into
    /// place. A crash between the entry and the rename leaves the entry matching the temporary
    /// file, which [`verify`] accepts.
    fn write(&self) -> Result<()> {
        let dir = self.path.parent().expect("manifest path has a parent");
        self.access.create_dirs(&self.root, dir, crate::access::Area::Records)?;
        let tmp = self.path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(&self.manifest)? + "\n";
        std::fs::write(&tmp, &text).map_err(|e| Error::warehouse(&tmp, e))?;
        self.access.apply_file(&tmp, crate::access::Area::Records)?;
        std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(|e| Error::warehouse(&tmp, e))?;
        let event = match self.manifest.outcome {
            Outcome::Running => RunEvent::Started,
            Outcome::Publishing => RunEvent::Committed,
            Outcome::Succeeded | Outcome::Failed => RunEvent::Finished,
        };
        let record = Record::Run {
            event,
            job: self.manifest.job.clone(),
            date: self.manifest.date.clone(),
            run_id: self.manifest.run_id.clone(),
            manifest: relative(&self.root, &self.path),
            manifest_blake3: blake3::hash(text.as_bytes()).to_hex().to_string(),
            pseudonym_key: self.pseudonym_fingerprint.clone(),
            reveal_key: self.reveal_key.clone(),
        };
        self.ledger.append(record, self.signer.as_deref())?;
        std::fs::rename(&tmp, &self.path).map_err(|e| Error::warehouse(&self.path, e))?;
        Ok(())
    }
}

fn timestamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

fn round_ms(seconds: f64) -> f64 {
    (seconds * 1000.0).round() / 1000.0
}

/// `path` relative to `root` when inside it (with `/` separators), else as given.
fn relative(root: &Path, path: &Path) -> String {
    match path.strip_prefix(root) {
        Ok(rel) => rel.to_string_lossy().replace('\\', "/"),
        Err(_) => path.to_string_lossy().into_owned(),
    }
}

/// Describes files: relative path, table and date (from a Hive path), Parquet rows, size,
/// digest. In parallel; order kept.
pub fn describe(root: &Path, files: &[PathBuf]) -> Result<Vec<FileRecord>> {
    files
        .par_iter()
        .map(|path| {
            let (bytes, blake3) = file_digest(path)?;
            let rel = relative(root, path);
            let (table, date) = hive_location(&rel);
            let rows = if path.extension().is_some_and(|x| x == "parquet") { parquet_rows(path).ok() } else { None };
            Ok(FileRecord { path: rel, table, date, rows, bytes, blake3, publish: None })
        })
        .collect()
}

/// `table/date=YYYY-MM-DD/file` → (table, date).
fn hive_location(rel: &str) -> (Option<String>, Option<String>) {
    let parts: Vec<&str> = rel.split('/').collect();
    if parts.len() == 3 {
        if let Some(d) = parts[1].strip_prefix("date=").filter(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok()) {
            return (Some(parts[0].to_owned()), Some(d.to_owned()));
        }
    }
    (None, None)
}

fn parquet_rows(path: &Path) -> Result<u64> {
    let file = std::fs::File::open(path).map_err(|e| Error::warehouse(path, e))?;
    let reader = parquet::file::serialized_reader::SerializedFileReader::new(file)?;
    use parquet::file::reader::FileReader as _;
    Ok(reader.metadata().file_metadata().num_rows().max(0) as u64)
}

/// A manifest with where it was found and whether its run is still alive.
#[derive(Debug, Clone)]
pub struct ListedRun {
    /// The manifest.
    pub manifest: RunManifest,
    /// Its file.
    pub path: PathBuf,
    /// Outcome `running`/`publishing` but no live run holds the lock: killed.
    pub interrupted: bool,
}

/// Manifests under `W/_runs`, optionally of one job and/or date, oldest first. A manifest that
/// does not parse is skipped with a warning ([`verify`] reports it as a failure).
pub fn list(warehouse: &Warehouse, job: Option<&str>, date: Option<NaiveDate>) -> Result<Vec<ListedRun>> {
    let (runs, unreadable) = scan(warehouse, job, date)?;
    for (path, problem) in unreadable {
        tracing::warn!(manifest = %path.display(), problem, "unreadable run manifest skipped");
    }
    Ok(runs)
}

/// Manifests that parse, and (path, problem) for those that do not.
fn scan(warehouse: &Warehouse, job: Option<&str>, date: Option<NaiveDate>) -> Result<(Vec<ListedRun>, Vec<(PathBuf, String)>)> {
    let base = warehouse.root().join(RUNS_DIR);
    let mut paths = Vec::new();
    for job_dir in subdirs(&base)? {
        let job_name = job_dir.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        if job.is_some_and(|j| j != job_name) {
            continue;
        }
        for date_dir in subdirs(&job_dir)? {
            if let Some(d) = date {
                if date_dir.file_name().and_then(|n| n.to_str()) != Some(d.to_string().as_str()) {
                    continue;
                }
            }
            for entry in std::fs::read_dir(&date_dir)? {
                let path = entry?.path();
                if path.extension().is_some_and(|x| x == "json") {
                    paths.push(path);
                }
            }
        }
    }
    let mut runs = Vec::new();
    let mut unreadable = Vec::new();
    for path in paths {
        let parsed = std::fs::read_to_string(&path)
            .map_err(|e| e.to_string())
            .and_then(|text| serde_json::from_str::<RunManifest>(&text).map_err(|e| format!("not a run manifest: {e}")));
        let manifest = match parsed {
            Ok(m) => m,
            Err(problem) => {
                unreadable.push((path, problem));
                continue;
            }
        };
        let unfinished = matches!(manifest.outcome, Outcome::Running | Outcome::Publishing);
        let interrupted = unfinished && !run_alive(warehouse, &manifest);
        runs.push(ListedRun { manifest, path, interrupted });
    }
    runs.sort_by(|a, b| (&a.manifest.started_at, &a.manifest.run_id).cmp(&(&b.manifest.started_at, &b.manifest.run_id)));
    Ok((runs, unreadable))
}

/// Whether the run is still alive: its process exists (where `/proc` tells) and it holds its
/// job's lock. The lock is probed only when the process exists, so listing runs never takes a
/// lock a starting run could need.
fn run_alive(warehouse: &Warehouse, m: &RunManifest) -> bool {
    let proc_dir = Path::new("/proc");
    if proc_dir.is_dir() && m.pid != 0 && !proc_dir.join(m.pid.to_string()).exists() {
        return false;
    }
    let Ok(date) = NaiveDate::parse_from_str(&m.date, "%Y-%m-%d") else { return false };
    let name = lock_name(&m.job, date);
    warehouse.lock(&name).is_err()
}

/// The lock a job's run takes: ingest is one writer per warehouse; nightly and weekly are one
/// run per date.
pub fn lock_name(job: &str, date: NaiveDate) -> String {
    if job == "ingest" { job.to_owned() } else { format!("{job}-{date}") }
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>> {
    match std::fs::read_dir(dir) {
        Ok(entries) => {
            let mut out: Vec<PathBuf> = entries.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect();
            out.sort();
            Ok(out)
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e.into()),
    }
}

/// What [`verify`] checks besides the files: whom to trust, and a head anchored elsewhere.
#[derive(Debug, Clone, Default)]
pub struct VerifyOptions {
    /// Only partitions of this date (the ledger and manifests are always checked whole).
    pub date: Option<NaiveDate>,
    /// The key every entry must be signed by. Without it, the key of the first signed entry
    /// is trusted (and every later entry must be signed by it).
    pub trust: Option<PublicKey>,
    /// A ledger head recorded earlier, outside the warehouse: it must still be in the chain.
    pub expect_head: Option<String>,
}

/// What [`verify`] found.
#[derive(Debug, Default)]
pub struct Verification {
    /// Files re-hashed.
    pub checked: usize,
    /// Bytes re-hashed.
    pub bytes: u64,
    /// Files whose digest matches the manifest that published them.
    pub matched: usize,
    /// (path, run id, expected digest, actual digest).
    pub altered: Vec<(String, String, String, String)>,
    /// Files a manifest published that are gone: (path, run id).
    pub missing: Vec<(String, String)>,
    /// Warehouse partition files no manifest accounts for.
    pub unaccounted: Vec<String>,
    /// Manifests read.
    pub manifests: usize,
    /// Manifests that could not be read: (path, problem).
    pub unreadable: Vec<(String, String)>,
    /// Ledger entries read, and the head (digest of the last line; empty without a ledger).
    pub entries: usize,
    /// Digest of the ledger's last line.
    pub head: String,
    /// Breaks in the ledger itself: (line, problem) — unparseable lines, wrong sequence
    /// numbers, a `prev` that is not the previous line's digest, a missing anchored head.
    pub chain: Vec<(usize, String)>,
    /// Entries without a valid signature by the trusted key: (line, problem).
    pub signatures: Vec<(usize, String)>,
    /// Manifests whose bytes differ from what the ledger recorded: (path, run id).
    pub manifests_altered: Vec<(String, String)>,
    /// Runs the ledger records whose manifest is gone: (job, date, run id, manifest path).
    pub runs_removed: Vec<(String, String, String, String)>,
    /// Manifests the ledger never recorded.
    pub manifests_unrecorded: Vec<String>,
    /// Reveals the ledger records (each checked in the chain and signed like a run).
    pub reveals: usize,
}

impl Verification {
    /// Nothing altered, missing, unaccounted for, unsigned or out of the chain.
    pub fn ok(&self) -> bool {
        self.altered.is_empty()
            && self.missing.is_empty()
            && self.unaccounted.is_empty()
            && self.unreadable.is_empty()
            && self.chain.is_empty()
            && self.signatures.is_empty()
            && self.manifests_altered.is_empty()
            && self.runs_removed.is_empty()
            && self.manifests_unrecorded.is_empty()
    }
}

/// The newest ledger entry of each run: (job, date, manifest path, manifest digest).
type RunEntries = BTreeMap<String, (String, String, String, String)>;

/// Checks the ledger's chain and signatures; returns the newest entry of each run.
fn verify_ledger(warehouse: &Warehouse, options: &VerifyOptions, result: &mut Verification) -> Result<RunEntries> {
    let lines = Ledger::of(warehouse).read()?;
    result.entries = lines.len();
    result.head = lines.last().map(|l| l.digest.clone()).unwrap_or_default();
    let mut trusted = options.trust;
    let mut prev = crate::ledger::GENESIS.to_owned();
    let mut runs = RunEntries::new();
    for (i, line) in lines.iter().enumerate() {
        let entry = match &line.entry {
            Ok(e) => e,
            Err(problem) => {
                result.chain.push((line.line, problem.clone()));
                prev = line.digest.clone();
                continue;
            }
        };
        if entry.seq != i as u64 {
            result.chain.push((line.line, format!("sequence number {} where {i} belongs (entries removed, added or reordered)", entry.seq)));
        }
        if entry.prev != prev {
            result.chain.push((line.line, "does not follow the entry before it (an entry before it was edited, removed or reordered)".into()));
        }
        prev = line.digest.clone();
        match (&entry.signer, entry.valid_signer()) {
            (None, _) => result.signatures.push((line.line, "unsigned".into())),
            (Some(signer), None) => result.signatures.push((line.line, format!("signature by {signer} does not verify (entry edited after signing)"))),
            (Some(signer), Some(key)) => {
                match trusted {
                    None => trusted = Some(key),
                    Some(t) if t != key => result.signatures.push((line.line, format!("signed by {signer}, not by the trusted key {}", t.to_text()))),
                    Some(_) => {}
                }
            }
        }
        match &entry.record {
            Record::Run { job, date, run_id, manifest, manifest_blake3, .. } => {
                runs.insert(run_id.clone(), (job.clone(), date.clone(), manifest.clone(), manifest_blake3.clone()));
            }
            Record::Reveal { .. } => result.reveals += 1,
        }
    }
    if let Some(anchor) = &options.expect_head {
        if !lines.iter().any(|l| &l.digest == anchor) {
            result.chain.push((lines.len(), format!("the anchored head {anchor} is not in the ledger (it was rewritten or cut)")));
        }
    }
    Ok(runs)
}

/// Checks the whole chain of custody: the ledger (chain, signatures, anchored head), every
/// manifest against its ledger entry, and every published partition file (optionally of one
/// date) against the newest manifest that published it. A file replaced by a later run is
/// judged by that run's manifest; a file that was removed because a later run replaced its
/// partition is not missing, but a file removed from a partition that later runs only added
/// to is.
pub fn verify(warehouse: &Warehouse, options: &VerifyOptions) -> Result<Verification> {
    let (runs, unreadable) = scan(warehouse, None, None)?;
    let mut result = Verification {
        manifests: runs.len(),
        unreadable: unreadable.iter().map(|(p, problem)| (relative(warehouse.root(), p), problem.clone())).collect(),
        ..Verification::default()
    };
    let entered = verify_ledger(warehouse, options, &mut result)?;
    // Every manifest on disk against its run's newest entry (or the temporary file a crash
    // left between the entry and the rename).
    let on_disk_manifests: Vec<(String, PathBuf)> = runs
        .iter()
        .map(|r| (r.manifest.run_id.clone(), r.path.clone()))
        .chain(unreadable.iter().map(|(p, _)| (String::new(), p.clone())))
        .collect();
    let by_path: BTreeMap<&str, &String> = entered.iter().map(|(id, e)| (e.2.as_str(), id)).collect();
    let mut seen_runs = std::collections::BTreeSet::new();
    for (run_id, path) in &on_disk_manifests {
        let rel = relative(warehouse.root(), path);
        let id = if entered.contains_key(run_id) { Some(run_id) } else { by_path.get(rel.as_str()).copied() };
        let Some((id, (_, _, _, digest))) = id.and_then(|id| entered.get_key_value(id)) else {
            result.manifests_unrecorded.push(rel);
            continue;
        };
        seen_runs.insert(id.clone());
        let matches = |p: &Path| file_digest(p).is_ok_and(|(_, d)| &d == digest);
        if !matches(path) && !matches(&path.with_extension("json.tmp")) {
            result.manifests_altered.push((rel, id.clone()));
        }
    }
    for (run_id, (job, date, manifest, digest)) in &entered {
        let interrupted = || file_digest(&warehouse.root().join(manifest).with_extension("json.tmp")).is_ok_and(|(_, d)| &d == digest);
        if !seen_runs.contains(run_id) && !interrupted() {
            result.runs_removed.push((job.clone(), date.clone(), run_id.clone(), manifest.clone()));
        }
    }
    // Newest claim per path. Runs are oldest first, so later inserts win.
    let mut claims: BTreeMap<String, (&RunManifest, &FileRecord)> = BTreeMap::new();
    for run in &runs {
        if !matches!(run.manifest.outcome, Outcome::Succeeded | Outcome::Publishing) {
            continue;
        }
        for output in &run.manifest.outputs {
            if output.table.is_some() {
                claims.insert(output.path.clone(), (&run.manifest, output));
            }
        }
    }
    let published = published_files(warehouse)?;
    let on_disk: std::collections::BTreeSet<&str> = published.iter().map(|(rel, _)| rel.as_str()).collect();
    let wanted = options.date.map(|d| d.to_string());
    let in_scope = |d: Option<&str>| wanted.is_none() || d == wanted.as_deref();
    let checks: Vec<(&String, &RunManifest, &FileRecord)> =
        claims.iter().filter(|(_, (_, rec))| in_scope(rec.date.as_deref())).map(|(p, (m, rec))| (p, *m, *rec)).collect();
    let hashed: Vec<(usize, Option<(u64, String)>)> = checks
        .par_iter()
        .enumerate()
        .map(|(i, (path, _, _))| {
            if !on_disk.contains(path.as_str()) {
                return Ok((i, None));
            }
            file_digest(&warehouse.root().join(path.as_str())).map(|d| (i, Some(d)))
        })
        .collect::<Result<_>>()?;
    for (i, digest) in hashed {
        let (path, manifest, record) = checks[i];
        match digest {
            None => {
                // Gone: fine only if a later run replaced the whole partition (its file has
                // another name); otherwise the file was deleted. Manifests from before the
                // publish mode was recorded count any later file as a replacement.
                let replaced = claims.iter().any(|(p, (m, rec))| {
                    p != path
                        && rec.table == record.table
                        && rec.date == record.date
                        && m.started_at > manifest.started_at
                        && rec.publish != Some(PublishMode::Append)
                        && on_disk.contains(p.as_str())
                });
                if !replaced {
                    result.missing.push((path.clone(), manifest.run_id.clone()));
                }
            }
            Some((bytes, digest)) => {
                result.checked += 1;
                result.bytes += bytes;
                if digest == record.blake3 {
                    result.matched += 1;
                } else {
                    result.altered.push((path.clone(), manifest.run_id.clone(), record.blake3.clone(), digest));
                }
            }
        }
    }
    for (rel, d) in &published {
        if in_scope(Some(d.as_str())) && !claims.contains_key(rel) {
            result.unaccounted.push(rel.clone());
        }
    }
    Ok(result)
}

/// Every Parquet file under a `table/date=…/` directory of the warehouse: (relative path, date).
fn published_files(warehouse: &Warehouse) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for table_dir in subdirs(warehouse.root())? {
        let name = table_dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
        if name.starts_with('_') || name.starts_with('.') {
            continue;
        }
        for part in subdirs(&table_dir)? {
            let rel_part = relative(warehouse.root(), &part);
            let Some(date) = part
                .file_name()
                .and_then(|n| n.to_str())
                .and_then(|n| n.strip_prefix("date="))
                .filter(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok())
                .map(str::to_owned)
            else {
                continue;
            };
            for entry in std::fs::read_dir(&part)? {
                let path = entry?.path();
                if path.extension().is_some_and(|x| x == "parquet") {
                    let file = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                    out.push((format!("{rel_part}/{file}"), date.clone()));
                }
            }
        }
    }
    out.sort();
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, Int32Array, RecordBatch};

    fn batch(n: i32) -> RecordBatch {
        RecordBatch::try_from_iter([("x", std::sync::Arc::new(Int32Array::from((0..n).collect::<Vec<_>>())) as ArrayRef)]).unwrap()
    }

    fn publish_run(w: &Warehouse, job: &str, date: NaiveDate, rows: i32, replacing: bool) -> RunManifest {
        let lock = w.lock(&lock_name(job, date)).unwrap();
        let run_id = new_run_id(job.as_bytes());
        let mut rec = RunRecorder::start(w, job, date, &run_id, serde_json::json!({"rows": rows}), "c".into(), RunKeys::default()).unwrap();
        let mut staged = if replacing { w.stage_replacing(&lock, &run_id, "part-x").unwrap() } else { w.stage(&lock, &run_id).unwrap() };
        staged.write("t", date, &batch(rows)).unwrap();
        let committed = staged.commit().unwrap();
        rec.committing(&committed.files()).unwrap();
        committed.publish().unwrap();
        rec.finish(None).unwrap()
    }

    #[test]
    fn verify_accepts_what_runs_published_and_catches_every_tampering() {
        let dir = tempfile::tempdir().unwrap();
        let w = Warehouse::open(dir.path()).unwrap().with_signer(Some(SigningKey::from_bytes([5; 32])));
        let d1 = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let d2 = d1.succ_opt().unwrap();
        let first = publish_run(&w, "nightly", d1, 3, true);
        assert_eq!(first.outputs.len(), 1);
        assert_eq!(first.outputs[0].rows, Some(3));
        assert_eq!(first.outputs[0].path, "t/date=2026-11-20/part-x.parquet");
        // A rerun replaces the partition: the newest manifest is the judge.
        publish_run(&w, "nightly", d1, 5, true);
        publish_run(&w, "ingest", d2, 4, false);
        let v = verify(&w, &VerifyOptions::default()).unwrap();
        assert!(v.ok(), "{v:?}");
        assert_eq!((v.checked, v.matched, v.manifests), (2, 2, 3));

        let runs = list(&w, Some("nightly"), Some(d1)).unwrap();
        assert_eq!(runs.len(), 2);
        assert!(runs.iter().all(|r| r.manifest.outcome == Outcome::Succeeded && !r.interrupted));

        // Alter a byte, drop in a stray file, delete a published one.
        let target = dir.path().join("t/date=2026-11-20/part-x.parquet");
        let mut bytes = std::fs::read(&target).unwrap();
        bytes[10] ^= 1;
        std::fs::write(&target, bytes).unwrap();
        std::fs::write(dir.path().join("t/date=2026-11-20/stray.parquet"), b"x").unwrap();
        let ingest_file = w.files("t", Some(d2)).unwrap().pop().unwrap();
        std::fs::remove_file(ingest_file).unwrap();
        let v = verify(&w, &VerifyOptions::default()).unwrap();
        assert!(!v.ok());
        assert_eq!(v.altered.len(), 1, "{v:?}");
        assert_eq!(v.missing.len(), 1, "{v:?}");
        assert_eq!(v.unaccounted, vec!["t/date=2026-11-20/stray.parquet".to_owned()]);
        let only_d2 = verify(&w, &VerifyOptions { date: Some(d2), ..VerifyOptions::default() }).unwrap();
        assert!(only_d2.altered.is_empty() && only_d2.unaccounted.is_empty() && only_d2.missing.len() == 1);
        // A manifest that no longer parses is itself a failure of the chain of custody.
        let manifest_path = list(&w, Some("ingest"), None).unwrap()[0].path.clone();
        std::fs::write(&manifest_path, b"{ truncated").unwrap();
        assert_eq!(list(&w, None, None).unwrap().len(), 2, "listing skips it");
        let v = verify(&w, &VerifyOptions::default()).unwrap();
        assert_eq!(v.unreadable.len(), 1, "{v:?}");
        assert!(!v.ok());
    }

    /// The custody findings beyond a changed file: each tampering names its culprit.
    #[test]
    fn verify_catches_forged_manifests_removed_runs_and_ledger_edits() {
        let setup = || {
            let dir = tempfile::tempdir().unwrap();
            let w = Warehouse::open(dir.path()).unwrap().with_signer(Some(SigningKey::from_bytes([5; 32])));
            let d = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
            let runs = [publish_run(&w, "ingest", d, 3, false), publish_run(&w, "ingest", d, 4, false), publish_run(&w, "nightly", d.succ_opt().unwrap(), 2, true)];
            let v = verify(&w, &VerifyOptions::default()).unwrap();
            assert!(v.ok() && v.entries == 9 && v.head.len() == 64, "{v:?}");
            (dir, w, runs, v.head)
        };
        let manifest_of = |w: &Warehouse, m: &RunManifest| w.root().join(RUNS_DIR).join(&m.job).join(&m.date).join(format!("{}.json", m.run_id));

        // A forged file with its digest patched into the manifest.
        let (_dir, w, runs, _) = setup();
        let out = &runs[2].outputs[0];
        std::fs::write(w.root().join(&out.path), b"forged").unwrap();
        let path = manifest_of(&w, &runs[2]);
        let text = std::fs::read_to_string(&path).unwrap().replace(&out.blake3, &blake3::hash(b"forged").to_hex().to_string());
        std::fs::write(&path, text).unwrap();
        let v = verify(&w, &VerifyOptions::default()).unwrap();
        assert_eq!(v.manifests_altered, vec![(relative(w.root(), &path), runs[2].run_id.clone())], "{v:?}");
        assert!(v.altered.is_empty(), "the forged file matches its forged manifest");

        // A run killed between its entry and the rename of its first manifest is not removed.
        let (_dir, w, runs, _) = setup();
        let path = manifest_of(&w, &runs[2]);
        std::fs::rename(&path, path.with_extension("json.tmp")).unwrap();
        let v = verify(&w, &VerifyOptions::default()).unwrap();
        assert!(v.runs_removed.is_empty() && v.manifests_altered.is_empty(), "{v:?}");

        // A whole run deleted: manifest and files.
        let (_dir, w, runs, _) = setup();
        std::fs::remove_file(manifest_of(&w, &runs[2])).unwrap();
        std::fs::remove_file(w.root().join(&runs[2].outputs[0].path)).unwrap();
        let v = verify(&w, &VerifyOptions::default()).unwrap();
        assert_eq!(v.runs_removed.len(), 1, "{v:?}");
        assert_eq!(v.runs_removed[0].2, runs[2].run_id);

        // The first of two appended ingest files deleted: the second did not replace it.
        let (_dir, w, runs, _) = setup();
        std::fs::remove_file(w.root().join(&runs[0].outputs[0].path)).unwrap();
        let v = verify(&w, &VerifyOptions::default()).unwrap();
        assert_eq!(v.missing, vec![(runs[0].outputs[0].path.clone(), runs[0].run_id.clone())], "{v:?}");

        // Ledger edits: one entry changed, two swapped, the tail cut after anchoring the head.
        let (_dir, w, _, head) = setup();
        let ledger = Ledger::of(&w);
        let text = std::fs::read_to_string(ledger.path()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        std::fs::write(ledger.path(), text.replacen("\"job\":\"ingest\"", "\"job\":\"nightly\"", 1)).unwrap();
        let v = verify(&w, &VerifyOptions::default()).unwrap();
        assert!(v.signatures.iter().any(|(line, p)| *line == 1 && p.contains("does not verify")), "{v:?}");
        assert!(v.chain.iter().any(|(line, _)| *line == 2), "the next entry no longer follows: {v:?}");
        let mut swapped = lines.clone();
        swapped.swap(3, 4);
        std::fs::write(ledger.path(), swapped.join("\n") + "\n").unwrap();
        let v = verify(&w, &VerifyOptions::default()).unwrap();
        assert!(v.chain.iter().any(|(line, p)| *line == 4 && p.contains("sequence")), "{v:?}");
        std::fs::write(ledger.path(), lines[..8].join("\n") + "\n").unwrap();
        let cut = verify(&w, &VerifyOptions { expect_head: Some(head.clone()), ..VerifyOptions::default() }).unwrap();
        assert!(cut.chain.iter().any(|(_, p)| p.contains("anchored head")), "{cut:?}");

        // Entries signed by another key, and a trusted key that is not the signer.
        let (_dir, w, _, _) = setup();
        let intruder = w.clone().with_signer(Some(SigningKey::from_bytes([6; 32])));
        let refused = RunRecorder::start(&intruder, "nightly", NaiveDate::from_ymd_opt(2026, 11, 21).unwrap(), "x", serde_json::Value::Null, "c".into(), RunKeys::default());
        assert!(matches!(refused, Err(Error::Custody(_))), "{refused:?}");
        Ledger::of(&w).append(Record::Run {
            event: RunEvent::Started, job: "nightly".into(), date: "2026-11-21".into(), run_id: "x".into(),
            manifest: "_runs/nightly/2026-11-21/x.json".into(), manifest_blake3: "00".into(), pseudonym_key: None, reveal_key: None,
        }, intruder.signer()).unwrap();
        let v = verify(&w, &VerifyOptions::default()).unwrap();
        assert!(v.signatures.iter().any(|(line, p)| *line == 10 && p.contains("not by the trusted key")), "{v:?}");
        let other = SigningKey::from_bytes([6; 32]).public();
        let v = verify(&w, &VerifyOptions { trust: Some(other), ..VerifyOptions::default() }).unwrap();
        assert_eq!(v.signatures.len(), 9, "all but the intruder's entry: {v:?}");
    }

    #[test]
    fn a_run_killed_before_finishing_is_listed_as_interrupted() {
        let dir = tempfile::tempdir().unwrap();
        let w = Warehouse::open(dir.path()).unwrap();
        let d = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let lock = w.lock(&lock_name("nightly", d)).unwrap();
        let rec = RunRecorder::start(&w, "nightly", d, "r1", serde_json::Value::Null, "c".into(), RunKeys::default()).unwrap();
        let listed = list(&w, None, None).unwrap();
        assert_eq!(listed.len(), 1);
        assert!(!listed[0].interrupted, "the live run holds the lock");
        drop(lock);
        drop(rec);
        let listed = list(&w, None, None).unwrap();
        assert!(listed[0].interrupted && listed[0].manifest.outcome == Outcome::Running);
    }

    #[test]
    fn hive_locations_parse() {
        assert_eq!(hive_location("facets/date=2026-11-20/part-nightly.parquet"), (Some("facets".into()), Some("2026-11-20".into())));
        assert_eq!(hive_location("/tmp/report.html"), (None, None));
    }
}
