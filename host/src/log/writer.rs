//! Appending to a decision log.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{self, BufRead as _, BufReader, Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};

use super::reader::{check_regular_file, parse_line};
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
/// [`LogError::UnsignedTail`] with the offset to truncate to. Creating the log also syncs its directory, so the file
/// itself survives a crash.
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
    signer: SigningKey,
    next_seq: u64,
    prev: Digest,
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

/// Where an existing log's chain ends.
struct Tail {
    next_seq: u64,
    prev: Digest,
}

impl DecisionLog {
    /// Opens the log at `path` for appending records signed by `signer`,
    /// creating it (and syncing its directory) if it does not exist.
    ///
    /// For an existing file, reads it to find where the chain ends: the new
    /// records continue from the last line's `seq` and digest. Fails, and
    /// changes nothing, if the last line is torn ([`LogError::TornTail`]),
    /// does not parse, has a `seq` other than its position
    /// ([`LogError::OutOfSequence`]) or was signed by another key
    /// ([`LogError::ForeignKey`]). Only the last line is parsed: use
    /// [`verify_log`](super::verify_log) to check the whole file.
    pub fn open(path: impl AsRef<Path>, signer: SigningKey) -> Result<Self, LogError> {
        let path = path.as_ref().to_owned();
        let (file, created) = open_or_create(&path)?;
        lock(&file, &path)?;
        check_regular_file(&file, &path)?;
        let tail = if created {
            sync_parent(&path)?;
            tracing::info!(path = %path.display(), key = %signer.key_id(), "created decision log");
            Tail {
                next_seq: 0,
                prev: Digest::ZERO,
            }
        } else {
            find_tail(&file, &path, &signer)?
        };
        Ok(Self {
            path,
            file,
            signer,
            next_seq: tail.next_seq,
            prev: tail.prev,
            poisoned: false,
        })
    }

    /// Signs `entry` as the next record, appends it and syncs it to disk.
    /// Returns the record exactly as [`read_log`](super::read_log) will
    /// parse it back.
    pub fn append(&mut self, entry: NewRecord) -> Result<DecisionRecord, LogError> {
        self.check_usable()?;
        let seq = self.next_seq;
        let line = self.encode(seq, self.prev, entry, true)?.line;
        let head = Digest::of(line.as_bytes());
        let mut buffer = line.into_bytes();
        buffer.push(b'\n');
        self.commit(&buffer, seq + 1, head)?;
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
        for (index, entry) in entries.into_iter().enumerate() {
            let encoded = self.encode(seq, head, entry, Some(index) == last)?;
            head = Digest::of(encoded.line.as_bytes());
            buffer.extend_from_slice(encoded.line.as_bytes());
            buffer.push(b'\n');
            appended.push(Appended {
                seq,
                id: encoded.id,
            });
            seq += 1;
        }
        if !appended.is_empty() {
            self.commit(&buffer, seq, head)?;
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

    /// The key that verifies this log's records.
    pub fn verifying_key(&self) -> &VerifyingKey {
        self.signer.verifying_key()
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

    /// Writes and syncs `buffer`, whose last line becomes the chain's head.
    fn commit(&mut self, buffer: &[u8], next_seq: u64, head: Digest) -> Result<(), LogError> {
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
        self.poisoned = false;
        let count = next_seq - self.next_seq;
        tracing::debug!(path = %self.path.display(), first = self.next_seq, count, "appended decision records");
        (self.next_seq, self.prev) = (next_seq, head);
        Ok(())
    }
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

/// Scans the whole file for its last line, checking that the file ends in
/// `\n`, and returns where the chain continues.
fn find_tail(file: &File, path: &Path, signer: &SigningKey) -> Result<Tail, LogError> {
    let mut reader = BufReader::new(file);
    let (mut line, mut last) = (Vec::new(), Vec::new());
    let (mut count, mut offset) = (0usize, 0u64);
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
        if line.last() != Some(&b'\n') {
            return Err(LogError::TornTail {
                path: path.to_owned(),
                line: count + 1,
                offset,
            });
        }
        count += 1;
        offset += read as u64;
        std::mem::swap(&mut line, &mut last);
    }
    let Some(content) = last.strip_suffix(b"\n") else {
        return Ok(Tail {
            next_seq: 0,
            prev: Digest::ZERO,
        });
    };
    let (raw, record) = parse_line(path, count, content)?;
    let Some(signature) = &record.signature else {
        return Err(unsigned_tail(file, path)?);
    };
    check_tail(path, count, &record, signature, signer)?;
    Ok(Tail {
        next_seq: record.seq + 1,
        prev: Digest::of(raw.as_bytes()),
    })
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
fn check_tail(
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
