//! Offline replay: verify a decision log, then re-run every decision.
//!
//! An auditor gives the log, the public key and a directory holding the
//! policies and data documents (found by content digest, whatever their file
//! names). Replay verifies the chain and every signature, checks that the
//! log contains the tree of every checkpoint the auditor holds, then
//! evaluates each record's recorded input, at its recorded time, in a fresh
//! sandbox, on every core, and compares the decision with the recorded one.
//! Records of the host's own checks (policy kind `host`: gateway refusals,
//! manifest acceptances) have no policy to re-run; they are verified (chain,
//! signature, tree) and counted apart.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;

use crate::claims::{Claims, DataDocument, JsonError};
use crate::crypto::VerifyingKey;
use crate::digest::Digest;
use crate::log::{ChainError, Checkpoint, LogEntry, MerkleTree, TreeHash, tree_of, verify_log};
use crate::policy::{
    Decision, LoadError, Policy, PolicyIdentity, PolicyKind, PolicyRuntime, RegoModule,
};

/// The files of a directory tree, by the SHA-256 of their content.
#[derive(Debug, Default)]
pub struct PolicyDirectory {
    by_digest: HashMap<Digest, PathBuf>,
}

/// Why a policy directory could not be read.
#[derive(Debug, thiserror::Error)]
#[error("reading policy directory {path}: {source}")]
pub struct DirectoryError {
    pub path: PathBuf,
    #[source]
    pub source: std::io::Error,
}

impl PolicyDirectory {
    /// Hashes every regular file below `dir` (following no symbolic links).
    pub fn scan(dir: &Path) -> Result<Self, DirectoryError> {
        let mut found = Self::default();
        found.scan_into(dir)?;
        Ok(found)
    }

    fn scan_into(&mut self, dir: &Path) -> Result<(), DirectoryError> {
        let err = |source| DirectoryError {
            path: dir.to_path_buf(),
            source,
        };
        for entry in fs::read_dir(dir).map_err(err)? {
            let entry = entry.map_err(err)?;
            let kind = entry.file_type().map_err(err)?;
            let path = entry.path();
            if kind.is_dir() {
                self.scan_into(&path)?;
            } else if kind.is_file() {
                let bytes = fs::read(&path).map_err(|source| DirectoryError {
                    path: path.clone(),
                    source,
                })?;
                self.by_digest.entry(Digest::of(&bytes)).or_insert(path);
            }
        }
        Ok(())
    }

    /// The file whose content has `digest`.
    pub fn find(&self, digest: &Digest) -> Option<&Path> {
        self.by_digest.get(digest).map(PathBuf::as_path)
    }

    pub fn len(&self) -> usize {
        self.by_digest.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_digest.is_empty()
    }
}

/// What went wrong with one record, or with the log as a whole.
#[derive(Debug, thiserror::Error)]
pub enum ReplayFailure {
    #[error("{0}")]
    Chain(#[from] ChainError),
    /// The log does not contain the tree a checkpoint commits to: it was
    /// cut short, rewritten or forked after the checkpoint was signed.
    #[error("the log does not contain checkpoint {checkpoint}: {why}")]
    NotInLog { checkpoint: Checkpoint, why: String },
    #[error(
        "line {line} (seq {seq}): no file in the policy directory has the policy digest {digest}"
    )]
    UnknownPolicy {
        line: usize,
        seq: u64,
        digest: Digest,
    },
    #[error(
        "line {line} (seq {seq}): no file in the policy directory has the data digest {digest}"
    )]
    UnknownData {
        line: usize,
        seq: u64,
        digest: Digest,
    },
    #[error("record {seq} (line {line}): cannot load policy {path}: {reason}")]
    PolicyUnusable {
        line: usize,
        seq: u64,
        path: PathBuf,
        reason: String,
    },
    #[error("record {seq} (line {line}): recorded claims are unusable: {error}")]
    InvalidClaims {
        line: usize,
        seq: u64,
        error: JsonError,
    },
    #[error(
        "record {seq} (line {line}): verdict differs: recorded {}, replayed {}",
        summary(recorded),
        summary(replayed)
    )]
    VerdictDiffers {
        line: usize,
        seq: u64,
        recorded: Box<Decision>,
        replayed: Box<Decision>,
    },
}

fn summary(d: &Decision) -> String {
    serde_json::to_string(d).unwrap_or_else(|_| format!("{d:?}"))
}

impl ReplayFailure {
    /// The 1-based log line of the record that failed; 0 for a failure of
    /// the whole log ([`ReplayFailure::NotInLog`]).
    pub fn line(&self) -> usize {
        match self {
            Self::Chain(e) => e.line(),
            Self::NotInLog { .. } => 0,
            Self::UnknownPolicy { line, .. }
            | Self::UnknownData { line, .. }
            | Self::PolicyUnusable { line, .. }
            | Self::InvalidClaims { line, .. }
            | Self::VerdictDiffers { line, .. } => *line,
        }
    }
}

/// The outcome of a replay: every failure, in log order.
#[derive(Debug)]
pub struct ReplayReport {
    /// How many records the log holds.
    pub records: usize,
    /// How many records were re-run and decided as recorded.
    pub matched: usize,
    /// How many records were verified but not re-run: the host's own checks
    /// (policy kind `host`), which have no policy to re-run.
    pub not_rerun: usize,
    /// The root of the log's Merkle tree (of `records` leaves).
    pub root: TreeHash,
    pub failures: Vec<ReplayFailure>,
}

impl ReplayReport {
    /// True when every link, signature, checkpoint and verdict matched.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The failure at the earliest line, or else a failure of the whole log.
    pub fn first_failure(&self) -> Option<&ReplayFailure> {
        self.failures.first()
    }
}

/// Verifies `entries` with `key`, then re-evaluates each record with the
/// policy found in `policies`. `progress` is called with the number of
/// records done so far, from several threads.
pub fn replay(
    entries: &[LogEntry],
    key: &VerifyingKey,
    policies: &PolicyDirectory,
    runtime: &PolicyRuntime,
    progress: impl Fn(usize) + Sync,
) -> ReplayReport {
    replay_against(entries, key, &[], policies, runtime, progress)
}

/// [`replay`], and also checks that the log contains the tree each of
/// `checkpoints` (already verified as signed by `key`) commits to: a log
/// cut short after a checkpoint, or rewritten or forked since, fails with
/// [`ReplayFailure::NotInLog`].
pub fn replay_against(
    entries: &[LogEntry],
    key: &VerifyingKey,
    checkpoints: &[Checkpoint],
    policies: &PolicyDirectory,
    runtime: &PolicyRuntime,
    progress: impl Fn(usize) + Sync,
) -> ReplayReport {
    let mut failures = Vec::new();
    if let Err(chain) = verify_log(entries, key) {
        failures.push(ReplayFailure::Chain(chain));
    }
    let tree = tree_of(entries);
    failures.extend(
        checkpoints
            .iter()
            .filter_map(|checkpoint| check_checkpoint(&tree, checkpoint)),
    );
    let loaded = load_policies(entries, policies, runtime);
    let (rerun, not_rerun) = rerun_all(entries, &loaded, &progress);
    let mut matched = 0;
    for outcome in rerun {
        match outcome {
            Ok(()) => matched += 1,
            Err(failure) => failures.push(failure),
        }
    }
    // Record failures first, in log order: they name the line to look at.
    failures.sort_by_key(|failure| match failure.line() {
        0 => usize::MAX,
        line => line,
    });
    ReplayReport {
        records: entries.len(),
        matched,
        not_rerun,
        root: tree.root(),
        failures,
    }
}

/// `None` if the log's tree contains the tree `checkpoint` commits to.
fn check_checkpoint(tree: &MerkleTree, checkpoint: &Checkpoint) -> Option<ReplayFailure> {
    let why = if checkpoint.size > tree.size() {
        format!(
            "the log holds {} records, the checkpoint commits to {}: records were cut off the end",
            tree.size(),
            checkpoint.size
        )
    } else {
        let root = tree.root_at(checkpoint.size).ok()?;
        if root == checkpoint.root {
            return None;
        }
        format!(
            "the log's first {} records hash to {root}, the checkpoint's root is {}: the log was rewritten or forked",
            checkpoint.size, checkpoint.root
        )
    };
    Some(ReplayFailure::NotInLog {
        checkpoint: checkpoint.clone(),
        why,
    })
}

/// Why a policy could not be loaded; becomes a [`ReplayFailure`] for every
/// record that needs it.
#[derive(Clone, Debug)]
enum LoadProblem {
    UnknownPolicy(Digest),
    UnknownData(Digest),
    Unusable { path: PathBuf, reason: String },
}

/// Loads each policy the log's records name once, before the records are
/// re-run in parallel.
fn load_policies(
    entries: &[LogEntry],
    policies: &PolicyDirectory,
    runtime: &PolicyRuntime,
) -> HashMap<PolicyIdentity, Result<Policy, LoadProblem>> {
    let mut loaded = HashMap::new();
    for entry in entries {
        let identity = &entry.record.policy;
        if identity.kind == PolicyKind::Host || loaded.contains_key(identity) {
            continue;
        }
        loaded.insert(identity.clone(), load_identity(identity, policies, runtime));
    }
    loaded
}

fn load_identity(
    identity: &PolicyIdentity,
    policies: &PolicyDirectory,
    runtime: &PolicyRuntime,
) -> Result<Policy, LoadProblem> {
    let policy_path = policies
        .find(&identity.digest)
        .ok_or(LoadProblem::UnknownPolicy(identity.digest))?;
    let data_path = find_data(policies, identity.data_digest)
        .ok_or(LoadProblem::UnknownData(identity.data_digest))?;
    load(runtime, identity, policy_path, data_path.as_deref()).map_err(|reason| {
        LoadProblem::Unusable {
            path: policy_path.to_path_buf(),
            reason,
        }
    })
}

/// Re-runs every record on all cores: each record's outcome, in log order,
/// for the records re-run, and how many were not re-run (`host`).
fn rerun_all(
    entries: &[LogEntry],
    loaded: &HashMap<PolicyIdentity, Result<Policy, LoadProblem>>,
    progress: &(impl Fn(usize) + Sync),
) -> (Vec<Result<(), ReplayFailure>>, usize) {
    let threads = thread::available_parallelism().map_or(1, |n| n.get());
    let chunk = entries.len().div_ceil(threads).max(1);
    let done = AtomicUsize::new(0);
    let results: Vec<(Vec<Result<(), ReplayFailure>>, usize)> = thread::scope(|scope| {
        let workers: Vec<_> = entries
            .chunks(chunk)
            .map(|part| {
                let done = &done;
                scope.spawn(move || {
                    let (mut outcomes, mut skipped) = (Vec::with_capacity(part.len()), 0);
                    for entry in part {
                        match rerun(entry, loaded) {
                            Some(outcome) => outcomes.push(outcome),
                            None => skipped += 1,
                        }
                        progress(done.fetch_add(1, Ordering::Relaxed) + 1);
                    }
                    (outcomes, skipped)
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|worker| worker.join().expect("a replay worker panicked"))
            .collect()
    });
    let not_rerun = results.iter().map(|(_, skipped)| skipped).sum();
    (
        results.into_iter().flat_map(|(o, _)| o).collect(),
        not_rerun,
    )
}

/// Re-runs one record; `None` for a record of the host's own checks,
/// which has no policy to re-run.
fn rerun(
    entry: &LogEntry,
    loaded: &HashMap<PolicyIdentity, Result<Policy, LoadProblem>>,
) -> Option<Result<(), ReplayFailure>> {
    let record = &entry.record;
    let (line, seq) = (entry.line, record.seq);
    if record.policy.kind == PolicyKind::Host {
        return None;
    }
    // Every identity a record names was loaded; a miss is unknown policy.
    let missing = Err(LoadProblem::UnknownPolicy(record.policy.digest));
    let policy = match loaded.get(&record.policy).unwrap_or(&missing) {
        Ok(policy) => policy,
        Err(problem) => {
            return Some(Err(match problem.clone() {
                LoadProblem::UnknownPolicy(digest) => {
                    ReplayFailure::UnknownPolicy { line, seq, digest }
                }
                LoadProblem::UnknownData(digest) => {
                    ReplayFailure::UnknownData { line, seq, digest }
                }
                LoadProblem::Unusable { path, reason } => ReplayFailure::PolicyUnusable {
                    line,
                    seq,
                    path,
                    reason,
                },
            }));
        }
    };
    let claims = match Claims::from_value(record.input.claims.clone()) {
        Ok(claims) => claims,
        Err(error) => return Some(Err(ReplayFailure::InvalidClaims { line, seq, error })),
    };
    let replayed = policy.evaluate(&claims, record.input.evaluated_at).decision;
    if replayed != record.decision {
        return Some(Err(ReplayFailure::VerdictDiffers {
            line,
            seq,
            recorded: Box::new(record.decision.clone()),
            replayed: Box::new(replayed),
        }));
    }
    Some(Ok(()))
}

/// The data document with `digest`: a file, or none needed for `{}`.
fn find_data(policies: &PolicyDirectory, digest: Digest) -> Option<Option<PathBuf>> {
    match policies.find(&digest) {
        Some(path) => Some(Some(path.to_path_buf())),
        None if digest == DataDocument::empty().digest() => Some(None),
        None => None,
    }
}

fn load(
    runtime: &PolicyRuntime,
    identity: &PolicyIdentity,
    policy_path: &Path,
    data_path: Option<&Path>,
) -> Result<Policy, String> {
    let data = match data_path {
        Some(path) => {
            let text = fs::read_to_string(path)
                .map_err(|e| format!("reading data {}: {e}", path.display()))?;
            DataDocument::from_json(&text).map_err(|e| format!("data {}: {e}", path.display()))?
        }
        None => DataDocument::empty(),
    };
    let bytes = fs::read(policy_path).map_err(|e| e.to_string())?;
    let loaded: Result<Policy, LoadError> = match identity.kind {
        PolicyKind::Host => return Err("host checks are not re-run".into()),
        PolicyKind::Component => runtime.load_component(&bytes, data),
        PolicyKind::Rego => {
            let source =
                String::from_utf8(bytes).map_err(|_| "the Rego source is not UTF-8".to_string())?;
            let name = identity
                .module
                .clone()
                .unwrap_or_else(|| "policy.rego".into());
            runtime.load_rego(
                RegoModule { name, source },
                data,
                identity.entrypoint.clone(),
            )
        }
    };
    loaded.map_err(|e| e.to_string())
}
