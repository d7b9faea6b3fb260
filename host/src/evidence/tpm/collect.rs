//! Collecting a quote from a TPM through tss-esapi (feature `tpm-collect`).
//!
//! Each call opens the TCTI, creates the TCG default ECC P-256 endorsement
//! key (EK) as a transient primary, creates and loads a fresh attestation
//! key (AK) under it with the tss-esapi `ak` abstraction (restricted signing
//! key, policy-authorised by the endorsement hierarchy), runs TPM2_Quote
//! with the nonce as qualifyingData, reads the quoted PCRs, and flushes both
//! keys. The AK is therefore new each time: its fingerprint identifies one
//! quote, not one machine. Binding it to the TPM (credential activation
//! against the EK certificate) is out of scope here.

use std::collections::BTreeMap;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::pkcs8::{EncodePublicKey as _, LineEnding};
use tss_esapi::Context;
use tss_esapi::abstraction::{DefaultKey, ak, ek, pcr};
use tss_esapi::handles::KeyHandle;
use tss_esapi::interface_types::algorithm::{
    AsymmetricAlgorithm, HashingAlgorithm, SignatureSchemeAlgorithm,
};
use tss_esapi::structures::{
    Data, PcrSelectionList, PcrSelectionListBuilder, PcrSlot, Public, RsaExponent, SignatureScheme,
};
use tss_esapi::tcti_ldr::TctiNameConf;
use tss_esapi::traits::Marshall as _;

use super::{AkAlgorithm, HashAlg, PcrSelectionSpec, TpmEntry, TpmError, verify};

/// How often a quote is retaken when a PCR changed between quoting and reading.
const ATTEMPTS: usize = 3;

/// The largest nonce a TPM2B_DATA qualifyingData can carry through tss-esapi.
pub const MAX_NONCE_LEN: usize = 64;

/// What to quote, and where.
#[derive(Debug, Clone, Copy)]
pub struct QuoteRequest<'a> {
    /// A TCTI configuration string, e.g. `device:/dev/tpmrm0` or
    /// `swtpm:host=127.0.0.1,port=2321`.
    pub tcti: &'a str,
    /// The verifier's nonce, at most [`MAX_NONCE_LEN`] bytes; it becomes extraData.
    pub nonce: &'a [u8],
    /// The PCRs to quote.
    pub pcrs: &'a PcrSelectionSpec,
    /// The AK algorithm to create.
    pub ak_algorithm: AkAlgorithm,
}

/// Why collecting a quote failed. Each TPM step has its own variant.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    /// The nonce does not fit qualifyingData.
    #[error("nonce is {len} bytes, more than the {MAX_NONCE_LEN} a quote can carry")]
    NonceTooLong {
        /// Its length.
        len: usize,
    },
    /// The TCTI string did not parse.
    #[error("bad TCTI {tcti:?}: {source}")]
    Tcti {
        /// The string.
        tcti: String,
        /// The tss-esapi error.
        source: tss_esapi::Error,
    },
    /// A TPM or tss-esapi step failed.
    #[error("TPM {step} failed: {source}")]
    Tpm {
        /// The step: "open context", "create EK", "create AK", "load AK",
        /// "quote", "read PCRs", "marshal".
        step: &'static str,
        /// The tss-esapi error.
        source: tss_esapi::Error,
    },
    /// The AK's public area could not be turned into a PEM SubjectPublicKeyInfo.
    #[error("AK public key: {0}")]
    AkPublic(String),
    /// The TPM did not return a value for a selected PCR.
    #[error("the TPM returned no value for {bank} PCR {index}")]
    MissingPcr {
        /// The bank.
        bank: HashAlg,
        /// The index.
        index: u8,
    },
    /// The assembled entry failed verification (for a PCR digest mismatch:
    /// PCRs kept changing over every attempt).
    #[error("the collected quote does not verify: {0}")]
    SelfCheck(#[source] TpmError),
}

/// Takes a quote and returns it as an entry that [`verify`] accepts with
/// `Some(req.nonce)`: the result is verified before it is returned, and
/// retaken (up to 3 times) if a PCR was extended between quote and read.
pub fn quote(req: &QuoteRequest<'_>) -> Result<TpmEntry, CollectError> {
    if req.nonce.len() > MAX_NONCE_LEN {
        return Err(CollectError::NonceTooLong {
            len: req.nonce.len(),
        });
    }
    let tcti = TctiNameConf::from_str(req.tcti).map_err(|source| CollectError::Tcti {
        tcti: req.tcti.to_owned(),
        source,
    })?;
    let mut ctx = Context::new(tcti).map_err(tpm("open context"))?;
    let ek = ek::create_ek_object(&mut ctx, AsymmetricAlgorithm::Ecc, DefaultKey)
        .map_err(tpm("create EK"))?;
    let result = quote_under_ek(&mut ctx, ek, req);
    // Best effort: the context's drop does not flush transient objects.
    let _ = ctx.flush_context(ek.into());
    result
}

/// Maps a tss-esapi error to [`CollectError::Tpm`] for `step`.
fn tpm(step: &'static str) -> impl Fn(tss_esapi::Error) -> CollectError {
    move |source| CollectError::Tpm { step, source }
}

/// Creates and loads the AK, quotes, and flushes the AK.
fn quote_under_ek(
    ctx: &mut Context,
    ek: KeyHandle,
    req: &QuoteRequest<'_>,
) -> Result<TpmEntry, CollectError> {
    let (sign_alg, hash) = match req.ak_algorithm {
        AkAlgorithm::EcdsaP256 => (SignatureSchemeAlgorithm::EcDsa, HashingAlgorithm::Sha256),
        AkAlgorithm::Rsa2048 => (SignatureSchemeAlgorithm::RsaSsa, HashingAlgorithm::Sha256),
    };
    let created =
        ak::create_ak(ctx, ek, hash, sign_alg, None, DefaultKey).map_err(tpm("create AK"))?;
    let ak_pem = public_to_pem(&created.out_public)?;
    let ak = ak::load_ak(ctx, ek, None, created.out_private, created.out_public)
        .map_err(tpm("load AK"))?;
    let result = quote_with_retries(ctx, ak, &ak_pem, req);
    let _ = ctx.flush_context(ak.into());
    result
}

/// Quotes and reads PCRs until the entry verifies or attempts run out.
fn quote_with_retries(
    ctx: &mut Context,
    ak: KeyHandle,
    ak_pem: &str,
    req: &QuoteRequest<'_>,
) -> Result<TpmEntry, CollectError> {
    let selection = selection_list(req.pcrs)?;
    let mut attempt = 1;
    loop {
        let entry = quote_once(ctx, ak, ak_pem, req, &selection)?;
        match verify(&entry, Some(req.nonce)) {
            Ok(_) => return Ok(entry),
            Err(TpmError::PcrDigestMismatch { .. }) if attempt < ATTEMPTS => {
                attempt = attempt.saturating_add(1);
            }
            Err(e) => return Err(CollectError::SelfCheck(e)),
        }
    }
}

/// One TPM2_Quote followed by a PCR read.
fn quote_once(
    ctx: &mut Context,
    ak: KeyHandle,
    ak_pem: &str,
    req: &QuoteRequest<'_>,
    selection: &PcrSelectionList,
) -> Result<TpmEntry, CollectError> {
    let nonce = Data::try_from(req.nonce.to_vec()).map_err(tpm("quote"))?;
    let (attest, signature) = ctx
        .execute_with_nullauth_session(|ctx| {
            ctx.quote(ak, nonce, SignatureScheme::Null, selection.clone())
        })
        .map_err(tpm("quote"))?;
    let pcrs = read_pcrs(ctx, req.pcrs, selection)?;
    Ok(TpmEntry {
        ak_public: ak_pem.to_owned(),
        quote: STANDARD.encode(attest.marshall().map_err(tpm("marshal"))?),
        signature: STANDARD.encode(signature.marshall().map_err(tpm("marshal"))?),
        pcrs,
    })
}

/// The tss-esapi selection for a spec.
fn selection_list(spec: &PcrSelectionSpec) -> Result<PcrSelectionList, CollectError> {
    let mut builder = PcrSelectionListBuilder::new();
    for (bank, indices) in spec.banks() {
        let slots: Vec<PcrSlot> = indices.iter().filter_map(|i| pcr_slot(*i)).collect();
        builder = builder.with_selection(hashing_algorithm(bank), &slots);
    }
    builder.build().map_err(tpm("build PCR selection"))
}

/// The tss-esapi slot for a PCR index (indices are at most 23).
fn pcr_slot(index: u8) -> Option<PcrSlot> {
    PcrSlot::try_from(1u32.checked_shl(u32::from(index))?).ok()
}

/// The tss-esapi algorithm for a bank.
fn hashing_algorithm(bank: HashAlg) -> HashingAlgorithm {
    match bank {
        HashAlg::Sha1 => HashingAlgorithm::Sha1,
        HashAlg::Sha256 => HashingAlgorithm::Sha256,
        HashAlg::Sha384 => HashingAlgorithm::Sha384,
        HashAlg::Sha512 => HashingAlgorithm::Sha512,
    }
}

/// Reads the selected PCRs (several TPM2_PCR_Read calls if needed: a TPM
/// returns at most 8 digests per call) into the entry's `pcrs` form.
fn read_pcrs(
    ctx: &mut Context,
    spec: &PcrSelectionSpec,
    selection: &PcrSelectionList,
) -> Result<BTreeMap<String, BTreeMap<String, String>>, CollectError> {
    let data = pcr::read_all(ctx, selection.clone()).map_err(tpm("read PCRs"))?;
    let mut out = BTreeMap::new();
    for (bank, indices) in spec.banks() {
        let mut values = BTreeMap::new();
        for &index in indices {
            let digest = data
                .pcr_bank(hashing_algorithm(bank))
                .zip(pcr_slot(index))
                .and_then(|(values, slot)| values.get_digest(slot))
                .ok_or(CollectError::MissingPcr { bank, index })?;
            values.insert(index.to_string(), hex::encode(digest.value()));
        }
        out.insert(bank.name().to_owned(), values);
    }
    Ok(out)
}

/// Encodes an AK public area as a PEM SubjectPublicKeyInfo.
fn public_to_pem(public: &Public) -> Result<String, CollectError> {
    let der_or_pem = match public {
        Public::Ecc { unique, .. } => ecc_pem(unique.x().value(), unique.y().value()),
        Public::Rsa {
            unique, parameters, ..
        } => rsa_pem(unique.value(), parameters.exponent()),
        _ => Err("the AK is neither ECC nor RSA".to_owned()),
    };
    der_or_pem.map_err(CollectError::AkPublic)
}

/// PEM for a P-256 point given as TPM x and y coordinates.
fn ecc_pem(x: &[u8], y: &[u8]) -> Result<String, String> {
    let mut sec1 = vec![0x04];
    sec1.extend_from_slice(&left_pad_32(x)?);
    sec1.extend_from_slice(&left_pad_32(y)?);
    let key = p256::PublicKey::from_sec1_bytes(&sec1).map_err(|e| format!("P-256 point: {e}"))?;
    key.to_public_key_pem(LineEnding::LF)
        .map_err(|e| format!("PEM encoding: {e}"))
}

/// Left-pads a coordinate to 32 bytes.
fn left_pad_32(value: &[u8]) -> Result<[u8; 32], String> {
    let start = 32usize
        .checked_sub(value.len())
        .ok_or_else(|| format!("coordinate is {} bytes, more than 32", value.len()))?;
    let mut out = [0u8; 32];
    if let Some(tail) = out.get_mut(start..) {
        tail.copy_from_slice(value);
    }
    Ok(out)
}

/// PEM for an RSA modulus and TPM exponent (0 means 65537).
fn rsa_pem(modulus: &[u8], exponent: RsaExponent) -> Result<String, String> {
    let e = match exponent.value() {
        0 => 65_537,
        e => e,
    };
    let key = rsa::RsaPublicKey::new(rsa::BigUint::from_bytes_be(modulus), rsa::BigUint::from(e))
        .map_err(|e| format!("RSA key: {e}"))?;
    key.to_public_key_pem(LineEnding::LF)
        .map_err(|e| format!("PEM encoding: {e}"))
}
