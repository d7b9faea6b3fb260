//! Compact JWS (RFC 7515 section 7.1), strictly: the shape, the protected
//! header, and the signature, with the algorithm pinned by the key.
//!
//! A token is exactly `BASE64URL(header) "." BASE64URL(payload) "."
//! BASE64URL(signature)`: three parts of the unpadded base64url alphabet
//! (header and payload non-empty), canonically encoded, and nothing else
//! (no whitespace, no `=`).
//! The header is a JSON object with exactly the parameters `alg` and `kid`
//! (both required) and optionally `typ`; `crit` is refused, as is any other
//! parameter. The key `kid` fixes the algorithm: `alg` must name it.

use serde::Serialize;
use serde_json::Value;

use super::encoding;
use super::error::{MessageError, MessageKind, quote};
use super::json::{self, JsonObject};
use super::keyring::{KeyAlgorithm, Keyring};
use crate::ids::{Kid, ServiceIdentity};

/// The longest compact JWS accepted, in bytes (64 KiB).
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// A compact JWS split into its three base64url parts.
struct Parts<'a> {
    token: &'a str,
    header: &'a str,
    payload: &'a str,
    signature: &'a str,
}

impl<'a> Parts<'a> {
    /// Splits `token`, refusing anything but three parts of the base64url
    /// alphabet joined by exactly two dots, the first two non-empty.
    fn split(token: &'a str) -> Result<Self, MessageError> {
        let malformed = |reason| MessageError::MalformedToken { reason };
        if token.len() > MAX_TOKEN_LEN {
            return Err(MessageError::TooLarge {
                kind: MessageKind::Manifest,
                len: token.len(),
                max: MAX_TOKEN_LEN,
            });
        }
        if token.bytes().any(|b| b.is_ascii_whitespace()) {
            return Err(malformed("contains whitespace"));
        }
        if token.contains('=') {
            return Err(malformed("contains base64 padding"));
        }
        let base64url = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.');
        if !token.bytes().all(base64url) {
            return Err(malformed("contains a character outside base64url"));
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(malformed("does not have exactly three parts"));
        };
        // An empty signature is left for the signature check to refuse,
        // after the header: `alg: none` is an authentication failure.
        if header.is_empty() || payload.is_empty() {
            return Err(malformed("has an empty header or payload"));
        }
        Ok(Self {
            token,
            header,
            payload,
            signature,
        })
    }

    /// The JWS signing input: `ASCII(BASE64URL(header) "." BASE64URL(payload))`.
    fn signing_input(&self) -> &'a [u8] {
        let len = self.header.len() + 1 + self.payload.len();
        // `split` guarantees the token is at least this long.
        self.token.as_bytes().get(..len).unwrap_or_default()
    }
}

/// The accepted protected header: the algorithm it claims and the key id.
struct Header {
    alg: KeyAlgorithm,
    kid: Kid,
}

fn header_error(reason: impl Into<String>) -> MessageError {
    MessageError::MalformedJwsHeader {
        reason: reason.into(),
    }
}

/// Decodes and checks the protected header (see the module docs).
fn parse_header(encoded: &str) -> Result<Header, MessageError> {
    let bytes = encoding::decode_url(encoded).ok_or(MessageError::MalformedToken {
        reason: "header is not canonical unpadded base64url",
    })?;
    let header: JsonObject =
        json::parse(MessageKind::JwsHeader, &bytes).map_err(|err| match err {
            MessageError::Schema { detail, .. } => header_error(detail),
            other => other,
        })?;
    let members = header.as_map();
    if members.contains_key("crit") {
        return Err(MessageError::CriticalHeader);
    }
    if let Some(name) = members
        .keys()
        .find(|k| !matches!(k.as_str(), "alg" | "kid" | "typ"))
    {
        return Err(header_error(format!(
            "unsupported header parameter {:?}",
            quote(name)
        )));
    }
    if members.get("typ").is_some_and(|typ| !typ.is_string()) {
        return Err(header_error("typ is not a string"));
    }
    let alg = match members.get("alg") {
        None => return Err(MessageError::MissingAlgorithm),
        Some(Value::String(alg)) => alg,
        Some(_) => return Err(header_error("alg is not a string")),
    };
    let alg = KeyAlgorithm::from_jose_name(alg)
        .ok_or_else(|| MessageError::UnsupportedAlgorithm { alg: quote(alg) })?;
    let kid = match members.get("kid") {
        None => return Err(MessageError::MissingKid),
        Some(Value::String(kid)) => kid,
        Some(_) => return Err(header_error("kid is not a string")),
    };
    // A string that is not a valid key id names no key in any keyring.
    let kid = kid
        .parse::<Kid>()
        .map_err(|_| MessageError::UnknownKid { kid: quote(kid) })?;
    Ok(Header { alg, kid })
}

/// Verifies a compact JWS against `keyring` and returns its decoded payload.
///
/// In order: the shape (Malformed; longer than [`MAX_TOKEN_LEN`] is
/// [`MessageError::TooLarge`]); the header (Malformed for `crit`, JSON or
/// type errors; Unauthenticated for a missing, unknown or refused `alg` or
/// `kid`); the key `kid` is live (Unauthenticated) and of the algorithm
/// `alg` names ([`MessageError::AlgorithmMismatch`], Unauthenticated); the
/// signature is base64url (Malformed) and verifies (Unauthenticated); then
/// the payload is decoded (Malformed). Nothing of the payload is read before
/// the signature verifies.
pub(crate) fn verify_compact(
    token: &str,
    keyring: &Keyring,
    signer: Option<&ServiceIdentity>,
) -> Result<Vec<u8>, MessageError> {
    let parts = Parts::split(token)?;
    let header = parse_header(parts.header)?;
    let entry = match signer {
        Some(identity) => keyring.live_owned_by(&header.kid, identity)?,
        None => keyring.live(&header.kid)?,
    };
    let key_alg = entry.key().algorithm();
    if key_alg != header.alg {
        return Err(MessageError::AlgorithmMismatch {
            header_alg: header.alg.jose_name().to_owned(),
            kid: header.kid,
            key_alg: key_alg.jose_name(),
        });
    }
    let signature = encoding::decode_url(parts.signature).ok_or(MessageError::MalformedToken {
        reason: "signature is not canonical unpadded base64url",
    })?;
    if !entry.key().verifies(parts.signing_input(), &signature) {
        return Err(MessageError::BadSignature {
            kind: MessageKind::Manifest,
        });
    }
    encoding::decode_url(parts.payload).ok_or(MessageError::MalformedToken {
        reason: "payload is not canonical unpadded base64url",
    })
}

/// Builds a compact JWS over `payload` with the header
/// `{"alg":<alg>,"kid":<kid>}` (in that order, no whitespace), signing the
/// JWS signing input with `sign`.
pub(crate) fn sign_compact(
    alg: KeyAlgorithm,
    kid: &Kid,
    payload: &[u8],
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, MessageError>,
) -> Result<String, MessageError> {
    #[derive(Serialize)]
    struct ProtectedHeader<'a> {
        alg: &'static str,
        kid: &'a Kid,
    }
    let header = serde_json::to_vec(&ProtectedHeader {
        alg: alg.jose_name(),
        kid,
    })
    .map_err(|err| MessageError::CannotEncode {
        kind: MessageKind::JwsHeader,
        detail: err.to_string(),
    })?;
    let mut token = encoding::encode_url(&header);
    token.push('.');
    token.push_str(&encoding::encode_url(payload));
    let signature = sign(token.as_bytes())?;
    token.push('.');
    token.push_str(&encoding::encode_url(&signature));
    Ok(token)
}
