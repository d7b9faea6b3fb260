//! Evidence: hardware and memory attestation, verified natively.
//!
//! An [`EvidenceDocument`] carries typed entries (TPM 2.0 quotes, AMD SEV-SNP
//! reports, ML-DSA-65 signed memory-region reports). [`verify`] checks each
//! one cryptographically, without trusting the sender, binds it to the
//! verifier's [`EvidenceNonce`], and normalizes it into [`EvidenceClaims`]
//! for the sandboxed appraisal policy. The formats are in docs/evidence.md.

pub mod appraisal;
mod claims;
mod document;
pub mod memory;
mod nonce;
pub mod session;
pub mod sev_snp;
pub mod tpm;

pub use claims::{CLAIMS_SCHEMA, EntryClaims, EvidenceClaims};
pub use document::{
    DocumentError, EvidenceDocument, EvidenceEntry, MAX_DOCUMENT_BYTES, MAX_ENTRIES,
};
pub use nonce::{EvidenceNonce, NonceError};

use crate::timestamp::Timestamp;
use memory::MemoryAppraisal;

/// What the verifier brings besides the document.
#[derive(Clone, Debug)]
pub struct VerifyOptions {
    /// The challenge every entry must bind, if any.
    pub expected_nonce: Option<EvidenceNonce>,
    /// The verifier's clock, for memory-report validity.
    pub now: Timestamp,
    /// Trusted keys, pins and drift mode for memory reports.
    pub memory: MemoryAppraisal,
}

/// Why a document did not verify: the entry, its type, and the reason.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("the document claims nonce {claimed}, the verifier expects {expected}")]
    DocumentNonce { claimed: String, expected: String },
    #[error("evidence[{index}] (tpm): {source}")]
    Tpm {
        index: usize,
        #[source]
        source: tpm::TpmError,
    },
    #[error("evidence[{index}] (sev-snp): {source}")]
    SevSnp {
        index: usize,
        #[source]
        source: sev_snp::SevSnpError,
    },
    #[error("evidence[{index}] (memory-report): {source}")]
    Memory {
        index: usize,
        #[source]
        source: memory::MemoryError,
    },
}

/// Verifies every entry of `document`; all must verify (one failure fails
/// the whole document, so a caller can never act on part of it).
///
/// With an expected nonce, every entry must bind it (docs/evidence.md says
/// how each type binds) and a nonce the document claims must equal it.
pub fn verify(
    document: &EvidenceDocument,
    options: &VerifyOptions,
) -> Result<EvidenceClaims, EvidenceError> {
    let expected = options.expected_nonce.as_ref();
    if let (Some(claimed), Some(expected)) = (&document.nonce, expected)
        && claimed != expected
    {
        return Err(EvidenceError::DocumentNonce {
            claimed: claimed.hex(),
            expected: expected.hex(),
        });
    }
    let nonce_bytes = expected.map(EvidenceNonce::as_bytes);
    let evidence = document
        .evidence
        .iter()
        .enumerate()
        .map(|(index, entry)| verify_entry(index, entry, nonce_bytes, options))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(EvidenceClaims::new(expected.cloned(), evidence))
}

fn unix_seconds(at: Timestamp) -> u64 {
    u64::try_from(at.unix_seconds()).unwrap_or(0)
}

fn verify_entry(
    index: usize,
    entry: &EvidenceEntry,
    nonce: Option<&[u8]>,
    options: &VerifyOptions,
) -> Result<EntryClaims, EvidenceError> {
    match entry {
        EvidenceEntry::Tpm(tpm) => tpm::verify(tpm, nonce)
            .map(EntryClaims::Tpm)
            .map_err(|source| EvidenceError::Tpm { index, source }),
        EvidenceEntry::SevSnp(snp) => sev_snp::verify_at(snp, nonce, unix_seconds(options.now))
            .map(EntryClaims::SevSnp)
            .map_err(|source| EvidenceError::SevSnp { index, source }),
        EvidenceEntry::MemoryReport(report) => memory::verify(
            report,
            options.expected_nonce.as_ref(),
            options.now,
            &options.memory,
        )
        .map(EntryClaims::MemoryReport)
        .map_err(|source| EvidenceError::Memory { index, source }),
    }
}
