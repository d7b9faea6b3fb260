//! The VCEK/VLEK certificate and its chain up to one of AMD's bundled ARKs.
//!
//! `sev` does the RSA-PSS signature checks (`Verifiable` for a pair of
//! certificates); this module decides which certificates are checked, and
//! insists that the ARK carries the key of one of the bundled AMD ARKs.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p384::ecdsa::VerifyingKey;
use p384::pkcs8::DecodePublicKey as _;
use sev::certs::snp::Verifiable as _;
use x509_cert::Certificate;
use x509_cert::der::{Decode as _, Encode as _};

use super::error::SevSnpError;
use super::product::{Product, SigningKey};
use super::roots::{self, Root};

/// A decoded VCEK or VLEK certificate with a P-384 key, and its DER as received.
pub(super) struct Vek {
    pub(super) der: Vec<u8>,
    pub(super) cert: Certificate,
    pub(super) sev: sev::certs::snp::Certificate,
}

/// Decodes the entry's `vcek`; it is required, as nothing is fetched.
pub(super) fn decode_vek(b64: Option<&str>, which: SigningKey) -> Result<Vek, SevSnpError> {
    let b64 = b64.ok_or(SevSnpError::MissingVek { key: which })?;
    let der = STANDARD.decode(b64).map_err(|e| SevSnpError::VekBase64 {
        reason: e.to_string(),
    })?;
    let cert = Certificate::from_der(&der).map_err(|e| SevSnpError::VekDer {
        reason: e.to_string(),
    })?;
    require_signed_algorithm(&cert, which.name())?;
    require_p384(&cert, which)?;
    let sev = cert.clone().into();
    Ok(Vek { der, cert, sev })
}

/// RFC 5280 4.1.1.2: the outer signatureAlgorithm, which the signature does
/// not cover and `sev` reads only the OID of, must equal the signed one.
fn require_signed_algorithm(cert: &Certificate, role: &'static str) -> Result<(), SevSnpError> {
    if cert.signature_algorithm == cert.tbs_certificate.signature {
        return Ok(());
    }
    Err(SevSnpError::UnsignedAlgorithmMismatch { certificate: role })
}

fn require_p384(cert: &Certificate, which: SigningKey) -> Result<(), SevSnpError> {
    let reason = |e: &dyn std::fmt::Display| SevSnpError::VekPublicKey {
        key: which,
        reason: e.to_string(),
    };
    let spki = cert
        .tbs_certificate
        .subject_public_key_info
        .to_der()
        .map_err(|e| reason(&e))?;
    VerifyingKey::from_public_key_der(&spki)
        .map(drop)
        .map_err(|e| reason(&e))
}

/// Checks that `cert` is within its validity period at `now` (unix seconds).
pub(super) fn check_validity(cert: &Certificate, role: &str, now: u64) -> Result<(), SevSnpError> {
    let validity = &cert.tbs_certificate.validity;
    let not_before = validity.not_before.to_unix_duration().as_secs();
    let not_after = validity.not_after.to_unix_duration().as_secs();
    if (not_before..=not_after).contains(&now) {
        return Ok(());
    }
    Err(SevSnpError::CertificateValidity {
        role: role.to_string(),
        now,
        not_before,
        not_after,
    })
}

/// An ARK and the ASK (or ASVK) it should sign, anchored at a bundled root.
struct Candidate<'a> {
    root: &'a Root,
    ark: &'a Certificate,
    intermediate: &'a Certificate,
}

/// Verifies ARK self-signature, ARK → ASK/ASVK and ASK/ASVK → VEK, and
/// returns the product whose bundled ARK anchors the chain.
///
/// With `cert_chain`, its ARK must carry a bundled ARK's key. Without it, the
/// bundled ASK of `hint` (the report's CPUID product) is used, or, for a
/// report without CPUID fields, each bundled root is tried in turn.
pub(super) fn verify_chain(
    vek: &Vek,
    which: SigningKey,
    cert_chain: Option<&str>,
    hint: Option<Product>,
    now: u64,
) -> Result<Product, SevSnpError> {
    match cert_chain {
        Some(pem) => {
            let supplied = parse_chain(pem)?;
            for cert in &supplied {
                check_validity(cert, "supplied chain", now)?;
            }
            let candidate = supplied_candidate(&supplied, hint)?;
            verify_candidate(&candidate, vek, which)?;
            Ok(candidate.root.product)
        }
        None if which == SigningKey::Vlek => Err(SevSnpError::MissingAsvk),
        None => verify_bundled(vek, which, hint),
    }
}

fn parse_chain(pem: &str) -> Result<[Certificate; 2], SevSnpError> {
    let certs =
        Certificate::load_pem_chain(pem.as_bytes()).map_err(|e| SevSnpError::CertChainPem {
            reason: e.to_string(),
        })?;
    let found = certs.len();
    let pair =
        <[Certificate; 2]>::try_from(certs).map_err(|_| SevSnpError::CertChainCount { found })?;
    for cert in &pair {
        require_signed_algorithm(cert, "cert_chain")?;
    }
    Ok(pair)
}

/// Takes the supplied certificate with a bundled ARK's key as the ARK, the
/// other as the ASK/ASVK.
fn supplied_candidate(
    certs: &[Certificate; 2],
    hint: Option<Product>,
) -> Result<Candidate<'_>, SevSnpError> {
    let [first, second] = certs;
    let candidate = roots::bundled()?
        .iter()
        .find_map(|root| {
            let (ark, intermediate) = if root.is_ark_key_of(second) {
                (second, first)
            } else if root.is_ark_key_of(first) {
                (first, second)
            } else {
                return None;
            };
            Some(Candidate {
                root,
                ark,
                intermediate,
            })
        })
        .ok_or(SevSnpError::UntrustedArk)?;
    match hint {
        Some(report) if report != candidate.root.product => Err(SevSnpError::ProductMismatch {
            report,
            chain: candidate.root.product,
        }),
        _ => Ok(candidate),
    }
}

/// Verifies against the bundled roots: the hinted one, else each in turn.
fn verify_bundled(
    vek: &Vek,
    which: SigningKey,
    hint: Option<Product>,
) -> Result<Product, SevSnpError> {
    let candidates: Vec<Candidate<'_>> = roots::bundled()?
        .iter()
        .filter(|root| hint.is_none_or(|p| p == root.product))
        .map(|root| Candidate {
            root,
            ark: &root.ark,
            intermediate: &root.ask,
        })
        .collect();
    if let [only] = candidates.as_slice() {
        return verify_candidate(only, vek, which).map(|()| only.root.product);
    }
    candidates
        .iter()
        .find(|c| verify_candidate(c, vek, which).is_ok())
        .map(|c| c.root.product)
        .ok_or(SevSnpError::NoBundledRootSignsVek { key: which })
}

fn verify_candidate(c: &Candidate<'_>, vek: &Vek, which: SigningKey) -> Result<(), SevSnpError> {
    let (ark, intermediate) = (sev_cert(c.ark), sev_cert(c.intermediate));
    let check = || verify_ca(c.root.product, &ark, &intermediate, which.intermediate());
    if c.ark == &c.root.ark && c.intermediate == &c.root.ask {
        c.root.checked_once(check)?;
    } else {
        check()?;
    }
    (&intermediate, &vek.sev)
        .verify()
        .map_err(|e| SevSnpError::VekSignature {
            product: c.root.product,
            intermediate: which.intermediate(),
            key: which,
            reason: e.to_string(),
        })
}

/// ARK self-signature, then ARK → ASK (or ASVK).
fn verify_ca(
    product: Product,
    ark: &sev::certs::snp::Certificate,
    intermediate: &sev::certs::snp::Certificate,
    name: &'static str,
) -> Result<(), SevSnpError> {
    (ark, ark)
        .verify()
        .map_err(|e| SevSnpError::ArkSelfSignature {
            product,
            reason: e.to_string(),
        })?;
    (ark, intermediate)
        .verify()
        .map_err(|e| SevSnpError::IntermediateSignature {
            product,
            intermediate: name,
            reason: e.to_string(),
        })
}

fn sev_cert(cert: &Certificate) -> sev::certs::snp::Certificate {
    sev::certs::snp::Certificate::from(cert.clone())
}
