//! The raw 1184-byte report: decoding, parsing with `sev`, and its signature.
//!
//! The signature is checked over the raw bytes as received. `sev`'s own
//! `(&Certificate, &AttestationReport)::verify` hashes a re-encoding of the
//! parsed report, in which the reserved bytes 2..6 of each legacy TCB field
//! (current, reported, committed, launch) are zero whatever the report held:
//! alone, it accepts a report altered in any of those 16 bytes. Here the
//! re-encoding must equal the raw report, so every one of the 0x2a0 signed
//! bytes counts, and the unsigned rest of the signature field must be zero.

use std::ops::Range;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sev::Generation;
use sev::certs::snp::Verifiable as _;
use sev::firmware::guest::AttestationReport;
use sev::parser::ByteParser as _;

use super::error::SevSnpError;
use super::product::{Product, SigningKey};

/// Length of every SEV-SNP attestation report.
pub(super) const REPORT_LEN: usize = 1184;
/// ECDSA P-384 with SHA-384, the only algorithm AMD defines.
const ECDSA_P384_SHA384: u32 = 1;
const R_AT: usize = 0x2a0;
const S_AT: usize = 0x2e8;
const SCALAR_LEN: usize = 48;
const COMPONENT_LEN: usize = 72;

/// A report exactly as received, length already checked.
pub(super) type RawReport = [u8; REPORT_LEN];

/// Decodes base64 and insists on exactly [`REPORT_LEN`] bytes.
pub(super) fn decode(b64: &str) -> Result<RawReport, SevSnpError> {
    let bytes = STANDARD
        .decode(b64)
        .map_err(|e| SevSnpError::ReportBase64 {
            reason: e.to_string(),
        })?;
    let actual = bytes.len();
    RawReport::try_from(bytes.as_slice()).map_err(|_| SevSnpError::ReportLength { actual })
}

/// Parses with `sev`, after refusing versions before 2 and foreign algorithms.
pub(super) fn parse(raw: &RawReport) -> Result<AttestationReport, SevSnpError> {
    let version = u32::from_le_bytes([raw[0], raw[1], raw[2], raw[3]]);
    if version < 2 {
        return Err(SevSnpError::UnsupportedReportVersion { version });
    }
    let report = AttestationReport::from_bytes(raw).map_err(|e| SevSnpError::ReportParse {
        reason: e.to_string(),
    })?;
    if report.sig_algo != ECDSA_P384_SHA384 {
        return Err(SevSnpError::SignatureAlgorithm {
            found: report.sig_algo,
        });
    }
    Ok(report)
}

/// The key the report says signed it; refuses unsigned reports.
pub(super) fn signing_key(report: &AttestationReport) -> Result<SigningKey, SevSnpError> {
    if report.key_info.mask_chip_key() {
        return Err(SevSnpError::UnsignedReport);
    }
    match report.key_info.signing_key() {
        0 => Ok(SigningKey::Vcek),
        1 => Ok(SigningKey::Vlek),
        7 => Err(SevSnpError::UnsignedReport),
        found => Err(SevSnpError::UnknownSigningKey { found }),
    }
}

/// The product named by the report's CPUID fields (report version 3 and
/// later), or `None` for a version 2 report, which has no such fields.
pub(super) fn cpu_product(report: &AttestationReport) -> Result<Option<Product>, SevSnpError> {
    let (Some(family), Some(model)) = (report.cpuid_fam_id, report.cpuid_mod_id) else {
        return Ok(None);
    };
    match Generation::identify_cpu(family, model) {
        Ok(Generation::Milan) => Ok(Some(Product::Milan)),
        Ok(Generation::Genoa) => Ok(Some(Product::Genoa)),
        Ok(Generation::Turin) => Ok(Some(Product::Turin)),
        _ => Err(SevSnpError::UnsupportedCpu { family, model }),
    }
}

/// Checks the ECDSA P-384 signature over the raw bytes `0..0x2a0`.
///
/// `sev`'s check hashes its own re-encoding of `parsed`, which drops the
/// reserved bytes of the TCB fields; requiring that re-encoding to equal
/// `raw`, byte for byte, makes it a check over the bytes as received.
pub(super) fn verify_signature(
    raw: &RawReport,
    parsed: &AttestationReport,
    vek: &sev::certs::snp::Certificate,
    which: SigningKey,
) -> Result<(), SevSnpError> {
    require_zero(raw, R_AT + SCALAR_LEN..R_AT + COMPONENT_LEN)?;
    require_zero(raw, S_AT + SCALAR_LEN..S_AT + COMPONENT_LEN)?;
    require_zero(raw, S_AT + COMPONENT_LEN..REPORT_LEN)?;
    require_canonical(raw, parsed)?;
    (vek, parsed)
        .verify()
        .map_err(|e| SevSnpError::BadSignature {
            key: which,
            reason: e.to_string(),
        })
}

fn require_zero(raw: &RawReport, range: Range<usize>) -> Result<(), SevSnpError> {
    let start = range.start;
    match raw[range].iter().position(|&b| b != 0) {
        Some(at) => Err(SevSnpError::SignaturePadding { offset: start + at }),
        None => Ok(()),
    }
}

/// `raw` must be exactly what `sev` re-encodes from its parse of it.
fn require_canonical(raw: &RawReport, parsed: &AttestationReport) -> Result<(), SevSnpError> {
    let encoded = parsed.to_bytes().map_err(|e| SevSnpError::ReportParse {
        reason: format!("cannot re-encode the parsed report: {e}"),
    })?;
    match raw.iter().zip(encoded.iter()).position(|(a, b)| a != b) {
        Some(offset) => Err(SevSnpError::ReservedNotZero { offset }),
        None => Ok(()),
    }
}
