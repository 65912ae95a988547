//! The trailing window of conversations a nightly run analyses, read from the warehouse with
//! only the columns the analysis needs, in a canonical order (creation time, then id) so the
//! results do not depend on how ingest happened to lay out the files.

use arrow::array::{Array, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{Int32Type, TimestampMicrosecondType};
use chrono::{Days, NaiveDate};
use rustc_hash::FxHashMap;

use crate::error::{Error, Result};
use crate::schema::{self, day_of_micros, table};
use crate::warehouse::{for_each_contract_batch, Warehouse};

/// Columns read from `conversations`.
const COLUMNS: &[&str] = &[
    "conversation_id",
    "account_id",
    "created_at",
    "language",
    "turns",
    "user_chars",
    "assistant_chars",
    "user_text",
    "ip_prefix",
    "user_agent_family",
    "client",
];

/// One row's place: batch and row within it.
#[derive(Debug, Clone, Copy)]
struct At {
    batch: u32,
    row: u32,
}

/// Conversations of a window, zero-copy over the batches read.
#[derive(Debug)]
pub struct Window {
    /// First and last day.
    pub start: NaiveDate,
    /// Last day (the run date).
    pub end: NaiveDate,
    batches: Vec<RecordBatch>,
    rows: Vec<At>,
    /// Per row: index into `accounts`.
    pub account: Vec<u32>,
    /// Distinct account pseudonyms, sorted.
    pub accounts: Vec<String>,
    /// Per row: creation time, µs since the epoch (UTC).
    pub created_at: Vec<i64>,
    /// The `conversations` files read.
    pub files: Vec<std::path::PathBuf>,
}

impl Window {
    /// Reads the `days` days ending on `end`.
    pub fn read(warehouse: &Warehouse, end: NaiveDate, days: u32) -> Result<Self> {
        let start = end.checked_sub_days(Days::new(u64::from(days.max(1) - 1))).ok_or_else(|| Error::Config(format!("window of {days} days before {end}")))?;
        let mut batches = Vec::new();
        let mut files = Vec::new();
        let mut day = start;
        while day <= end {
            let day_files = warehouse.files(table::CONVERSATIONS, Some(day))?;
            for_each_contract_batch(&day_files, &schema::CONVERSATIONS, COLUMNS, |_, batch| {
                if batch.num_rows() > 0 {
                    batches.push(batch);
                }
                Ok(())
            })?;
            files.extend(day_files);
            day = day.succ_opt().expect("dates before 262143 CE");
        }
        let mut keyed: Vec<(i64, &str, At)> = Vec::new();
        for (b, batch) in batches.iter().enumerate() {
            let ids = batch.column(0).as_string::<i32>();
            let times = batch.column(2).as_primitive::<TimestampMicrosecondType>();
            for r in 0..batch.num_rows() {
                keyed.push((times.value(r), ids.value(r), At { batch: b as u32, row: r as u32 }));
            }
        }
        keyed.sort_unstable_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
        let rows: Vec<At> = keyed.iter().map(|k| k.2).collect();
        let created_at: Vec<i64> = keyed.iter().map(|k| k.0).collect();
        drop(keyed);
        let mut names: Vec<&str> = rows.iter().map(|at| batches[at.batch as usize].column(1).as_string::<i32>().value(at.row as usize)).collect();
        names.sort_unstable();
        names.dedup();
        let index: FxHashMap<&str, u32> = names.iter().enumerate().map(|(i, n)| (*n, i as u32)).collect();
        let account = rows.iter().map(|at| index[batches[at.batch as usize].column(1).as_string::<i32>().value(at.row as usize)]).collect();
        let accounts = names.iter().map(|s| (*s).to_owned()).collect();
        Ok(Window { start, end, rows, account, accounts, created_at, batches, files })
    }

    /// Conversations in the window.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the window holds no conversation.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    fn string(&self, i: usize, column: usize) -> &str {
        let at = self.rows[i];
        self.batches[at.batch as usize].column(column).as_string::<i32>().value(at.row as usize)
    }

    fn opt_string(&self, i: usize, column: usize) -> Option<&str> {
        let at = self.rows[i];
        let col: &StringArray = self.batches[at.batch as usize].column(column).as_string::<i32>();
        col.is_valid(at.row as usize).then(|| col.value(at.row as usize))
    }

    fn int(&self, i: usize, column: usize) -> i32 {
        let at = self.rows[i];
        self.batches[at.batch as usize].column(column).as_primitive::<Int32Type>().value(at.row as usize)
    }

    /// Conversation id of row `i`.
    pub fn conversation_id(&self, i: usize) -> &str {
        self.string(i, 0)
    }
    /// Account pseudonym of row `i`.
    pub fn account_id(&self, i: usize) -> &str {
        &self.accounts[self.account[i] as usize]
    }
    /// Detected language of row `i`.
    pub fn language(&self, i: usize) -> &str {
        self.string(i, 3)
    }
    /// Turns of row `i`.
    pub fn turns(&self, i: usize) -> i32 {
        self.int(i, 4)
    }
    /// Characters the user wrote.
    pub fn user_chars(&self, i: usize) -> i32 {
        self.int(i, 5)
    }
    /// Characters the assistant wrote.
    pub fn assistant_chars(&self, i: usize) -> i32 {
        self.int(i, 6)
    }
    /// Redacted user turns of row `i`, separated by blank lines.
    pub fn user_text(&self, i: usize) -> &str {
        self.string(i, 7)
    }
    /// The first user message of row `i` (what the conversation asks for).
    pub fn first_message(&self, i: usize) -> &str {
        let text = self.user_text(i);
        schema::user_turns(text).next().unwrap_or(text)
    }
    /// Network-prefix pseudonym of row `i`.
    pub fn ip_prefix(&self, i: usize) -> Option<&str> {
        self.opt_string(i, 8)
    }
    /// Coarse user-agent family of row `i`.
    pub fn user_agent_family(&self, i: usize) -> Option<&str> {
        self.opt_string(i, 9)
    }
    /// Client of row `i`.
    pub fn client(&self, i: usize) -> Option<&str> {
        self.opt_string(i, 10)
    }
    /// UTC day of row `i`.
    pub fn day(&self, i: usize) -> NaiveDate {
        day_of_micros(self.created_at[i])
    }
}

