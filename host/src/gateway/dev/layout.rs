//! Where each file of a dev setup lives, and who the dev setup's principals
//! are. The one place that knows the file names.

use std::path::{Path, PathBuf};

use crate::ids::ServiceIdentity;

/// The dev setup's service identities and their tenants.
pub(super) const IDENTITIES: [(&str, &str); 2] = [("alpha", "tenant-a"), ("beta", "tenant-b")];

/// The dev setup's operators and their tenants.
pub(super) const OPERATORS: [(&str, &str); 3] = [
    ("op-a1", "tenant-a"),
    ("op-a2", "tenant-a"),
    ("op-b1", "tenant-b"),
];

/// The kid of the gateway's feedback-signing key.
pub(super) const GATEWAY_KID: &str = "gateway-k1";
/// The kid of the dev setup's EAR signing key.
pub(super) const EAR_KID: &str = "ear-k1";

/// The SPIFFE trust domain of the client certificates' URI names.
pub const TRUST_DOMAIN: &str = "verdict.local";

/// The kid of `identity`'s signing key: `<identity>-k1`.
pub(super) fn identity_kid(identity: &str) -> String {
    format!("{identity}-k1")
}

/// The SPIFFE ID in `identity`'s client certificate:
/// `spiffe://verdict.local/<identity>`.
pub(super) fn spiffe_id(identity: &str) -> String {
    format!("spiffe://{TRUST_DOMAIN}/{identity}")
}

/// Paths relative to the setup directory, as written in `verdict.toml`
/// (always with `/`).
pub(super) mod rel {
    pub(crate) const CONFIG: &str = "verdict.toml";
    pub(crate) const CA_CERT: &str = "ca.pem";
    pub(crate) const CA_KEY: &str = "ca.key";
    pub(crate) const SERVER_CERT: &str = "server.pem";
    pub(crate) const SERVER_KEY: &str = "server.key";
    pub(crate) const CLIENTS: &str = "clients";
    pub(crate) const CLIENT_CERT: &str = "cert.pem";
    pub(crate) const CLIENT_KEY: &str = "key.pem";
    pub(crate) const CLIENT_SIGNING_KEY: &str = "signing.pem";
    pub(crate) const CLIENT_SIGNING_PUB: &str = "signing.pub.pem";
    pub(crate) const CLIENT_ATTESTER_KEY: &str = "attester.key";
    pub(crate) const CLIENT_ATTESTER_PUB: &str = "attester.pub";
    pub(crate) const GATEWAY_FEEDBACK_KEY: &str = "gateway-feedback.key";
    pub(crate) const GATEWAY_FEEDBACK_PUB: &str = "gateway-feedback.pub";
    pub(crate) const DECISION_LOG_KEY: &str = "decision-log.key";
    pub(crate) const DECISION_LOG_PUB: &str = "decision-log.pub";
    pub(crate) const DECISION_LOG: &str = "decisions.jsonl";
    pub(crate) const POLICIES: &str = "policies";
    pub(crate) const ISOLATION_REGO: &str = "policies/isolation.rego";
    pub(crate) const ISOLATION_DATA: &str = "policies/isolation-data.json";
    pub(crate) const FEEDBACK_REGO: &str = "policies/feedback.rego";
    pub(crate) const FEEDBACK_DATA: &str = "policies/feedback-data.json";
    pub(crate) const ATTESTATION_REGO: &str = "policies/attestation.rego";
    pub(crate) const ATTESTATION_DATA: &str = "policies/attestation-data.json";
    pub(crate) const EAR_KEY: &str = "ear.key";
    pub(crate) const EAR_PUB: &str = "ear.pub";
    pub(crate) const EVIDENCE_KEY: &str = "evidence.key";
    pub(crate) const EVIDENCE_PUB: &str = "evidence.pub";

    /// `clients/<identity>/<file>`.
    pub(crate) fn client(identity: &str, file: &str) -> String {
        format!("{CLIENTS}/{identity}/{file}")
    }
}

/// The files of a dev setup in directory [`dir`](Self::dir). Paths only:
/// nothing here touches the file system.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevLayout {
    dir: PathBuf,
}

impl DevLayout {
    /// The layout of a setup in `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    /// The setup directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn at(&self, rel: &str) -> PathBuf {
        self.dir.join(rel)
    }

    /// `verdict.toml`: the gateway config.
    pub fn config(&self) -> PathBuf {
        self.at(rel::CONFIG)
    }

    /// `ca.pem`: the CA certificate, trusted for client certificates (and by
    /// clients, for the server's).
    pub fn ca_cert(&self) -> PathBuf {
        self.at(rel::CA_CERT)
    }

    /// `ca.key`: the CA's private key (PKCS#8 PEM, ECDSA P-256), to issue more
    /// certificates.
    pub fn ca_key(&self) -> PathBuf {
        self.at(rel::CA_KEY)
    }

    /// `server.pem`: the server certificate, for `localhost` and `127.0.0.1`.
    pub fn server_cert(&self) -> PathBuf {
        self.at(rel::SERVER_CERT)
    }

    /// `server.key`: the server's private key (PKCS#8 PEM, ECDSA P-256).
    pub fn server_key(&self) -> PathBuf {
        self.at(rel::SERVER_KEY)
    }

    /// `clients/<identity>/`.
    pub fn client_dir(&self, identity: &ServiceIdentity) -> PathBuf {
        self.at(rel::CLIENTS).join(identity.as_str())
    }

    /// `clients/<identity>/cert.pem`: the identity's mTLS client certificate.
    pub fn client_cert(&self, identity: &ServiceIdentity) -> PathBuf {
        self.at(&rel::client(identity.as_str(), rel::CLIENT_CERT))
    }

    /// `clients/<identity>/key.pem`: its private key (PKCS#8 PEM, ECDSA P-256).
    pub fn client_key(&self, identity: &ServiceIdentity) -> PathBuf {
        self.at(&rel::client(identity.as_str(), rel::CLIENT_KEY))
    }

    /// `clients/<identity>/signing.pem`: the identity's Ed25519 message
    /// signing key (PKCS#8 PEM), kid `<identity>-k1`.
    pub fn client_signing_key(&self, identity: &ServiceIdentity) -> PathBuf {
        self.at(&rel::client(identity.as_str(), rel::CLIENT_SIGNING_KEY))
    }

    /// `clients/<identity>/signing.pub.pem`: its public key (SPKI PEM).
    pub fn client_signing_pub(&self, identity: &ServiceIdentity) -> PathBuf {
        self.at(&rel::client(identity.as_str(), rel::CLIENT_SIGNING_PUB))
    }

    /// `clients/<identity>/attester.key`: the ML-DSA-65 key (PKCS#8 PEM) the
    /// identity's runners sign memory reports with (`verdict attest memory
    /// --key`).
    pub fn client_attester_key(&self, identity: &ServiceIdentity) -> PathBuf {
        self.at(&rel::client(identity.as_str(), rel::CLIENT_ATTESTER_KEY))
    }

    /// `clients/<identity>/attester.pub`: its public key (SPKI PEM), listed
    /// in `[attestation.memory] trusted_keys`.
    pub fn client_attester_pub(&self, identity: &ServiceIdentity) -> PathBuf {
        self.at(&rel::client(identity.as_str(), rel::CLIENT_ATTESTER_PUB))
    }

    /// `gateway-feedback.key`: the gateway's Ed25519 feedback-response
    /// signing key (PKCS#8 PEM), kid `gateway-k1`.
    pub fn gateway_feedback_key(&self) -> PathBuf {
        self.at(rel::GATEWAY_FEEDBACK_KEY)
    }

    /// `gateway-feedback.pub`: its public key (SPKI PEM).
    pub fn gateway_feedback_pub(&self) -> PathBuf {
        self.at(rel::GATEWAY_FEEDBACK_PUB)
    }

    /// `decision-log.key`: the Ed25519 decision-log signing key (PKCS#8 PEM).
    pub fn decision_log_key(&self) -> PathBuf {
        self.at(rel::DECISION_LOG_KEY)
    }

    /// `decision-log.pub`: its public key (SPKI PEM), to verify the log.
    pub fn decision_log_pub(&self) -> PathBuf {
        self.at(rel::DECISION_LOG_PUB)
    }

    /// `decisions.jsonl`: the decision log; not created by the setup.
    pub fn decision_log(&self) -> PathBuf {
        self.at(rel::DECISION_LOG)
    }

    /// `policies/isolation.rego`.
    pub fn isolation_rego(&self) -> PathBuf {
        self.at(rel::ISOLATION_REGO)
    }

    /// `policies/isolation-data.json`.
    pub fn isolation_data(&self) -> PathBuf {
        self.at(rel::ISOLATION_DATA)
    }

    /// `policies/feedback.rego`.
    pub fn feedback_rego(&self) -> PathBuf {
        self.at(rel::FEEDBACK_REGO)
    }

    /// `policies/feedback-data.json`.
    pub fn feedback_data(&self) -> PathBuf {
        self.at(rel::FEEDBACK_DATA)
    }

    /// `policies/attestation.rego`: the appraisal policy.
    pub fn attestation_rego(&self) -> PathBuf {
        self.at(rel::ATTESTATION_REGO)
    }

    /// `policies/attestation-data.json`.
    pub fn attestation_data(&self) -> PathBuf {
        self.at(rel::ATTESTATION_DATA)
    }

    /// `ear.key`: the Ed25519 key that signs EAR tokens (PKCS#8 PEM).
    pub fn ear_key(&self) -> PathBuf {
        self.at(rel::EAR_KEY)
    }

    /// `ear.pub`: its public key (SPKI PEM); the JWKS serves the same key.
    pub fn ear_pub(&self) -> PathBuf {
        self.at(rel::EAR_PUB)
    }

    /// `evidence.key`: the ML-DSA-65 key that signs the gateway's own
    /// memory-report evidence.
    pub fn evidence_key(&self) -> PathBuf {
        self.at(rel::EVIDENCE_KEY)
    }

    /// `evidence.pub`: its public key, for `verdict verify --memory-key`.
    pub fn evidence_pub(&self) -> PathBuf {
        self.at(rel::EVIDENCE_PUB)
    }
}
