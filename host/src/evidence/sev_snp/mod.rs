//! AMD SEV-SNP attestation reports: verification and collection.
//!
//! [`verify`] accepts a report only when all of these hold:
//!
//! 1. the report is exactly 1184 bytes, version 2 or later, signed with
//!    ECDSA P-384/SHA-384 by the VCEK or VLEK its KEY_INFO names;
//! 2. the VCEK/VLEK certificate is in the entry (nothing is fetched);
//! 3. the chain ARK → ASK (or ASVK) → VCEK (or VLEK) verifies, ARK
//!    self-signature included, and the ARK carries the key of AMD's bundled
//!    Milan, Genoa or Turin ARK, whether or not the entry supplies the chain;
//! 4. the report's CPUID product (report version 3+) is the chain's product;
//! 5. the signature verifies over the raw bytes 0..0x2a0 as received (every
//!    reserved byte there zero), and the unsigned rest of the signature
//!    field is zero;
//! 6. the certificate's TCB extensions equal the report's reported_tcb, and
//!    a VCEK's hwID equals the report's chip_id;
//! 7. report_data binds the expected nonce, if one is given (see [`verify`]).

mod chain;
mod claims;
mod collect;
mod error;
mod extensions;
mod product;
mod report;
mod roots;

pub use claims::{Platform, Policy, SevSnpClaims, Tcb};
pub use collect::collect;
pub use error::{CollectError, SevSnpError};
pub use product::{Product, SigningKey};

/// JSON entry `{"type":"sev-snp", "report": "<base64, 1184 bytes>", "vcek":
/// "<base64 DER, optional>", "cert_chain": "<PEM ASK+ARK (or ASVK+ARK for a
/// VLEK), optional>"}` minus "type".
///
/// Deserialisation refuses unknown fields. Base64 is the standard alphabet
/// with padding. `vcek` holds the VCEK or the VLEK, whichever signed the
/// report; `cert_chain` holds the ASK (or ASVK) and the ARK in either order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct SevSnpEntry {
    /// The attestation report, base64 of exactly 1184 bytes.
    pub report: String,
    /// The VCEK or VLEK certificate, base64 of DER. Required by [`verify`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vcek: Option<String>,
    /// The ASK+ARK (or ASVK+ARK) as PEM. Without it the bundled roots are used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_chain: Option<String>,
}

/// Verifies an SEV-SNP entry and returns the claims of its report.
///
/// Returns claims only if every check listed in the [module
/// documentation](self) passes; otherwise the error names the first failed
/// check. Never panics and never uses the network.
///
/// Nonce binding rule: when `expected_nonce` is `Some(n)`, `n` must be 1 to
/// 64 bytes (else [`SevSnpError::NonceLength`]), and the report's 64-byte
/// report_data must equal `n` followed by zero bytes up to 64 bytes (else
/// [`SevSnpError::NonceMismatch`]). With `None`, report_data is not checked.
pub fn verify(
    entry: &SevSnpEntry,
    expected_nonce: Option<&[u8]>,
) -> Result<SevSnpClaims, SevSnpError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    verify_at(entry, expected_nonce, now)
}

/// [`verify`] as of `now` (unix seconds): the VCEK (or VLEK) and any supplied
/// chain certificates must be within their validity periods then.
pub fn verify_at(
    entry: &SevSnpEntry,
    expected_nonce: Option<&[u8]>,
    now: u64,
) -> Result<SevSnpClaims, SevSnpError> {
    let expected = expected_nonce.map(padded_nonce).transpose()?;
    let raw = report::decode(&entry.report)?;
    let parsed = report::parse(&raw)?;
    let key = report::signing_key(&parsed)?;
    let vek = chain::decode_vek(entry.vcek.as_deref(), key)?;
    chain::check_validity(&vek.cert, key.name(), now)?;
    let hint = report::cpu_product(&parsed)?;
    let product = chain::verify_chain(&vek, key, entry.cert_chain.as_deref(), hint, now)?;
    report::verify_signature(&raw, &parsed, &vek.sev, key)?;
    extensions::check(&vek.cert, key, product, &parsed)?;
    if let Some(expected) = expected {
        check_nonce(&expected, &parsed.report_data)?;
    }
    Ok(claims::build(&parsed, product, key, &vek.der))
}

/// `nonce` zero-padded to 64 bytes; refuses empty or longer nonces.
fn padded_nonce(nonce: &[u8]) -> Result<[u8; 64], SevSnpError> {
    let len = nonce.len();
    if !(1..=64).contains(&len) {
        return Err(SevSnpError::NonceLength { len });
    }
    let mut padded = [0u8; 64];
    padded[..len].copy_from_slice(nonce);
    Ok(padded)
}

fn check_nonce(expected: &[u8; 64], report_data: &[u8; 64]) -> Result<(), SevSnpError> {
    if expected == report_data {
        return Ok(());
    }
    Err(SevSnpError::NonceMismatch {
        expected: hex::encode(expected),
        found: hex::encode(report_data),
    })
}

#[cfg(test)]
mod tests;
