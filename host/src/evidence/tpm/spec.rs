//! Names shared by verification and collection: hash algorithms (PCR banks),
//! PCR selections as written on the command line, and AK algorithms.
//!
//! Nothing here needs libtss2, so the CLI can parse `--pcrs` and `--ak`
//! whether or not the `tpm-collect` feature is built.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use sha2::{Digest as _, Sha256, Sha384, Sha512};

/// The highest PCR index accepted anywhere (a PC-client TPM has PCRs 0..=23).
pub const MAX_PCR_INDEX: u8 = 23;

/// The PCR selection used when none is given: the firmware and boot-loader PCRs.
pub const DEFAULT_PCR_SELECTION: &str = "sha256:0,1,2,3,7";

/// A TPM hash algorithm, as used for PCR banks and signing schemes.
///
/// Only the four algorithms with a bank name are representable; anything
/// else a TPM reports is rejected where it is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum HashAlg {
    /// TPM_ALG_SHA1 (0x0004), 20-byte digests. Accepted as a PCR bank only.
    Sha1,
    /// TPM_ALG_SHA256 (0x000B), 32-byte digests.
    Sha256,
    /// TPM_ALG_SHA384 (0x000C), 48-byte digests.
    Sha384,
    /// TPM_ALG_SHA512 (0x000D), 64-byte digests.
    Sha512,
}

impl HashAlg {
    /// All algorithms, in TPM_ALG_ID order.
    pub const ALL: [HashAlg; 4] = [Self::Sha1, Self::Sha256, Self::Sha384, Self::Sha512];

    /// The TPM_ALG_ID, or `None` if `id` names no supported hash.
    pub fn from_tpm_id(id: u16) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.tpm_id() == id)
    }

    /// The algorithm whose bank name is `name` ("sha1", "sha256", ...).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|alg| alg.name() == name)
    }

    /// The TPM_ALG_ID of this algorithm.
    pub fn tpm_id(self) -> u16 {
        match self {
            Self::Sha1 => 0x0004,
            Self::Sha256 => 0x000B,
            Self::Sha384 => 0x000C,
            Self::Sha512 => 0x000D,
        }
    }

    /// The lowercase bank name used in entries and claims.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha1 => "sha1",
            Self::Sha256 => "sha256",
            Self::Sha384 => "sha384",
            Self::Sha512 => "sha512",
        }
    }

    /// The digest length in bytes.
    pub fn digest_len(self) -> usize {
        match self {
            Self::Sha1 => 20,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }

    /// Hashes `data`; `None` for SHA-1, which is never used to sign or to
    /// compute a quote's PCR digest here.
    pub fn digest(self, data: &[u8]) -> Option<Vec<u8>> {
        match self {
            Self::Sha1 => None,
            Self::Sha256 => Some(Sha256::digest(data).to_vec()),
            Self::Sha384 => Some(Sha384::digest(data).to_vec()),
            Self::Sha512 => Some(Sha512::digest(data).to_vec()),
        }
    }
}

impl fmt::Display for HashAlg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Why a PCR selection string such as `sha1:0,1+sha256:0,7` was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PcrSpecError {
    /// The string (or a `+`-separated part of it) was empty.
    #[error("empty PCR selection (expected e.g. \"{DEFAULT_PCR_SELECTION}\")")]
    Empty,
    /// A part had no `bank:` prefix.
    #[error("PCR selection part {part:?} has no bank (expected e.g. \"sha256:0,7\")")]
    MissingBank {
        /// The offending part.
        part: String,
    },
    /// The bank name is not sha1, sha256, sha384 or sha512.
    #[error("unknown PCR bank {bank:?} (expected sha1, sha256, sha384 or sha512)")]
    UnknownBank {
        /// The offending bank name.
        bank: String,
    },
    /// The same bank appeared twice.
    #[error("PCR bank {bank} is selected twice")]
    DuplicateBank {
        /// The repeated bank.
        bank: HashAlg,
    },
    /// A bank was named with no indices after the colon.
    #[error("PCR bank {bank} has no PCR indices")]
    NoIndices {
        /// The bank without indices.
        bank: HashAlg,
    },
    /// An index was not a decimal number in 0..=23.
    #[error(
        "bad PCR index {index:?} in bank {bank} (expected a decimal number 0..={MAX_PCR_INDEX})"
    )]
    BadIndex {
        /// The bank the index was listed under.
        bank: HashAlg,
        /// The offending index text.
        index: String,
    },
    /// An index was listed twice in one bank.
    #[error("PCR {index} is listed twice in bank {bank}")]
    DuplicateIndex {
        /// The bank.
        bank: HashAlg,
        /// The repeated index.
        index: u8,
    },
}

/// A validated PCR selection: one or more distinct banks, each with a
/// non-empty set of distinct indices in 0..=23, in the order written.
///
/// Parsed from `bank:i,j,...[+bank:i,...]`, e.g. `sha1:0,1+sha256:0,7`;
/// [`Display`](fmt::Display) writes it back in that form, indices ascending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PcrSelectionSpec {
    /// Distinct banks, each with a non-empty index set.
    banks: Vec<(HashAlg, BTreeSet<u8>)>,
}

impl PcrSelectionSpec {
    /// The banks in the order given, each with its indices ascending.
    pub fn banks(&self) -> impl Iterator<Item = (HashAlg, &BTreeSet<u8>)> {
        self.banks.iter().map(|(bank, indices)| (*bank, indices))
    }
}

impl Default for PcrSelectionSpec {
    /// `sha256:0,1,2,3,7`.
    fn default() -> Self {
        Self {
            banks: vec![(HashAlg::Sha256, BTreeSet::from([0, 1, 2, 3, 7]))],
        }
    }
}

impl FromStr for PcrSelectionSpec {
    type Err = PcrSpecError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut banks: Vec<(HashAlg, BTreeSet<u8>)> = Vec::new();
        for part in text.trim().split('+') {
            let (bank, indices) = parse_bank_part(part.trim())?;
            if banks.iter().any(|(seen, _)| *seen == bank) {
                return Err(PcrSpecError::DuplicateBank { bank });
            }
            banks.push((bank, indices));
        }
        Ok(Self { banks })
    }
}

impl fmt::Display for PcrSelectionSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, (bank, indices)) in self.banks.iter().enumerate() {
            let list: Vec<String> = indices.iter().map(u8::to_string).collect();
            let sep = if n == 0 { "" } else { "+" };
            write!(f, "{sep}{bank}:{}", list.join(","))?;
        }
        Ok(())
    }
}

/// Parses one `bank:i,j,...` part.
fn parse_bank_part(part: &str) -> Result<(HashAlg, BTreeSet<u8>), PcrSpecError> {
    if part.is_empty() {
        return Err(PcrSpecError::Empty);
    }
    let Some((name, list)) = part.split_once(':') else {
        return Err(PcrSpecError::MissingBank {
            part: part.to_owned(),
        });
    };
    let bank = HashAlg::from_name(name.trim()).ok_or_else(|| PcrSpecError::UnknownBank {
        bank: name.trim().to_owned(),
    })?;
    if list.trim().is_empty() {
        return Err(PcrSpecError::NoIndices { bank });
    }
    let mut indices = BTreeSet::new();
    for item in list.split(',') {
        let index = parse_pcr_index(item.trim()).ok_or_else(|| PcrSpecError::BadIndex {
            bank,
            index: item.trim().to_owned(),
        })?;
        if !indices.insert(index) {
            return Err(PcrSpecError::DuplicateIndex { bank, index });
        }
    }
    Ok((bank, indices))
}

/// Parses a canonical decimal PCR index ("0".."23", no sign, no leading zero).
pub fn parse_pcr_index(text: &str) -> Option<u8> {
    let canonical = !text.is_empty()
        && text.len() <= 2
        && text.bytes().all(|b| b.is_ascii_digit())
        && !(text.len() > 1 && text.starts_with('0'));
    let index: u8 = if canonical {
        text.parse().ok()?
    } else {
        return None;
    };
    (index <= MAX_PCR_INDEX).then_some(index)
}

/// The attestation-key algorithm to create for a quote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AkAlgorithm {
    /// ECDSA on NIST P-256 with SHA-256 (the default: fast to create).
    #[default]
    EcdsaP256,
    /// RSA 2048 with RSASSA-PKCS#1 v1.5 and SHA-256.
    Rsa2048,
}

impl AkAlgorithm {
    /// The name used on the command line and in claims (`ecdsa-p256`, `rsa-2048`).
    pub fn name(self) -> &'static str {
        match self {
            Self::EcdsaP256 => "ecdsa-p256",
            Self::Rsa2048 => "rsa-2048",
        }
    }
}

impl fmt::Display for AkAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// An AK algorithm name other than `ecdsa-p256` or `rsa-2048`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown AK algorithm {0:?} (expected ecdsa-p256 or rsa-2048)")]
pub struct AkAlgorithmError(pub String);

impl FromStr for AkAlgorithm {
    type Err = AkAlgorithmError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "ecdsa-p256" => Ok(Self::EcdsaP256),
            "rsa-2048" => Ok(Self::Rsa2048),
            other => Err(AkAlgorithmError(other.to_owned())),
        }
    }
}
