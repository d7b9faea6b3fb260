//! `verdict verify`: verify an evidence document natively and print its
//! normalized claims (exit 0 valid, 1 invalid, 2 malformed).

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use verdict_host::crypto::SignatureAlgorithm;
use verdict_host::evidence::memory::report::{DriftMode, MemoryAppraisal, MemoryError};
use verdict_host::evidence::memory::snapshot::SnapshotDigest;
use verdict_host::evidence::{
    self, EntryClaims, EvidenceClaims, EvidenceDocument, EvidenceError, EvidenceNonce,
    MAX_DOCUMENT_BYTES, VerifyOptions,
};
use verdict_host::timestamp::Timestamp;

use crate::{Outcome, files};

#[derive(clap::Args)]
pub struct Args {
    /// The evidence document (JSON; docs/evidence.md).
    file: PathBuf,
    /// The challenge every entry must bind (hex, 8-64 bytes).
    #[arg(long)]
    nonce: Option<EvidenceNonce>,
    /// An ML-DSA-65 public key (PEM) trusted to sign memory reports; repeat
    /// for several. Without one, a report's own key is used, which anchors
    /// nothing: the claims say `pinned: false` and a warning says so.
    #[arg(long = "memory-key")]
    memory_keys: Vec<PathBuf>,
    /// Pinned region digests: a JSON object {"<region id>": "<64 hex>"}.
    /// Every region must match its pin (strict mode) unless --lenient.
    #[arg(long)]
    pins: Option<PathBuf>,
    /// Report drifted, unpinned and missing regions in the claims instead of
    /// failing on them (strict mode is the default).
    #[arg(long)]
    lenient: bool,
    /// Clock skew tolerated on memory-report times, in seconds.
    #[arg(long, default_value_t = 30)]
    skew: u64,
    /// Verify as of this RFC 3339 time instead of now.
    #[arg(long)]
    at: Option<Timestamp>,
}

pub fn run(args: Args) -> Result<Outcome> {
    let bytes = read_document(&args.file)?;
    let document = EvidenceDocument::parse(&bytes)
        .with_context(|| format!("{} is not an evidence document", args.file.display()))?;
    let options = VerifyOptions {
        expected_nonce: args.nonce.clone(),
        now: args.at.unwrap_or_else(Timestamp::now),
        memory: appraisal(&args)?,
    };
    match evidence::verify(&document, &options) {
        Ok(claims) => {
            files::print_stdout(&serde_json::to_string_pretty(&claims.to_value()?)?)?;
            if args.nonce.is_none() {
                eprintln!("note: no --nonce given, so freshness was not checked");
            }
            warn_unanchored(&claims);
            Ok(Outcome::Ok)
        }
        Err(error) => {
            eprintln!("invalid: {}: {error}", args.file.display());
            if matches!(
                &error,
                EvidenceError::Memory {
                    source: MemoryError::Unpinned(_),
                    ..
                }
            ) {
                eprintln!("hint: give its digest with --pins, or --lenient to report it");
            }
            Ok(Outcome::Denied)
        }
    }
}

/// Says on stderr which entries verified without anything the verifier
/// configured vouching for their key: such a signature proves only that
/// whoever sent the entry holds the key it carries.
fn warn_unanchored(claims: &EvidenceClaims) {
    for (index, entry) in claims.evidence.iter().enumerate() {
        match entry {
            EntryClaims::MemoryReport(report) if !report.signer.pinned => eprintln!(
                "warning: evidence[{index}] (memory-report) was verified with the key it \
                 carries ({}), which nothing anchors: give --memory-key to trust an attester",
                report.signer.kid
            ),
            EntryClaims::Tpm(tpm) => eprintln!(
                "warning: evidence[{index}] (tpm): the AK {} is not anchored to a TPM; \
                 the quote's signature is checked, not that a TPM holds the key \
                 (list it in the appraisal data's tpm.trusted_aks)",
                tpm.ak_fingerprint
            ),
            _ => {}
        }
    }
}

fn read_document(path: &std::path::Path) -> Result<Vec<u8>> {
    let len = fs::metadata(path)
        .with_context(|| format!("cannot read {}", path.display()))?
        .len();
    if len > MAX_DOCUMENT_BYTES as u64 {
        bail!(
            "{} is {len} bytes, more than the {MAX_DOCUMENT_BYTES} an evidence document may be",
            path.display()
        );
    }
    fs::read(path).with_context(|| format!("cannot read {}", path.display()))
}

fn appraisal(args: &Args) -> Result<MemoryAppraisal> {
    let trusted_keys = args
        .memory_keys
        .iter()
        .map(|path| {
            let key = files::verifying_key(path)?;
            if key.algorithm() != SignatureAlgorithm::MlDsa65 {
                bail!(
                    "{}: memory reports are signed with ML-DSA-65, this is an {} key",
                    path.display(),
                    key.algorithm()
                );
            }
            Ok(key)
        })
        .collect::<Result<_>>()?;
    let pinned = match &args.pins {
        Some(path) => {
            let text = files::read_text(path, "pins file")?;
            serde_json::from_str::<BTreeMap<String, SnapshotDigest>>(&text).with_context(|| {
                format!(
                    "{}: expected {{\"<region id>\": \"<64 hex>\"}}",
                    path.display()
                )
            })?
        }
        None => BTreeMap::new(),
    };
    Ok(MemoryAppraisal {
        trusted_keys,
        pinned,
        mode: if args.lenient {
            DriftMode::Lenient
        } else {
            DriftMode::Strict
        },
        skew: Duration::from_secs(args.skew),
    })
}
