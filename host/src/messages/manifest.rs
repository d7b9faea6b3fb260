//! Execution manifests: a compact JWS whose payload says which tool to run
//! against which target, for which task.
//!
//! The JWS is checked by strict compact-JWS rules: header `{"alg", "kid"}`
//! (optionally `typ`), the algorithm pinned by the keyring entry of `kid`:
//!
//! - `EdDSA`: Ed25519 (RFC 8032, RFC 8037), verified with `verify_strict`;
//! - `ML-DSA-65`: FIPS 204 ML-DSA-65, pure (no pre-hash), with the empty
//!   context string;
//!
//! both over the JWS signing input
//! `ASCII(BASE64URL(header) || '.' || BASE64URL(payload))`. Only then is the
//! payload parsed, strictly (see [`Manifest`]). See `docs/federation.md`.

use std::fmt;
use std::str::FromStr;

use ml_dsa::MlDsa65;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::error::{MessageError, MessageKind, quote};
use super::fields::{Label, UnixSeconds, deserialize_nonce};
use super::json::{self, JsonObject};
use super::jws;
use super::keyring::{KeyAlgorithm, Keyring};
use crate::digest::Digest;
use crate::ids::{Kid, Nonce, OperatorId, ServiceIdentity, TenantId};

/// A URN (RFC 8141) without r-, q- or f-components: `urn:<NID>:<NSS>`.
///
/// The prefix is exactly `urn:` (lowercase). The NID is 2-32 of
/// `[A-Za-z0-9-]`, starting and ending with a letter or digit, and is not
/// `urn` in any case. The NSS is non-empty, starts with a `pchar` and
/// contains only `pchar`s and `/`, where a `pchar` is a letter, a digit, one
/// of `-._~!$&'()*+,;=:@`, or `%` followed by two hex digits. At most
/// [`Urn::MAX_LEN`] bytes.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Urn {
    text: String,
    nid_end: usize,
}

/// Why a string is not a [`Urn`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}` is not a URN urn:<nid>:<nss>: {rule}")]
pub struct UrnError {
    /// The string (at most 80 characters of it).
    pub value: String,
    /// The rule it breaks.
    pub rule: &'static str,
}

impl Urn {
    /// The longest accepted URN, in bytes.
    pub const MAX_LEN: usize = 1024;

    /// The whole URN.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The namespace identifier (between `urn:` and the next `:`).
    pub fn nid(&self) -> &str {
        self.text.get(4..self.nid_end).unwrap_or_default()
    }

    /// The namespace-specific string (after the NID's `:`).
    pub fn nss(&self) -> &str {
        self.text.get(self.nid_end + 1..).unwrap_or_default()
    }
}

fn is_pchar_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=:@".contains(&b)
}

/// Whether `nss` is `pchar *(pchar / "/")` with `%XX` escapes well formed.
fn valid_nss(nss: &[u8]) -> bool {
    if nss.first().is_none_or(|&b| b == b'/') {
        return false;
    }
    let mut i = 0;
    while let Some(&b) = nss.get(i) {
        if b == b'%' {
            let hex = |j: usize| nss.get(j).is_some_and(u8::is_ascii_hexdigit);
            if !(hex(i + 1) && hex(i + 2)) {
                return false;
            }
            i += 3;
        } else if is_pchar_byte(b) || b == b'/' {
            i += 1;
        } else {
            return false;
        }
    }
    true
}

impl FromStr for Urn {
    type Err = UrnError;

    /// Accepts exactly the form described on [`Urn`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |rule| UrnError {
            value: quote(s),
            rule,
        };
        if s.len() > Self::MAX_LEN {
            return Err(err("longer than 1024 bytes"));
        }
        let rest = s
            .strip_prefix("urn:")
            .ok_or_else(|| err("must start with `urn:`"))?;
        let (nid, nss) = rest
            .split_once(':')
            .ok_or_else(|| err("no `:` after the NID"))?;
        let nid_bytes = nid.as_bytes();
        let ldh = |b: &u8| b.is_ascii_alphanumeric() || *b == b'-';
        let nid_ok = (2..=32).contains(&nid_bytes.len())
            && nid_bytes.iter().all(ldh)
            && nid_bytes.first().is_some_and(u8::is_ascii_alphanumeric)
            && nid_bytes.last().is_some_and(u8::is_ascii_alphanumeric);
        if !nid_ok {
            return Err(err(
                "NID must be 2-32 of [A-Za-z0-9-], starting and ending alphanumeric",
            ));
        }
        if nid.eq_ignore_ascii_case("urn") {
            return Err(err("NID must not be `urn`"));
        }
        if !valid_nss(nss.as_bytes()) {
            return Err(err(
                "NSS must be non-empty pchars and `/`, not starting with `/`, with valid %-escapes",
            ));
        }
        Ok(Self {
            text: s.to_owned(),
            nid_end: 4 + nid.len(),
        })
    }
}

impl fmt::Display for Urn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl fmt::Debug for Urn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Urn({:?})", self.text)
    }
}

impl Serialize for Urn {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for Urn {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// A manifest version: a SemVer 2.0.0 version (e.g. `1.0.0`, `1.2.0-rc.1`)
/// whose major version is 1.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ManifestVersion(semver::Version);

/// Why a string is not a [`ManifestVersion`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a manifest version: SemVer with major version 1")]
pub struct ManifestVersionError(pub String);

impl ManifestVersion {
    /// The version.
    pub fn version(&self) -> &semver::Version {
        &self.0
    }
}

impl FromStr for ManifestVersion {
    type Err = ManifestVersionError;

    /// Accepts a SemVer 2.0.0 version with major version 1.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match semver::Version::parse(s) {
            Ok(version) if version.major == 1 => Ok(Self(version)),
            _ => Err(ManifestVersionError(quote(s))),
        }
    }
}

impl fmt::Display for ManifestVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for ManifestVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ManifestVersion({})", self.0)
    }
}

impl Serialize for ManifestVersion {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for ManifestVersion {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Which task a manifest belongs to. Exactly these members.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TaskContext {
    /// The task.
    pub task_id: Label,
    /// The tenant it runs for.
    pub tenant_id: TenantId,
    /// The operator that runs it.
    pub operator_id: OperatorId,
    /// What asked for it.
    pub source: Label,
    /// What it does.
    pub action: Label,
    /// When it was requested.
    pub requested_at: UnixSeconds,
    /// Ties the task to the request that caused it.
    pub correlation_id: Label,
}

/// An execution manifest. Exactly these members, each of its type; from
/// [`verify_manifest`], signed by a live key of the keyring.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    /// The task.
    pub task_context: TaskContext,
    /// What the tool acts on.
    pub target_urn: Urn,
    /// The tool's digest, `sha256:<64 lowercase hex>`.
    pub tool_sha256: Digest,
    /// A single-use nonce, 8-128 of `[A-Za-z0-9._:-]`.
    #[serde(deserialize_with = "deserialize_nonce")]
    pub nonce: Nonce,
    /// The tool's parameters: an I-JSON object.
    pub parameters: JsonObject,
    /// When the manifest was issued.
    pub issued_at: UnixSeconds,
    /// The manifest format's version, major 1.
    pub manifest_version: ManifestVersion,
}

/// Verifies a compact-JWS manifest against `keyring` and returns the
/// manifest.
///
/// Token shape, header and signature errors are as for the JWS rules in
/// the module docs (`alg` `none`, `HS256`, anything unknown, a missing or
/// unknown `kid`, a retired key, an `alg` other than the key's, a bad
/// signature: Unauthenticated; `crit`, a malformed token or header:
/// Malformed). After the signature verifies, a payload that is not JSON is
/// Malformed and one that does not match [`Manifest`] is Schema.
///
/// Freshness of `issued_at` and single use of `nonce` are the caller's to
/// check.
pub fn verify_manifest(compact: &str, keyring: &Keyring) -> Result<Manifest, MessageError> {
    let payload = jws::verify_compact(compact, keyring, None)?;
    json::parse(MessageKind::Manifest, &payload)
}

/// [`verify_manifest`], and the signing key must belong to `caller`
/// ([`MessageError::ForeignKid`], Forbidden, otherwise): a service identity
/// can only present manifests it signed itself.
pub fn verify_manifest_from(
    compact: &str,
    keyring: &Keyring,
    caller: &ServiceIdentity,
) -> Result<Manifest, MessageError> {
    let payload = jws::verify_compact(compact, keyring, Some(caller))?;
    json::parse(MessageKind::Manifest, &payload)
}

fn payload(manifest: &Manifest) -> Result<Vec<u8>, MessageError> {
    serde_json::to_vec(manifest).map_err(|err| MessageError::CannotEncode {
        kind: MessageKind::Manifest,
        detail: err.to_string(),
    })
}

/// Signs `manifest` as a compact JWS with `alg` `EdDSA` and `kid`, for
/// clients and tests. The payload is the manifest's compact JSON.
pub fn sign_manifest_eddsa(
    signing_key: &ed25519_dalek::SigningKey,
    kid: &Kid,
    manifest: &Manifest,
) -> Result<String, MessageError> {
    use ed25519_dalek::Signer as _;
    jws::sign_compact(KeyAlgorithm::EdDsa, kid, &payload(manifest)?, |input| {
        Ok(signing_key.sign(input).to_bytes().to_vec())
    })
}

/// Signs `manifest` as a compact JWS with `alg` `ML-DSA-65` and `kid`
/// (deterministic FIPS 204 signing, empty context), for clients and tests.
pub fn sign_manifest_ml_dsa_65(
    signing_key: &ml_dsa::SigningKey<MlDsa65>,
    kid: &Kid,
    manifest: &Manifest,
) -> Result<String, MessageError> {
    jws::sign_compact(KeyAlgorithm::MlDsa65, kid, &payload(manifest)?, |input| {
        signing_key
            .expanded_key()
            .sign_deterministic(input, b"")
            .map(|signature| signature.encode().to_vec())
            .map_err(|_| MessageError::CannotEncode {
                kind: MessageKind::Manifest,
                detail: "ML-DSA-65 signing failed".to_owned(),
            })
    })
}
