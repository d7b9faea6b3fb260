//! The verifier's challenge, as evidence binds it.

use std::fmt;
use std::str::FromStr;

/// A challenge nonce: 8 to 64 bytes, written as lowercase or uppercase hex
/// and always displayed as lowercase hex.
///
/// 64 bytes is the most every evidence type can carry verbatim (a TPM
/// quote's `extraData` with a SHA-512 AK, an SEV-SNP `report_data`); 8 bytes
/// is the least that still makes guessing a future challenge hopeless.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EvidenceNonce(Vec<u8>);

/// Why a string is not an [`EvidenceNonce`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NonceError {
    #[error("the nonce is not hex: {0}")]
    NotHex(String),
    #[error("the nonce is {len} bytes; it must be {min} to {max} bytes")]
    Length { len: usize, min: usize, max: usize },
}

impl EvidenceNonce {
    /// The shortest nonce accepted, in bytes.
    pub const MIN_LEN: usize = 8;
    /// The longest nonce accepted, in bytes.
    pub const MAX_LEN: usize = 64;

    /// A nonce of these bytes, if their length is in range.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, NonceError> {
        if !(Self::MIN_LEN..=Self::MAX_LEN).contains(&bytes.len()) {
            return Err(NonceError::Length {
                len: bytes.len(),
                min: Self::MIN_LEN,
                max: Self::MAX_LEN,
            });
        }
        Ok(Self(bytes.to_vec()))
    }

    /// The nonce whose bytes are a 32-byte hash (always in range).
    pub(crate) fn from_hash(hash: [u8; 32]) -> Self {
        Self(hash.to_vec())
    }

    /// A fresh random 32-byte nonce from the operating system's generator.
    pub fn random() -> Self {
        let mut bytes = [0u8; 32];
        rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
        Self(bytes.to_vec())
    }

    /// The nonce's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// The nonce as lowercase hex.
    pub fn hex(&self) -> String {
        hex::encode(&self.0)
    }
}

impl FromStr for EvidenceNonce {
    type Err = NonceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bytes = hex::decode(s).map_err(|e| NonceError::NotHex(e.to_string()))?;
        Self::from_bytes(&bytes)
    }
}

impl fmt::Display for EvidenceNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.hex())
    }
}

impl fmt::Debug for EvidenceNonce {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EvidenceNonce({})", self.hex())
    }
}

crate::text_serde::serde_as_text!(EvidenceNonce);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_hex_of_8_to_64_bytes_and_prints_lowercase() {
        let nonce: EvidenceNonce = "00112233AABBCCDD".parse().unwrap();
        assert_eq!(nonce.to_string(), "00112233aabbccdd");
        assert!("00".repeat(64).parse::<EvidenceNonce>().is_ok());
    }

    #[test]
    fn refuses_short_long_and_non_hex() {
        assert!(matches!(
            "0011".parse::<EvidenceNonce>(),
            Err(NonceError::Length { len: 2, .. })
        ));
        assert!(matches!(
            "00".repeat(65).parse::<EvidenceNonce>(),
            Err(NonceError::Length { len: 65, .. })
        ));
        assert!(matches!(
            "zz112233aabbccdd".parse::<EvidenceNonce>(),
            Err(NonceError::NotHex(_))
        ));
    }
}
