//! What every request handler shares: the gateway's state, built once at
//! start (`start`) and read by the pipeline and the routes.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::antireplay::{AntiReplay, Ledger};
use crate::crypto::SigningKey;
use crate::digest::Digest;
use crate::ear::EarSigner;
use crate::evidence::memory::report::{MeasuredRegion, MemoryAppraisal};
use crate::gateway::decisions::DecisionSink;
use crate::gateway::metrics::Metrics;
use crate::gateway::ratelimit::RateLimiter;
use crate::ids::{Kid, OperatorId, ServiceIdentity, TenantId};
use crate::log::PublishedLog;
use crate::messages::Keyring;
use crate::policy::Policy;

/// A service identity as the gateway knows it: pinned by certificate.
#[derive(Clone, Debug)]
pub(crate) struct Peer {
    pub(crate) name: ServiceIdentity,
    pub(crate) tenant: TenantId,
    /// Ed25519 keys (not retired) that may sign this identity's telemetry.
    pub(crate) telemetry_keys: Vec<ed25519_dalek::VerifyingKey>,
}

/// One anti-replay guard per route, so their nonces never collide.
pub(crate) struct Guards {
    pub(crate) telemetry: AntiReplay,
    pub(crate) feedback: AntiReplay,
    pub(crate) manifest: AntiReplay,
}

/// Everything a request handler needs. Shared by all connections.
pub(crate) struct AppState {
    /// Service identities by the SHA-256 of their pinned certificate.
    pub(crate) peers: HashMap<Digest, Peer>,
    pub(crate) operators: HashMap<OperatorId, TenantId>,
    pub(crate) keyring: Keyring,
    pub(crate) gateway_kid: Kid,
    pub(crate) gateway_key: ed25519_dalek::SigningKey,
    pub(crate) isolation: Policy,
    pub(crate) feedback: Policy,
    pub(crate) guards: Guards,
    /// Challenges, session bindings and accepted executions: in the replay
    /// backend (in memory, or Redis shared by every replica).
    pub(crate) ledger: Arc<dyn Ledger>,
    /// How long a session binding stays bound to its first tenant.
    pub(crate) binding_retention: Duration,
    /// `/v1/challenge` and `/v1/attest`, when `[attestation]` is configured.
    pub(crate) attestation: Option<Attestation>,
    pub(crate) log: DecisionSink,
    /// The log's published tree and latest checkpoint, for the proof routes.
    pub(crate) published: PublishedLog,
    pub(crate) metrics: Metrics,
    pub(crate) rate: RateLimiter,
    pub(crate) max_body_bytes: usize,
}

/// The gateway's attestation state, from `[attestation]`.
pub(crate) struct Attestation {
    pub(crate) policy: Policy,
    /// A name for the policy in EAR tokens.
    pub(crate) policy_id: String,
    pub(crate) ear: EarSigner,
    /// Signs the control plane's own memory reports (ML-DSA-65).
    pub(crate) evidence_key: SigningKey,
    /// The regions the control plane reports about itself, measured at start.
    pub(crate) self_regions: Vec<MeasuredRegion>,
    /// The control plane's identity: SHA-256 of its TLS certificate (DER).
    pub(crate) control_plane: Digest,
    pub(crate) challenge_ttl: Duration,
    pub(crate) ear_ttl: Duration,
    pub(crate) binding_retention: Duration,
    pub(crate) memory: MemoryAppraisal,
    /// The gateway's own TPM, when `[attestation] tpm_tcti` names one.
    pub(crate) tpm: Option<ControlPlaneTpm>,
}

/// The gateway's own TPM: its quotes join the control plane's evidence.
pub(crate) struct ControlPlaneTpm {
    pub(crate) tcti: String,
    pub(crate) ak_handle: Option<u32>,
    /// One quote at a time: a TPM runs one command at a time, and a TCTI
    /// such as swtpm's socket serves one client.
    pub(crate) lock: tokio::sync::Mutex<()>,
}
