//! Strict base64: one encoding per byte string, so a signature or token has
//! exactly one accepted spelling.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// Standard base64 (RFC 4648 section 4) with `=` padding, as used by the
/// telemetry and feedback signatures.
pub(crate) fn encode_std(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Decodes standard padded base64, refusing missing or extra padding,
/// non-zero trailing bits, whitespace and the URL-safe alphabet.
pub(crate) fn decode_std(text: &str) -> Option<Vec<u8>> {
    STANDARD.decode(text).ok()
}

/// Base64url without padding (RFC 7515 section 2), as used by compact JWS.
pub(crate) fn encode_url(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Decodes unpadded base64url, refusing padding, non-zero trailing bits,
/// whitespace and the standard alphabet's `+` and `/`.
pub(crate) fn decode_url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text).ok()
}

/// Decodes a standard-base64 Ed25519 signature: exactly 64 bytes.
pub(crate) fn decode_ed25519_signature(text: &str) -> Option<ed25519_dalek::Signature> {
    let bytes = decode_std(text)?;
    ed25519_dalek::Signature::from_slice(&bytes).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_byte_string_has_one_spelling() {
        assert_eq!(decode_std("AQ==").unwrap(), [1]);
        for bad in ["AQ", "AQ=", "AQ===", "AR==", "A Q==", "AQ==\n", "-_8=", ""] {
            assert!(decode_std(bad).is_none_or(|b| b.is_empty()), "{bad:?}");
        }
        assert_eq!(decode_url("-_8").unwrap(), [0xfb, 0xff]);
        for bad in ["-_8=", "+/8", "-_9", "-_ 8", "A"] {
            assert!(decode_url(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn ed25519_signatures_are_64_bytes() {
        assert!(decode_ed25519_signature(&encode_std(&[0; 64])).is_some());
        assert!(decode_ed25519_signature(&encode_std(&[0; 63])).is_none());
        assert!(decode_ed25519_signature(&encode_std(&[0; 65])).is_none());
    }
}
