//! Keys as text: read from small files (a key file is never more than a few lines, so a path
//! to a device or a huge file is not read whole), or given as the text itself.

use std::io::Read as _;
use std::path::Path;

use crate::error::{Error, Result};

/// Longest key file read (a reveal share, the largest, is under 1 KiB).
const MAX_KEY_FILE_BYTES: u64 = 16 * 1024;

/// The text of a key file, at most [`MAX_KEY_FILE_BYTES`] of it.
pub(crate) fn read_small(path: &Path) -> std::io::Result<String> {
    let mut text = String::new();
    std::fs::File::open(path)?.take(MAX_KEY_FILE_BYTES).read_to_string(&mut text)?;
    Ok(text)
}

/// Parses `value` as the path of a key file when one exists there, else as the key's text;
/// `what` names the key in errors.
pub(crate) fn file_or_text<T>(value: &str, what: &str, parse: impl Fn(&str) -> Result<T>) -> Result<T> {
    let path = Path::new(value);
    if path.is_file() {
        let text = read_small(path).map_err(|e| Error::Key(format!("cannot read {what} {}: {e}", path.display())))?;
        return parse(&text).map_err(|e| Error::Key(format!("{}: {e}", path.display())));
    }
    parse(value)
}
