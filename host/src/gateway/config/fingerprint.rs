//! Pinned client certificates: the SHA-256 of a certificate's DER.

use std::fmt;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use rustls_pki_types::CertificateDer;
use rustls_pki_types::pem::{self, PemObject as _};

use crate::digest::Digest;

/// The SHA-256 of a certificate's DER encoding, written as 64 lowercase hex
/// digits (no `sha256:` prefix), as in `identities.cert_sha256`. The same
/// value as the gateway's peer-certificate [`Digest`], which writes it with
/// the prefix.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CertFingerprint(Digest);

/// Why a string is not a [`CertFingerprint`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a certificate fingerprint: expected 64 lowercase hex digits (the SHA-256 of the certificate's DER)"
)]
pub struct FingerprintParseError(pub String);

/// Why a certificate file's fingerprint could not be computed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FingerprintError {
    /// The file could not be read.
    #[error("cannot read certificate file {path}: {source}")]
    Read {
        /// The certificate file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },
    /// The file is not well-formed PEM.
    #[error("{path}: malformed PEM: {reason}")]
    Pem {
        /// The certificate file.
        path: PathBuf,
        /// What the PEM parser said.
        reason: String,
    },
    /// The file is PEM but holds no `CERTIFICATE` block.
    #[error("{path}: holds no PEM CERTIFICATE block")]
    NoCertificate {
        /// The certificate file.
        path: PathBuf,
    },
}

impl CertFingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of_der(der: &[u8]) -> Self {
        Self(Digest::of(der))
    }

    /// The fingerprint of the first `CERTIFICATE` block of a PEM file: the
    /// leaf, in a chain file.
    ///
    /// # Errors
    ///
    /// [`FingerprintError`]: the file cannot be read, is not PEM, or holds no
    /// certificate.
    pub fn of_pem_file(path: &Path) -> Result<Self, FingerprintError> {
        let bytes = std::fs::read(path).map_err(|source| FingerprintError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        match CertificateDer::from_pem_slice(&bytes) {
            Ok(der) => Ok(Self::of_der(der.as_ref())),
            Err(pem::Error::NoItemsFound) => Err(FingerprintError::NoCertificate {
                path: path.to_path_buf(),
            }),
            Err(error) => Err(FingerprintError::Pem {
                path: path.to_path_buf(),
                reason: error.to_string(),
            }),
        }
    }

    /// The fingerprint with this digest.
    pub fn from_digest(digest: Digest) -> Self {
        Self(digest)
    }

    /// The digest, comparable with the peer certificate digest of a connection.
    pub fn digest(&self) -> Digest {
        self.0
    }

    /// The 64 lowercase hex digits.
    pub fn hex(&self) -> String {
        self.0.hex()
    }
}

impl From<Digest> for CertFingerprint {
    fn from(digest: Digest) -> Self {
        Self(digest)
    }
}

impl FromStr for CertFingerprint {
    type Err = FingerprintParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || FingerprintParseError(s.chars().take(80).collect());
        if s.len() != 64 || !s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(err());
        }
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(s, &mut bytes).map_err(|_| err())?;
        Ok(Self(Digest::from_bytes(bytes)))
    }
}

impl fmt::Display for CertFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for CertFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CertFingerprint({})", self.hex())
    }
}

crate::text_serde::serde_as_text!(CertFingerprint);
