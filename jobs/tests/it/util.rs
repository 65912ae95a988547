//! Helpers: run the binary, make temp dirs, read tables back.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::DataType;
use vigil::warehouse::{read_batches, Warehouse};

pub const KEY: &str = "7f3a9c2e5b1d4f608a2c4e6f8091b3d5e7f90a1c3e5b7d9f1a3c5e7092b4d6f8";
/// The tests' signing key (every run the tests start signs its ledger entries with it).
pub const SIGNING_KEY: &str = "2b8e4d6f1a3c5e7092b4d6f87f3a9c2e5b1d4f608a2c4e6f8091b3d5e7f90a1c";

pub struct Run {
    pub output: Output,
}

impl Run {
    pub fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.output.stdout).into_owned()
    }
    pub fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.output.stderr).into_owned()
    }
    #[track_caller]
    pub fn ok(self) -> Self {
        assert!(self.output.status.success(), "vigil failed:\nstdout: {}\nstderr: {}", self.stdout(), self.stderr());
        self
    }
}

pub fn vigil() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vigil"));
    cmd.env_remove("VIGIL_KEY").env("VIGIL_SIGNING_KEY", SIGNING_KEY).env("VIGIL_LOG", "warn");
    cmd
}

pub fn run(args: &[&str]) -> Run {
    let mut cmd = vigil();
    cmd.env("VIGIL_KEY", KEY).args(args);
    Run { output: cmd.output().expect("spawn vigil") }
}

pub fn path(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

/// Generates fixtures into `dir/logs` and returns the day files.
pub fn fixtures(dir: &Path, days: u32, per_day: u32, seed: u64) -> Vec<PathBuf> {
    fixtures_of_family(dir, "standard", days, per_day, seed)
}

/// `vigil fixtures --family FAMILY` into `<dir>/logs`; the day files, sorted.
pub fn fixtures_of_family(dir: &Path, family: &str, days: u32, per_day: u32, seed: u64) -> Vec<PathBuf> {
    let logs = dir.join("logs");
    run(&["fixtures", "--family", family, "--out", path(&logs), "--days", &days.to_string(), "--per-day", &per_day.to_string(), "--seed", &seed.to_string()]).ok();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&logs)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.to_string_lossy().ends_with(".jsonl.gz") && !p.to_string_lossy().contains("labels"))
        .collect();
    files.sort();
    files
}

/// `vigil ingest --warehouse W FILES…`; returns the summary line.
pub fn ingest(warehouse: &Path, files: &[PathBuf]) -> String {
    let mut args = vec!["ingest", "--warehouse", path(warehouse)];
    args.extend(files.iter().map(|f| path(f)));
    run(&args).ok().stdout()
}

/// Fixtures in a fresh temp dir, ingested into `<dir>/w`: (dir, warehouse, day files,
/// ingest summary line).
pub fn fixture_warehouse(days: u32, per_day: u32, seed: u64) -> (tempfile::TempDir, PathBuf, Vec<PathBuf>, String) {
    family_warehouse("standard", days, per_day, seed)
}

/// As [`fixture_warehouse`], for a fixture family.
pub fn family_warehouse(family: &str, days: u32, per_day: u32, seed: u64) -> (tempfile::TempDir, PathBuf, Vec<PathBuf>, String) {
    let dir = tempfile::tempdir().unwrap();
    let files = fixtures_of_family(dir.path(), family, days, per_day, seed);
    let w = dir.path().join("w");
    let line = ingest(&w, &files);
    (dir, w, files, line)
}

pub fn ground_truth(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("logs/ground_truth.json")).unwrap()).unwrap()
}

pub fn table(warehouse: &Path, table: &str) -> Vec<RecordBatch> {
    let w = Warehouse::open(warehouse).unwrap();
    read_batches(&w.files(table, None).unwrap()).unwrap()
}

pub fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

/// Every string value in every column (nested structs included) of a table.
pub fn all_strings(batches: &[RecordBatch], out: &mut Vec<String>) {
    fn walk(array: &dyn Array, out: &mut Vec<String>) {
        match array.data_type() {
            DataType::Utf8 => out.extend(array.as_string::<i32>().iter().flatten().map(str::to_owned)),
            DataType::Struct(_) => array.as_struct().columns().iter().for_each(|c| walk(c.as_ref(), out)),
            _ => {}
        }
    }
    for b in batches {
        for c in b.columns() {
            walk(c.as_ref(), out);
        }
    }
}

/// One string column of a table.
pub fn strings(batches: &[RecordBatch], column: &str) -> Vec<String> {
    batches
        .iter()
        .flat_map(|b| b.column_by_name(column).unwrap_or_else(|| panic!("no column {column}")).as_string::<i32>().iter().map(|v| v.unwrap_or_default().to_owned()).collect::<Vec<_>>())
        .collect()
}

/// Counts of values in a string column.
pub fn histogram(batches: &[RecordBatch], column: &str) -> BTreeMap<String, u64> {
    let mut h = BTreeMap::new();
    for v in strings(batches, column) {
        *h.entry(v).or_default() += 1;
    }
    h
}

/// Parses `key N` pairs out of the ingest summary line.
pub fn summary_number(line: &str, key: &str) -> u64 {
    let at = line.find(key).unwrap_or_else(|| panic!("{key:?} not in {line:?}")) + key.len();
    line[at..].trim_start().split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

/// The installed learned encoder's models directory, or `None` (with a notice) where it is
/// missing and not required.
pub fn models_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("VIGIL_MODELS").map_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../.vigil/models"), PathBuf::from);
    if dir.join("use-m3/model.safetensors").exists() {
        return Some(dir);
    }
    assert!(std::env::var_os("VIGIL_REQUIRE_MODELS").is_none(), "VIGIL_REQUIRE_MODELS is set but {} has no use-m3 model", dir.display());
    eprintln!("SKIPPED: needs the learned encoder (python3 models/install.py)");
    None
}
