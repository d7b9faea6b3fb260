//! The log's RFC 6962 (RFC 9162 §2.1) Merkle tree: every log line is a
//! leaf, in file order.
//!
//! - leaf hash = SHA-256(`0x00` ‖ line), the line's bytes without its `\n`;
//! - node hash = SHA-256(`0x01` ‖ left ‖ right);
//! - the root of the empty tree is SHA-256 of the empty string.
//!
//! Inclusion proofs are RFC 6962 audit paths and consistency proofs RFC 6962
//! consistency proofs, both ordered from the leaves up. The arithmetic is
//! `tlog_tiles`'s port of Go's `golang.org/x/mod/sumdb/tlog`.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use tlog_tiles::{Hash, HashReader};

/// A node of the tree: a leaf hash, an interior hash or a root. Written as
/// standard base64 with padding (44 characters), as in C2SP checkpoints.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TreeHash(pub [u8; 32]);

/// Why a proof could not be made or does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    /// The leaf is not in a tree of that size.
    #[error("leaf {index} is not in a tree of {size} leaves")]
    LeafOutOfRange { index: u64, size: u64 },
    /// A tree size larger than the tree, or an old size larger than the new.
    #[error("tree size {size} is out of range: at most {limit}")]
    SizeOutOfRange { size: u64, limit: u64 },
    /// The proof's hashes do not lead to the expected root: the leaf is not
    /// in that tree, or the older tree is not a prefix of the newer.
    #[error("the proof does not verify: {0}")]
    Invalid(String),
}

impl TreeHash {
    /// The root of the empty tree: SHA-256 of the empty string.
    pub const EMPTY: TreeHash = TreeHash(tlog_tiles::EMPTY_HASH.0);

    /// The leaf hash of `line`, a log line without its `\n`.
    pub fn leaf(line: &[u8]) -> Self {
        Self(tlog_tiles::record_hash(line).0)
    }
}

impl fmt::Display for TreeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&STANDARD.encode(self.0))
    }
}

impl fmt::Debug for TreeHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a string is not a [`TreeHash`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a tree hash: 32 bytes in padded standard base64")]
pub struct TreeHashParseError(pub String);

impl FromStr for TreeHash {
    type Err = TreeHashParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || TreeHashParseError(s.chars().take(80).collect());
        let bytes = STANDARD.decode(s).map_err(|_| err())?;
        bytes.try_into().map(TreeHash).map_err(|_| err())
    }
}

impl Serialize for TreeHash {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TreeHash {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// An append-only Merkle tree held in memory as its "stored hashes" (every
/// complete subtree's hash: about two per leaf, 64 bytes per record), so
/// appending costs O(1) amortized hashes and every root and proof
/// O(log n) lookups.
#[derive(Clone, Debug, Default)]
pub struct MerkleTree {
    stored: StoredHashes,
    size: u64,
}

#[derive(Clone, Debug, Default)]
struct StoredHashes(Vec<Hash>);

impl HashReader for StoredHashes {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&index| {
                usize::try_from(index)
                    .ok()
                    .and_then(|i| self.0.get(i).copied())
                    .ok_or(tlog_tiles::Error::IndexesNotInTree)
            })
            .collect()
    }
}

impl MerkleTree {
    /// The empty tree.
    pub fn new() -> Self {
        Self::default()
    }

    /// Appends the leaf for `line` (a log line without its `\n`).
    pub fn push_line(&mut self, line: &[u8]) {
        self.push(TreeHash::leaf(line));
    }

    /// Appends a leaf by its leaf hash.
    pub fn push(&mut self, leaf: TreeHash) {
        let new = tlog_tiles::stored_hashes_for_record_hash(self.size, Hash(leaf.0), &self.stored)
            .expect("the stored hashes of every earlier leaf are present");
        self.stored.0.extend(new);
        self.size += 1;
    }

    /// The number of leaves.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root of the whole tree.
    pub fn root(&self) -> TreeHash {
        self.root_at(self.size)
            .expect("the tree's own size is in range")
    }

    /// The root of the tree of its first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<TreeHash, ProofError> {
        self.check_size(size)?;
        tlog_tiles::tree_hash(size, &self.stored)
            .map(|h| TreeHash(h.0))
            .map_err(|e| ProofError::Invalid(e.to_string()))
    }

    /// The audit path proving that leaf `index` is in the tree of the first
    /// `size` leaves.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<TreeHash>, ProofError> {
        self.check_size(size)?;
        if index >= size {
            return Err(ProofError::LeafOutOfRange { index, size });
        }
        tlog_tiles::prove_record(size, index, &self.stored)
            .map(hashes)
            .map_err(|e| ProofError::Invalid(e.to_string()))
    }

    /// The proof that the tree of the first `old` leaves is a prefix of the
    /// tree of the first `new` leaves. Empty when `old` is 0 or `old == new`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<TreeHash>, ProofError> {
        self.check_size(new)?;
        if old > new {
            return Err(ProofError::SizeOutOfRange {
                size: old,
                limit: new,
            });
        }
        if old == 0 {
            return Ok(Vec::new());
        }
        tlog_tiles::prove_tree(new, old, &self.stored)
            .map(hashes)
            .map_err(|e| ProofError::Invalid(e.to_string()))
    }

    fn check_size(&self, size: u64) -> Result<(), ProofError> {
        if size > self.size {
            return Err(ProofError::SizeOutOfRange {
                size,
                limit: self.size,
            });
        }
        Ok(())
    }
}

fn hashes(proof: Vec<Hash>) -> Vec<TreeHash> {
    proof.into_iter().map(|h| TreeHash(h.0)).collect()
}

fn raw(proof: &[TreeHash]) -> Vec<Hash> {
    proof.iter().map(|h| Hash(h.0)).collect()
}

/// Succeeds only if `proof` shows that the leaf `leaf` is leaf `index` of
/// the tree of `size` leaves whose root is `root`.
pub fn verify_inclusion(
    leaf: TreeHash,
    index: u64,
    size: u64,
    root: TreeHash,
    proof: &[TreeHash],
) -> Result<(), ProofError> {
    if index >= size {
        return Err(ProofError::LeafOutOfRange { index, size });
    }
    // A path longer than the tree is deep cannot verify; refusing it here
    // bounds the work an adversarial proof can cause.
    if proof.len() > 64 {
        return Err(ProofError::Invalid(format!(
            "an audit path has at most 64 hashes, this one {}",
            proof.len()
        )));
    }
    tlog_tiles::check_record(&raw(proof), size, Hash(root.0), index, Hash(leaf.0)).map_err(|_| {
        ProofError::Invalid(format!(
            "the audit path does not lead from leaf {index} to root {root} of size {size}"
        ))
    })
}

/// Succeeds only if `proof` shows that the tree of `old_size` leaves with
/// root `old_root` is a prefix of the tree of `new_size` leaves with root
/// `new_root`. Every tree extends the empty tree, and a tree extends
/// itself only with the same root.
pub fn verify_consistency(
    old_size: u64,
    old_root: TreeHash,
    new_size: u64,
    new_root: TreeHash,
    proof: &[TreeHash],
) -> Result<(), ProofError> {
    if old_size > new_size {
        return Err(ProofError::SizeOutOfRange {
            size: old_size,
            limit: new_size,
        });
    }
    if proof.len() > 128 {
        return Err(ProofError::Invalid(format!(
            "a consistency proof has at most 128 hashes, this one {}",
            proof.len()
        )));
    }
    if old_size == 0 {
        return if proof.is_empty() && (new_size > 0 || new_root == TreeHash::EMPTY) {
            Ok(())
        } else {
            Err(ProofError::Invalid(
                "a proof from the empty tree is empty".into(),
            ))
        };
    }
    tlog_tiles::check_tree(
        &raw(proof),
        new_size,
        Hash(new_root.0),
        old_size,
        Hash(old_root.0),
    )
    .map_err(|_| {
        ProofError::Invalid(format!(
            "the tree of size {new_size} with root {new_root} does not extend the tree of size {old_size} with root {old_root}"
        ))
    })
}

#[cfg(test)]
mod tests {
    use sha2::{Digest as _, Sha256};

    use super::*;

    /// RFC 6962 §2.1's definitions, written out recursively: the reference
    /// the stored-hash tree is checked against.
    fn reference_root(leaves: &[TreeHash]) -> TreeHash {
        match leaves.len() {
            0 => TreeHash(Sha256::digest(b"").into()),
            1 => leaves[0],
            n => {
                let k = split(n);
                node(reference_root(&leaves[..k]), reference_root(&leaves[k..]))
            }
        }
    }

    fn split(n: usize) -> usize {
        let mut k = 1;
        while k * 2 < n {
            k *= 2;
        }
        k
    }

    fn node(left: TreeHash, right: TreeHash) -> TreeHash {
        let mut hasher = Sha256::new();
        hasher.update([1u8]);
        hasher.update(left.0);
        hasher.update(right.0);
        TreeHash(hasher.finalize().into())
    }

    /// RFC 6962 §2.1.1 PATH(m, D[n]).
    fn reference_path(m: usize, leaves: &[TreeHash]) -> Vec<TreeHash> {
        if leaves.len() <= 1 {
            return Vec::new();
        }
        let k = split(leaves.len());
        if m < k {
            let mut path = reference_path(m, &leaves[..k]);
            path.push(reference_root(&leaves[k..]));
            path
        } else {
            let mut path = reference_path(m - k, &leaves[k..]);
            path.push(reference_root(&leaves[..k]));
            path
        }
    }

    fn leaves(n: usize) -> Vec<TreeHash> {
        (0..n)
            .map(|i| TreeHash::leaf(format!("record {i}").as_bytes()))
            .collect()
    }

    fn tree(leaves: &[TreeHash]) -> MerkleTree {
        let mut tree = MerkleTree::new();
        for leaf in leaves {
            tree.push(*leaf);
        }
        tree
    }

    #[test]
    fn hashes_are_rfc6962() {
        // RFC 6962's leaf and empty-tree hashes, computed independently.
        let mut leaf = Sha256::new();
        leaf.update([0u8]);
        leaf.update(b"abc");
        assert_eq!(TreeHash::leaf(b"abc").0, <[u8; 32]>::from(leaf.finalize()));
        assert_eq!(
            TreeHash::EMPTY.to_string(),
            "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="
        );
        assert_eq!(MerkleTree::new().root(), TreeHash::EMPTY);
    }

    #[test]
    fn every_root_and_audit_path_matches_the_rfc_definition() {
        let all = leaves(70);
        let tree = tree(&all);
        for size in 1..=all.len() {
            let root = reference_root(&all[..size]);
            assert_eq!(tree.root_at(size as u64).unwrap(), root, "size {size}");
            for index in 0..size {
                let proof = tree.inclusion_proof(index as u64, size as u64).unwrap();
                assert_eq!(proof, reference_path(index, &all[..size]));
                verify_inclusion(all[index], index as u64, size as u64, root, &proof).unwrap();
                // The same path for another leaf, index or root fails.
                let other = all[(index + 1) % size];
                if size > 1 {
                    assert!(
                        verify_inclusion(other, index as u64, size as u64, root, &proof).is_err()
                    );
                }
                assert!(
                    verify_inclusion(all[index], size as u64, size as u64, root, &proof).is_err()
                );
                let wrong_root = TreeHash::leaf(b"not the root");
                assert!(
                    verify_inclusion(all[index], index as u64, size as u64, wrong_root, &proof)
                        .is_err()
                );
            }
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_forks_do_not() {
        let all = leaves(40);
        let tree = tree(&all);
        let mut forked = all.clone();
        for old in 0..=all.len() {
            let old_root = reference_root(&all[..old]);
            for new in old..=all.len() {
                let new_root = reference_root(&all[..new]);
                let proof = tree.consistency_proof(old as u64, new as u64).unwrap();
                verify_consistency(old as u64, old_root, new as u64, new_root, &proof).unwrap();
                if old > 0 && old < new {
                    // A fork: the same sizes, one rewritten leaf before `old`.
                    forked[old - 1] = TreeHash::leaf(b"rewritten");
                    let fork_root = reference_root(&forked[..new]);
                    forked[old - 1] = all[old - 1];
                    assert!(
                        verify_consistency(old as u64, old_root, new as u64, fork_root, &proof)
                            .is_err(),
                        "{old} -> {new}"
                    );
                    // A truncation presented as growth: sizes swapped.
                    assert!(
                        verify_consistency(new as u64, new_root, old as u64, old_root, &proof)
                            .is_err()
                    );
                }
            }
        }
    }

    #[test]
    fn random_sizes_agree_with_the_definition() {
        // A small xorshift generator: sizes and indexes spread over a tree
        // far larger than the exhaustive tests reach, reproducibly.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move |bound: u64| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state % bound
        };
        let all = leaves(1500);
        let tree = tree(&all);
        for _ in 0..200 {
            let size = 1 + next(all.len() as u64);
            let index = next(size);
            let old = next(size + 1);
            let root = tree.root_at(size).unwrap();
            assert_eq!(root, reference_root(&all[..size as usize]));
            let path = tree.inclusion_proof(index, size).unwrap();
            verify_inclusion(all[index as usize], index, size, root, &path).unwrap();
            let proof = tree.consistency_proof(old, size).unwrap();
            verify_consistency(old, tree.root_at(old).unwrap(), size, root, &proof).unwrap();
        }
    }

    #[test]
    fn out_of_range_requests_are_errors_not_panics() {
        let tree = tree(&leaves(5));
        assert_eq!(
            tree.inclusion_proof(5, 5),
            Err(ProofError::LeafOutOfRange { index: 5, size: 5 })
        );
        assert!(tree.inclusion_proof(0, 6).is_err());
        assert!(tree.consistency_proof(4, 3).is_err());
        assert!(tree.root_at(6).is_err());
        let root = tree.root();
        assert!(verify_inclusion(TreeHash::EMPTY, 0, 0, root, &[]).is_err());
        assert!(verify_consistency(0, TreeHash::EMPTY, 0, root, &[]).is_err());
        assert!(verify_consistency(2, root, 5, root, &vec![root; 500]).is_err());
    }

    #[test]
    fn tree_hashes_parse_only_32_bytes_of_base64() {
        let hash = TreeHash::leaf(b"x");
        assert_eq!(hash.to_string().parse::<TreeHash>().unwrap(), hash);
        for bad in ["", "AAE=", "not base64", &"A".repeat(44)] {
            assert!(bad.parse::<TreeHash>().is_err(), "{bad}");
        }
    }
}
