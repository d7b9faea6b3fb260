//! Attestation results as EAR (EAT Attestation Result) JWTs
//! (draft-ietf-rats-ear), signed by the gateway with EdDSA (RFC 8037), and
//! the JWKS relying parties verify them with. docs/attestation.md shows a
//! token member by member.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use ed25519_dalek::{Signer as _, Verifier as _};
use serde::Serialize;
use serde_json::{Value, json};

use crate::digest::Digest;
use crate::ids::Kid;
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

    /// The status of a decision: contraindicated when it denies; otherwise
    /// the worst tier in its trust vector, and `none` without one (an
    /// allow that says nothing about trustworthiness affirms nothing).
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
        claims
            .iter()
            .map(|c| Self::of_claim(*c))
            .filter(|s| *s != Self::None)
            .max()
            .unwrap_or(Self::None)
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

    /// A compact JWS (`alg` EdDSA, `typ` JWT) whose payload is the EAR.
    pub fn issue(&self, result: &AttestationResult<'_>) -> String {
        let header = json!({"alg": "EdDSA", "typ": "JWT", "kid": self.kid.as_str()});
        let input = format!(
            "{}.{}",
            B64URL.encode(header.to_string()),
            B64URL.encode(claims(result).to_string())
        );
        let signature = self.key.sign(input.as_bytes());
        format!("{input}.{}", B64URL.encode(signature.to_bytes()))
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
    json!({
        "eat_profile": EAR_PROFILE,
        "iat": result.issued_at,
        "exp": result.expires_at,
        "eat_nonce": result.nonce,
        "ear.verifier-id": {"developer": "verdict", "build": concat!("verdict-host ", env!("CARGO_PKG_VERSION"))},
        "submods": {SUBMODULE: submodule},
    })
}

/// Why a token was refused by [`verify`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EarError {
    #[error("not a compact JWS of three base64url parts")]
    Shape,
    #[error("the header is not JSON or its alg is not EdDSA")]
    Header,
    #[error("no key in the JWKS has kid `{0}`")]
    UnknownKid(String),
    #[error("the JWKS key for `{0}` is not an Ed25519 OKP key")]
    BadKey(String),
    #[error("the signature does not verify")]
    Signature,
    #[error("the payload is not a JSON object")]
    Payload,
    #[error("the token expired at {exp} (now {now})")]
    Expired { exp: i64, now: i64 },
}

/// Verifies `token` against `jwks` (as [`EarSigner::jwks`] serves it) at
/// unix time `now`, and returns its claims. The algorithm is EdDSA whatever
/// the header says otherwise: any other `alg` is refused.
pub fn verify(token: &str, jwks: &Value, now: i64) -> Result<Value, EarError> {
    let mut parts = token.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(EarError::Shape);
    };
    let header: Value = B64URL
        .decode(header)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or(EarError::Header)?;
    if header.get("alg").and_then(Value::as_str) != Some("EdDSA") {
        return Err(EarError::Header);
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let key = jwks_key(jwks, kid)?;
    let signature = B64URL
        .decode(signature)
        .ok()
        .and_then(|b| ed25519_dalek::Signature::from_slice(&b).ok())
        .ok_or(EarError::Signature)?;
    let input_len = token.len() - signature_part_len(token);
    key.verify(&token.as_bytes()[..input_len], &signature)
        .map_err(|_| EarError::Signature)?;
    let claims: Value = B64URL
        .decode(payload)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
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

/// The length of `.signature` at the end of a token.
fn signature_part_len(token: &str) -> usize {
    token.rfind('.').map_or(0, |dot| token.len() - dot)
}

fn jwks_key(jwks: &Value, kid: &str) -> Result<ed25519_dalek::VerifyingKey, EarError> {
    let key = jwks
        .get("keys")
        .and_then(Value::as_array)
        .and_then(|keys| {
            keys.iter()
                .find(|k| k.get("kid").and_then(Value::as_str) == Some(kid))
        })
        .ok_or_else(|| EarError::UnknownKid(kid.to_string()))?;
    let bad = || EarError::BadKey(kid.to_string());
    if key.get("kty").and_then(Value::as_str) != Some("OKP")
        || key.get("crv").and_then(Value::as_str) != Some("Ed25519")
    {
        return Err(bad());
    }
    let x = key
        .get("x")
        .and_then(Value::as_str)
        .and_then(|x| B64URL.decode(x).ok())
        .and_then(|x| <[u8; 32]>::try_from(x.as_slice()).ok())
        .ok_or_else(bad)?;
    ed25519_dalek::VerifyingKey::from_bytes(&x).map_err(|_| bad())
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
            extensions: serde_json::Map::new(),
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

    #[test]
    fn status_is_the_worst_tier_and_a_deny_is_contraindicated() {
        let mut decision = Decision::deny("no");
        assert_eq!(
            EarStatus::of_decision(&decision),
            EarStatus::Contraindicated
        );
        decision.allow = true;
        assert_eq!(EarStatus::of_decision(&decision), EarStatus::None);
        decision.trust_vector = Some(TrustVector {
            hardware: 2,
            executables: 33,
            ..TrustVector::default()
        });
        assert_eq!(EarStatus::of_decision(&decision), EarStatus::Warning);
        decision.trust_vector = Some(TrustVector {
            hardware: 2,
            ..TrustVector::default()
        });
        assert_eq!(EarStatus::of_decision(&decision), EarStatus::Affirming);
    }
}
