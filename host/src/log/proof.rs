//! Proof bundles: self-contained JSON documents that let anyone holding the
//! log's public key check, offline, that one decision is in the log
//! ([`InclusionBundle`]) or that the log only grew between two checkpoints
//! ([`ConsistencyBundle`]). `docs/decision-log.md` specifies both with test
//! vectors.

use serde::{Deserialize, Serialize};

use super::checkpoint::{Checkpoint, CheckpointError, SignedCheckpoint};
use super::merkle::{MerkleTree, ProofError, TreeHash, verify_consistency, verify_inclusion};
use super::{DecisionRecord, LogEntry};
use crate::crypto::VerifyingKey;

/// The `format` of an inclusion proof bundle.
pub const INCLUSION_FORMAT: &str = "verdict-inclusion-proof/v1";

/// The `format` of a consistency proof bundle.
pub const CONSISTENCY_FORMAT: &str = "verdict-consistency-proof/v1";

/// Proof that one record is leaf `leaf_index` of the tree a signed
/// checkpoint commits to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InclusionBundle {
    /// Always [`INCLUSION_FORMAT`].
    pub format: String,
    /// The record's log line, without its `\n`.
    pub record: String,
    /// The record's position in the log (its `seq`).
    pub leaf_index: u64,
    /// The RFC 6962 audit path, from the leaf up.
    pub audit_path: Vec<TreeHash>,
    /// The signed checkpoint note the path leads to.
    pub checkpoint: String,
}

/// Proof that the tree of checkpoint `from` is a prefix of the tree of
/// checkpoint `to`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsistencyBundle {
    /// Always [`CONSISTENCY_FORMAT`].
    pub format: String,
    /// The earlier signed checkpoint note.
    pub from: String,
    /// The later signed checkpoint note.
    pub to: String,
    /// The RFC 6962 consistency proof.
    pub proof: Vec<TreeHash>,
}

/// What a verified [`InclusionBundle`] establishes: the holder of the key
/// logged `record` at position `record.seq` of the log `checkpoint` names.
#[derive(Clone, Debug, PartialEq)]
pub struct VerifiedInclusion {
    pub record: DecisionRecord,
    pub checkpoint: Checkpoint,
}

/// What a verified [`ConsistencyBundle`] establishes: the log that signed
/// `to` holds, as its first `from.size` records, exactly the records `from`
/// commits to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedConsistency {
    pub from: Checkpoint,
    pub to: Checkpoint,
}

/// Why a proof bundle was refused.
#[derive(Debug, thiserror::Error)]
pub enum BundleError {
    /// The bundle's `format` is not the one expected.
    #[error("unknown proof format `{found}`, expected `{expected}`")]
    UnknownFormat {
        expected: &'static str,
        found: String,
    },
    /// A checkpoint in the bundle is not signed by the key.
    #[error("{which} checkpoint: {source}")]
    Checkpoint {
        which: &'static str,
        #[source]
        source: CheckpointError,
    },
    /// The proof's hashes do not lead to the checkpoint's root.
    #[error(transparent)]
    Proof(#[from] ProofError),
    /// The record is not a decision record.
    #[error("the record is not a decision record: {0}")]
    Record(#[source] serde_json::Error),
    /// The record's line is not the canonical JSON of the record it holds.
    #[error("the record is not in canonical (JCS) form")]
    NonCanonical,
    /// The record's `seq` is not its leaf index.
    #[error("the record has seq {seq}, but is proven as leaf {leaf_index}")]
    SeqMismatch { seq: u64, leaf_index: u64 },
    /// The two checkpoints are of different logs.
    #[error("the checkpoints are of different logs: {from} and {to}")]
    OriginMismatch { from: String, to: String },
}

impl InclusionBundle {
    /// The bundle for `record_line` at `leaf_index`, proven by `audit_path`
    /// against `checkpoint`.
    pub fn new(
        record_line: String,
        leaf_index: u64,
        audit_path: Vec<TreeHash>,
        checkpoint: &SignedCheckpoint,
    ) -> Self {
        Self {
            format: INCLUSION_FORMAT.to_owned(),
            record: record_line,
            leaf_index,
            audit_path,
            checkpoint: checkpoint.note().to_owned(),
        }
    }

    /// Checks the bundle with the log's public key: the checkpoint is
    /// signed by `key`, the audit path leads from the record's leaf hash to
    /// the checkpoint's root, and the record is a canonical decision record
    /// whose `seq` is its leaf index.
    pub fn verify(&self, key: &VerifyingKey) -> Result<VerifiedInclusion, BundleError> {
        check_format(&self.format, INCLUSION_FORMAT)?;
        let signed = SignedCheckpoint::verify(&self.checkpoint, key).map_err(|source| {
            BundleError::Checkpoint {
                which: "the",
                source,
            }
        })?;
        let checkpoint = signed.checkpoint().clone();
        verify_inclusion(
            TreeHash::leaf(self.record.as_bytes()),
            self.leaf_index,
            checkpoint.size,
            checkpoint.root,
            &self.audit_path,
        )?;
        let record: DecisionRecord =
            serde_json::from_str(&self.record).map_err(BundleError::Record)?;
        if record.canonical_json().ok().as_deref() != Some(self.record.as_str()) {
            return Err(BundleError::NonCanonical);
        }
        if record.seq != self.leaf_index {
            return Err(BundleError::SeqMismatch {
                seq: record.seq,
                leaf_index: self.leaf_index,
            });
        }
        Ok(VerifiedInclusion { record, checkpoint })
    }
}

impl ConsistencyBundle {
    /// The bundle proving `to` extends `from` with `proof`.
    pub fn new(from: &SignedCheckpoint, to: &SignedCheckpoint, proof: Vec<TreeHash>) -> Self {
        Self {
            format: CONSISTENCY_FORMAT.to_owned(),
            from: from.note().to_owned(),
            to: to.note().to_owned(),
            proof,
        }
    }

    /// Checks the bundle with the log's public key: both checkpoints are
    /// signed by `key` for the same origin, and the proof shows the tree of
    /// `from` is a prefix of the tree of `to`.
    pub fn verify(&self, key: &VerifyingKey) -> Result<VerifiedConsistency, BundleError> {
        check_format(&self.format, CONSISTENCY_FORMAT)?;
        let verify = |note: &str, which| {
            SignedCheckpoint::verify(note, key)
                .map(|signed| signed.checkpoint().clone())
                .map_err(|source| BundleError::Checkpoint { which, source })
        };
        let (from, to) = (
            verify(&self.from, "the earlier")?,
            verify(&self.to, "the later")?,
        );
        if from.origin != to.origin {
            return Err(BundleError::OriginMismatch {
                from: from.origin.to_string(),
                to: to.origin.to_string(),
            });
        }
        verify_consistency(from.size, from.root, to.size, to.root, &self.proof)?;
        Ok(VerifiedConsistency { from, to })
    }
}

fn check_format(found: &str, expected: &'static str) -> Result<(), BundleError> {
    if found == expected {
        Ok(())
    } else {
        Err(BundleError::UnknownFormat {
            expected,
            found: found.chars().take(80).collect(),
        })
    }
}

/// The Merkle tree of a log's lines, as [`read_log`](super::read_log)
/// returns them.
pub fn tree_of(entries: &[LogEntry]) -> MerkleTree {
    let mut tree = MerkleTree::new();
    for entry in entries {
        tree.push_line(entry.raw.as_bytes());
    }
    tree
}
