//! Attestation results as EAR (EAT Attestation Result) JWTs
//! (draft-ietf-rats-ear), signed by the gateway with EdDSA (RFC 8037), and
//! the JWKS relying parties verify them with. docs/attestation.md shows a
//! token member by member.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use ed25519_dalek::Signer as _;
use serde::Serialize;
use serde_json::{Value, json};

use crate::digest::Digest;
use crate::evidence::session::KeyThumbprint;
use crate::ids::{Kid, ServiceIdentity};
use crate::messages::jws;
use crate::messages::{KeyAlgorithm, KeyEntry, Keyring, MessageError};
use crate::policy::{Decision, TrustVector};

/// The `eat_profile` of every token.
pub const EAR_PROFILE: &str = "tag:github.com,2023:veraison/ear";
/// The submodule the gateway's appraisal is reported under.
pub const SUBMODULE: &str = "verdict";

/// An EAR status (AR4SI tiers), worst last.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum EarStatus {
    Affirming,
    None,
    Warning,
    Contraindicated,
}

impl EarStatus {
    /// The tier of one trust-vector claim value (AR4SI section 2.3): 2..=31
    /// affirming, 32..=95 warning, 96..=127 and all negatives below -1
    /// contraindicated, -1..=1 none.
    pub fn of_claim(value: i8) -> Self {
        match value {
            2..=31 => Self::Affirming,
            32..=95 => Self::Warning,
            -1..=1 => Self::None,
            _ => Self::Contraindicated,
        }
    }

    /// The status of a decision, as a function of its allow and its trust
    /// vector (docs/attestation.md, "EAR status"):
    ///
    /// 1. a deny is `contraindicated`, whatever its vector says;
    /// 2. an allow without a vector is `none` (it says nothing about
    ///    trustworthiness, so it affirms nothing);
    /// 3. otherwise the worst tier among the claims that are not `none`
    ///    (`contraindicated` > `warning` > `affirming`), and `none` when
    ///    every claim is;
    /// 4. but never `affirming` unless `instance_identity` is itself
    ///    affirming: evidence from an attester nobody recognised is at most
    ///    `none`, whatever else it proves.
    pub fn of_decision(decision: &Decision) -> Self {
        if !decision.allow {
            return Self::Contraindicated;
        }
        let Some(vector) = decision.trust_vector else {
            return Self::None;
        };
        let claims = [
            vector.instance_identity,
            vector.configuration,
            vector.executables,
            vector.file_system,
            vector.hardware,
            vector.runtime_opaque,
            vector.storage_opaque,
            vector.sourced_data,
        ];
        let worst = claims
            .iter()
            .map(|c| Self::of_claim(*c))
            .filter(|s| *s != Self::None)
            .max()
            .unwrap_or(Self::None);
        if worst == Self::Affirming && Self::of_claim(vector.instance_identity) != Self::Affirming {
            return Self::None;
        }
        worst
    }
}

/// What one token says.
pub struct AttestationResult<'a> {
    pub status: EarStatus,
    pub trust_vector: Option<TrustVector>,
    /// A name for the appraisal policy, e.g. `verdict/attestation`.
    pub policy_id: &'a str,
    /// The SHA-256 of the policy's code.
    pub policy_digest: &'a Digest,
    /// The challenge the evidence answered, hex.
    pub nonce: &'a str,
    pub issued_at: i64,
    pub expires_at: i64,
    /// The key the result is confirmed to (RFC 7800 `cnf`, as `jkt`: the
    /// RFC 7638 thumbprint, RFC 9449): only its holder may present it.
    pub confirmation_key: Option<&'a KeyThumbprint>,
    /// Extra members of the submodule, `verdict.`-prefixed.
    pub extensions: serde_json::Map<String, Value>,
}

/// The gateway's EAR signing key and its key id.
pub struct EarSigner {
    key: ed25519_dalek::SigningKey,
    kid: Kid,
}

impl EarSigner {
    /// A signer with `key`, published under `kid`.
    pub fn new(key: ed25519_dalek::SigningKey, kid: Kid) -> Self {
        Self { key, kid }
    }

    /// The key id tokens carry in their header.
    pub fn kid(&self) -> &Kid {
        &self.kid
    }

    /// The JWKS (RFC 7517) with this signer's public key as an OKP key.
    pub fn jwks(&self) -> Value {
        json!({"keys": [{
            "kty": "OKP",
            "crv": "Ed25519",
            "x": B64URL.encode(self.key.verifying_key().as_bytes()),
            "kid": self.kid.as_str(),
            "alg": "EdDSA",
            "use": "sig",
        }]})
    }

    /// A compact JWS (header `{"alg":"EdDSA","kid":<kid>}`) whose payload
    /// is the EAR.
    pub fn issue(&self, result: &AttestationResult<'_>) -> String {
        let payload = claims(result).to_string();
        let token = jws::sign_compact(
            KeyAlgorithm::EdDsa,
            &self.kid,
            payload.as_bytes(),
            |input| Ok(self.key.sign(input).to_bytes().to_vec()),
        );
        // Only the header's serialization could fail, and a kid and an
        // algorithm name always serialize.
        token.unwrap_or_default()
    }
}

fn claims(result: &AttestationResult<'_>) -> Value {
    let mut submodule = serde_json::Map::new();
    submodule.insert("ear.status".into(), json!(result.status));
    if let Some(vector) = result.trust_vector {
        submodule.insert("ear.trustworthiness-vector".into(), json!(vector));
    }
    submodule.insert("ear.appraisal-policy-id".into(), json!(result.policy_id));
    submodule.insert(
        "verdict.policy-digest".into(),
        json!(result.policy_digest.to_string()),
    );
    submodule.extend(result.extensions.clone());
    let mut token = json!({
        "eat_profile": EAR_PROFILE,
        "iat": result.issued_at,
        "exp": result.expires_at,
        "eat_nonce": result.nonce,
        "ear.verifier-id": {"developer": "verdict", "build": concat!("verdict-host ", env!("CARGO_PKG_VERSION"))},
        "submods": {SUBMODULE: submodule},
    });
    if let Some(key) = result.confirmation_key {
        token["cnf"] = json!({"jkt": key});
    }
    token
}

/// Why a token was refused by [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EarError {
    #[error("not a compact JWS of three base64url parts")]
    Shape,
    #[error("the protected header is malformed, or its alg is not the key's (EdDSA)")]
    Header,
    #[error("no Ed25519 key in the JWKS has kid {0}")]
    UnknownKid(String),
    #[error("the signature does not verify")]
    Signature,
    #[error("the payload is not a JSON object")]
    Payload,
    #[error("the token expired at {exp} (now {now})")]
    Expired { exp: i64, now: i64 },
}

/// Verifies `token` against `jwks` (as [`EarSigner::jwks`] serves it) at
/// unix time `now`, and returns its claims. The token is read by the same
/// strict compact-JWS rules as manifests (docs/federation.md); the algorithm
/// is the key's, EdDSA, and a header naming any other is refused.
pub fn verify(token: &str, jwks: &Value, now: i64) -> Result<Value, EarError> {
    let keyring = keyring_of(jwks);
    let payload = jws::verify_compact(token, &keyring, None).map_err(EarError::from_jws)?;
    let claims: Value = serde_json::from_slice(&payload)
        .ok()
        .filter(Value::is_object)
        .ok_or(EarError::Payload)?;
    let exp = claims
        .get("exp")
        .and_then(Value::as_i64)
        .ok_or(EarError::Payload)?;
    if exp < now {
        return Err(EarError::Expired { exp, now });
    }
    Ok(claims)
}

impl EarError {
    fn from_jws(error: MessageError) -> Self {
        match error {
            MessageError::BadSignature { .. } => Self::Signature,
            MessageError::UnknownKid { kid } => Self::UnknownKid(kid),
            MessageError::MalformedToken { .. } | MessageError::TooLarge { .. } => Self::Shape,
            _ => Self::Header,
        }
    }
}

/// The JWKS's Ed25519 OKP keys as a keyring; other keys are left out (a
/// token naming one is refused as signed by an unknown key).
fn keyring_of(jwks: &Value) -> Keyring {
    let mut keyring = Keyring::new();
    let keys = jwks.get("keys").and_then(Value::as_array);
    for key in keys.into_iter().flatten() {
        let (Some(kid), Some(public)) = (
            key.get("kid")
                .and_then(Value::as_str)
                .and_then(|k| k.parse::<Kid>().ok()),
            okp_ed25519(key),
        ) else {
            continue;
        };
        let entry = KeyEntry::new(jwks_owner(), public);
        let _ = keyring.insert(kid, entry);
    }
    keyring
}

fn okp_ed25519(key: &Value) -> Option<ed25519_dalek::VerifyingKey> {
    if key.get("kty").and_then(Value::as_str) != Some("OKP")
        || key.get("crv").and_then(Value::as_str) != Some("Ed25519")
    {
        return None;
    }
    let x = B64URL.decode(key.get("x")?.as_str()?).ok()?;
    ed25519_dalek::VerifyingKey::from_bytes(&<[u8; 32]>::try_from(x.as_slice()).ok()?).ok()
}

/// The owner the keyring records for JWKS keys (keyrings name one per key).
fn jwks_owner() -> ServiceIdentity {
    "ear-issuer"
        .parse()
        .expect("`ear-issuer` is a valid service identity name")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> EarSigner {
        EarSigner::new(
            ed25519_dalek::SigningKey::from_bytes(&[7; 32]),
            "ear-k1".parse().unwrap(),
        )
    }

    fn result(status: EarStatus) -> AttestationResult<'static> {
        static DIGEST: std::sync::LazyLock<Digest> = std::sync::LazyLock::new(|| Digest::of(b"p"));
        AttestationResult {
            status,
            trust_vector: Some(TrustVector {
                instance_identity: 2,
                hardware: 2,
                ..TrustVector::default()
            }),
            policy_id: "verdict/attestation",
            policy_digest: &DIGEST,
            nonce: "00112233445566778899aabbccddeeff",
            issued_at: 1_000,
            expires_at: 1_300,
            confirmation_key: None,
            extensions: serde_json::Map::new(),
        }
    }

    #[test]
    fn the_status_is_the_documented_function_of_allow_and_vector() {
        let vector = |instance_identity, hardware, executables| TrustVector {
            instance_identity,
            hardware,
            executables,
            ..TrustVector::default()
        };
        let decide = |allow, trust_vector| Decision {
            allow,
            reasons: Vec::new(),
            trust_vector,
            annotations: Vec::new(),
        };
        let cases = [
            (
                decide(false, Some(vector(2, 2, 2))),
                EarStatus::Contraindicated,
            ),
            (decide(true, None), EarStatus::None),
            (decide(true, Some(vector(0, 0, 0))), EarStatus::None),
            (decide(true, Some(vector(2, 2, 2))), EarStatus::Affirming),
            (decide(true, Some(vector(2, 0, 3))), EarStatus::Affirming),
            (decide(true, Some(vector(2, 2, 32))), EarStatus::Warning),
            (
                decide(true, Some(vector(2, 97, 32))),
                EarStatus::Contraindicated,
            ),
            (
                decide(true, Some(vector(-2, 2, 2))),
                EarStatus::Contraindicated,
            ),
            // Affirming hardware from an unrecognised instance affirms nothing.
            (decide(true, Some(vector(0, 2, 2))), EarStatus::None),
            (decide(true, Some(vector(32, 2, 2))), EarStatus::Warning),
        ];
        for (decision, status) in cases {
            assert_eq!(EarStatus::of_decision(&decision), status, "{decision:?}");
        }
    }

    #[test]
    fn issued_tokens_verify_with_the_jwks_and_carry_the_result() {
        let signer = signer();
        let token = signer.issue(&result(EarStatus::Affirming));
        let claims = verify(&token, &signer.jwks(), 1_100).unwrap();
        let submod = &claims["submods"]["verdict"];
        assert_eq!(submod["ear.status"], "affirming");
        assert_eq!(submod["ear.trustworthiness-vector"]["hardware"], 2);
        assert_eq!(claims["eat_nonce"], "00112233445566778899aabbccddeeff");
        assert_eq!(claims["eat_profile"], EAR_PROFILE);
    }

    #[test]
    fn tampered_expired_and_foreign_tokens_are_refused() {
        let signer = signer();
        let token = signer.issue(&result(EarStatus::Affirming));
        let forged = signer.issue(&result(EarStatus::Contraindicated));
        let spliced = format!(
            "{}.{}",
            &forged[..forged.rfind('.').unwrap()],
            &token[token.rfind('.').unwrap() + 1..]
        );
        assert_eq!(
            verify(&spliced, &signer.jwks(), 1_100),
            Err(EarError::Signature)
        );
        assert!(matches!(
            verify(&token, &signer.jwks(), 2_000),
            Err(EarError::Expired { .. })
        ));
        let other = EarSigner::new(
            ed25519_dalek::SigningKey::from_bytes(&[8; 32]),
            "ear-k1".parse().unwrap(),
        );
        assert_eq!(
            verify(&token, &other.jwks(), 1_100),
            Err(EarError::Signature)
        );
        let none_alg = format!(
            "{}.{}",
            B64URL.encode(r#"{"alg":"none","kid":"ear-k1"}"#),
            &token[token.find('.').unwrap() + 1..]
        );
        assert_eq!(
            verify(&none_alg, &signer.jwks(), 1_100),
            Err(EarError::Header)
        );
    }
}
