//! Text bound for a terminal. Values from the warehouse — messages, summaries, names, paths in
//! manifests — are attacker-controlled: a control character in them could retitle the window,
//! clear the screen, plant an OSC 8 link or rewrite earlier output. Everything printed from
//! data goes through [`escape`] (or [`printable`] for tables), which shows control characters
//! as Rust escapes (`\u{1b}`, `\n`) instead of sending them.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch, StringBuilder};
use arrow::datatypes::{DataType, Field, Schema};
use arrow::util::display::{ArrayFormatter, FormatOptions};

/// An error and its causes on one line, outermost first (not yet escaped).
pub fn error_chain(err: &anyhow::Error) -> String {
    err.chain().map(ToString::to_string).collect::<Vec<_>>().join(": ")
}

/// `text` with every control character (C0, DEL, C1) escaped; borrowed when there is none.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// The batches as text columns, each value formatted as Arrow displays it and escaped: what
/// a table on a terminal shows, nested values (lists, structs) included.
pub fn printable(batches: &[RecordBatch]) -> anyhow::Result<Vec<RecordBatch>> {
    let options = FormatOptions::default();
    batches
        .iter()
        .map(|batch| {
            let schema = batch.schema();
            let fields: Vec<Field> = schema.fields().iter().map(|f| Field::new(f.name(), DataType::Utf8, true)).collect();
            let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.num_columns());
            let mut cell = String::new();
            for column in batch.columns() {
                let formatter = ArrayFormatter::try_new(column.as_ref(), &options)?;
                let mut text = StringBuilder::with_capacity(column.len(), column.len() * 8);
                for row in 0..column.len() {
                    cell.clear();
                    use std::fmt::Write as _;
                    write!(cell, "{}", formatter.value(row))?;
                    text.append_value(escape(&cell));
                }
                columns.push(Arc::new(text.finish()));
            }
            Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{AsArray, StringArray};

    #[test]
    fn control_characters_are_shown_not_sent() {
        assert_eq!(escape("plain text, ünïcode"), "plain text, ünïcode");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        let hostile = "\u{1b}]0;owned\u{7}\u{1b}[2J\u{1b}]8;;http://evil\u{1b}\\link\r\n\u{9b}31m";
        let shown = escape(hostile);
        assert!(!shown.chars().any(char::is_control), "{shown}");
        assert!(shown.contains("\\u{1b}]0;owned") && shown.contains("\\r\\n"), "{shown}");
    }

    #[test]
    fn tables_are_printed_escaped() {
        let batch = RecordBatch::try_from_iter([("content", Arc::new(StringArray::from(vec![Some("a\u{1b}[2Jb"), None])) as ArrayRef)]).unwrap();
        let out = printable(&[batch]).unwrap();
        assert_eq!(out[0].column(0).as_string::<i32>().value(0), "a\\u{1b}[2Jb");
    }
}
