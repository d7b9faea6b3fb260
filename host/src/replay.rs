//! Offline replay: verify a decision log, then re-run every decision.
//!
//! An auditor gives the log, the public key and a directory holding the
//! policies and data documents (found by content digest, whatever their file
//! names). Replay verifies the chain and every signature, then evaluates each
//! record's recorded input, at its recorded time, in a fresh sandbox, and
//! compares the decision with the recorded one.

use std::collections::HashMap;
use std::fs;
use std::path::{Path, PathBuf};

use crate::claims::{Claims, DataDocument, JsonError};
use crate::crypto::VerifyingKey;
use crate::digest::Digest;
use crate::log::{ChainError, LogEntry, verify_log};
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

/// What went wrong with one record.
#[derive(Debug, thiserror::Error)]
pub enum ReplayFailure {
    #[error("{0}")]
    Chain(#[from] ChainError),
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
    /// The 1-based log line of the record that failed.
    pub fn line(&self) -> usize {
        match self {
            Self::Chain(e) => e.line(),
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
    pub records: usize,
    pub failures: Vec<ReplayFailure>,
}

impl ReplayReport {
    /// True when every link, signature and verdict matched.
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }

    /// The failure at the earliest line.
    pub fn first_failure(&self) -> Option<&ReplayFailure> {
        self.failures.first()
    }
}

/// Verifies `entries` with `key`, then re-evaluates each record with the
/// policy found in `policies`. `progress` is called after each record.
pub fn replay(
    entries: &[LogEntry],
    key: &VerifyingKey,
    policies: &PolicyDirectory,
    runtime: &PolicyRuntime,
    mut progress: impl FnMut(usize),
) -> ReplayReport {
    let mut failures = Vec::new();
    if let Err(chain) = verify_log(entries, key) {
        failures.push(ReplayFailure::Chain(chain));
    }
    let mut loaded = PolicyCache::default();
    for (done, entry) in entries.iter().enumerate() {
        if let Err(failure) = rerun(entry, policies, runtime, &mut loaded) {
            failures.push(failure);
        }
        progress(done + 1);
    }
    failures.sort_by_key(ReplayFailure::line);
    ReplayReport {
        records: entries.len(),
        failures,
    }
}

/// Policies loaded so far, by identity: a long log loads each policy once.
#[derive(Default)]
struct PolicyCache {
    policies: HashMap<PolicyIdentity, Result<Policy, String>>,
}

fn rerun(
    entry: &LogEntry,
    policies: &PolicyDirectory,
    runtime: &PolicyRuntime,
    cache: &mut PolicyCache,
) -> Result<(), ReplayFailure> {
    let record = &entry.record;
    let (line, seq) = (entry.line, record.seq);
    let identity = &record.policy;
    if identity.kind == PolicyKind::Host {
        return Ok(());
    }
    let policy_path = policies
        .find(&identity.digest)
        .ok_or(ReplayFailure::UnknownPolicy {
            line,
            seq,
            digest: identity.digest,
        })?;
    let policy = match cache.policies.get(identity) {
        Some(loaded) => loaded.clone(),
        None => {
            let data_path =
                find_data(policies, identity.data_digest).ok_or(ReplayFailure::UnknownData {
                    line,
                    seq,
                    digest: identity.data_digest,
                })?;
            let loaded = load(runtime, identity, policy_path, data_path.as_deref());
            cache.policies.insert(identity.clone(), loaded.clone());
            loaded
        }
    }
    .map_err(|reason| ReplayFailure::PolicyUnusable {
        line,
        seq,
        path: policy_path.to_path_buf(),
        reason,
    })?;

    let claims = Claims::from_value(record.input.claims.clone())
        .map_err(|error| ReplayFailure::InvalidClaims { line, seq, error })?;
    let replayed = policy.evaluate(&claims, record.input.evaluated_at).decision;
    if replayed != record.decision {
        return Err(ReplayFailure::VerdictDiffers {
            line,
            seq,
            recorded: Box::new(record.decision.clone()),
            replayed: Box::new(replayed),
        });
    }
    Ok(())
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
