//! The warehouse on disk: Hive-partitioned Parquet, `W/<table>/date=YYYY-MM-DD/*.parquet`.
//!
//! Writes go to `W/_staging/<run>/<table>/date=…/part-<run>.parquet` and are published by
//! `rename(2)` to the same relative path under `W/`, so a reader listing a partition sees whole
//! files or nothing (rename is atomic within one file system). Directories starting with `_`
//! are ignored by Hive-style readers. A run holds an exclusive lock on `W/_locks/<job>.lock`
//! and stages under `W/_staging/<job>/`, so recovering one job's crashed runs never touches
//! another job's files in flight.
//!
//! Jobs that own partitions (the nightly analysis) write one file per partition with a fixed
//! name and publish in *replace* mode: the new file is renamed over the old one (atomic), then
//! any other file left in that partition is removed; a rerun yields the same bytes.
//!
//! A run's files form one unit: once every file is closed and synced, a `COMMITTED` marker is
//! written, and only then are the files renamed. A run killed before the marker left nothing
//! visible, and the next run deletes its staging; a run killed after it (between renames) is
//! rolled forward by the next run, which publishes the remaining files. So `conversations` are
//! never published without their `messages`.

use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Schema, SchemaRef};
use chrono::NaiveDate;
use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;
use rayon::prelude::*;

use crate::access::{AccessPolicy, Area};
use crate::error::{Error, Result};
use crate::ledger::SigningKey;

/// Rows per row group: large enough for good compression and scan speed, small enough that
/// the writer's buffer stays bounded.
const ROW_GROUP_ROWS: usize = 64 * 1024;
/// Flush a row group early when the writer buffers more than this.
const MAX_BUFFERED_BYTES: usize = 48 * 1024 * 1024;

/// A warehouse rooted at a directory, opened by someone who may hold its signing key.
#[derive(Debug, Clone)]
pub struct Warehouse {
    root: PathBuf,
    /// Signs the ledger entries of runs started through this handle (see [`crate::ledger`]).
    signer: Option<Arc<SigningKey>>,
    /// Who may read what (see [`crate::access`]); applied to everything a run creates.
    access: Arc<AccessPolicy>,
}

impl Warehouse {
    /// Opens (creating if needed) a warehouse directory. A new one is readable by its owner
    /// only until `vigil access` shares a zone.
    pub fn open(root: impl Into<PathBuf>) -> Result<Self> {
        let root = root.into();
        let created = fs::symlink_metadata(&root).is_err();
        fs::create_dir_all(&root).map_err(|e| Error::warehouse(&root, format!("cannot create: {e}")))?;
        let access = AccessPolicy::load(&root)?;
        if created {
            access.apply_dir(&root, Area::Root)?;
        }
        Ok(Warehouse { root, signer: None, access: Arc::new(access) })
    }

    /// Who may read what.
    pub fn access(&self) -> &AccessPolicy {
        &self.access
    }

    pub(crate) fn access_arc(&self) -> Arc<AccessPolicy> {
        self.access.clone()
    }

    /// The same warehouse, with runs signed by `key`.
    pub fn with_signer(mut self, key: Option<SigningKey>) -> Self {
        self.signer = key.map(Arc::new);
        self
    }

    /// The key that signs runs started through this handle.
    pub fn signer(&self) -> Option<&SigningKey> {
        self.signer.as_deref()
    }

    pub(crate) fn signer_arc(&self) -> Option<Arc<SigningKey>> {
        self.signer.clone()
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Directory of a table.
    pub fn table_dir(&self, table: &str) -> PathBuf {
        self.root.join(table)
    }

    /// Directory of one partition.
    pub fn partition_dir(&self, table: &str, date: NaiveDate) -> PathBuf {
        self.table_dir(table).join(format!("date={}", date.format("%Y-%m-%d")))
    }

    /// Takes the exclusive lock for `job`; released when the guard drops (or the process dies).
    pub fn lock(&self, job: &str) -> Result<LockGuard> {
        let dir = self.root.join("_locks");
        self.access.create_dirs(&self.root, &dir, Area::Private)?;
        let path = dir.join(format!("{job}.lock"));
        let file = owner_only().create(true).truncate(false).write(true).open(&path)?;
        match file.try_lock() {
            Ok(()) => Ok(LockGuard { _file: file, job: job.to_owned() }),
            Err(fs::TryLockError::WouldBlock) => Err(Error::Locked(path)),
            Err(fs::TryLockError::Error(e)) => Err(Error::warehouse(&path, e)),
        }
    }

    /// Parquet files of a table, optionally limited to one partition, sorted by path.
    pub fn files(&self, table: &str, date: Option<NaiveDate>) -> Result<Vec<PathBuf>> {
        let dirs: Vec<PathBuf> = match date {
            Some(d) => vec![self.partition_dir(table, d)],
            None => match fs::read_dir(self.table_dir(table)) {
                Ok(entries) => entries
                    .filter_map(|e| e.ok())
                    .map(|e| e.path())
                    .filter(|p| p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("date=")))
                    .collect(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
                Err(e) => return Err(e.into()),
            },
        };
        let mut files = Vec::new();
        for dir in dirs {
            match fs::read_dir(&dir) {
                Ok(entries) => files.extend(
                    entries
                        .filter_map(|e| e.ok())
                        .map(|e| e.path())
                        .filter(|p| p.extension().is_some_and(|x| x == "parquet")),
                ),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(e.into()),
            }
        }
        files.sort();
        Ok(files)
    }

    /// Every value of a string column across the given files (used for de-duplication).
    pub fn read_string_column(&self, files: &[PathBuf], column: &str, into: &mut HashSet<String>) -> Result<()> {
        for path in files {
            let file = File::open(path).map_err(|e| Error::warehouse(path, e))?;
            let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
            let Some(index) = builder.schema().fields().iter().position(|f| f.name() == column) else {
                return Err(Error::warehouse(path, format!("has no column `{column}`")));
            };
            let mask = ProjectionMask::roots(builder.parquet_schema(), [index]);
            for batch in builder.with_projection(mask).build()? {
                let batch = batch?;
                let values = batch.column(0).as_string::<i32>();
                into.extend(values.iter().flatten().map(str::to_owned));
            }
        }
        Ok(())
    }

    /// Deals with staging left by killed runs: committed runs are rolled forward (their
    /// remaining files published), uncommitted ones deleted. Call with the lock held. Returns
    /// the files published by roll-forward.
    pub fn recover_staging(&self, lock: &LockGuard) -> Result<Vec<PathBuf>> {
        let staging = self.root.join("_staging").join(&lock.job);
        let runs = match fs::read_dir(&staging) {
            Ok(entries) => entries.filter_map(|e| e.ok()).map(|e| e.path()).collect::<Vec<_>>(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e.into()),
        };
        let mut recovered = Vec::new();
        for run in runs {
            if run.join(COMMIT_MARKER).exists() {
                let mut files = Vec::new();
                collect_parquet(&run, &mut files)?;
                let replace = run.join(REPLACE_MARKER).exists();
                for staged in files {
                    let path = self.publish_file(&run, &staged)?;
                    if replace {
                        remove_other_files(&path)?;
                    }
                    recovered.push(path);
                }
            }
            fs::remove_dir_all(&run)?;
        }
        let _ = fs::remove_dir(&staging);
        let _ = fs::remove_dir(self.root.join("_staging"));
        Ok(recovered)
    }

    /// Renames one staged file to the same relative path under the warehouse root.
    fn publish_file(&self, run_dir: &Path, staged: &Path) -> Result<PathBuf> {
        let relative = staged.strip_prefix(run_dir).map_err(|_| Error::warehouse(staged, "staged file outside its run"))?;
        let path = self.root.join(relative);
        let dir = path.parent().ok_or_else(|| Error::warehouse(&path, "no parent directory"))?;
        let table = relative.components().next().map(|c| c.as_os_str().to_string_lossy().into_owned()).unwrap_or_default();
        let area = Area::of_table(&table);
        self.access.create_dirs(&self.root, dir, area)?;
        // Mode and group before the rename: the file never appears with looser permissions.
        self.access.apply_file(staged, area)?;
        fs::rename(staged, &path).map_err(|e| Error::warehouse(&path, format!("publish failed: {e}")))?;
        sync_dir(dir);
        Ok(path)
    }

    /// Starts a staged write for one run of the locked job. Files are named
    /// `part-<run_id>.parquet` and added beside what a partition holds.
    pub fn stage(&self, lock: &LockGuard, run_id: &str) -> Result<StagedWrite> {
        let dir = self.root.join("_staging").join(&lock.job).join(run_id);
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        self.access.create_dirs(&self.root, &dir, Area::Private)?;
        Ok(StagedWrite { warehouse: self.clone(), dir, file_stem: format!("part-{run_id}"), replace: false, writers: BTreeMap::new() })
    }

    /// Starts a staged write that *replaces* every partition it writes: one file per
    /// partition named `<file_stem>.parquet`, renamed over the previous one, other files in the
    /// partition removed. For jobs that own their partitions and must be rerunnable.
    pub fn stage_replacing(&self, lock: &LockGuard, run_id: &str, file_stem: &str) -> Result<StagedWrite> {
        let mut staged = self.stage(lock, run_id)?;
        staged.file_stem = file_stem.to_owned();
        staged.replace = true;
        File::create(staged.dir.join(REPLACE_MARKER))?;
        Ok(staged)
    }
}

/// Holds a warehouse lock until dropped.
#[derive(Debug)]
pub struct LockGuard {
    _file: File,
    job: String,
}

/// What one published file holds.
#[derive(Debug, Clone)]
pub struct PublishedFile {
    /// Table name.
    pub table: String,
    /// Partition date.
    pub date: NaiveDate,
    /// Final path.
    pub path: PathBuf,
    /// Rows written.
    pub rows: u64,
    /// File size.
    pub bytes: u64,
    /// BLAKE3 digest of the file's bytes (hex), taken when the run committed.
    pub blake3: String,
    /// Whether publishing it replaced its partition (removing older files) or added to it.
    pub replaces: bool,
}

struct OpenWriter {
    writer: ArrowWriter<File>,
    staged_path: PathBuf,
    rows: u64,
}

/// Files being written for one run, published together by [`StagedWrite::publish`].
pub struct StagedWrite {
    warehouse: Warehouse,
    dir: PathBuf,
    file_stem: String,
    replace: bool,
    writers: BTreeMap<(String, NaiveDate), OpenWriter>,
}

impl std::fmt::Debug for StagedWrite {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StagedWrite").field("dir", &self.dir).field("files", &self.writers.len()).finish()
    }
}

/// Writer settings: zstd, dictionary only where values repeat, statistics where they prune.
fn writer_properties(schema: &SchemaRef) -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).unwrap_or_default()))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by(format!("vigil {}", env!("CARGO_PKG_VERSION")));
    for field in schema.fields() {
        let name = field.name().as_str();
        let path = ColumnPath::from(name);
        // Long text, and escrow ciphertexts (random bytes: a dictionary never pays).
        let long_text = matches!(name, "user_text" | "content" | "raw" | "metadata" | "reason" | "ciphertext");
        if long_text {
            builder = builder
                .set_column_dictionary_enabled(path.clone(), false)
                .set_column_statistics_enabled(path, EnabledStatistics::None);
        } else if let DataType::Struct(children) = field.data_type() {
            // The `pii` counts: integers, see below.
            for child in children.iter().filter(|c| c.data_type().is_integer()) {
                let leaf = ColumnPath::new(vec![name.to_owned(), child.name().clone()]);
                builder = builder.set_column_dictionary_enabled(leaf, false);
            }
        } else if matches!(name, "created_at" | "source_line" | "record_key" | "account_id" | "ip_prefix" | "conversation_id" | "pseudonym")
            || field.data_type().is_integer()
        {
            // Unique per row, or pseudonyms with too many distinct values per row group: the
            // dictionary overflowed its page and fell back to plain after hashing every value
            // (4% of ingest CPU). Repeats of one conversation id in `messages` are adjacent,
            // which zstd folds as well as a dictionary would. Integer counts (PII per kind,
            // characters, turns) hashed every value into a dictionary for 2% of ingest
            // instructions; plain runs of small integers compress as well under zstd.
            builder = builder.set_column_dictionary_enabled(path, false);
        }
    }
    builder.build()
}

impl StagedWrite {
    /// Appends a batch to `table`'s partition for `date`.
    pub fn write(&mut self, table: &str, date: NaiveDate, batch: &RecordBatch) -> Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let open = self.open(table, date, &batch.schema())?;
        open.writer.write(batch)?;
        open.rows += batch.num_rows() as u64;
        if open.writer.in_progress_size() > MAX_BUFFERED_BYTES {
            open.writer.flush()?;
        }
        Ok(())
    }

    /// Makes sure `table`'s partition for `date` gets a file even if no rows are written (so a
    /// replacing run that finds nothing clears what an earlier run published).
    pub fn declare(&mut self, table: &str, date: NaiveDate, schema: &SchemaRef) -> Result<()> {
        self.open(table, date, schema).map(|_| ())
    }

    fn open(&mut self, table: &str, date: NaiveDate, schema: &SchemaRef) -> Result<&mut OpenWriter> {
        let key = (table.to_owned(), date);
        if !self.writers.contains_key(&key) {
            let dir = self.dir.join(table).join(format!("date={}", date.format("%Y-%m-%d")));
            fs::create_dir_all(&dir)?;
            let staged_path = dir.join(format!("{}.parquet", self.file_stem));
            let file = owner_only().write(true).create(true).truncate(true).open(&staged_path).map_err(|e| Error::warehouse(&staged_path, e))?;
            let writer = ArrowWriter::try_new(file, schema.clone(), Some(writer_properties(schema)))?;
            self.writers.insert(key.clone(), OpenWriter { writer, staged_path, rows: 0 });
        }
        Ok(self.writers.get_mut(&key).expect("inserted above"))
    }

    /// Closes every file, syncs it, and renames it into the warehouse. Files of one run are
    /// published table by table; each file appears atomically.
    pub fn publish(self) -> Result<Vec<PublishedFile>> {
        self.commit()?.publish()
    }

    /// Closes and syncs every file, takes its digest, and writes the commit marker: from here
    /// on, a crash is finished by the next run. The caller may record what is about to be
    /// published (a run manifest) before [`CommittedWrite::publish`].
    pub fn commit(self) -> Result<CommittedWrite> {
        let mut closed = Vec::new();
        for ((table, date), open) in self.writers {
            let file = open.writer.into_inner()?;
            file.sync_all()?;
            closed.push((table, date, open.staged_path, open.rows));
        }
        crate::killpoint::reached("publish.synced");
        // Digests in parallel: the files were just written and are in the page cache.
        let replaces = self.replace;
        let files = closed
            .into_par_iter()
            .map(|(table, date, staged_path, rows)| {
                let (bytes, blake3) = file_digest(&staged_path)?;
                let relative = staged_path.strip_prefix(&self.dir).map_err(|_| Error::warehouse(&staged_path, "staged file outside its run"))?;
                let path = self.warehouse.root.join(relative);
                Ok((PublishedFile { table, date, path, rows, bytes, blake3, replaces }, staged_path))
            })
            .collect::<Result<Vec<_>>>()?;
        let marker = self.dir.join(COMMIT_MARKER);
        File::create(&marker).and_then(|f| f.sync_all()).map_err(|e| Error::warehouse(&marker, e))?;
        sync_dir(&self.dir);
        crate::killpoint::reached("publish.committed");
        Ok(CommittedWrite { warehouse: self.warehouse, dir: self.dir, replace: self.replace, files })
    }
}

/// A staged run past its commit point, ready to be renamed into place.
#[derive(Debug)]
pub struct CommittedWrite {
    warehouse: Warehouse,
    dir: PathBuf,
    replace: bool,
    files: Vec<(PublishedFile, PathBuf)>,
}

impl CommittedWrite {
    /// What [`CommittedWrite::publish`] will publish (final paths, rows, digests).
    pub fn files(&self) -> Vec<PublishedFile> {
        self.files.iter().map(|(f, _)| f.clone()).collect()
    }

    /// Renames every file into the warehouse (each appears atomically) and removes staging.
    pub fn publish(self) -> Result<Vec<PublishedFile>> {
        let mut published = Vec::new();
        for (file, staged_path) in self.files {
            let path = self.warehouse.publish_file(&self.dir, &staged_path)?;
            if self.replace {
                remove_other_files(&path)?;
            }
            crate::killpoint::reached("publish.renamed");
            published.push(file);
        }
        let _ = fs::remove_dir_all(&self.dir);
        // Leave no empty `_staging/` behind (fails harmlessly if another run is staging).
        if let Some(job) = self.dir.parent() {
            let _ = fs::remove_dir(job);
            if let Some(staging) = job.parent() {
                let _ = fs::remove_dir(staging);
            }
        }
        Ok(published)
    }
}

/// Options that create files readable by the owner only (whatever the umask allows).
fn owner_only() -> fs::OpenOptions {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut options = File::options();
    options.mode(0o600);
    options
}

/// Size and BLAKE3 digest (hex) of a file, read in 1 MiB blocks.
pub fn file_digest(path: &Path) -> Result<(u64, String)> {
    use std::io::Read as _;
    let mut file = File::open(path).map_err(|e| Error::warehouse(path, e))?;
    let mut hasher = blake3::Hasher::new();
    let mut buf = vec![0u8; 1 << 20];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf).map_err(|e| Error::warehouse(path, e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok((bytes, hasher.finalize().to_hex().to_string()))
}

/// Name of the marker that makes a staged run committed.
const COMMIT_MARKER: &str = "COMMITTED";
/// Marks a staged run that replaces its partitions (see [`Warehouse::stage_replacing`]).
const REPLACE_MARKER: &str = "REPLACES";

/// Removes every Parquet file in `kept`'s directory except `kept` itself.
fn remove_other_files(kept: &Path) -> Result<()> {
    let Some(dir) = kept.parent() else { return Ok(()) };
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path != kept && path.extension().is_some_and(|x| x == "parquet") {
            fs::remove_file(&path).map_err(|e| Error::warehouse(&path, format!("cannot remove a replaced file: {e}")))?;
        }
    }
    Ok(())
}

fn collect_parquet(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            collect_parquet(&path, out)?;
        } else if path.extension().is_some_and(|x| x == "parquet") {
            out.push(path);
        }
    }
    out.sort();
    Ok(())
}

/// Makes a rename durable. Best effort: not every file system supports syncing directories.
fn sync_dir(dir: &Path) {
    if let Ok(d) = File::open(dir) {
        let _ = d.sync_all();
    }
}

/// Reads the named columns of the given files, in the order named. A file without one of them
/// is an error that names the file.
pub fn read_columns(files: &[PathBuf], columns: &[&str]) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    for_each_batch(files, columns, |batch| {
        out.push(batch);
        Ok(())
    })?;
    Ok(out)
}

/// Streams the named columns of the given files, in the order named, one batch at a time: for
/// tables too large to hold (a window's `cluster_members`). A file without one of them is an
/// error that names the file.
pub fn for_each_batch(files: &[PathBuf], columns: &[&str], mut each: impl FnMut(RecordBatch) -> Result<()>) -> Result<()> {
    for path in files {
        scan(path, None, columns, |batch| each(batch))?;
    }
    Ok(())
}

/// [`for_each_batch`] for a table with a contract schema: each named column must also have
/// the contract's type, and no nulls where the contract says it has none, so a reader can
/// downcast without checking. A file written by another tool, or altered, is one error naming
/// the file and the column rather than a panic or a silently wrong value. `each` is told which
/// file the batch came from, for errors about its values.
pub fn for_each_contract_batch(files: &[PathBuf], contract: &Schema, columns: &[&str], mut each: impl FnMut(&Path, RecordBatch) -> Result<()>) -> Result<()> {
    for path in files {
        scan(path, Some(contract), columns, |batch| each(path, batch))?;
    }
    Ok(())
}

/// Reads one file's named columns. Without an explicit contract, a file inside a table's
/// directory (`<table>/date=…/part.parquet`) is checked against that table's contract, so every
/// reader gets the same clear error for a mistyped column, not only the typed ones.
fn scan(path: &Path, contract: Option<&Schema>, columns: &[&str], mut each: impl FnMut(RecordBatch) -> Result<()>) -> Result<()> {
    let implied = contract.is_none().then(|| table_of(path).and_then(crate::schema::of_table)).flatten();
    let contract = contract.or(implied.as_deref());
    let file = File::open(path).map_err(|e| Error::warehouse(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    let mut indices = Vec::with_capacity(columns.len());
    // Per column asked for: whether the contract says it never holds a null.
    let mut non_null = Vec::with_capacity(columns.len());
    for name in columns {
        let i = builder.schema().index_of(name).map_err(|_| Error::warehouse(path, format!("has no column `{name}`")))?;
        if let Some(contract) = contract {
            let want = contract.field_with_name(name).map_err(|_| Error::warehouse(path, format!("column `{name}` is not in the table's contract")))?;
            let have = builder.schema().field(i).data_type();
            if !types_match(have, want.data_type()) {
                return Err(Error::warehouse(path, format!("column `{name}` is {have}; the contract says {}", want.data_type())));
            }
            non_null.push(!want.is_nullable());
        }
        indices.push(i);
    }
    let mask = ProjectionMask::roots(builder.parquet_schema(), indices);
    // 16 Ki rows a batch: few enough batches that holding a window's (a million rows) costs
    // little, small enough to stream.
    for batch in builder.with_projection(mask).with_batch_size(16 * 1024).build()? {
        let batch = batch?;
        let order = columns.iter().map(|n| batch.schema().index_of(n)).collect::<Result<Vec<_>, _>>()?;
        let batch = batch.project(&order)?;
        // Empty without a contract, so nothing is checked then.
        for ((name, column), _) in columns.iter().zip(batch.columns()).zip(&non_null).filter(|(_, non_null)| **non_null) {
            if column.null_count() > 0 {
                return Err(Error::warehouse(path, format!("column `{name}` has null values; the contract says it has none")));
            }
        }
        each(batch)?;
    }
    Ok(())
}

/// The table a published file belongs to: the directory above its `date=` partition.
fn table_of(path: &Path) -> Option<&str> {
    let partition = path.parent()?;
    partition.file_name()?.to_str()?.strip_prefix("date=")?;
    partition.parent()?.file_name()?.to_str()
}

/// Whether a file's column type is the contract's. Timestamps match whatever their time zone
/// is called (another writer may store UTC as `+00:00`), as long as the unit is the same.
fn types_match(have: &DataType, want: &DataType) -> bool {
    match (have, want) {
        (DataType::Timestamp(a, Some(_)), DataType::Timestamp(b, Some(_))) => a == b,
        _ => have == want,
    }
}

/// Reads a whole table (or one partition) into batches; for tests and small tables.
pub fn read_batches(files: &[PathBuf]) -> Result<Vec<RecordBatch>> {
    let mut out = Vec::new();
    for path in files {
        let file = File::open(path).map_err(|e| Error::warehouse(path, e))?;
        for batch in ParquetRecordBatchReaderBuilder::try_new(file)?.build()? {
            out.push(batch?);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tables_files_are_read_against_its_contract() {
        use arrow::array::{ArrayRef, Int64Array, StringArray};
        let dir = tempfile::tempdir().unwrap();
        let write = |table: &str, columns: Vec<(&str, ArrayRef)>| {
            let partition = dir.path().join(table).join("date=2026-11-20");
            fs::create_dir_all(&partition).unwrap();
            let path = partition.join("part-x.parquet");
            let batch = RecordBatch::try_from_iter(columns).unwrap();
            let mut w = ArrowWriter::try_new(File::create(&path).unwrap(), batch.schema(), None).unwrap();
            w.write(&batch).unwrap();
            w.close().unwrap();
            path
        };
        // `level` is Int32 in the contract; this file says Int64.
        let clusters = write("clusters", vec![("cluster_id", Arc::new(StringArray::from(vec!["c1"])) as ArrayRef), ("level", Arc::new(Int64Array::from(vec![0])))]);
        let err = read_columns(std::slice::from_ref(&clusters), &["cluster_id", "level"]).unwrap_err().to_string();
        assert!(err.contains("part-x.parquet") && err.contains("`level` is Int64; the contract says Int32"), "{err}");
        assert_eq!(read_columns(&[clusters], &["cluster_id"]).unwrap()[0].num_rows(), 1, "columns not asked for are not checked");
        // A file outside any table's directory is read as it is.
        let loose = dir.path().join("loose.parquet");
        fs::copy(dir.path().join("clusters/date=2026-11-20/part-x.parquet"), &loose).unwrap();
        assert_eq!(read_columns(&[loose], &["level"]).unwrap()[0].num_rows(), 1);
    }

    #[test]
    fn one_run_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let w = Warehouse::open(dir.path()).unwrap();
        let guard = w.lock("ingest").unwrap();
        assert!(matches!(w.lock("ingest"), Err(Error::Locked(_))));
        assert!(w.lock("nightly").is_ok(), "locks are per job");
        drop(guard);
        assert!(w.lock("ingest").is_ok(), "released on drop");
    }

    #[test]
    fn a_run_killed_mid_publish_is_rolled_forward_and_an_uncommitted_one_dropped() {
        use arrow::array::{ArrayRef, Int32Array};
        let dir = tempfile::tempdir().unwrap();
        let w = Warehouse::open(dir.path()).unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let batch = RecordBatch::try_from_iter([("x", std::sync::Arc::new(Int32Array::from(vec![1, 2])) as ArrayRef)]).unwrap();
        // Committed run: simulate the crash after the marker and the first rename.
        let lock = w.lock("ingest").unwrap();
        let mut committed = w.stage(&lock, "run-a").unwrap();
        committed.write("conversations", date, &batch).unwrap();
        committed.write("messages", date, &batch).unwrap();
        let run_dir = committed.dir.clone();
        for (_, open) in std::mem::take(&mut committed.writers) {
            open.writer.close().unwrap();
        }
        File::create(run_dir.join(COMMIT_MARKER)).unwrap();
        let first = run_dir.join("conversations/date=2026-11-20/part-run-a.parquet");
        w.publish_file(&run_dir, &first).unwrap();
        // Uncommitted run: killed while writing.
        let mut uncommitted = w.stage(&lock, "run-b").unwrap();
        uncommitted.write("conversations", date, &batch).unwrap();
        for (_, open) in std::mem::take(&mut uncommitted.writers) {
            open.writer.close().unwrap();
        }
        assert_eq!(w.files("messages", None).unwrap().len(), 0, "messages not yet published");
        let other_job = w.lock("nightly").unwrap();
        let in_flight = w.stage(&other_job, "run-c").unwrap();
        let recovered = w.recover_staging(&lock).unwrap();
        assert!(in_flight.dir.exists(), "another job's staging is left alone");
        drop(in_flight);
        std::fs::remove_dir_all(dir.path().join("_staging/nightly")).unwrap();
        assert_eq!(recovered.len(), 1, "{recovered:?}");
        assert_eq!(w.files("messages", None).unwrap().len(), 1, "rolled forward");
        assert_eq!(w.files("conversations", None).unwrap().len(), 1, "the uncommitted run left nothing");
        assert!(!dir.path().join("_staging/ingest").exists());
    }

    #[test]
    fn staged_files_appear_only_on_publish() {
        use arrow::array::{ArrayRef, Int32Array};
        let dir = tempfile::tempdir().unwrap();
        let w = Warehouse::open(dir.path()).unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let batch = RecordBatch::try_from_iter([("x", std::sync::Arc::new(Int32Array::from(vec![1, 2, 3])) as ArrayRef)]).unwrap();
        let lock = w.lock("ingest").unwrap();
        let mut staged = w.stage(&lock, "run1").unwrap();
        staged.write("t", date, &batch).unwrap();
        assert!(w.files("t", None).unwrap().is_empty(), "nothing visible before publish");
        let published = staged.publish().unwrap();
        assert_eq!(published.len(), 1);
        assert_eq!(published[0].rows, 3);
        assert_eq!(w.files("t", Some(date)).unwrap(), vec![published[0].path.clone()]);
        assert!(!dir.path().join("_staging").exists());
        assert_eq!(read_batches(&w.files("t", None).unwrap()).unwrap()[0].num_rows(), 3);
    }

    #[test]
    fn a_replacing_run_replaces_the_partition_and_can_clear_it() {
        use arrow::array::{ArrayRef, Int32Array};
        let dir = tempfile::tempdir().unwrap();
        let w = Warehouse::open(dir.path()).unwrap();
        let date = NaiveDate::from_ymd_opt(2026, 11, 20).unwrap();
        let batch = RecordBatch::try_from_iter([("x", std::sync::Arc::new(Int32Array::from(vec![1, 2, 3])) as ArrayRef)]).unwrap();
        let lock = w.lock("nightly").unwrap();
        let mut old = w.stage(&lock, "old").unwrap();
        old.write("t", date, &batch).unwrap();
        old.publish().unwrap();
        let mut first = w.stage_replacing(&lock, "r1", "part-nightly").unwrap();
        first.write("t", date, &batch).unwrap();
        first.publish().unwrap();
        let files = w.files("t", Some(date)).unwrap();
        assert_eq!(files.len(), 1, "{files:?}");
        let bytes = std::fs::read(&files[0]).unwrap();
        let mut again = w.stage_replacing(&lock, "r2", "part-nightly").unwrap();
        again.write("t", date, &batch).unwrap();
        again.publish().unwrap();
        assert_eq!(std::fs::read(&files[0]).unwrap(), bytes, "same input, same bytes");
        let mut empty = w.stage_replacing(&lock, "r3", "part-nightly").unwrap();
        empty.declare("t", date, &batch.schema()).unwrap();
        empty.publish().unwrap();
        assert_eq!(read_batches(&w.files("t", Some(date)).unwrap()).unwrap().iter().map(|b| b.num_rows()).sum::<usize>(), 0);
    }
}
