//! Snapshot digests: the SHA3-256 chunk tree a memory-region report signs.
//!
//! # Definition (version 1)
//!
//! The snapshot digest of a byte sequence `B` of length `n` is computed as
//! follows (another implementation reproduces it from this text alone):
//!
//! 1. Split `B` into chunks of [`CHUNK_SIZE`] = 1 MiB = 1 048 576 bytes:
//!    chunk `i` is `B[i * CHUNK_SIZE .. min((i + 1) * CHUNK_SIZE, n)]`. There
//!    are `ceil(n / CHUNK_SIZE)` chunks; only the last may be shorter, and an
//!    empty `B` has no chunks at all.
//! 2. `leaf_i = SHA3-256(chunk_i)` (FIPS 202 SHA3-256, 32 bytes).
//! 3. `digest = SHA3-256(DOMAIN || u64_be(n) || leaf_0 || leaf_1 || ...)`,
//!    where [`DOMAIN`] is the 26 ASCII bytes `verdict/memory-snapshot/v1`
//!    (no terminator, no length prefix) and `u64_be(n)` is the total length in
//!    bytes as 8 bytes big-endian.
//!
//! So the digest of the empty input is `SHA3-256(DOMAIN || 00 00 00 00 00 00
//! 00 00)`. The digest is written as 64 lowercase hex characters.
//!
//! # Parallelism
//!
//! Leaves are independent, so [`digest_bytes`] and [`digest_source`] hash
//! them on several threads: workers take the next unhashed chunk from a
//! shared atomic counter, each reusing one 1 MiB buffer (sources are read
//! chunk by chunk with positioned reads; no whole-region buffer exists).
//! The result depends only on the bytes, never on the thread count.

use std::convert::Infallible;
use std::fmt;
use std::num::NonZeroUsize;
use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::thread;

use sha3::{Digest, Sha3_256};

use super::region::{RegionError, RegionSource};

/// The chunk size of the snapshot tree: 1 MiB. Fixed by version 1 of the
/// definition; changing it changes every digest.
pub const CHUNK_SIZE: usize = 1 << 20;

/// The domain-separation prefix of the root hash: 26 ASCII bytes.
pub const DOMAIN: &[u8; 26] = b"verdict/memory-snapshot/v1";

/// A snapshot digest (see the module docs for its definition).
///
/// Guarantees: its text and serde form is exactly 64 lowercase hex
/// characters, and parsing or deserializing accepts nothing else.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct SnapshotDigest(pub [u8; 32]);

/// Why a string is not a valid [`SnapshotDigest`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid snapshot digest `{value}`: must be 64 lowercase hex characters")]
pub struct ParseDigestError {
    /// The rejected value, cut to its first 80 characters.
    pub value: String,
}

impl SnapshotDigest {
    /// The digest as 64 lowercase hex characters.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }
}

impl fmt::Display for SnapshotDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl FromStr for SnapshotDigest {
    type Err = ParseDigestError;

    fn from_str(s: &str) -> Result<Self, ParseDigestError> {
        let lowercase_hex = s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
        let mut bytes = [0u8; 32];
        match lowercase_hex && hex::decode_to_slice(s, &mut bytes).is_ok() {
            true => Ok(Self(bytes)),
            false => Err(ParseDigestError {
                value: s.chars().take(80).collect(),
            }),
        }
    }
}

crate::text_serde::serde_as_text!(SnapshotDigest);

/// Plain single-pass SHA3-256 of `bytes` (no chunking): the leaf hash, and
/// the single-core baseline.
pub fn sha3_256(bytes: &[u8]) -> [u8; 32] {
    Sha3_256::digest(bytes).into()
}

/// The root of the tree: `SHA3-256(DOMAIN || u64_be(total_len) || leaves...)`.
///
/// Guarantees: equals the snapshot digest of any input of `total_len` bytes
/// whose chunk hashes are `leaves`, in order.
pub fn root(total_len: u64, leaves: &[[u8; 32]]) -> SnapshotDigest {
    let mut hasher = Sha3_256::new();
    hasher.update(DOMAIN);
    hasher.update(total_len.to_be_bytes());
    for leaf in leaves {
        hasher.update(leaf);
    }
    SnapshotDigest(hasher.finalize().into())
}

/// The number of chunks of an input of `len` bytes: `ceil(len / CHUNK_SIZE)`.
pub fn chunk_count(len: u64) -> u64 {
    len.div_ceil(CHUNK_SIZE as u64)
}

/// The number of worker threads `threads` asks for: itself, or the machine's
/// available parallelism (at least 1) when it is 0.
pub fn resolve_threads(threads: usize) -> usize {
    match threads {
        0 => thread::available_parallelism().map_or(1, NonZeroUsize::get),
        n => n,
    }
}

/// The snapshot digest of `bytes`, hashing chunks on `threads` threads (0:
/// all available). Guarantees: the same value for every thread count.
pub fn digest_bytes(bytes: &[u8], threads: usize) -> SnapshotDigest {
    let leaf = |i: usize, _: &mut Vec<u8>| -> Result<[u8; 32], Infallible> {
        let start = i.saturating_mul(CHUNK_SIZE);
        let end = start.saturating_add(CHUNK_SIZE).min(bytes.len());
        Ok(sha3_256(bytes.get(start..end).unwrap_or_default()))
    };
    let count = bytes.len().div_ceil(CHUNK_SIZE);
    let Ok(leaves) = hash_leaves(count, threads, leaf);
    root(bytes.len() as u64, &leaves)
}

/// The snapshot digest of the `source.len()` bytes of `source`, read chunk
/// by chunk on `threads` threads (0: all available), each worker reusing one
/// [`CHUNK_SIZE`] buffer.
///
/// Guarantees: equals [`digest_bytes`] of the same bytes; any failed read, or
/// a source that reports it changed while being read, is an error (the one
/// at the lowest chunk when several workers fail), never a digest of partial
/// data.
pub fn digest_source<S: RegionSource + ?Sized>(
    source: &S,
    threads: usize,
) -> Result<SnapshotDigest, RegionError> {
    let total = source.len();
    let count = usize::try_from(chunk_count(total)).map_err(|_| RegionError::TooLarge {
        region: source.region().id.clone(),
        size: total,
    })?;
    let leaf = |i: usize, buf: &mut Vec<u8>| read_leaf(source, total, i, buf);
    let leaves = hash_leaves(count, threads, leaf)?;
    source.check_unchanged()?;
    Ok(root(total, &leaves))
}

/// Read chunk `i` of `source` (of `total` bytes) into `buf` and hash it.
fn read_leaf<S: RegionSource + ?Sized>(
    source: &S,
    total: u64,
    i: usize,
    buf: &mut Vec<u8>,
) -> Result<[u8; 32], RegionError> {
    let offset = (i as u64).saturating_mul(CHUNK_SIZE as u64);
    let len = total.saturating_sub(offset).min(CHUNK_SIZE as u64) as usize;
    if buf.len() < CHUNK_SIZE {
        buf.resize(CHUNK_SIZE, 0);
    }
    let chunk = &mut buf[..len];
    source.read_at(offset, chunk)?;
    Ok(sha3_256(chunk))
}

/// What one worker produced: the leaves it hashed, and the first error it
/// met (with its chunk index), after which it stopped.
struct WorkerOutput<E> {
    leaves: Vec<(usize, [u8; 32])>,
    error: Option<(usize, E)>,
}

/// Hash leaves `0..count` with `leaf` on up to `threads` threads (0: all
/// available), the calling thread included. Chunks a worker could not
/// deliver (a thread failed to spawn or panicked) are hashed afterwards on
/// the calling thread, so the result never depends on threading.
fn hash_leaves<E, F>(count: usize, threads: usize, leaf: F) -> Result<Vec<[u8; 32]>, E>
where
    E: Send,
    F: Fn(usize, &mut Vec<u8>) -> Result<[u8; 32], E> + Sync,
{
    let workers = resolve_threads(threads).min(count).max(1);
    let (next, stop) = (AtomicUsize::new(0), AtomicBool::new(false));
    let work = || run_worker(count, &next, &stop, &leaf);
    let outputs = thread::scope(|scope| {
        let handles: Vec<_> = (1..workers)
            .filter_map(|_| {
                thread::Builder::new()
                    .name("snapshot-hash".into())
                    .spawn_scoped(scope, work)
                    .ok()
            })
            .collect();
        let mut outputs = vec![work()];
        outputs.extend(handles.into_iter().filter_map(|handle| handle.join().ok()));
        outputs
    });
    assemble(count, outputs, &leaf)
}

/// Take chunk indices from `next` and hash them until none are left, `stop`
/// is raised, or a leaf fails (which raises `stop`).
fn run_worker<E, F>(
    count: usize,
    next: &AtomicUsize,
    stop: &AtomicBool,
    leaf: &F,
) -> WorkerOutput<E>
where
    F: Fn(usize, &mut Vec<u8>) -> Result<[u8; 32], E>,
{
    let mut buf = Vec::new();
    let mut output = WorkerOutput {
        leaves: Vec::new(),
        error: None,
    };
    while !stop.load(Ordering::Relaxed) {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= count {
            break;
        }
        match leaf(i, &mut buf) {
            Ok(hash) => output.leaves.push((i, hash)),
            Err(e) => {
                stop.store(true, Ordering::Relaxed);
                output.error = Some((i, e));
                break;
            }
        }
    }
    output
}

/// Put the workers' leaves in chunk order: the lowest-chunk error if any
/// worker failed, otherwise all leaves, hashing any missing ones here.
fn assemble<E, F>(count: usize, outputs: Vec<WorkerOutput<E>>, leaf: &F) -> Result<Vec<[u8; 32]>, E>
where
    F: Fn(usize, &mut Vec<u8>) -> Result<[u8; 32], E>,
{
    let mut slots: Vec<Option<[u8; 32]>> = vec![None; count];
    let mut first_error: Option<(usize, E)> = None;
    for output in outputs {
        for (i, hash) in output.leaves {
            if let Some(slot) = slots.get_mut(i) {
                *slot = Some(hash);
            }
        }
        if let Some((i, e)) = output.error
            && first_error.as_ref().is_none_or(|(j, _)| i < *j)
        {
            first_error = Some((i, e));
        }
    }
    if let Some((_, e)) = first_error {
        return Err(e);
    }
    let mut buf = Vec::new();
    slots
        .into_iter()
        .enumerate()
        .map(|(i, slot)| slot.map_or_else(|| leaf(i, &mut buf), Ok))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::region::{InMemory, Protection, Region, RegionError, RegionId, RegionSource};
    use super::*;

    /// The pinned test pattern: byte `i` is `i mod 251`.
    fn pattern(len: usize) -> Vec<u8> {
        (0..len).map(|i| (i % 251) as u8).collect()
    }

    fn id(text: &str) -> RegionId {
        text.parse().expect("valid id")
    }

    #[test]
    fn pinned_vectors() {
        // Computed independently (Python hashlib) from the module docs' definition.
        assert_eq!(
            digest_bytes(b"", 1).hex(),
            "fe425b5eaf52c13c2f99ee838dd07b10cbf8b3b4a609aa3e98f3b4d5db305de2"
        );
        assert_eq!(
            digest_bytes(b"abc", 1).hex(),
            "ee0d37abf91380193558bb64b8dc1ce5db13ef29d21fdb2b85bd7a5275d37133"
        );
        let one_chunk = "c69eab485e03d5fa9fe9feb01ededf2f9914c9495f728d39ff02040f6bd77153";
        assert_eq!(digest_bytes(&pattern(CHUNK_SIZE), 0).hex(), one_chunk);
        let big = "224273355428a2f44339b9e34e0ce5c83e282ddb20cd31040803b73e34a65ba1";
        assert_eq!(digest_bytes(&pattern(3 * CHUNK_SIZE + 5), 0).hex(), big);
        assert_eq!(
            hex::encode(sha3_256(b"abc")),
            "3a985da74fe225b2045c172d6bd390bd855f086e3e9d525b46bfe24511431532"
        );
    }

    #[test]
    fn empty_input_is_domain_and_zero_length() {
        let mut preimage = DOMAIN.to_vec();
        preimage.extend_from_slice(&[0; 8]);
        assert_eq!(digest_bytes(&[], 4).0, sha3_256(&preimage));
    }

    #[test]
    fn thread_count_does_not_change_the_digest() {
        let bytes = pattern(3 * CHUNK_SIZE + 5);
        let expected = digest_bytes(&bytes, 1);
        let source = InMemory::new(id("p"), "pattern", bytes.clone(), Protection::READ_ONLY);
        for threads in [0, 1, 2, 3, 8, 64] {
            assert_eq!(digest_bytes(&bytes, threads), expected, "{threads} threads");
            assert_eq!(
                digest_source(&source, threads).expect("in memory"),
                expected,
                "{threads} threads"
            );
        }
    }

    #[test]
    fn chunk_boundaries() {
        assert_eq!(chunk_count(0), 0);
        assert_eq!(chunk_count(1), 1);
        assert_eq!(chunk_count(CHUNK_SIZE as u64), 1);
        assert_eq!(chunk_count(CHUNK_SIZE as u64 + 1), 2);
        let bytes = pattern(2 * CHUNK_SIZE + 1);
        let leaves = [
            sha3_256(&bytes[..CHUNK_SIZE]),
            sha3_256(&bytes[CHUNK_SIZE..2 * CHUNK_SIZE]),
            sha3_256(&bytes[2 * CHUNK_SIZE..]),
        ];
        assert_eq!(digest_bytes(&bytes, 2), root(bytes.len() as u64, &leaves));
    }

    #[test]
    fn digest_text_and_serde_are_strict_lowercase_hex() {
        let digest = digest_bytes(b"abc", 1);
        assert_eq!(digest.hex().parse::<SnapshotDigest>(), Ok(digest));
        assert_eq!(digest.to_string(), digest.hex());
        let json = serde_json::to_string(&digest).expect("serialize");
        assert_eq!(json, format!("\"{}\"", digest.hex()));
        assert_eq!(
            serde_json::from_str::<SnapshotDigest>(&json).expect("deserialize"),
            digest
        );
        for bad in [
            digest.hex().to_uppercase(),
            digest.hex()[..62].to_string(),
            format!("{}00", digest.hex()),
            "g".repeat(64),
            String::new(),
        ] {
            assert!(bad.parse::<SnapshotDigest>().is_err(), "{bad}");
            assert!(
                serde_json::from_str::<SnapshotDigest>(&format!("\"{bad}\"")).is_err(),
                "{bad}"
            );
        }
    }

    /// A source whose chunks at or after `fail_from` cannot be read.
    struct Failing {
        region: Region,
        fail_from: u64,
    }

    impl RegionSource for Failing {
        fn region(&self) -> &Region {
            &self.region
        }

        fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<(), RegionError> {
            if offset >= self.fail_from {
                return Err(RegionError::ProcessGone {
                    pid: 7,
                    address: offset,
                });
            }
            buf.fill(0);
            Ok(())
        }
    }

    #[test]
    fn read_failure_is_an_error_at_the_lowest_failing_chunk() {
        let size = 20 * CHUNK_SIZE as u64;
        let region = Region {
            id: id("f"),
            description: String::new(),
            address: 0,
            size,
            protection: Protection::NONE,
        };
        let fail_from = 5 * CHUNK_SIZE as u64;
        let source = Failing { region, fail_from };
        for threads in [1, 2, 8] {
            match digest_source(&source, threads) {
                Err(RegionError::ProcessGone { address, .. }) => assert!(address >= fail_from),
                other => panic!("expected an error, got {other:?}"),
            }
        }
        let single = digest_source(&source, 1).expect_err("fails");
        assert!(
            matches!(single, RegionError::ProcessGone { address, .. } if address == fail_from),
            "{single}"
        );
    }
}
