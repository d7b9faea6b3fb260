//! Collecting a quote from a TPM through tss-esapi (feature `tpm-collect`).
//!
//! Each call opens the TCTI, creates the TCG default ECC P-256 endorsement
//! key (EK) as a transient primary, creates and loads a fresh attestation
//! key (AK) under it with the tss-esapi `ak` abstraction (restricted signing
//! key, policy-authorised by the endorsement hierarchy), runs TPM2_Quote
//! with the nonce as qualifyingData, reads the quoted PCRs, and flushes both
//! keys. Such an AK is new each time: its fingerprint identifies one quote,
//! not one machine.
//!
//! With [`QuoteRequest::persistent_ak`], the AK is kept at that persistent
//! handle instead: made (and persisted with TPM2_EvictControl) on the first
//! call, loaded from the handle on later ones, so every quote of the machine
//! carries the same AK fingerprint and a verifier can pin it. Binding the
//! AK to the TPM's EK certificate (credential activation) is out of scope.

use std::collections::BTreeMap;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p256::pkcs8::{EncodePublicKey as _, LineEnding};
use tss_esapi::Context;
use tss_esapi::abstraction::{DefaultKey, ak, ek, pcr};
use tss_esapi::handles::{KeyHandle, PersistentTpmHandle, TpmHandle};
use tss_esapi::interface_types::algorithm::{
    AsymmetricAlgorithm, HashingAlgorithm, SignatureSchemeAlgorithm,
};
use tss_esapi::interface_types::dynamic_handles::Persistent;
use tss_esapi::interface_types::resource_handles::Provision;
use tss_esapi::interface_types::session_handles::AuthSession;
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
    /// Keep the AK at this persistent handle (0x81000000 to 0x81FFFFFF),
    /// creating it there on first use; `None` makes a transient AK.
    pub persistent_ak: Option<u32>,
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
    /// `persistent_ak` is not a persistent handle.
    #[error("{0:#010x} is not a persistent handle (0x81000000 to 0x81ffffff)")]
    NotPersistent(u32),
    /// The key at `persistent_ak` is not of the requested algorithm.
    #[error("the AK at {handle:#010x} is not a {wanted:?} key")]
    PersistentAkMismatch {
        /// The handle.
        handle: u32,
        /// The algorithm asked for.
        wanted: AkAlgorithm,
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
    if let Some(handle) = req.persistent_ak {
        return quote_with_persistent_ak(&mut ctx, handle, req);
    }
    let ek = ek::create_ek_object(&mut ctx, AsymmetricAlgorithm::Ecc, DefaultKey)
        .map_err(tpm("create EK"))?;
    let result = quote_under_ek(&mut ctx, ek, req);
    // Best effort: the context's drop does not flush transient objects.
    let _ = ctx.flush_context(ek.into());
    result
}

/// Quotes with the AK at `handle`, persisting a new one there first if the
/// handle is empty.
fn quote_with_persistent_ak(
    ctx: &mut Context,
    handle: u32,
    req: &QuoteRequest<'_>,
) -> Result<TpmEntry, CollectError> {
    let persistent =
        PersistentTpmHandle::new(handle).map_err(|_| CollectError::NotPersistent(handle))?;
    let ak: KeyHandle = match ctx.tr_from_tpm_public(TpmHandle::Persistent(persistent)) {
        Ok(object) => object.into(),
        Err(_) => persist_new_ak(ctx, persistent, req)?,
    };
    let (public, _, _) = ctx.read_public(ak).map_err(tpm("read AK public"))?;
    let matches = matches!(
        (&public, req.ak_algorithm),
        (Public::Ecc { .. }, AkAlgorithm::EcdsaP256) | (Public::Rsa { .. }, AkAlgorithm::Rsa2048)
    );
    if !matches {
        return Err(CollectError::PersistentAkMismatch {
            handle,
            wanted: req.ak_algorithm,
        });
    }
    let ak_pem = public_to_pem(&public)?;
    quote_with_retries(ctx, ak, &ak_pem, req)
}

/// Creates an AK under a transient EK and moves it to `persistent`.
fn persist_new_ak(
    ctx: &mut Context,
    persistent: PersistentTpmHandle,
    req: &QuoteRequest<'_>,
) -> Result<KeyHandle, CollectError> {
    let ek = ek::create_ek_object(ctx, AsymmetricAlgorithm::Ecc, DefaultKey)
        .map_err(tpm("create EK"))?;
    let (sign_alg, hash) = signing_scheme(req.ak_algorithm);
    let persisted = (|| {
        let created =
            ak::create_ak(ctx, ek, hash, sign_alg, None, DefaultKey).map_err(tpm("create AK"))?;
        let ak = ak::load_ak(ctx, ek, None, created.out_private, created.out_public)
            .map_err(tpm("load AK"))?;
        let moved = ctx
            .execute_with_session(Some(AuthSession::Password), |ctx| {
                ctx.evict_control(
                    Provision::Owner,
                    ak.into(),
                    Persistent::Persistent(persistent),
                )
            })
            .map_err(tpm("persist AK"));
        let _ = ctx.flush_context(ak.into());
        moved
    })();
    let _ = ctx.flush_context(ek.into());
    Ok(persisted?.into())
}

/// The AK's signing scheme and hash for `algorithm`.
fn signing_scheme(algorithm: AkAlgorithm) -> (SignatureSchemeAlgorithm, HashingAlgorithm) {
    match algorithm {
        AkAlgorithm::EcdsaP256 => (SignatureSchemeAlgorithm::EcDsa, HashingAlgorithm::Sha256),
        AkAlgorithm::Rsa2048 => (SignatureSchemeAlgorithm::RsaSsa, HashingAlgorithm::Sha256),
    }
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
    let (sign_alg, hash) = signing_scheme(req.ak_algorithm);
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
