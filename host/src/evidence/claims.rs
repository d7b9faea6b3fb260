//! The normalized claims of verified evidence (docs/evidence.md, "Claims").

use serde::Serialize;

use super::EvidenceNonce;
use super::memory::MemoryClaims;
use super::sev_snp::SevSnpClaims;
use super::tpm::TpmClaims;

/// The `schema` member of every [`EvidenceClaims`]. It changes only when a
/// member is removed or changes meaning; new members may be added.
pub const CLAIMS_SCHEMA: &str = "verdict/evidence-claims/v1";

/// What a verified document says, in a stable shape for policies:
/// `{"schema", "nonce", "evidence": [{"type": ..., ...}]}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EvidenceClaims {
    pub schema: &'static str,
    /// The nonce every entry was checked to bind; `null` when the verifier
    /// expected none (then nothing is known about freshness).
    pub nonce: Option<EvidenceNonce>,
    pub evidence: Vec<EntryClaims>,
}

impl EvidenceClaims {
    pub(crate) fn new(nonce: Option<EvidenceNonce>, evidence: Vec<EntryClaims>) -> Self {
        Self {
            schema: CLAIMS_SCHEMA,
            nonce,
            evidence,
        }
    }

    /// The claims as a JSON value, ready for a policy.
    pub fn to_value(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::to_value(self)
    }
}

/// One verified entry, tagged by `type` as in the document.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum EntryClaims {
    Tpm(TpmClaims),
    SevSnp(SevSnpClaims),
    MemoryReport(MemoryClaims),
}
