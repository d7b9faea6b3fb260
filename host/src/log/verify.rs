//! Checking a decision log's chain and signatures.

use super::{LogEntry, RECORD_VERSION, SIGNING_CONTEXT};
use crate::crypto::{KeyId, SignatureAlgorithm, SignatureError, VerifyingKey};
use crate::digest::Digest;

/// What a successful [`verify_log`] established.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VerifiedChain {
    /// How many records were verified.
    pub records: usize,
    /// The digest of the last line (the `prev` the next record must carry),
    /// or [`Digest::ZERO`] for an empty log. Publishing it elsewhere pins the
    /// log's whole history: no earlier line can change without changing it.
    pub head: Digest,
}

/// The first record of a log that fails verification, and why. Every variant
/// names the record's 1-based `line` and the `seq` it claims.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ChainError {
    /// The record's format version is not [`RECORD_VERSION`].
    #[error("record {seq} (line {line}): unsupported version {found}, expected {RECORD_VERSION}")]
    UnsupportedVersion { line: usize, seq: u64, found: u32 },
    /// The record is not at the position its `seq` claims: a record before
    /// it was removed or inserted, or records were reordered.
    #[error(
        "record on line {line}: seq is {seq}, expected {expected} (a record was removed, inserted or moved)"
    )]
    SequenceMismatch {
        line: usize,
        seq: u64,
        expected: u64,
    },
    /// The record's `prev` is not the digest of the line before it.
    #[error(
        "record {seq} (line {line}): chain broken: prev is {found}, the previous line's digest is {expected}"
    )]
    BrokenChain {
        line: usize,
        seq: u64,
        expected: Digest,
        found: Digest,
    },
    /// The line is not the canonical (JCS) JSON of the record it holds, so it
    /// was edited after it was written. `column` is the first differing byte.
    #[error("record {seq} (line {line}): not canonical JSON, first difference at column {column}")]
    NonCanonical {
        line: usize,
        seq: u64,
        column: usize,
    },
    /// The record names another signing key than the verifying key.
    #[error("record {seq} (line {line}): signed by unknown key {found}, expected {expected}")]
    UnknownKey {
        line: usize,
        seq: u64,
        expected: KeyId,
        found: KeyId,
    },
    /// The record's `alg` is not the verifying key's algorithm.
    #[error("record {seq} (line {line}): signature algorithm is {found}, the key's is {expected}")]
    AlgorithmMismatch {
        line: usize,
        seq: u64,
        expected: SignatureAlgorithm,
        found: SignatureAlgorithm,
    },
    /// The signature does not verify: the record was altered or forged.
    #[error("record {seq} (line {line}): bad signature: {source}")]
    BadSignature {
        line: usize,
        seq: u64,
        source: SignatureError,
    },
    /// The log ends with records no signature covers: from this record to
    /// the last, none is signed. The writer signs the last record of every
    /// write, so either a write was cut short before it was acknowledged,
    /// or the records were appended by someone without the key.
    #[error(
        "record {seq} (line {line}) and every record after it are unsigned: no signature covers the end of the log"
    )]
    UnsignedTail { line: usize, seq: u64 },
}

impl ChainError {
    /// The 1-based line of the failing record.
    pub fn line(&self) -> usize {
        match self {
            ChainError::UnsupportedVersion { line, .. }
            | ChainError::SequenceMismatch { line, .. }
            | ChainError::BrokenChain { line, .. }
            | ChainError::NonCanonical { line, .. }
            | ChainError::UnknownKey { line, .. }
            | ChainError::AlgorithmMismatch { line, .. }
            | ChainError::BadSignature { line, .. }
            | ChainError::UnsignedTail { line, .. } => *line,
        }
    }

    /// The `seq` the failing record claims.
    pub fn seq(&self) -> u64 {
        match self {
            ChainError::UnsupportedVersion { seq, .. }
            | ChainError::SequenceMismatch { seq, .. }
            | ChainError::BrokenChain { seq, .. }
            | ChainError::NonCanonical { seq, .. }
            | ChainError::UnknownKey { seq, .. }
            | ChainError::AlgorithmMismatch { seq, .. }
            | ChainError::BadSignature { seq, .. }
            | ChainError::UnsignedTail { seq, .. } => *seq,
        }
    }
}

/// Verifies `entries`, a whole log as [`read_log`](super::read_log) returns
/// it, against `key`, and fails on the first record that is wrong.
///
/// For each record in order it checks: the version is [`RECORD_VERSION`];
/// `seq` is its 0-based position; `prev` is the digest of the previous raw
/// line ([`Digest::ZERO`] for the first); the raw line is exactly the JCS of
/// the record; and, if the record is signed, that the signature names `key`
/// and its algorithm and verifies under [`SIGNING_CONTEXT`]. Finally the
/// last record must be signed ([`ChainError::UnsignedTail`]).
///
/// A signature covers its record's `prev`, which is the digest of the line
/// before, whose `prev` covers the line before that, and so on: so the last
/// record's signature covers every line, and success means every line is
/// byte for byte as the holder of `key` wrote it, in the order written, with
/// nothing removed or inserted. It cannot tell whether whole writes were cut
/// off the end: compare [`VerifiedChain::head`] with a head recorded earlier.
pub fn verify_log(entries: &[LogEntry], key: &VerifyingKey) -> Result<VerifiedChain, ChainError> {
    let mut head = Digest::ZERO;
    let mut first_unsigned = None;
    for (position, entry) in entries.iter().enumerate() {
        let signed = verify_entry(entry, position as u64, head, key)?;
        if signed {
            first_unsigned = None;
        } else {
            first_unsigned.get_or_insert((entry.line, entry.record.seq));
        }
        head = Digest::of(entry.raw.as_bytes());
    }
    if let Some((line, seq)) = first_unsigned {
        return Err(ChainError::UnsignedTail { line, seq });
    }
    Ok(VerifiedChain {
        records: entries.len(),
        head,
    })
}

/// Checks one record at 0-based `position` whose predecessor's line has
/// digest `prev`; `true` if it is signed (and the signature verified).
pub(super) fn verify_entry(
    entry: &LogEntry,
    position: u64,
    prev: Digest,
    key: &VerifyingKey,
) -> Result<bool, ChainError> {
    let (line, record) = (entry.line, &entry.record);
    let seq = record.seq;
    if record.v != RECORD_VERSION {
        return Err(ChainError::UnsupportedVersion {
            line,
            seq,
            found: record.v,
        });
    }
    if seq != position {
        return Err(ChainError::SequenceMismatch {
            line,
            seq,
            expected: position,
        });
    }
    if record.prev != prev {
        return Err(ChainError::BrokenChain {
            line,
            seq,
            expected: prev,
            found: record.prev,
        });
    }
    check_canonical(entry)?;
    let Some(signature) = &record.signature else {
        return Ok(false);
    };
    if &signature.kid != key.key_id() {
        return Err(ChainError::UnknownKey {
            line,
            seq,
            expected: key.key_id().clone(),
            found: signature.kid.clone(),
        });
    }
    if signature.alg != key.algorithm() {
        return Err(ChainError::AlgorithmMismatch {
            line,
            seq,
            expected: key.algorithm(),
            found: signature.alg,
        });
    }
    // Canonical, so the signing input is the raw line minus its signature.
    let message = record
        .signing_input()
        .map_err(|_| ChainError::NonCanonical {
            line,
            seq,
            column: 1,
        })?;
    key.verify(SIGNING_CONTEXT, &message, &signature.value.0)
        .map_err(|source| ChainError::BadSignature { line, seq, source })?;
    Ok(true)
}

fn check_canonical(entry: &LogEntry) -> Result<(), ChainError> {
    let (line, seq) = (entry.line, entry.record.seq);
    let canonical = entry
        .record
        .canonical_json()
        .map_err(|_| ChainError::NonCanonical {
            line,
            seq,
            column: 1,
        })?;
    if canonical == entry.raw {
        return Ok(());
    }
    let same = canonical
        .bytes()
        .zip(entry.raw.bytes())
        .take_while(|(a, b)| a == b)
        .count();
    Err(ChainError::NonCanonical {
        line,
        seq,
        column: same + 1,
    })
}
