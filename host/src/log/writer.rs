//! Appending to a decision log.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use super::checkpoint::{Checkpoint, Origin, SignedCheckpoint};
use super::checkpoints::checkpoints_path;
use super::merkle::TreeHash;
use super::published::PublishedLog;
use super::reader::check_regular_file;
use super::tail::check_tail;
use super::{
    DecisionId, DecisionRecord, LogError, NewRecord, RECORD_VERSION, RecordInput, RecordSignature,
    SIGNING_CONTEXT, SignatureBytes,
};
use crate::crypto::{SigningKey, VerifyingKey};
use crate::digest::Digest;

/// The largest `seq` a log may hold: 2^53, the largest integer every JSON
/// implementation (and JCS, whose numbers are IEEE 754 doubles) represents
/// exactly.
pub const MAX_SEQ: u64 = 1 << 53;

/// The writer of one decision log file.
///
/// # Durability
///
/// [`append`](Self::append) and [`append_batch`](Self::append_batch) return
/// only after the new lines were written and `fdatasync`ed
/// ([`File::sync_data`]): a record they returned survives a crash or power
/// loss. A batch is written with one write and synced once (group commit):
/// either all its records were acknowledged or none was, but after a crash
/// during the call any prefix of the batch, possibly ending in a torn line,
/// may be on disk. A proper prefix lacks the batch's one signature, so
/// [`open`](Self::open) then reports [`LogError::TornTail`] or
/// [`LogError::UnsignedTail`] with the offset to truncate to. Creating the
/// log also syncs its directory, so the file itself survives a crash.
///
/// # Checkpoints
///
/// Every record is a leaf of the log's RFC 6962 Merkle tree. After each
/// write is synced, the writer signs a checkpoint (a C2SP signed note
/// committing to the tree's size and root) and appends it to the
/// checkpoints file next to the log ([`checkpoints_path`]); the latest one
/// is published through [`published`](Self::published). The checkpoints
/// file is not synced: every checkpoint can be derived again from the
/// synced, signed records, and [`open`](Self::open) does so for records a
/// crash left without one.
///
/// # Integrity
///
/// Only one `DecisionLog` may have a file open at a time: `open` takes an
/// exclusive advisory lock ([`File::try_lock`]) held until drop. After a
/// failed write or sync the writer refuses further appends
/// ([`LogError::Poisoned`]), because what reached the disk is unknown;
/// reopening finds out.
#[derive(Debug)]
pub struct DecisionLog {
    path: PathBuf,
    file: File,
    checkpoints: File,
    signer: SigningKey,
    next_seq: u64,
    prev: Digest,
    published: PublishedLog,
    poisoned: bool,
}

/// A record [`DecisionLog::append_batch`] wrote.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Appended {
    /// Its position in the log.
    pub seq: u64,
    /// Its decision id.
    pub id: DecisionId,
}

/// A record's line and id.
struct Encoded {
    line: String,
    id: DecisionId,
}

impl DecisionLog {
    /// Opens the log at `path` for appending records signed by `signer`,
    /// under the origin [`Origin::for_key`]; see
    /// [`open_with_origin`](Self::open_with_origin).
    pub fn open(path: impl AsRef<Path>, signer: SigningKey) -> Result<Self, LogError> {
        let origin = Origin::for_key(signer.verifying_key());
        Self::open_with_origin(path, signer, origin)
    }

    /// Opens the log at `path` for appending records signed by `signer`,
    /// with checkpoints for `origin`, creating it (and syncing its
    /// directory) if it does not exist.
    ///
    /// For an existing file, reads it to find where the chain ends and to
    /// rebuild its tree. Fails, and changes nothing, if the last line is
    /// torn ([`LogError::TornTail`]), does not parse, is unsigned
    /// ([`LogError::UnsignedTail`]), has a `seq` other than its position
    /// ([`LogError::OutOfSequence`]) or was signed by another key
    /// ([`LogError::ForeignKey`]); if its last checkpoint is not signed by
    /// `signer` for `origin`, commits to more records than the file holds
    /// ([`LogError::Truncated`]) or to other ones ([`LogError::Rewritten`]);
    /// or if a record after that checkpoint fails verification
    /// ([`LogError::TamperedTail`]: this catches an edited last line with a
    /// stale signature). Records the last checkpoint does not cover are
    /// checkpointed before `open` returns.
    pub fn open_with_origin(
        path: impl AsRef<Path>,
        signer: SigningKey,
        origin: Origin,
    ) -> Result<Self, LogError> {
        let path = path.as_ref().to_owned();
        let (file, created) = open_or_create(&path)?;
        lock(&file, &path)?;
        check_regular_file(&file, &path)?;
        if created {
            sync_parent(&path)?;
            tracing::info!(path = %path.display(), key = %signer.key_id(), %origin, "created decision log");
        }
        // Even a new file is checked: checkpoints left from a deleted log
        // mean records were cut off.
        let tail = check_tail(&file, &path, &signer, &origin)?;
        let (checkpoints, _) = open_or_create(&checkpoints_path(&path))?;
        let size = tail.tree.size();
        let root = tail.tree.root();
        let (checkpoint, fresh) = match tail.checkpoint {
            Some(checkpoint) => (checkpoint, false),
            None => {
                let checkpoint = Checkpoint { origin, size, root };
                (sign_checkpoint(checkpoint, &signer)?, true)
            }
        };
        let published = PublishedLog::new(
            path.clone(),
            tail.tree,
            tail.line_starts,
            checkpoint.clone(),
        );
        let mut log = Self {
            path,
            file,
            checkpoints,
            signer,
            next_seq: tail.next_seq,
            prev: tail.prev,
            published,
            poisoned: false,
        };
        if fresh {
            log.write_checkpoint(&checkpoint)?;
        }
        Ok(log)
    }

    /// Signs `entry` as the next record, appends it and syncs it to disk.
    /// Returns the record exactly as [`read_log`](super::read_log) will
    /// parse it back.
    pub fn append(&mut self, entry: NewRecord) -> Result<DecisionRecord, LogError> {
        self.check_usable()?;
        let seq = self.next_seq;
        let line = self.encode(seq, self.prev, entry, true)?.line;
        let head = Digest::of(line.as_bytes());
        let leaf = TreeHash::leaf(line.as_bytes());
        let mut buffer = line.into_bytes();
        buffer.push(b'\n');
        self.commit(&buffer, seq + 1, head, &[leaf])?;
        // Parsing the line back gives the caller the record as a reader will
        // see it: JCS turns every number into a double, so a claim such as
        // 2^64 - 1 comes back as 18446744073709552000.
        serde_json::from_slice(&buffer).map_err(|source| LogError::Encode { seq, source })
    }

    /// Appends `entries` as the next records, in order, with one write and
    /// one sync (group commit), and returns each one's `seq` and id. Only
    /// the last record is signed: its signature covers the others through
    /// the hash chain, so a batch costs one signature however large it is.
    /// An empty batch writes nothing.
    pub fn append_batch(&mut self, entries: Vec<NewRecord>) -> Result<Vec<Appended>, LogError> {
        self.check_usable()?;
        let (mut seq, mut head) = (self.next_seq, self.prev);
        let last = entries.len().checked_sub(1);
        let mut buffer = Vec::new();
        let mut appended = Vec::with_capacity(entries.len());
        let mut leaves = Vec::with_capacity(entries.len());
        for (index, entry) in entries.into_iter().enumerate() {
            let encoded = self.encode(seq, head, entry, Some(index) == last)?;
            head = Digest::of(encoded.line.as_bytes());
            leaves.push(TreeHash::leaf(encoded.line.as_bytes()));
            buffer.extend_from_slice(encoded.line.as_bytes());
            buffer.push(b'\n');
            appended.push(Appended {
                seq,
                id: encoded.id,
            });
            seq += 1;
        }
        if !appended.is_empty() {
            self.commit(&buffer, seq, head, &leaves)?;
        }
        Ok(appended)
    }

    /// The path of the log file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The `seq` the next record will get (the number of records in the log).
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The `prev` the next record will carry: the digest of the last line,
    /// or [`Digest::ZERO`] for an empty log.
    pub fn head(&self) -> Digest {
        self.prev
    }

    /// The key that verifies this log's records and checkpoints.
    pub fn verifying_key(&self) -> &VerifyingKey {
        self.signer.verifying_key()
    }

    /// The latest signed checkpoint: it covers every record appended so far.
    pub fn checkpoint(&self) -> SignedCheckpoint {
        self.published.checkpoint()
    }

    /// A handle on the log's published tree, for serving checkpoints and
    /// proofs while this writer appends (it stays current).
    pub fn published(&self) -> PublishedLog {
        self.published.clone()
    }

    /// Builds record `seq` and its line (without `\n`), signed if `sign`.
    fn encode(
        &self,
        seq: u64,
        prev: Digest,
        entry: NewRecord,
        sign: bool,
    ) -> Result<Encoded, LogError> {
        if seq > MAX_SEQ {
            return Err(LogError::SequenceExhausted {
                path: self.path.clone(),
            });
        }
        let encode_error = |source| LogError::Encode { seq, source };
        let mut record = unsigned(seq, prev, entry);
        // Without a signature, the line is the signing input.
        let unsigned_line = record.canonical_json().map_err(encode_error)?;
        let line = if sign {
            let signature = self
                .signer
                .sign(SIGNING_CONTEXT, unsigned_line.as_bytes())
                .map_err(|source| LogError::Sign { seq, source })?;
            record.signature = Some(RecordSignature {
                alg: self.signer.algorithm(),
                kid: self.signer.key_id().clone(),
                value: SignatureBytes(signature),
            });
            record.canonical_json().map_err(encode_error)?
        } else {
            unsigned_line
        };
        Ok(Encoded {
            line,
            id: record.id,
        })
    }

    fn check_usable(&self) -> Result<(), LogError> {
        if self.poisoned {
            Err(LogError::Poisoned {
                path: self.path.clone(),
            })
        } else {
            Ok(())
        }
    }

    /// Writes and syncs `buffer`, whose last line becomes the chain's head
    /// and whose lines have the leaf hashes `leaves`, then signs and
    /// publishes the checkpoint of the grown tree.
    fn commit(
        &mut self,
        buffer: &[u8],
        next_seq: u64,
        head: Digest,
        leaves: &[TreeHash],
    ) -> Result<(), LogError> {
        // Until the sync succeeds, what is on disk is unknown.
        self.poisoned = true;
        let path = || self.path.clone();
        self.file
            .write_all(buffer)
            .map_err(|source| LogError::Write {
                path: path(),
                source,
            })?;
        self.file.sync_data().map_err(|source| LogError::Sync {
            path: path(),
            source,
        })?;
        let count = next_seq - self.next_seq;
        tracing::debug!(path = %self.path.display(), first = self.next_seq, count, "appended decision records");
        (self.next_seq, self.prev) = (next_seq, head);
        let line_ends = line_ends(self.published.end(), buffer);
        let checkpoint = self.published.append(leaves, &line_ends);
        let signed = sign_checkpoint(checkpoint, &self.signer)?;
        self.write_checkpoint(&signed)?;
        self.poisoned = false;
        Ok(())
    }

    /// Appends `checkpoint` to the checkpoints file (unsynced: it can be
    /// derived again from the records) and publishes it.
    fn write_checkpoint(&mut self, checkpoint: &SignedCheckpoint) -> Result<(), LogError> {
        self.checkpoints
            .write_all(checkpoint.note().as_bytes())
            .map_err(|source| LogError::Write {
                path: checkpoints_path(&self.path),
                source,
            })?;
        self.published.set_checkpoint(checkpoint.clone());
        Ok(())
    }
}

fn sign_checkpoint(
    checkpoint: Checkpoint,
    signer: &SigningKey,
) -> Result<SignedCheckpoint, LogError> {
    let size = checkpoint.size;
    SignedCheckpoint::sign(checkpoint, signer)
        .map_err(|source| LogError::SignCheckpoint { size, source })
}

/// The file offsets at which the lines of `buffer`, written at `start`, end
/// (just past each `\n`).
fn line_ends(start: u64, buffer: &[u8]) -> Vec<u64> {
    buffer
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| start + i as u64 + 1)
        .collect()
}

/// Record `seq`, without a signature.
fn unsigned(seq: u64, prev: Digest, entry: NewRecord) -> DecisionRecord {
    DecisionRecord {
        v: RECORD_VERSION,
        seq,
        id: DecisionId::random(),
        timestamp: entry.timestamp,
        request_id: entry.request_id,
        policy: entry.policy,
        input: RecordInput {
            claims: entry.claims,
            evaluated_at: entry.timestamp,
        },
        decision: entry.decision,
        prev,
        signature: None,
    }
}

/// Opens `path` for reading and appending; `true` if it was created.
fn open_or_create(path: &Path) -> Result<(File, bool), LogError> {
    let open_error = |source| LogError::Open {
        path: path.to_owned(),
        source,
    };
    match OpenOptions::new()
        .read(true)
        .append(true)
        .create_new(true)
        .open(path)
    {
        Ok(file) => Ok((file, true)),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => OpenOptions::new()
            .read(true)
            .append(true)
            .open(path)
            .map(|file| (file, false))
            .map_err(open_error),
        Err(e) => Err(open_error(e)),
    }
}

fn lock(file: &File, path: &Path) -> Result<(), LogError> {
    file.try_lock().map_err(|e| match e {
        TryLockError::WouldBlock => LogError::Locked {
            path: path.to_owned(),
        },
        TryLockError::Error(source) => LogError::Open {
            path: path.to_owned(),
            source,
        },
    })
}

/// Makes a newly created file's directory entry durable.
fn sync_parent(path: &Path) -> Result<(), LogError> {
    #[cfg(unix)]
    {
        let parent = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p,
            _ => Path::new("."),
        };
        File::open(parent)
            .and_then(|dir| dir.sync_all())
            .map_err(|source| LogError::Sync {
                path: parent.to_owned(),
                source,
            })
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}
