//! TPM 2.0 quote evidence: verification (pure Rust) and, behind the
//! `tpm-collect` feature, collection from a TPM through tss-esapi.
//!
//! An entry carries an attestation key (AK) as a PEM SubjectPublicKeyInfo,
//! a marshalled TPMS_ATTEST produced by TPM2_Quote, the marshalled
//! TPMT_SIGNATURE over it, and the PCR values the quote covers. [`verify`]
//! accepts the entry only if all of these hold:
//!
//! * the AK is ECDSA P-256 or RSA of at least 2048 bits;
//! * the signature is the AK's (ECDSA, or RSASSA-PKCS1-v1_5) over the hash
//!   named in the signature (SHA-256, SHA-384 or SHA-512) of the quote bytes;
//! * the quote starts with TPM_GENERATED_VALUE and is a TPM_ST_ATTEST_QUOTE,
//!   and has no trailing bytes;
//! * extraData equals the expected nonce, when one is given;
//! * the quote's PCR selection is exactly the set of reported PCRs, and
//!   pcrDigest is the hash of the reported values concatenated in selection
//!   order (banks as listed in the quote, indices ascending).
//!
//! The pcrDigest hash is the signing scheme's hash, not the PCR bank's:
//! TPM2_Quote (Library Part 3, 18.4) computes it with the scheme's hashAlg,
//! so quoting a SHA-1 bank with an ECDSA-SHA256 key gives a 32-byte SHA-256
//! digest of the 20-byte SHA-1 values. This was checked against swtpm.
//!
//! The AK is not tied to a TPM here: the caller (policy) decides which AK
//! fingerprints to trust, e.g. from an EK-certified credential activation.
//! qualifiedSigner is reported but not checked (it is the AK's TPM name,
//! which needs the TPMT_PUBLIC, not the SubjectPublicKeyInfo, to recompute).

mod ak;
mod attest;
#[cfg(feature = "tpm-collect")]
mod collect;
mod pcrs;
mod reader;
mod signature;
mod spec;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

pub use ak::{MAX_AK_PEM_LEN, MIN_RSA_BITS};
pub use attest::{ClockInfo, MAX_QUOTE_LEN, TPM_GENERATED_VALUE, TPM_ST_ATTEST_QUOTE};
#[cfg(feature = "tpm-collect")]
pub use collect::{CollectError, QuoteRequest, quote};
pub use signature::{MAX_SIGNATURE_LEN, TPM_ALG_ECDSA, TPM_ALG_RSASSA};
pub use spec::{
    AkAlgorithm, AkAlgorithmError, DEFAULT_PCR_SELECTION, HashAlg, MAX_PCR_INDEX, PcrSelectionSpec,
    PcrSpecError,
};

/// The JSON entry `{"type":"tpm", "ak_public": "<PEM SPKI>", "quote":
/// "<base64 TPMS_ATTEST>", "signature": "<base64 TPMT_SIGNATURE>", "pcrs":
/// {"sha256": {"0": "<hex>", ...}}}` minus the "type" tag.
///
/// Deserialising refuses unknown fields; the contents are checked by [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct TpmEntry {
    /// The attestation key, a PEM `PUBLIC KEY` (SubjectPublicKeyInfo).
    pub ak_public: String,
    /// The marshalled TPMS_ATTEST, standard base64 with padding.
    pub quote: String,
    /// The marshalled TPMT_SIGNATURE, standard base64 with padding.
    pub signature: String,
    /// Bank name ("sha1", "sha256", "sha384", "sha512") to decimal PCR
    /// index ("0".."23") to the PCR value in lowercase hex.
    pub pcrs: BTreeMap<String, BTreeMap<String, String>>,
}

/// What a verified quote establishes. Field names and formats are stable:
/// policies read them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TpmClaims {
    /// `sha256:` + hex SHA-256 of the AK's DER SubjectPublicKeyInfo.
    pub ak_fingerprint: String,
    /// `ecdsa-p256` or `rsa-<bits>` (e.g. `rsa-2048`).
    pub ak_algorithm: String,
    /// `ecdsa-<hash>` or `rsassa-<hash>`, e.g. `ecdsa-sha256`.
    pub signature_algorithm: String,
    /// Bank to PCR index (numeric order) to lowercase hex value; exactly the
    /// PCRs the signed quote covers.
    pub pcrs: BTreeMap<String, BTreeMap<u8, String>>,
    /// The quote's pcrDigest, lowercase hex.
    pub pcr_digest: String,
    /// The quote's extraData (the nonce), lowercase hex.
    pub nonce: String,
    /// The quote's qualifiedSigner (the AK's TPM name), lowercase hex; not checked.
    pub qualified_signer: String,
    /// The TPM clock when it signed.
    pub clock: ClockInfo,
    /// The vendor-defined firmware version. Not serialized: it often exceeds
    /// 2^53, which JSON numbers (and so the canonical claims a policy sees)
    /// cannot carry exactly; `firmware_version_hex` carries it instead.
    #[serde(skip)]
    pub firmware_version: u64,
    /// `firmware_version` as 16 lowercase hex digits.
    pub firmware_version_hex: String,
}

/// Why a TPM entry was rejected. Each variant names one check; messages
/// name the field and, for parse errors, the byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TpmError {
    /// An input field is longer than accepted.
    #[error("`{field}` is {len} bytes, more than the {max} accepted")]
    TooLarge {
        /// The entry field.
        field: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// A base64 field did not decode.
    #[error("`{field}` is not standard base64: {reason}")]
    Base64 {
        /// The entry field.
        field: &'static str,
        /// The decoder's complaint.
        reason: String,
    },
    /// The quote ended inside a field.
    #[error("quote truncated at offset {at}: {field} needs {needed} bytes, {available} remain")]
    QuoteTruncated {
        /// The TPMS_ATTEST field being read.
        field: &'static str,
        /// Its offset.
        at: usize,
        /// Bytes it needs.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// The signature ended inside a field.
    #[error("signature truncated at offset {at}: {field} needs {needed} bytes, {available} remain")]
    SignatureTruncated {
        /// The TPMT_SIGNATURE field being read.
        field: &'static str,
        /// Its offset.
        at: usize,
        /// Bytes it needs.
        needed: usize,
        /// Bytes left.
        available: usize,
    },
    /// A sized field declares more bytes than its type allows.
    #[error("{blob} field {field} at offset {at} has size {size}, more than {max}")]
    FieldTooLarge {
        /// "quote" or "signature".
        blob: &'static str,
        /// The field.
        field: &'static str,
        /// Offset of its size.
        at: usize,
        /// The declared size.
        size: usize,
        /// The limit.
        max: usize,
    },
    /// Bytes follow the end of the structure.
    #[error("{blob} has {extra} trailing bytes after offset {at}")]
    TrailingBytes {
        /// "quote" or "signature".
        blob: &'static str,
        /// Where the structure ended.
        at: usize,
        /// How many bytes follow.
        extra: usize,
    },
    /// The quote's magic is not TPM_GENERATED_VALUE, so the TPM did not make it.
    #[error("quote magic is {0:#010x}, not TPM_GENERATED_VALUE 0xff544347")]
    BadMagic(u32),
    /// The attestation is not a quote.
    #[error("quote type is {0:#06x}, not TPM_ST_ATTEST_QUOTE 0x8018")]
    WrongType(u16),
    /// clockInfo.safe is neither 0 nor 1.
    #[error("quote clockInfo.safe at offset {at} is {value}, not 0 or 1")]
    BadSafeFlag {
        /// Its offset.
        at: usize,
        /// The value.
        value: u8,
    },
    /// The quote's PCR selection lists too many banks.
    #[error("quote selects {count} PCR banks, more than {max}")]
    TooManyPcrBanks {
        /// The count.
        count: u32,
        /// The limit.
        max: u32,
    },
    /// The quote's PCR selection lists a bank twice.
    #[error("quote selects PCR bank {bank} twice")]
    DuplicatePcrBank {
        /// The bank.
        bank: &'static str,
    },
    /// The quote selects a bank other than SHA-1/256/384/512.
    #[error("quote selects unsupported PCR bank algorithm {0:#06x}")]
    UnsupportedPcrBank(u16),
    /// The quote selects a PCR above 23.
    #[error("quote selects {bank} PCR {index}, above {max}", max = MAX_PCR_INDEX)]
    PcrIndexOutOfRange {
        /// The bank.
        bank: &'static str,
        /// The index.
        index: u8,
    },
    /// The signature scheme is not ECDSA or RSASSA.
    #[error("unsupported signature algorithm {0:#06x} (expected ECDSA 0x0018 or RSASSA 0x0014)")]
    UnsupportedSignatureAlgorithm(u16),
    /// The signature's hash is not SHA-256/384/512.
    #[error("unsupported signature hash algorithm {0:#06x} (expected SHA-256, SHA-384 or SHA-512)")]
    UnsupportedHash(u16),
    /// `ak_public` is not a usable key.
    #[error("`ak_public`: {0}")]
    AkKey(String),
    /// The RSA AK is too small.
    #[error("`ak_public` is a {bits}-bit RSA key, below the {MIN_RSA_BITS} bits required")]
    AkTooSmall {
        /// The modulus size.
        bits: usize,
    },
    /// The signature scheme does not fit the AK's type.
    #[error("signature is {signature} but the AK is {key}")]
    SignatureKeyMismatch {
        /// The signature algorithm.
        signature: String,
        /// The AK algorithm.
        key: String,
    },
    /// The signature values are out of range for the key.
    #[error("malformed signature: {reason}")]
    SignatureMalformed {
        /// What is wrong.
        reason: String,
    },
    /// The signature does not verify under the AK.
    #[error("the quote signature does not verify under `ak_public`")]
    SignatureInvalid,
    /// extraData is not the expected nonce.
    #[error("quote nonce (extraData) is {quoted:?}, expected {expected:?}")]
    NonceMismatch {
        /// Expected, hex.
        expected: String,
        /// Quoted, hex.
        quoted: String,
    },
    /// A `pcrs` bank name is not sha1/sha256/sha384/sha512.
    #[error("`pcrs` has unknown bank {bank:?} (expected sha1, sha256, sha384 or sha512)")]
    UnknownPcrBank {
        /// The name.
        bank: String,
    },
    /// A `pcrs` bank has no values.
    #[error("`pcrs` bank {bank} is empty")]
    EmptyPcrBank {
        /// The bank.
        bank: &'static str,
    },
    /// A `pcrs` index is not a canonical decimal 0..=23.
    #[error("`pcrs` bank {bank} has bad index {index:?} (expected decimal 0..=23)")]
    BadPcrIndex {
        /// The bank.
        bank: &'static str,
        /// The index text.
        index: String,
    },
    /// A `pcrs` value is not lowercase hex of the bank's digest length.
    #[error("`pcrs` {bank} PCR {index}: {reason}")]
    BadPcrValue {
        /// The bank.
        bank: &'static str,
        /// The index.
        index: u8,
        /// What is wrong.
        reason: String,
    },
    /// The quote covers different PCRs than `pcrs` reports.
    #[error("PCR selection mismatch: {detail}")]
    PcrSelectionMismatch {
        /// The first difference.
        detail: String,
    },
    /// The reported PCR values do not hash to the quoted pcrDigest.
    #[error("pcrDigest mismatch: quote has {quoted}, the reported PCR values hash to {computed}")]
    PcrDigestMismatch {
        /// From the quote, hex.
        quoted: String,
        /// Recomputed, hex.
        computed: String,
    },
}

/// Verifies a TPM quote entry (see the module docs for every check) and
/// returns its claims. With `expected_nonce`, extraData must equal it
/// byte for byte; with `None` the nonce is only reported.
pub fn verify(entry: &TpmEntry, expected_nonce: Option<&[u8]>) -> Result<TpmClaims, TpmError> {
    let ak = ak::parse_ak(&entry.ak_public)?;
    let quote_bytes = decode_base64("quote", &entry.quote, MAX_QUOTE_LEN)?;
    let quote = attest::parse_quote(&quote_bytes)?;
    let signature_bytes = decode_base64("signature", &entry.signature, MAX_SIGNATURE_LEN)?;
    let sig = signature::parse_signature(&signature_bytes)?;
    let reported = pcrs::parse_reported(&entry.pcrs)?;

    signature::verify_signature(&ak.key, &sig, &quote_bytes)?;
    check_nonce(expected_nonce, &quote.extra_data)?;
    pcrs::check_selection(&quote.selection, &reported)?;
    pcrs::check_digest(&quote.selection, &reported, sig.hash(), &quote.pcr_digest)?;
    Ok(claims(&ak, &sig, &quote, &reported))
}

/// Decodes standard base64, refusing text whose decoding could exceed `max`.
fn decode_base64(field: &'static str, text: &str, max: usize) -> Result<Vec<u8>, TpmError> {
    let max_text = max.div_ceil(3).saturating_mul(4);
    if text.len() > max_text {
        return Err(TpmError::TooLarge {
            field,
            len: text.len(),
            max: max_text,
        });
    }
    STANDARD.decode(text).map_err(|e| TpmError::Base64 {
        field,
        reason: e.to_string(),
    })
}

/// Compares extraData with the expected nonce, if any.
fn check_nonce(expected: Option<&[u8]>, quoted: &[u8]) -> Result<(), TpmError> {
    match expected {
        Some(expected) if expected != quoted => Err(TpmError::NonceMismatch {
            expected: hex::encode(expected),
            quoted: hex::encode(quoted),
        }),
        _ => Ok(()),
    }
}

/// Builds the claims of an entry that passed every check.
fn claims(
    ak: &ak::ParsedAk,
    sig: &signature::TpmSignature,
    quote: &attest::Quote,
    reported: &pcrs::PcrValues,
) -> TpmClaims {
    let pcrs = reported
        .iter()
        .map(|(bank, values)| {
            let values = values.iter().map(|(i, v)| (*i, hex::encode(v))).collect();
            (bank.name().to_owned(), values)
        })
        .collect();
    TpmClaims {
        ak_fingerprint: ak.fingerprint(),
        ak_algorithm: ak.key.algorithm_name(),
        signature_algorithm: sig.algorithm_name(),
        pcrs,
        pcr_digest: hex::encode(&quote.pcr_digest),
        nonce: hex::encode(&quote.extra_data),
        qualified_signer: hex::encode(&quote.qualified_signer),
        clock: quote.clock,
        firmware_version: quote.firmware_version,
        firmware_version_hex: format!("{:016x}", quote.firmware_version),
    }
}
