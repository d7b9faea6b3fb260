//! The attestation key: a PEM SubjectPublicKeyInfo holding an ECDSA P-256
//! key or an RSA key of at least 2048 bits.

use p256::pkcs8::DecodePublicKey as _;
use p256::pkcs8::der::{Decode as _, pem};
use p256::pkcs8::spki::{ObjectIdentifier, SubjectPublicKeyInfoRef};
use rsa::traits::PublicKeyParts as _;
use sha2::{Digest as _, Sha256};

use super::TpmError;

/// The largest PEM text accepted (an RSA-4096 SPKI is about 800 bytes).
pub const MAX_AK_PEM_LEN: usize = 8192;

/// The smallest RSA modulus accepted, in bits.
pub const MIN_RSA_BITS: usize = 2048;

/// id-ecPublicKey (RFC 5480).
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// rsaEncryption (RFC 8017).
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");

/// A parsed attestation key.
#[derive(Debug, Clone)]
pub enum AkKey {
    /// An ECDSA key on NIST P-256.
    EcdsaP256(p256::ecdsa::VerifyingKey),
    /// An RSA key of at least [`MIN_RSA_BITS`] bits.
    Rsa(rsa::RsaPublicKey),
}

impl AkKey {
    /// The claims name: `ecdsa-p256` or `rsa-<modulus bits>`.
    pub fn algorithm_name(&self) -> String {
        match self {
            Self::EcdsaP256(_) => "ecdsa-p256".to_owned(),
            Self::Rsa(key) => format!("rsa-{}", key.n().bits()),
        }
    }
}

/// An AK with the DER of its SubjectPublicKeyInfo, for fingerprinting.
#[derive(Debug, Clone)]
pub struct ParsedAk {
    /// The key.
    pub key: AkKey,
    /// The DER SubjectPublicKeyInfo exactly as the PEM carried it.
    pub spki_der: Vec<u8>,
}

impl ParsedAk {
    /// `sha256:` followed by the hex SHA-256 of the DER SubjectPublicKeyInfo.
    pub fn fingerprint(&self) -> String {
        format!("sha256:{}", hex::encode(Sha256::digest(&self.spki_der)))
    }
}

/// Parses a `PUBLIC KEY` PEM as an ECDSA P-256 or RSA (>= 2048 bits) AK.
pub fn parse_ak(pem_text: &str) -> Result<ParsedAk, TpmError> {
    if pem_text.len() > MAX_AK_PEM_LEN {
        return Err(TpmError::TooLarge {
            field: "ak_public",
            len: pem_text.len(),
            max: MAX_AK_PEM_LEN,
        });
    }
    let (label, spki_der) = pem::decode_vec(pem_text.trim().as_bytes())
        .map_err(|e| TpmError::AkKey(format!("not a PEM document: {e}")))?;
    if label != "PUBLIC KEY" {
        return Err(TpmError::AkKey(format!(
            "PEM label is {label:?}, expected \"PUBLIC KEY\" (SubjectPublicKeyInfo)"
        )));
    }
    let key = parse_spki(&spki_der)?;
    Ok(ParsedAk { key, spki_der })
}

/// Decodes a DER SubjectPublicKeyInfo by its algorithm OID.
fn parse_spki(der: &[u8]) -> Result<AkKey, TpmError> {
    let spki = SubjectPublicKeyInfoRef::from_der(der)
        .map_err(|e| TpmError::AkKey(format!("bad SubjectPublicKeyInfo: {e}")))?;
    match spki.algorithm.oid {
        ID_EC_PUBLIC_KEY => p256::ecdsa::VerifyingKey::from_public_key_der(der)
            .map(AkKey::EcdsaP256)
            .map_err(|e| TpmError::AkKey(format!("EC key is not a valid P-256 key: {e}"))),
        RSA_ENCRYPTION => parse_rsa(der),
        other => Err(TpmError::AkKey(format!(
            "unsupported key algorithm OID {other} (expected EC P-256 or RSA)"
        ))),
    }
}

/// Decodes an RSA SubjectPublicKeyInfo and enforces the minimum size.
fn parse_rsa(der: &[u8]) -> Result<AkKey, TpmError> {
    let key = rsa::RsaPublicKey::from_public_key_der(der)
        .map_err(|e| TpmError::AkKey(format!("bad RSA public key: {e}")))?;
    let bits = key.n().bits();
    if bits < MIN_RSA_BITS {
        return Err(TpmError::AkTooSmall { bits });
    }
    Ok(AkKey::Rsa(key))
}
