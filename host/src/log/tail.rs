//! Checking an existing log before appending to it: where its chain ends,
//! that its last checkpoint matches its records, and that the records after
//! that checkpoint verify.

use std::fs::File;
use std::io::{BufRead as _, BufReader, Seek as _, SeekFrom};
use std::path::Path;

use super::checkpoint::{Checkpoint, Origin, SignedCheckpoint};
use super::checkpoints::{read_notes, verify_note};
use super::merkle::MerkleTree;
use super::reader::parse_line;
use super::verify::verify_entry;
use super::{DecisionRecord, LogEntry, LogError, RecordSignature};
use crate::crypto::SigningKey;
use crate::digest::Digest;

/// Where an existing log ends, and what is known about it.
pub(super) struct Tail {
    pub next_seq: u64,
    pub prev: Digest,
    pub tree: MerkleTree,
    /// Where each line starts, and (last) where the file ends.
    pub line_starts: Vec<u64>,
    /// The last checkpoint, when it covers every record.
    pub checkpoint: Option<SignedCheckpoint>,
}

impl Tail {
    pub fn empty() -> Self {
        Self {
            next_seq: 0,
            prev: Digest::ZERO,
            tree: MerkleTree::new(),
            line_starts: vec![0],
            checkpoint: None,
        }
    }
}

/// Reads the log at `path` (open as `file`) to find where it ends, and
/// refuses to build on it unless every record is either covered by its last
/// checkpoint or, after it, chained and covered by a verified record
/// signature by `signer`.
pub(super) fn check_tail(
    file: &File,
    path: &Path,
    signer: &SigningKey,
    origin: &Origin,
) -> Result<Tail, LogError> {
    let (tree, line_starts, last) = scan(file, path)?;
    let count = line_starts.len() - 1;
    let Some(content) = last.strip_suffix(b"\n") else {
        let checkpointed = last_checkpoint(path, signer, origin, &tree, &line_starts)?;
        return Ok(Tail {
            checkpoint: checkpointed.filter(|c| c.checkpoint().size == 0),
            ..Tail::empty()
        });
    };
    let (raw, record) = parse_line(path, count, content)?;
    let Some(signature) = &record.signature else {
        return Err(unsigned_tail(file, path)?);
    };
    check_last_record(path, count, &record, signature, signer)?;
    let checkpoint = last_checkpoint(path, signer, origin, &tree, &line_starts)?;
    let covered = checkpoint.as_ref().map_or(0, |c| c.checkpoint().size);
    if covered < count as u64 {
        verify_uncovered(file, path, &line_starts, covered, signer)?;
    }
    Ok(Tail {
        next_seq: record.seq + 1,
        prev: Digest::of(raw.as_bytes()),
        tree,
        line_starts,
        checkpoint: checkpoint.filter(|c| c.checkpoint().size == count as u64),
    })
}

/// Reads every line: the tree of their leaves, where each starts (and the
/// end of the file), and the last line with its `\n`.
fn scan(file: &File, path: &Path) -> Result<(MerkleTree, Vec<u64>, Vec<u8>), LogError> {
    let mut reader = BufReader::new(file);
    let (mut line, mut last) = (Vec::new(), Vec::new());
    let mut tree = MerkleTree::new();
    let mut line_starts = vec![0u64];
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(|source| LogError::Read {
                path: path.to_owned(),
                source,
            })?;
        if read == 0 {
            break;
        }
        let offset = *line_starts.last().expect("never empty");
        let Some(content) = line.strip_suffix(b"\n") else {
            return Err(LogError::TornTail {
                path: path.to_owned(),
                line: line_starts.len(),
                offset,
            });
        };
        tree.push_line(content);
        line_starts.push(offset + read as u64);
        std::mem::swap(&mut line, &mut last);
    }
    Ok((tree, line_starts, last))
}

/// The log's last checkpoint, once it is verified to be signed by
/// `signer`, for `origin`, and to match the log's first records; `None`
/// when the log has no checkpoints (it was written before they existed).
fn last_checkpoint(
    path: &Path,
    signer: &SigningKey,
    origin: &Origin,
    tree: &MerkleTree,
    line_starts: &[u64],
) -> Result<Option<SignedCheckpoint>, LogError> {
    let Some(notes) = read_notes(path)? else {
        return Ok(None);
    };
    let Some(last) = notes.last() else {
        return Ok(None);
    };
    let signed = verify_note(path, last, signer.verifying_key())?;
    let checkpoint = signed.checkpoint();
    if &checkpoint.origin != origin {
        return Err(LogError::OriginMismatch {
            path: path.to_owned(),
            expected: origin.clone(),
            found: checkpoint.origin.clone(),
        });
    }
    if checkpoint.size > tree.size() {
        return Err(LogError::Truncated {
            path: path.to_owned(),
            records: tree.size(),
            checkpoint: checkpoint.clone(),
        });
    }
    if !matches(tree, checkpoint) {
        // Find the newest checkpoint the records still match: the records
        // it covers are the ones that can be kept.
        let mut good = 0;
        for note in notes.iter().rev().skip(1) {
            let Ok(earlier) = verify_note(path, note, signer.verifying_key()) else {
                continue;
            };
            if earlier.checkpoint().size <= tree.size() && matches(tree, earlier.checkpoint()) {
                good = earlier.checkpoint().size;
                break;
            }
        }
        return Err(LogError::Rewritten {
            path: path.to_owned(),
            checkpoint: checkpoint.clone(),
            line: good as usize + 1,
            offset: line_starts[good as usize],
        });
    }
    Ok(Some(signed))
}

fn matches(tree: &MerkleTree, checkpoint: &Checkpoint) -> bool {
    tree.root_at(checkpoint.size).ok() == Some(checkpoint.root)
}

/// Verifies the records from `covered` on (those no checkpoint covers):
/// each chained to the one before and canonical, every signature valid;
/// the last is signed (checked before). This catches an edited last line
/// with a stale signature. The error names the end of the last record
/// before the failure that a verified signature covers.
fn verify_uncovered(
    file: &File,
    path: &Path,
    line_starts: &[u64],
    covered: u64,
    signer: &SigningKey,
) -> Result<(), LogError> {
    let covered = covered as usize;
    let mut last_good = line_starts[covered];
    let read_error = |source| LogError::Read {
        path: path.to_owned(),
        source,
    };
    // Start one line early: the first uncovered record chains to it.
    let first = covered.saturating_sub(1);
    (&*file)
        .seek(SeekFrom::Start(line_starts[first]))
        .map_err(read_error)?;
    let mut reader = BufReader::new(file);
    let mut prev = Digest::ZERO;
    let mut line = Vec::new();
    for index in first..line_starts.len() - 1 {
        line.clear();
        reader.read_until(b'\n', &mut line).map_err(read_error)?;
        let content = line.strip_suffix(b"\n").unwrap_or(&line);
        let (raw, record) = parse_line(path, index + 1, content)?;
        if index >= covered {
            let entry = LogEntry {
                line: index + 1,
                raw,
                record,
            };
            let signed = verify_entry(&entry, index as u64, prev, signer.verifying_key()).map_err(
                |source| LogError::TamperedTail {
                    path: path.to_owned(),
                    offset: last_good,
                    source,
                },
            )?;
            if signed {
                last_good = line_starts[index + 1];
            }
            prev = Digest::of(entry.raw.as_bytes());
        } else {
            prev = Digest::of(raw.as_bytes());
        }
    }
    Ok(())
}

/// For a log whose last record is unsigned: the [`LogError::UnsignedTail`]
/// naming where the unsigned records start.
fn unsigned_tail(file: &File, path: &Path) -> Result<LogError, LogError> {
    let read_error = |source| LogError::Read {
        path: path.to_owned(),
        source,
    };
    (&*file).seek(SeekFrom::Start(0)).map_err(read_error)?;
    let mut reader = BufReader::new(file);
    let mut line = Vec::new();
    let (mut count, mut offset) = (0usize, 0u64);
    let (mut first_unsigned_line, mut first_unsigned_offset) = (1, 0);
    loop {
        line.clear();
        let read = reader.read_until(b'\n', &mut line).map_err(read_error)?;
        if read == 0 {
            break;
        }
        count += 1;
        let content = line.strip_suffix(b"\n").unwrap_or(&line);
        let (_, record) = parse_line(path, count, content)?;
        offset += read as u64;
        if record.signature.is_some() {
            (first_unsigned_line, first_unsigned_offset) = (count + 1, offset);
        }
    }
    Ok(LogError::UnsignedTail {
        path: path.to_owned(),
        line: first_unsigned_line,
        offset: first_unsigned_offset,
    })
}

/// Checks that the chain can be continued after `record`, on line `line`,
/// signed with `signature`.
fn check_last_record(
    path: &Path,
    line: usize,
    record: &DecisionRecord,
    signature: &RecordSignature,
    signer: &SigningKey,
) -> Result<(), LogError> {
    let expected = line as u64 - 1;
    if record.seq != expected {
        return Err(LogError::OutOfSequence {
            path: path.to_owned(),
            line,
            expected,
            found: record.seq,
        });
    }
    if &signature.kid != signer.key_id() {
        let (expected, found) = (signer.key_id().clone(), signature.kid.clone());
        return Err(LogError::ForeignKey {
            path: path.to_owned(),
            line,
            expected,
            found,
        });
    }
    Ok(())
}
