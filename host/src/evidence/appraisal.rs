//! What the appraisal data says is trusted, and the start-up check that a
//! verifier's configuration trusts something for every evidence type it
//! requires (docs/attestation.md, "Appraisal data").
//!
//! The shipped policy (`policies/attestation.rego`) denies whatever is not
//! anchored; this check refuses, before serving, a configuration under
//! which it could never affirm anything, and says what to configure.

use std::fmt;

use serde::Deserialize;

/// An evidence type, as the document's `type` member and the appraisal
/// data's `required` list spell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum EvidenceType {
    /// A TPM 2.0 quote: anchored by an AK the operator trusts.
    Tpm,
    /// An AMD SEV-SNP report: anchored by AMD's root keys, bundled.
    SevSnp,
    /// An ML-DSA-65 memory-region report: anchored by an attester key the
    /// operator trusts.
    MemoryReport,
}

impl fmt::Display for EvidenceType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Tpm => "tpm",
            Self::SevSnp => "sev-snp",
            Self::MemoryReport => "memory-report",
        })
    }
}

/// The members of the appraisal data that name trust anchors. Every other
/// member is the policy's own and is ignored here.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct AppraisalData {
    /// The evidence types every attestation must present.
    #[serde(default)]
    pub required: Vec<EvidenceType>,
    /// TPM trust: the AKs whose quotes are believed.
    #[serde(default)]
    pub tpm: TpmTrust,
}

/// `tpm` in the appraisal data.
#[derive(Clone, Debug, Default, Deserialize)]
pub struct TpmTrust {
    /// AK fingerprints (`sha256:<hex of the DER SubjectPublicKeyInfo>`).
    #[serde(default)]
    pub trusted_aks: Vec<String>,
}

/// The trust a verifier holds besides the appraisal data.
#[derive(Clone, Copy, Debug, Default)]
pub struct ConfiguredAnchors {
    /// How many attester keys are trusted to sign memory reports.
    pub memory_attester_keys: usize,
}

/// Why a configuration cannot affirm anything. Each names what to set.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum TrustError {
    /// `required` is empty or absent.
    #[error(
        "the appraisal data requires no evidence type, so nothing could ever be affirmed: \
         list in its `required` member the evidence types every runner must present \
         (tpm, sev-snp, memory-report)"
    )]
    NothingRequired,
    /// A required type has nothing configured to anchor it.
    #[error("the appraisal data requires `{required}` evidence but {missing}")]
    Unanchored {
        /// The required type.
        required: EvidenceType,
        /// What is missing and where to configure it.
        missing: &'static str,
    },
}

impl AppraisalData {
    /// Parses the appraisal data document (any JSON object; only the
    /// members above are read).
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(text)
    }

    /// Checks that every required type is anchored by something configured:
    /// TPM quotes by `tpm.trusted_aks`, memory reports by attester keys;
    /// SEV-SNP reports chain to AMD's bundled roots.
    pub fn check_anchored(&self, anchors: ConfiguredAnchors) -> Result<(), TrustError> {
        if self.required.is_empty() {
            return Err(TrustError::NothingRequired);
        }
        for &required in &self.required {
            let missing = match required {
                EvidenceType::Tpm if self.tpm.trusted_aks.is_empty() => {
                    "trusts no TPM AK: list AK fingerprints in the data's tpm.trusted_aks"
                }
                EvidenceType::MemoryReport if anchors.memory_attester_keys == 0 => {
                    "trusts no memory-report attester: list ML-DSA-65 public keys in \
                     [attestation.memory] trusted_keys"
                }
                _ => continue,
            };
            return Err(TrustError::Unanchored { required, missing });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(json: &str) -> AppraisalData {
        AppraisalData::from_json(json).unwrap()
    }

    const NO_KEYS: ConfiguredAnchors = ConfiguredAnchors {
        memory_attester_keys: 0,
    };
    const ONE_KEY: ConfiguredAnchors = ConfiguredAnchors {
        memory_attester_keys: 1,
    };

    #[test]
    fn requiring_nothing_is_refused() {
        assert_eq!(
            data("{}").check_anchored(ONE_KEY),
            Err(TrustError::NothingRequired)
        );
        assert_eq!(
            data(r#"{"required": []}"#).check_anchored(ONE_KEY),
            Err(TrustError::NothingRequired)
        );
    }

    #[test]
    fn each_required_type_needs_its_anchor() {
        let tpm = data(r#"{"required": ["tpm"]}"#).check_anchored(ONE_KEY);
        assert!(
            tpm.unwrap_err().to_string().contains("tpm.trusted_aks"),
            "names what to configure"
        );
        let memory = data(r#"{"required": ["memory-report"]}"#).check_anchored(NO_KEYS);
        assert!(memory.unwrap_err().to_string().contains("trusted_keys"));
        assert!(
            data(r#"{"required": ["memory-report"]}"#)
                .check_anchored(ONE_KEY)
                .is_ok()
        );
        let trusted = r#"{"required": ["tpm", "sev-snp"], "tpm": {"trusted_aks": ["sha256:00"]}}"#;
        assert!(data(trusted).check_anchored(NO_KEYS).is_ok());
    }

    #[test]
    fn an_unknown_type_does_not_parse() {
        let error = AppraisalData::from_json(r#"{"required": ["sgx"]}"#).unwrap_err();
        assert!(
            error.to_string().contains("unknown variant `sgx`"),
            "{error}"
        );
    }
}
