//! Why a federation message was rejected, and which HTTP answer that earns.

use std::fmt;

use crate::ids::{Kid, ServiceIdentity};

/// The HTTP category of a rejection. Every [`MessageError`] belongs to
/// exactly one, given by [`MessageError::class`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorClass {
    /// The bytes are not a message at all: not JSON, not a compact JWS, a
    /// header that does not parse, too large. HTTP 400.
    Malformed,
    /// The message could not be attributed to a live key: a signature is
    /// missing or does not verify, a key id is unknown or retired, an
    /// algorithm is refused, a signed value disagrees with its header.
    /// HTTP 401.
    Unauthenticated,
    /// The message is authentic but its signer may not say what it says: a
    /// key used by an identity that does not own it, metadata naming another
    /// tenant, operator or campaign. HTTP 403.
    Forbidden,
    /// The message is well-formed JSON but does not match its schema: a
    /// missing or unknown member, a wrong type, a value out of its format.
    /// HTTP 422.
    Schema,
}

impl ErrorClass {
    /// The HTTP status code of the category: 400, 401, 403 or 422.
    pub const fn status(self) -> u16 {
        match self {
            ErrorClass::Malformed => 400,
            ErrorClass::Unauthenticated => 401,
            ErrorClass::Forbidden => 403,
            ErrorClass::Schema => 422,
        }
    }
}

/// Which message an error is about; names it in error messages.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MessageKind {
    /// A `POST /v1/telemetry` body and its `X-Telemetry-*` headers.
    Telemetry,
    /// A `POST /v1/feedback` body.
    Feedback,
    /// The gateway's signed answer to a feedback message.
    FeedbackResponse,
    /// The protected header of a manifest's compact JWS.
    JwsHeader,
    /// An execution manifest (the payload of its compact JWS).
    Manifest,
}

impl fmt::Display for MessageKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MessageKind::Telemetry => "telemetry",
            MessageKind::Feedback => "feedback",
            MessageKind::FeedbackResponse => "feedback response",
            MessageKind::JwsHeader => "JWS header",
            MessageKind::Manifest => "manifest",
        })
    }
}

/// Why a federation message was rejected.
///
/// The messages name fields, key ids and identities, never key material or
/// signature bytes. Values quoted from the input are cut to at most 80
/// characters, and parser details to at most 200.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MessageError {
    // --- Malformed (400) ---
    /// The bytes are longer than the message's limit.
    #[error("{kind} is {len} bytes long; at most {max} are accepted")]
    TooLarge {
        /// The message concerned.
        kind: MessageKind,
        /// Its length, in bytes.
        len: usize,
        /// The limit, in bytes.
        max: usize,
    },
    /// The bytes are not one JSON text (syntax error, trailing data, invalid
    /// UTF-8, nesting too deep, a number out of the range of a double).
    #[error("{kind} is not valid JSON: {detail}")]
    InvalidJson {
        /// The message concerned.
        kind: MessageKind,
        /// The parser's description (names no input bytes beyond a position).
        detail: String,
    },
    /// An HTTP header is present but its value does not have its format.
    #[error("header {header} is malformed: {reason}")]
    MalformedHeader {
        /// The header's name.
        header: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A compact JWS does not have the shape
    /// `BASE64URL.BASE64URL.BASE64URL` (see [`crate::messages::manifest`]).
    #[error("compact JWS is malformed: {reason}")]
    MalformedToken {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The JWS protected header is JSON but not an acceptable header: not an
    /// object, a parameter of the wrong type, an unsupported parameter.
    #[error("JWS header is malformed: {reason}")]
    MalformedJwsHeader {
        /// What is wrong with it.
        reason: String,
    },
    /// The JWS protected header has a `crit` parameter; no extension is
    /// understood, so none can be critical.
    #[error("JWS header carries `crit`; no critical header extensions are supported")]
    CriticalHeader,

    // --- Schema (422) ---
    /// Valid JSON whose members do not match the message's schema.
    #[error("{kind} does not match its schema: {detail}")]
    Schema {
        /// The message concerned.
        kind: MessageKind,
        /// The member and the rule it breaks.
        detail: String,
    },
    /// A feedback message's `schema_version` is not `1.0`.
    #[error("feedback schema_version {found} is not supported (expected \"1.0\")")]
    UnsupportedSchemaVersion {
        /// The value found, as JSON (at most 80 characters).
        found: String,
    },
    /// A message to be signed cannot be encoded or signed (only possible
    /// for values built in code, never for parsed ones).
    #[error("{kind} cannot be encoded for signing: {detail}")]
    CannotEncode {
        /// The message concerned.
        kind: MessageKind,
        /// Why it cannot be encoded.
        detail: String,
    },

    // --- Unauthenticated (401) ---
    /// A required HTTP header is absent.
    #[error("header {header} is missing")]
    MissingHeader {
        /// The header's name.
        header: &'static str,
    },
    /// A signature is not base64 of the expected alphabet and padding, or
    /// decodes to the wrong number of bytes.
    #[error("{kind} signature is not {expected}")]
    SignatureEncoding {
        /// The message concerned.
        kind: MessageKind,
        /// The encoding expected.
        expected: &'static str,
    },
    /// A signature does not verify under the key it names.
    #[error("{kind} signature does not verify")]
    BadSignature {
        /// The message concerned.
        kind: MessageKind,
    },
    /// A value the signature covers in the header differs from the one in
    /// the body.
    #[error("{kind} body {field} differs from header {header}")]
    HeaderMismatch {
        /// The message concerned.
        kind: MessageKind,
        /// The body member.
        field: &'static str,
        /// The header's name.
        header: &'static str,
    },
    /// No key in the keyring has this id (or the id is not a valid [`Kid`]).
    #[error("unknown key id {kid:?}")]
    UnknownKid {
        /// The key id as given (at most 80 characters).
        kid: String,
    },
    /// The key exists but was retired from use.
    #[error("key {kid} is retired")]
    RetiredKid {
        /// The key id.
        kid: Kid,
    },
    /// The key's algorithm is not the one the message is signed with.
    #[error("key {kid} is an {key_alg} key; {kind} signatures need {needed}")]
    WrongKeyAlgorithm {
        /// The message concerned.
        kind: MessageKind,
        /// The key id.
        kid: Kid,
        /// The key's algorithm (JOSE name).
        key_alg: &'static str,
        /// The algorithm the message needs (JOSE name).
        needed: &'static str,
    },
    /// The JWS header has no `alg` parameter.
    #[error("JWS header has no alg")]
    MissingAlgorithm,
    /// The JWS header has no `kid` parameter.
    #[error("JWS header has no kid")]
    MissingKid,
    /// The JWS `alg` is not one verdict accepts (`none`, any HMAC, anything
    /// unknown).
    #[error("JWS alg {alg:?} is not accepted (only EdDSA and ML-DSA-65)")]
    UnsupportedAlgorithm {
        /// The header's `alg` (at most 80 characters).
        alg: String,
    },
    /// The JWS `alg` names another algorithm than the key's.
    #[error("JWS alg {header_alg:?} does not match key {kid}, which is {key_alg}")]
    AlgorithmMismatch {
        /// The header's `alg` (at most 80 characters).
        header_alg: String,
        /// The key id.
        kid: Kid,
        /// The key's algorithm (JOSE name).
        key_alg: &'static str,
    },

    // --- Forbidden (403) ---
    /// `signed_metadata` names another tenant, operator or campaign than the
    /// telemetry body.
    #[error("telemetry signed_metadata.{field} differs from the body's {field}")]
    MetadataMismatch {
        /// The member that differs.
        field: &'static str,
    },
    /// The key belongs to another identity than the one using it.
    #[error("key {kid} does not belong to {caller}")]
    ForeignKid {
        /// The key id.
        kid: Kid,
        /// The identity that used it.
        caller: ServiceIdentity,
    },
}

impl MessageError {
    /// The HTTP category of the error (see [`ErrorClass`]).
    pub fn class(&self) -> ErrorClass {
        use MessageError::*;
        match self {
            TooLarge { .. }
            | InvalidJson { .. }
            | MalformedHeader { .. }
            | MalformedToken { .. }
            | MalformedJwsHeader { .. }
            | CriticalHeader => ErrorClass::Malformed,
            Schema { .. } | UnsupportedSchemaVersion { .. } | CannotEncode { .. } => {
                ErrorClass::Schema
            }
            MissingHeader { .. }
            | SignatureEncoding { .. }
            | BadSignature { .. }
            | HeaderMismatch { .. }
            | UnknownKid { .. }
            | RetiredKid { .. }
            | WrongKeyAlgorithm { .. }
            | MissingAlgorithm
            | MissingKid
            | UnsupportedAlgorithm { .. }
            | AlgorithmMismatch { .. } => ErrorClass::Unauthenticated,
            MetadataMismatch { .. } | ForeignKid { .. } => ErrorClass::Forbidden,
        }
    }
}

/// At most 80 characters of `s`, for quoting untrusted input in errors.
pub(crate) fn quote(s: &str) -> String {
    s.chars().take(80).collect()
}

/// At most 200 characters of a parser's error message, which may quote
/// the input.
pub(crate) fn clip(detail: String) -> String {
    match detail.char_indices().nth(200) {
        Some((end, _)) => format!("{}…", &detail[..end]),
        None => detail,
    }
}
