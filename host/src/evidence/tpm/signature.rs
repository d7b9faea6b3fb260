//! Parsing a marshalled TPMT_SIGNATURE (TPM 2.0 Library Part 2, 11.3.4) and
//! checking it against an attestation key.

use p256::ecdsa::signature::hazmat::PrehashVerifier as _;

use super::TpmError;
use super::ak::AkKey;
use super::reader::{Blob, Reader};
use super::spec::HashAlg;

/// The largest marshalled signature accepted (RSA-4096 needs 518 bytes).
pub const MAX_SIGNATURE_LEN: usize = 1024;

/// TPM_ALG_RSASSA.
pub const TPM_ALG_RSASSA: u16 = 0x0014;
/// TPM_ALG_ECDSA.
pub const TPM_ALG_ECDSA: u16 = 0x0018;

/// MAX_ECC_KEY_BYTES for P-521.
const MAX_ECC_PARAMETER: usize = 66;
/// MAX_RSA_KEY_BYTES for RSA-4096.
const MAX_RSA_SIGNATURE: usize = 512;
/// The P-256 scalar length.
const P256_SCALAR_LEN: usize = 32;

/// A parsed signature: the scheme, its hash, and the signature values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TpmSignature {
    /// TPM_ALG_ECDSA: r and s as unsigned big-endian integers.
    Ecdsa {
        /// The hash the TPM signed with.
        hash: HashAlg,
        /// signatureR.
        r: Vec<u8>,
        /// signatureS.
        s: Vec<u8>,
    },
    /// TPM_ALG_RSASSA: an RSASSA-PKCS1-v1_5 signature.
    RsaSsa {
        /// The hash the TPM signed with.
        hash: HashAlg,
        /// The signature, as long as the modulus.
        sig: Vec<u8>,
    },
}

impl TpmSignature {
    /// The signing scheme's hash, which is also the quote's pcrDigest hash.
    pub fn hash(&self) -> HashAlg {
        match self {
            Self::Ecdsa { hash, .. } | Self::RsaSsa { hash, .. } => *hash,
        }
    }

    /// The claims name of the scheme, e.g. `ecdsa-sha256`, `rsassa-sha384`.
    pub fn algorithm_name(&self) -> String {
        match self {
            Self::Ecdsa { hash, .. } => format!("ecdsa-{hash}"),
            Self::RsaSsa { hash, .. } => format!("rsassa-{hash}"),
        }
    }
}

/// Parses `bytes` as a TPMT_SIGNATURE using ECDSA or RSASSA with SHA-256,
/// SHA-384 or SHA-512, rejecting oversize input, truncation and trailing bytes.
pub fn parse_signature(bytes: &[u8]) -> Result<TpmSignature, TpmError> {
    if bytes.len() > MAX_SIGNATURE_LEN {
        return Err(TpmError::TooLarge {
            field: "signature",
            len: bytes.len(),
            max: MAX_SIGNATURE_LEN,
        });
    }
    let mut r = Reader::new(Blob::Signature, bytes);
    let sig_alg = r.u16("sigAlg")?;
    let parsed = match sig_alg {
        TPM_ALG_ECDSA => TpmSignature::Ecdsa {
            hash: signing_hash(r.u16("hash")?)?,
            r: r.tpm2b("signatureR", MAX_ECC_PARAMETER)?.to_vec(),
            s: r.tpm2b("signatureS", MAX_ECC_PARAMETER)?.to_vec(),
        },
        TPM_ALG_RSASSA => TpmSignature::RsaSsa {
            hash: signing_hash(r.u16("hash")?)?,
            sig: r.tpm2b("sig", MAX_RSA_SIGNATURE)?.to_vec(),
        },
        other => return Err(TpmError::UnsupportedSignatureAlgorithm(other)),
    };
    r.finish()?;
    Ok(parsed)
}

/// A signing hash: SHA-256, SHA-384 or SHA-512 (SHA-1 is refused).
fn signing_hash(id: u16) -> Result<HashAlg, TpmError> {
    match HashAlg::from_tpm_id(id) {
        Some(HashAlg::Sha1) | None => Err(TpmError::UnsupportedHash(id)),
        Some(hash) => Ok(hash),
    }
}

/// Checks that `sig` is `ak`'s signature over `message` (hashed with the
/// signature's hash); the scheme must suit the key type.
pub fn verify_signature(ak: &AkKey, sig: &TpmSignature, message: &[u8]) -> Result<(), TpmError> {
    let digest = sig
        .hash()
        .digest(message)
        .ok_or(TpmError::UnsupportedHash(sig.hash().tpm_id()))?;
    match (ak, sig) {
        (AkKey::EcdsaP256(key), TpmSignature::Ecdsa { r, s, .. }) => {
            let sig = ecdsa_signature(r, s)?;
            key.verify_prehash(&digest, &sig)
                .map_err(|_| TpmError::SignatureInvalid)
        }
        (AkKey::Rsa(key), TpmSignature::RsaSsa { hash, sig }) => key
            .verify(pkcs1v15_scheme(*hash), &digest, sig)
            .map_err(|_| TpmError::SignatureInvalid),
        _ => Err(TpmError::SignatureKeyMismatch {
            signature: sig.algorithm_name(),
            key: ak.algorithm_name(),
        }),
    }
}

/// Builds a P-256 signature from TPM r and s (each at most 32 bytes, left-padded).
fn ecdsa_signature(r: &[u8], s: &[u8]) -> Result<p256::ecdsa::Signature, TpmError> {
    let r = p256_scalar_bytes("signatureR", r)?;
    let s = p256_scalar_bytes("signatureS", s)?;
    p256::ecdsa::Signature::from_scalars(r, s).map_err(|_| TpmError::SignatureMalformed {
        reason: "ECDSA r or s is zero or not below the P-256 group order".into(),
    })
}

/// Left-pads an unsigned big-endian integer to 32 bytes.
fn p256_scalar_bytes(field: &str, value: &[u8]) -> Result<p256::FieldBytes, TpmError> {
    let start =
        P256_SCALAR_LEN
            .checked_sub(value.len())
            .ok_or_else(|| TpmError::SignatureMalformed {
                reason: format!(
                    "ECDSA {field} is {} bytes, more than P-256's 32",
                    value.len()
                ),
            })?;
    let mut out = p256::FieldBytes::default();
    if let Some(tail) = out.get_mut(start..) {
        tail.copy_from_slice(value);
    }
    Ok(out)
}

/// The RSASSA-PKCS1-v1_5 scheme (with its DigestInfo prefix) for `hash`.
fn pkcs1v15_scheme(hash: HashAlg) -> rsa::Pkcs1v15Sign {
    match hash {
        HashAlg::Sha384 => rsa::Pkcs1v15Sign::new::<sha2::Sha384>(),
        HashAlg::Sha512 => rsa::Pkcs1v15Sign::new::<sha2::Sha512>(),
        HashAlg::Sha1 | HashAlg::Sha256 => rsa::Pkcs1v15Sign::new::<sha2::Sha256>(),
    }
}
