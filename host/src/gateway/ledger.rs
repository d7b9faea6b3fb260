//! What the gateway keeps in its ledger (in memory, or in the Redis every
//! replica shares): the keys, and the records stored under them.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::evidence::EvidenceNonce;
use crate::ids::{OperatorId, TenantId};
use crate::messages::Sha256Hex;

/// A key in the ledger. Its text ([`fmt::Display`]) is the key stored, so
/// every replica and every route spells a key the same way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LedgerKey<'a> {
    /// `challenge:<nonce>`: a live challenge, holding who it was issued to.
    Challenge(&'a EvidenceNonce),
    /// `binding:<hex>`: the tenant that first reported this execution, or
    /// attested this session binding. Telemetry and attestation share it,
    /// so one tenant holds an execution however it first claimed it.
    Binding(&'a Digest),
    /// `execution:<hex>`: the [`Execution`] accepted telemetry recorded.
    Execution(&'a Digest),
}

impl fmt::Display for LedgerKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Challenge(nonce) => write!(f, "challenge:{nonce}"),
            Self::Binding(hash) => write!(f, "binding:{}", hash.hex()),
            Self::Execution(hash) => write!(f, "execution:{}", hash.hex()),
        }
    }
}

/// What accepted telemetry recorded about an execution; feedback is checked
/// against it. Stored as JSON under [`LedgerKey::Execution`], so every
/// replica sees it; the member names are that stored format.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Execution {
    pub(crate) tenant: TenantId,
    pub(crate) operator: OperatorId,
    pub(crate) attestation_measurement_hash: Sha256Hex,
}

/// A record in the ledger that does not parse: something other than this
/// gateway wrote it, or it was damaged. Never read as "no record".
#[derive(Debug, thiserror::Error)]
#[error("the record under {key} is corrupt")]
pub(crate) struct CorruptRecord {
    key: String,
    #[source]
    source: Box<dyn std::error::Error + Send + Sync>,
}

impl CorruptRecord {
    fn new(key: LedgerKey<'_>, source: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            key: key.to_string(),
            source: Box::new(source),
        }
    }
}

/// The tenant a [`LedgerKey::Binding`] record names.
pub(crate) fn holder(key: LedgerKey<'_>, record: &str) -> Result<TenantId, CorruptRecord> {
    record.parse().map_err(|e| CorruptRecord::new(key, e))
}

impl Execution {
    /// The stored form.
    pub(crate) fn to_record(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }

    /// Reads the record stored under `key`.
    pub(crate) fn from_record(key: LedgerKey<'_>, record: &str) -> Result<Self, CorruptRecord> {
        serde_json::from_str(record).map_err(|e| CorruptRecord::new(key, e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_spelt_as_every_replica_expects() {
        let hash = Digest::of(b"execution");
        let hex = hash.hex();
        assert_eq!(
            LedgerKey::Binding(&hash).to_string(),
            format!("binding:{hex}")
        );
        assert_eq!(
            LedgerKey::Execution(&hash).to_string(),
            format!("execution:{hex}")
        );
        let nonce = EvidenceNonce::random();
        assert_eq!(
            LedgerKey::Challenge(&nonce).to_string(),
            format!("challenge:{nonce}")
        );
    }

    #[test]
    fn telemetry_and_attestation_share_a_binding_key() {
        // Telemetry names an execution by its Sha256Hex, attestation a
        // session binding by its Digest: the same 32 bytes, the same key.
        let hash: Sha256Hex = Digest::of(b"shared").into();
        assert_eq!(
            LedgerKey::Binding(&hash.to_digest()).to_string(),
            format!("binding:{hash}")
        );
    }

    #[test]
    fn an_execution_round_trips_in_its_stored_format() {
        let execution = Execution {
            tenant: "tenant-a".parse().unwrap(),
            operator: "op-a1".parse().unwrap(),
            attestation_measurement_hash: Digest::of(b"m").into(),
        };
        let record = execution.to_record().unwrap();
        let stored: serde_json::Value = serde_json::from_str(&record).unwrap();
        let mut members: Vec<&String> = stored.as_object().unwrap().keys().collect();
        members.sort();
        assert_eq!(
            members,
            ["attestation_measurement_hash", "operator", "tenant"]
        );
        let key_hash = Digest::of(b"e");
        let read = Execution::from_record(LedgerKey::Execution(&key_hash), &record).unwrap();
        assert_eq!(read, execution);
    }

    #[test]
    fn a_binding_holds_a_tenant_or_is_corrupt() {
        let hash = Digest::of(b"b");
        let key = LedgerKey::Binding(&hash);
        assert_eq!(holder(key, "tenant-a").unwrap().as_str(), "tenant-a");
        for corrupt in ["", "tenant a", "{\"tenant\": 1}"] {
            let error = holder(key, corrupt).unwrap_err();
            assert!(error.to_string().contains(&key.to_string()), "{error}");
        }
    }

    #[test]
    fn a_corrupt_record_is_an_error_naming_its_key() {
        let hash = Digest::of(b"e");
        let key = LedgerKey::Execution(&hash);
        for corrupt in [
            "",
            "null",
            "{}",
            "not json",
            r#"{"tenant": "tenant-a", "operator": "op-a1"}"#,
            r#"{"tenant": "", "operator": "op-a1", "attestation_measurement_hash": "00"}"#,
        ] {
            let error = Execution::from_record(key, corrupt).unwrap_err();
            assert!(
                error.to_string().contains(&key.to_string()),
                "{error} names the key"
            );
            assert!(std::error::Error::source(&error).is_some());
        }
    }
}
