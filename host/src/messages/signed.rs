//! A message and its Ed25519 signature, as the signer sends it.

use ed25519_dalek::{Signer, SigningKey};
use serde::Serialize;

use super::encoding;
use super::error::MessageError;

/// A message signed with Ed25519 over its signing input (federation.md).
pub trait SigningInput: Serialize {
    /// The exact bytes the signature covers.
    fn signing_input(&self) -> Result<Vec<u8>, MessageError>;
}

/// `message` with its signature; serialized as the message's members plus
/// `signature` (standard padded base64).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Signed<M> {
    message: M,
    signature: ed25519_dalek::Signature,
}

impl<M: SigningInput> Signed<M> {
    /// Signs `message` with `key`. Fails only if the message has no
    /// canonical form, which values of the message types always have.
    pub fn sign(key: &SigningKey, message: M) -> Result<Self, MessageError> {
        let signature = key.sign(&message.signing_input()?);
        Ok(Self { message, signature })
    }

    /// The signed message.
    pub fn message(&self) -> &M {
        &self.message
    }

    /// The signature, as standard padded base64.
    pub fn signature_base64(&self) -> String {
        encoding::encode_std(&self.signature.to_bytes())
    }

    /// The body: the message's members and `signature`, as compact JSON.
    pub fn to_json(&self) -> Vec<u8> {
        #[derive(Serialize)]
        struct Wire<'a, M> {
            #[serde(flatten)]
            message: &'a M,
            signature: String,
        }
        let wire = Wire {
            message: &self.message,
            signature: self.signature_base64(),
        };
        // Cannot fail for the message types: every map key is a string and
        // every number finite.
        serde_json::to_vec(&wire).unwrap_or_default()
    }
}
