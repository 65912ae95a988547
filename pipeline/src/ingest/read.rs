//! Reading input files as chunks of whole lines, whatever their compression.
//!
//! Compression is detected from magic bytes, not the file name. A decoder error (a truncated
//! `.gz` or `.zst`) ends the file: every complete line read before it is kept, and the
//! truncation itself is reported on the last chunk so it becomes a quarantine row.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, Result};

/// A piece of one input file: whole lines, plus where they came from.
#[derive(Debug)]
pub(crate) struct Chunk {
    /// Index of the file in the run's input list.
    pub file_index: usize,
    /// File name shown in quarantine rows and summaries.
    pub source: Arc<str>,
    /// 1-based number of the first line in `data`.
    pub first_line: u64,
    /// Lines, each ending in `\n` except possibly a final unterminated one.
    pub data: Vec<u8>,
    /// Line numbers (sorted) of lines cut at the size limit while reading.
    pub cut_lines: Vec<u64>,
    /// Set on the last chunk of a file whose decoder failed: the error text. The bytes after
    /// the last newline, if any, are the truncated record.
    pub truncated: Option<String>,
}

/// Compression of an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    fn sniff(magic: &[u8]) -> Self {
        match magic {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            _ => Compression::None,
        }
    }
}

/// Counts bytes read from the underlying file, for progress reporting.
struct Counting<R> {
    inner: R,
    on_bytes: Arc<dyn Fn(u64) + Send + Sync>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.on_bytes)(n as u64);
        Ok(n)
    }
}

/// Opens a file and returns a buffered reader of its decompressed bytes.
pub(crate) fn open(path: &Path, on_bytes: Arc<dyn Fn(u64) + Send + Sync>) -> Result<Box<dyn BufRead + Send>> {
    let input_err = |source| Error::Input { path: path.to_owned(), source };
    let mut file = File::open(path).map_err(input_err)?;
    let mut magic = [0u8; 4];
    let n = read_up_to(&mut file, &mut magic).map_err(input_err)?;
    let compression = Compression::sniff(&magic[..n]);
    let prefix = io::Cursor::new(magic[..n].to_vec());
    let raw = Counting { inner: prefix.chain(file), on_bytes };
    const BUF: usize = 1 << 20;
    let reader: Box<dyn BufRead + Send> = match compression {
        Compression::None => Box::new(BufReader::with_capacity(BUF, raw)),
        Compression::Gzip => Box::new(BufReader::with_capacity(BUF, flate2::read::MultiGzDecoder::new(BufReader::with_capacity(BUF, raw)))),
        Compression::Zstd => {
            let decoder = zstd::stream::read::Decoder::new(raw).map_err(input_err)?;
            Box::new(BufReader::with_capacity(BUF, decoder))
        }
    };
    Ok(reader)
}

fn read_up_to(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..])? {
            0 => break,
            k => n += k,
        }
    }
    Ok(n)
}

/// Splits a decompressed stream into chunks of about `chunk_bytes`, never splitting a line.
/// A line longer than `max_line` is cut: its first `max_line` bytes are kept (so it can be
/// quarantined as oversized, with its beginning as evidence) and the rest is skipped, so one
/// enormous line cannot exhaust memory.
pub(crate) struct ChunkReader {
    reader: Box<dyn BufRead + Send>,
    file_index: usize,
    source: Arc<str>,
    next_line: u64,
    chunk_bytes: usize,
    max_line: usize,
    done: bool,
}

impl ChunkReader {
    pub(crate) fn new(reader: Box<dyn BufRead + Send>, file_index: usize, source: Arc<str>, chunk_bytes: usize, max_line: usize) -> Self {
        ChunkReader { reader, file_index, source, next_line: 1, chunk_bytes, max_line, done: false }
    }

    /// The next chunk, or `None` at the end of the file.
    pub(crate) fn next_chunk(&mut self) -> Option<Chunk> {
        if self.done {
            return None;
        }
        let mut data = Vec::with_capacity(self.chunk_bytes + 4096);
        let mut cut_lines = Vec::new();
        let first_line = self.next_line;
        let mut truncated = None;
        while data.len() < self.chunk_bytes {
            match self.read_line(&mut data) {
                Ok((0, _)) => {
                    self.done = true;
                    break;
                }
                Ok((_, cut)) => {
                    if cut {
                        cut_lines.push(self.next_line);
                    }
                    self.next_line += 1;
                }
                Err(e) => {
                    truncated = Some(e.to_string());
                    self.done = true;
                    break;
                }
            }
        }
        if data.is_empty() && truncated.is_none() {
            return None;
        }
        Some(Chunk { file_index: self.file_index, source: self.source.clone(), first_line, data, cut_lines, truncated })
    }

    /// Appends one line (with its newline) to `data`. Returns the bytes consumed from the
    /// stream and whether the line was cut at `max_line`.
    fn read_line(&mut self, data: &mut Vec<u8>) -> io::Result<(usize, bool)> {
        let start = data.len();
        let mut consumed = 0;
        let mut cut = false;
        loop {
            let buf = match self.reader.fill_buf() {
                Ok(b) => b,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if buf.is_empty() {
                return Ok((consumed, cut));
            }
            let (take, found) = match memchr::memchr(b'\n', buf) {
                Some(i) => (i + 1, true),
                None => (buf.len(), false),
            };
            let room = self.max_line.saturating_sub(data.len() - start).min(take);
            data.extend_from_slice(&buf[..room]);
            cut |= room < take;
            self.reader.consume(take);
            consumed += take;
            if found {
                if cut {
                    data.push(b'\n');
                }
                return Ok((consumed, cut));
            }
        }
    }
}
