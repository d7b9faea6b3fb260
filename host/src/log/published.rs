//! What a log has published: its Merkle tree and latest signed checkpoint,
//! shared between the writer and whoever serves proofs (the CLI, the
//! gateway's routes).

use std::fs::File;
use std::io::{self, Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use super::checkpoint::{Checkpoint, SignedCheckpoint};
use super::checkpoints::latest_checkpoint;
use super::merkle::{MerkleTree, ProofError, TreeHash};
use super::proof::{ConsistencyBundle, InclusionBundle, tree_of};
use super::{LogError, read_log};
use crate::crypto::VerifyingKey;

/// A log's published tree: a cheap, cloneable handle. Proofs are only ever
/// made against the latest checkpoint, so a reader never sees records the
/// writer has not yet signed a checkpoint for.
#[derive(Clone, Debug)]
pub struct PublishedLog {
    path: PathBuf,
    state: Arc<RwLock<State>>,
}

#[derive(Debug)]
struct State {
    tree: MerkleTree,
    /// Where each line starts, then where the file ends.
    line_starts: Vec<u64>,
    checkpoint: SignedCheckpoint,
}

/// Why a proof could not be made.
#[derive(Debug, thiserror::Error)]
pub enum ProveError {
    /// The log could not be read, or does not verify.
    #[error(transparent)]
    Log(Box<LogError>),
    /// The log has no checkpoint to prove against (it was written before
    /// checkpoints existed and never reopened for writing since).
    #[error("decision log {} has no checkpoints file; reopen it for writing to checkpoint it", path.display())]
    NoCheckpoint { path: PathBuf },
    /// The log's last checkpoint does not match its records.
    #[error("decision log {}: its records do not match its last checkpoint ({checkpoint}): {why}", path.display())]
    CheckpointMismatch {
        path: PathBuf,
        checkpoint: Checkpoint,
        why: &'static str,
    },
    /// The record is not covered by the latest checkpoint.
    #[error("record {seq} is not in the latest checkpoint, which covers {size} records")]
    NotCheckpointed { seq: u64, size: u64 },
    /// The earlier checkpoint is not of this log, or this log does not
    /// extend it.
    #[error("the log does not extend {old}: {why}")]
    Inconsistent { old: Checkpoint, why: String },
    /// The sizes asked for are out of range.
    #[error(transparent)]
    Proof(#[from] ProofError),
}

impl From<LogError> for ProveError {
    fn from(error: LogError) -> Self {
        Self::Log(Box::new(error))
    }
}

impl PublishedLog {
    pub(super) fn new(
        path: PathBuf,
        tree: MerkleTree,
        line_starts: Vec<u64>,
        checkpoint: SignedCheckpoint,
    ) -> Self {
        let state = State {
            tree,
            line_starts,
            checkpoint,
        };
        Self {
            path,
            state: Arc::new(RwLock::new(state)),
        }
    }

    /// Reads the log at `path` and its checkpoints file, and checks that
    /// its last checkpoint is signed by `key` and matches its records.
    pub fn load(path: &Path, key: &VerifyingKey) -> Result<Self, ProveError> {
        let entries = read_log(path)?;
        let tree = tree_of(&entries);
        let checkpoint = latest_checkpoint(path, key)?.ok_or_else(|| ProveError::NoCheckpoint {
            path: path.to_owned(),
        })?;
        let mismatch = |why| ProveError::CheckpointMismatch {
            path: path.to_owned(),
            checkpoint: checkpoint.checkpoint().clone(),
            why,
        };
        let size = checkpoint.checkpoint().size;
        if size > tree.size() {
            return Err(mismatch("records were cut off"));
        }
        if tree.root_at(size)? != checkpoint.checkpoint().root {
            return Err(mismatch("a checkpointed record was changed"));
        }
        let mut line_starts = vec![0];
        for entry in &entries {
            line_starts.push(line_starts[line_starts.len() - 1] + entry.raw.len() as u64 + 1);
        }
        Ok(Self::new(path.to_owned(), tree, line_starts, checkpoint))
    }

    /// The latest signed checkpoint.
    pub fn checkpoint(&self) -> SignedCheckpoint {
        self.read().checkpoint.clone()
    }

    /// The proof that record `seq` is in the latest checkpoint's tree,
    /// with the record read back from the log file.
    pub fn inclusion_proof(&self, seq: u64) -> Result<InclusionBundle, ProveError> {
        let (path, range, checkpoint, path_hashes) = {
            let state = self.read();
            let size = state.checkpoint.checkpoint().size;
            if seq >= size {
                return Err(ProveError::NotCheckpointed { seq, size });
            }
            let audit_path = state.tree.inclusion_proof(seq, size)?;
            let index = seq as usize;
            let range = (state.line_starts[index], state.line_starts[index + 1]);
            (
                self.path.clone(),
                range,
                state.checkpoint.clone(),
                audit_path,
            )
        };
        let line = read_line(&path, range).map_err(|source| LogError::Read { path, source })?;
        Ok(InclusionBundle::new(line, seq, path_hashes, &checkpoint))
    }

    /// The proof that the latest checkpoint's tree extends the tree `old`
    /// (a checkpoint of this log, already verified by the caller) commits
    /// to. Fails, naming the difference, if the log was cut short or
    /// rewritten since `old`.
    pub fn consistency_with(
        &self,
        old: &SignedCheckpoint,
    ) -> Result<ConsistencyBundle, ProveError> {
        let state = self.read();
        let (old_cp, new) = (old.checkpoint(), state.checkpoint.checkpoint());
        let inconsistent = |why: String| ProveError::Inconsistent {
            old: old_cp.clone(),
            why,
        };
        if old_cp.origin != new.origin {
            return Err(inconsistent(format!("this log's origin is {}", new.origin)));
        }
        if old_cp.size > new.size {
            return Err(inconsistent(format!(
                "the log now holds {} checkpointed records, fewer than {}: records were cut off",
                new.size, old_cp.size
            )));
        }
        let root = state.tree.root_at(old_cp.size)?;
        if root != old_cp.root {
            return Err(inconsistent(format!(
                "its first {} records hash to {root}, not {}: the log was rewritten or forked",
                old_cp.size, old_cp.root
            )));
        }
        let proof = state.tree.consistency_proof(old_cp.size, new.size)?;
        Ok(ConsistencyBundle::new(old, &state.checkpoint, proof))
    }

    /// The RFC 6962 consistency proof between the trees of the first `old`
    /// and `new` records, where `new` is at most the latest checkpoint's
    /// size.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<TreeHash>, ProveError> {
        let state = self.read();
        let size = state.checkpoint.checkpoint().size;
        if new > size {
            return Err(ProofError::SizeOutOfRange {
                size: new,
                limit: size,
            }
            .into());
        }
        Ok(state.tree.consistency_proof(old, new)?)
    }

    /// Adds the leaves of lines just written (ending at the offsets in
    /// `line_ends`) and returns the new size and root, for the writer to
    /// sign a checkpoint.
    pub(super) fn append(&self, leaves: &[TreeHash], line_ends: &[u64]) -> Checkpoint {
        let mut state = self.state.write().unwrap_or_else(PoisonError::into_inner);
        for leaf in leaves {
            state.tree.push(*leaf);
        }
        state.line_starts.extend_from_slice(line_ends);
        Checkpoint {
            origin: state.checkpoint.checkpoint().origin.clone(),
            size: state.tree.size(),
            root: state.tree.root(),
        }
    }

    /// Publishes a newly signed checkpoint.
    pub(super) fn set_checkpoint(&self, checkpoint: SignedCheckpoint) {
        self.state
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .checkpoint = checkpoint;
    }

    /// Where the file ends, as far as the tree knows.
    pub(super) fn end(&self) -> u64 {
        *self.read().line_starts.last().expect("never empty")
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, State> {
        // The state is only replaced whole or appended to; a panic while
        // holding the lock leaves it usable.
        self.state.read().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The line in bytes `start..end` of the file (`end` past its `\n`),
/// without the `\n`.
fn read_line(path: &Path, (start, end): (u64, u64)) -> io::Result<String> {
    let mut file = File::open(path)?;
    file.seek(SeekFrom::Start(start))?;
    let mut bytes = vec![0u8; (end - start).saturating_sub(1) as usize];
    file.read_exact(&mut bytes)?;
    String::from_utf8(bytes).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}
