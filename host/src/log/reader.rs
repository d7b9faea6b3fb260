//! Parsing a decision log file.

use std::fs::File;
use std::io::Read as _;
use std::path::Path;

use super::{DecisionRecord, LogError};

/// One parsed line of a decision log.
#[derive(Clone, Debug, PartialEq)]
pub struct LogEntry {
    /// The 1-based line number.
    pub line: usize,
    /// The line's exact text, without its `\n`. The chain hashes these bytes.
    pub raw: String,
    /// The record the line holds.
    pub record: DecisionRecord,
}

/// Reads and parses every line of the log at `path`.
///
/// An empty file is an empty log. Fails on the first line (in file order)
/// that is not UTF-8, not JSON, or not a decision record, and on a last line
/// without its `\n` ([`LogError::TornTail`]). This checks syntax only:
/// [`verify_log`](super::verify_log) checks the chain and signatures.
///
/// A log being appended to concurrently may show a torn tail for an append
/// in progress; read again once the writer is done.
pub fn read_log(path: impl AsRef<Path>) -> Result<Vec<LogEntry>, LogError> {
    let path = path.as_ref();
    let read_error = |source| LogError::Read {
        path: path.to_owned(),
        source,
    };
    let mut file = File::open(path).map_err(read_error)?;
    check_regular_file(&file, path)?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).map_err(read_error)?;
    let mut entries = Vec::new();
    let mut start = 0;
    for (index, line) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        let number = index + 1;
        let Some(content) = line.strip_suffix(b"\n") else {
            return Err(LogError::TornTail {
                path: path.to_owned(),
                line: number,
                offset: start as u64,
            });
        };
        let (raw, record) = parse_line(path, number, content)?;
        entries.push(LogEntry {
            line: number,
            raw,
            record,
        });
        start += line.len();
    }
    Ok(entries)
}

/// Refuses directories, devices and FIFOs: some of those never end.
pub(super) fn check_regular_file(file: &File, path: &Path) -> Result<(), LogError> {
    let metadata = file.metadata().map_err(|source| LogError::Read {
        path: path.to_owned(),
        source,
    })?;
    if metadata.is_file() {
        Ok(())
    } else {
        Err(LogError::NotAFile {
            path: path.to_owned(),
        })
    }
}

/// Parses the bytes of line `line` (without `\n`) of the log at `path`.
pub(super) fn parse_line(
    path: &Path,
    line: usize,
    bytes: &[u8],
) -> Result<(String, DecisionRecord), LogError> {
    let raw = std::str::from_utf8(bytes).map_err(|e| LogError::NotUtf8 {
        path: path.to_owned(),
        line,
        column: e.valid_up_to() + 1,
    })?;
    let record = serde_json::from_str(raw).map_err(|e| json_error(path, line, &e))?;
    Ok((raw.to_owned(), record))
}

fn json_error(path: &Path, line: usize, error: &serde_json::Error) -> LogError {
    let column = error.column();
    // serde_json appends the position, which is given separately here.
    let message = error.to_string();
    let suffix = format!(" at line {} column {}", error.line(), column);
    let reason = message.strip_suffix(&suffix).unwrap_or(&message).to_owned();
    let path = path.to_owned();
    match error.classify() {
        serde_json::error::Category::Data => LogError::InvalidRecord {
            path,
            line,
            column,
            reason,
        },
        _ => LogError::InvalidJson {
            path,
            line,
            column,
            reason,
        },
    }
}
