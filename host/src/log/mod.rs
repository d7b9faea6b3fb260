//! The signed, hash-chained, append-only decision log.
//!
//! The log is a JSON Lines file (UTF-8, every line ended by one `\n`). Each
//! line is one [`DecisionRecord`], written as its RFC 8785 (JCS) canonical
//! JSON. Each record carries
//!
//! - `seq`: its 0-based position in the file;
//! - `prev`: the SHA-256 of the previous line's bytes without the `\n`
//!   ([`Digest::ZERO`](crate::digest::Digest::ZERO) for the first record),
//!   so removing, reordering or editing any line breaks the chain after it;
//! - `signature`: a signature, under the context [`SIGNING_CONTEXT`], over
//!   the JCS of the record without its `signature` member. The writer signs
//!   the last record of each write (group commit) and leaves the others in
//!   that write unsigned: the signed record's `prev` chain covers them, so
//!   editing any record breaks the signature of the next signed one. The
//!   last record of a log is always signed.
//!
//! Every line is also a leaf of the log's RFC 6962 Merkle tree
//! ([`MerkleTree`]); after every write the writer signs a checkpoint of the
//! tree ([`SignedCheckpoint`]: a C2SP tlog-checkpoint in a C2SP signed note)
//! into the checkpoints file next to the log, so that an auditor holding
//! any earlier checkpoint detects truncation, rewrites and forks, and one
//! record proves itself with an [`InclusionBundle`].
//!
//! [`DecisionLog`] writes the log, [`read_log`] parses it,
//! [`verify_log`] checks the chain and signatures, and [`PublishedLog`]
//! serves checkpoints and proofs. `docs/decision-log.md` specifies the
//! formats byte for byte.

mod checkpoint;
mod checkpoints;
mod merkle;
mod proof;
mod published;
mod reader;
mod record;
mod tail;
mod verify;
mod writer;

use std::io;
use std::path::PathBuf;

use crate::crypto::{KeyId, SignError};

pub use checkpoint::{
    Checkpoint, CheckpointError, ML_DSA_65_NOTE_TYPE, Origin, OriginParseError, SignedCheckpoint,
    note_key_id,
};
pub use checkpoints::{StoredNote, checkpoints_path, latest_checkpoint, read_notes};
pub use merkle::{
    MerkleTree, ProofError, TreeHash, TreeHashParseError, verify_consistency, verify_inclusion,
};
pub use proof::{
    BundleError, CONSISTENCY_FORMAT, ConsistencyBundle, INCLUSION_FORMAT, InclusionBundle,
    VerifiedConsistency, VerifiedInclusion, tree_of,
};
pub use published::{ProveError, PublishedLog};
pub use reader::{LogEntry, read_log};
pub use record::{
    DecisionId, DecisionIdParseError, DecisionRecord, NewRecord, RECORD_VERSION, RecordInput,
    RecordSignature, SIGNING_CONTEXT, SignatureBytes,
};
pub use verify::{ChainError, VerifiedChain, verify_log};
pub use writer::{Appended, DecisionLog, MAX_SEQ};

/// Why the log file could not be read or appended to. Every variant names
/// the file; those about its contents name the 1-based line.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The file could not be opened or created.
    #[error("cannot open decision log {}: {source}", path.display())]
    Open { path: PathBuf, source: io::Error },
    /// Reading the file failed.
    #[error("cannot read decision log {}: {source}", path.display())]
    Read { path: PathBuf, source: io::Error },
    /// Writing to the file failed. The log is unusable until reopened.
    #[error("cannot write decision log {}: {source}", path.display())]
    Write { path: PathBuf, source: io::Error },
    /// Syncing the file (or, after creating it, its directory) failed. The
    /// log is unusable until reopened: whether the data reached the disk is
    /// unknown.
    #[error("cannot sync {} to disk: {source}", path.display())]
    Sync { path: PathBuf, source: io::Error },
    /// The path is not a regular file (a directory, a device, a FIFO).
    #[error("decision log {} is not a regular file", path.display())]
    NotAFile { path: PathBuf },
    /// Another [`DecisionLog`] (in this or another process) has the file
    /// open for writing.
    #[error("decision log {} is locked by another writer", path.display())]
    Locked { path: PathBuf },
    /// The file does not end with `\n`: its last line, which starts at byte
    /// `offset`, is incomplete, typically because an append was cut short
    /// by a crash. The log is never repaired silently; truncating the file
    /// to `offset` bytes drops the incomplete line.
    #[error(
        "decision log {}: line {line} is torn (the file does not end with a newline); it starts at byte {offset}, \
         truncate the file to {offset} bytes to drop it",
        path.display()
    )]
    TornTail {
        path: PathBuf,
        line: usize,
        offset: u64,
    },
    /// The log ends with records that no signature covers, starting on
    /// `line` at byte `offset`: the writer signs the last record of every
    /// write, so a write was cut short by a crash before it was
    /// acknowledged (or someone without the key appended them). The log is
    /// never repaired silently; truncating the file to `offset` bytes drops
    /// the unsigned records.
    #[error(
        "decision log {}: the records from line {line} on are not covered by a signature (a write was cut short); \
         they start at byte {offset}, truncate the file to {offset} bytes to drop them",
        path.display()
    )]
    UnsignedTail {
        path: PathBuf,
        line: usize,
        offset: u64,
    },
    /// The checkpoints file ends inside a note, typically because the
    /// machine stopped while it was written. Checkpoints are derived from
    /// the signed records, so truncating the file to `offset` bytes loses
    /// nothing: the writer signs a new one for the records it covered.
    #[error(
        "checkpoints file {}: the last checkpoint is incomplete; it starts at byte {offset}, truncate the file to {offset} bytes to drop it",
        path.display()
    )]
    TornCheckpoints { path: PathBuf, offset: u64 },
    /// A checkpoint in the checkpoints file is not one this log's key
    /// signed (or the file is not UTF-8).
    #[error("checkpoints file {}: the checkpoint at byte {offset} is refused: {source}", path.display())]
    Checkpoint {
        path: PathBuf,
        offset: u64,
        source: CheckpointError,
    },
    /// The log's checkpoints name another origin than this writer's.
    #[error("decision log {}: its checkpoints are for origin {found}, this writer's origin is {expected}", path.display())]
    OriginMismatch {
        path: PathBuf,
        expected: Origin,
        found: Origin,
    },
    /// The log holds fewer records than its last checkpoint commits to:
    /// records it once held were cut off. Nothing in the file can repair
    /// that; restore the records from a copy.
    #[error(
        "decision log {}: holds {records} records, but its last checkpoint ({checkpoint}) commits to {}: records were cut off",
        path.display(), checkpoint.size
    )]
    Truncated {
        path: PathBuf,
        records: u64,
        checkpoint: Checkpoint,
    },
    /// The log's first records no longer hash to the root of its last
    /// checkpoint: a record it covers was changed. The records before
    /// `line`, which end at byte `offset`, still match an earlier
    /// checkpoint (or none do, and `offset` is 0).
    #[error(
        "decision log {}: the first {} records do not hash to the root of its last checkpoint ({checkpoint}): a checkpointed record was changed; \
         the records before line {line} match an earlier checkpoint, truncate the file to {offset} bytes to keep only them",
        path.display(), checkpoint.size
    )]
    Rewritten {
        path: PathBuf,
        checkpoint: Checkpoint,
        line: usize,
        offset: u64,
    },
    /// A record after the last checkpoint fails verification (its chain
    /// link, canonical form or signature), so the tail cannot be
    /// checkpointed. The records a checkpoint or a verified signature
    /// covers end at byte `offset`.
    #[error(
        "decision log {}: the records after the last checkpoint do not verify ({source}); \
         the verified records end at byte {offset}, truncate the file to {offset} bytes to drop the rest",
        path.display()
    )]
    TamperedTail {
        path: PathBuf,
        offset: u64,
        source: ChainError,
    },
    /// Signing a checkpoint failed after the records were written and
    /// synced: they are durable, but the log is unusable until reopened,
    /// which checkpoints them.
    #[error("cannot sign the checkpoint for {size} records: {source}")]
    SignCheckpoint { size: u64, source: CheckpointError },
    /// A line is not valid UTF-8.
    #[error("decision log {}: line {line}, column {column}: invalid UTF-8", path.display())]
    NotUtf8 {
        path: PathBuf,
        line: usize,
        column: usize,
    },
    /// A line is not valid JSON.
    #[error("decision log {}: line {line}, column {column}: invalid JSON: {reason}", path.display())]
    InvalidJson {
        path: PathBuf,
        line: usize,
        column: usize,
        reason: String,
    },
    /// A line is JSON but not a decision record: a member is missing, has the
    /// wrong type, or is unknown (`reason` names it).
    #[error("decision log {}: line {line}, column {column}: not a decision record: {reason}", path.display())]
    InvalidRecord {
        path: PathBuf,
        line: usize,
        column: usize,
        reason: String,
    },
    /// When opening: the last record's `seq` does not match its position,
    /// so the chain cannot be continued.
    #[error("decision log {}: line {line} has seq {found}, expected {expected}", path.display())]
    OutOfSequence {
        path: PathBuf,
        line: usize,
        expected: u64,
        found: u64,
    },
    /// When opening: the last record was signed by another key than the
    /// writer's, and a log is verified against a single key.
    #[error("decision log {}: line {line} is signed by key {found}, but this writer signs with {expected}", path.display())]
    ForeignKey {
        path: PathBuf,
        line: usize,
        expected: KeyId,
        found: KeyId,
    },
    /// An earlier append failed part-way; reopen the log, which reports a
    /// torn tail if a partial line was left.
    #[error("decision log {} is unusable after a failed append; reopen it", path.display())]
    Poisoned { path: PathBuf },
    /// The log holds [`MAX_SEQ`] records already.
    #[error("decision log {} is full: seq would exceed {MAX_SEQ}", path.display())]
    SequenceExhausted { path: PathBuf },
    /// Signing a record failed; nothing was written.
    #[error("cannot sign decision record {seq}: {source}")]
    Sign { seq: u64, source: SignError },
    /// A record could not be encoded as canonical JSON (a claim holds a
    /// value JCS cannot express); nothing was written.
    #[error("cannot encode decision record {seq} as canonical JSON: {source}")]
    Encode { seq: u64, source: serde_json::Error },
}

impl LogError {
    /// The 1-based line the error is about, if it is about one.
    pub fn line(&self) -> Option<usize> {
        match self {
            LogError::TornTail { line, .. }
            | LogError::UnsignedTail { line, .. }
            | LogError::NotUtf8 { line, .. }
            | LogError::InvalidJson { line, .. }
            | LogError::InvalidRecord { line, .. }
            | LogError::OutOfSequence { line, .. }
            | LogError::ForeignKey { line, .. }
            | LogError::Rewritten { line, .. } => Some(*line),
            LogError::TamperedTail { source, .. } => Some(source.line()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod transparency_tests;
