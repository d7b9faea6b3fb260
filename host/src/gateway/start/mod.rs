//! The gateway's state, built once from its configuration.

mod attestation;

use std::collections::HashMap;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};

use crate::gateway::config::{GatewayConfig, PolicyConfig, PolicyFormat, ReplayBackend};
use crate::gateway::decisions::{self, DecisionSink, DecisionWriter};
use crate::gateway::metrics::Metrics;
use crate::gateway::ratelimit::RateLimiter;
use crate::antireplay::{
    AntiReplay, Freshness, Ledger, MemoryLedger, MemoryNonceStore, Namespace, NonceStore,
    RedisLedger, RedisNonceStore,
};
use crate::claims::DataDocument;
use crate::crypto::load_signing_key;
use crate::digest::Digest;
use crate::ids::{Kid, OperatorId, ServiceIdentity, TenantId};
use crate::log::DecisionLog;
use crate::messages::{KeyEntry, Keyring, Sha256Hex};
use crate::policy::{Policy, PolicyRuntime, RegoModule};

/// A service identity as the gateway knows it: pinned by certificate.
#[derive(Clone, Debug)]
pub struct Peer {
    pub name: ServiceIdentity,
    pub tenant: TenantId,
    /// Ed25519 keys (not retired) that may sign this identity's telemetry.
    pub telemetry_keys: Vec<ed25519_dalek::VerifyingKey>,
}

/// What accepted telemetry recorded about an execution; feedback is checked
/// against it. Held in the ledger (as JSON under `execution:<hash>`), so
/// every replica sees it.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub struct Execution {
    pub tenant: TenantId,
    pub operator: OperatorId,
    pub attestation_measurement_hash: Sha256Hex,
}

/// One anti-replay guard per route, so their nonces never collide.
pub struct Guards {
    pub telemetry: AntiReplay,
    pub feedback: AntiReplay,
    pub manifest: AntiReplay,
}

/// Everything a request handler needs. Shared by all connections.
pub struct AppState {
    pub peers: HashMap<Digest, Peer>,
    pub operators: HashMap<OperatorId, TenantId>,
    pub keyring: Keyring,
    pub gateway_kid: Kid,
    pub gateway_key: ed25519_dalek::SigningKey,
    pub isolation: Policy,
    pub feedback: Policy,
    pub guards: Guards,
    /// Challenges, session bindings and accepted executions: in the replay
    /// backend (in memory, or Redis shared by every replica).
    pub ledger: Arc<dyn Ledger>,
    /// How long a session binding stays bound to its first tenant.
    pub binding_retention: std::time::Duration,
    /// `/v1/challenge` and `/v1/attest`, when `[attestation]` is configured.
    pub attestation: Option<crate::gateway::routes::attest::Attestation>,
    pub log: DecisionSink,
    pub metrics: Metrics,
    pub rate: RateLimiter,
    pub max_body_bytes: usize,
}

/// Why the gateway could not start; names the file or setting at fault.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error("policy {path}: {reason}")]
    Policy { path: String, reason: String },
    #[error("anti-replay store: {0}")]
    Store(String),
    #[error("decision log: {0}")]
    Log(String),
    #[error("{0}")]
    Config(String),
}

pub(super) fn file_error(path: &Path, reason: impl ToString) -> StartError {
    StartError::File {
        path: path.display().to_string(),
        reason: reason.to_string(),
    }
}

pub(super) fn read(path: &Path) -> Result<String, StartError> {
    fs::read_to_string(path).map_err(|e| file_error(path, e))
}

/// Live challenges and session bindings held in memory, at most this many.
const MAX_LEDGER_ENTRIES: usize = 1_000_000;
/// How long a session binding is held without `[attestation]`: a day.
const DEFAULT_BINDING_RETENTION: std::time::Duration = std::time::Duration::from_secs(86_400);

impl AppState {
    /// Loads keys, policies and stores named by `config`, and starts the
    /// decision-log writer (returned, to be closed after the server stops).
    pub async fn build(
        config: &GatewayConfig,
        runtime: &PolicyRuntime,
    ) -> Result<(Arc<Self>, DecisionWriter), StartError> {
        let (peers, keyring) = identities(config)?;
        let gateway_key =
            ed25519_dalek::SigningKey::from_pkcs8_pem(&read(config.gateway_key().private_key())?)
                .map_err(|e| file_error(config.gateway_key().private_key(), e))?;
        let log_key = load_signing_key(config.decision_log().key())
            .map_err(|e| StartError::Log(e.to_string()))?;
        let log = DecisionLog::open(config.decision_log().path(), log_key)
            .map_err(|e| StartError::Log(e.to_string()))?;
        let (sink, writer) = decisions::start(log).map_err(|e| StartError::Log(e.to_string()))?;
        let limits = config.limits();
        let (guards, ledger) = guards(config).await?;
        let state = Self {
            peers,
            operators: config
                .operators()
                .iter()
                .map(|(o, t)| (o.clone(), t.clone()))
                .collect(),
            keyring,
            gateway_kid: config.gateway_key().kid().clone(),
            gateway_key,
            isolation: load_policy(runtime, config.policies().isolation())?,
            feedback: load_policy(runtime, config.policies().feedback())?,
            guards,
            ledger,
            binding_retention: config
                .attestation()
                .map_or(DEFAULT_BINDING_RETENTION, |a| a.binding_retention()),
            attestation: match config.attestation() {
                Some(section) => Some(attestation::build(config, section, runtime)?),
                None => None,
            },
            log: sink,
            metrics: Metrics::default(),
            rate: RateLimiter::new(
                limits.rate_per_identity_per_sec().get(),
                limits.burst().get(),
            ),
            max_body_bytes: limits.max_body_bytes().get(),
        };
        Ok((Arc::new(state), writer))
    }
}

fn identities(config: &GatewayConfig) -> Result<(HashMap<Digest, Peer>, Keyring), StartError> {
    let mut peers = HashMap::new();
    let mut keyring = Keyring::new();
    for identity in config.identities() {
        let mut telemetry_keys = Vec::new();
        for key in identity.keys() {
            let pem = read(key.public_key())?;
            let public = ed25519_dalek::VerifyingKey::from_public_key_pem(&pem).map_err(|e| {
                file_error(key.public_key(), format!("not an Ed25519 public key: {e}"))
            })?;
            if !key.retired() {
                telemetry_keys.push(public);
            }
            let entry = KeyEntry::new(identity.name().clone(), public).with_retired(key.retired());
            keyring
                .insert(key.kid().clone(), entry)
                .map_err(|e| StartError::Config(e.to_string()))?;
        }
        let peer = Peer {
            name: identity.name().clone(),
            tenant: identity.tenant().clone(),
            telemetry_keys,
        };
        peers.insert(identity.cert_sha256().digest(), peer);
    }
    Ok((peers, keyring))
}

pub(super) fn load_policy(
    runtime: &PolicyRuntime,
    config: &PolicyConfig,
) -> Result<Policy, StartError> {
    let path = config.path();
    let policy_error = |reason: String| StartError::Policy {
        path: path.display().to_string(),
        reason,
    };
    let data = match config.data() {
        Some(data) => DataDocument::from_json(&read(data)?).map_err(|e| file_error(data, e))?,
        None => DataDocument::empty(),
    };
    let entrypoint = config.entrypoint().map(|e| e.as_str().to_string());
    let loaded = match config.format() {
        PolicyFormat::Rego => {
            let name = path.file_name().map_or_else(
                || "policy.rego".into(),
                |n| n.to_string_lossy().into_owned(),
            );
            runtime.load_rego(
                RegoModule {
                    name,
                    source: read(path)?,
                },
                data,
                entrypoint,
            )
        }
        PolicyFormat::Component => {
            let bytes = fs::read(path).map_err(|e| file_error(path, e))?;
            runtime.load_component(&bytes, data)
        }
    };
    loaded.map_err(|e| policy_error(e.to_string()))
}

async fn guards(config: &GatewayConfig) -> Result<(Guards, Arc<dyn Ledger>), StartError> {
    let replay = config.replay();
    let freshness = Freshness::new(replay.max_age(), replay.future_skew(), replay.retention())
        .map_err(|e| StartError::Config(e.to_string()))?;
    let namespace =
        |name: &str| Namespace::new(name).map_err(|e| StartError::Config(e.to_string()));
    let (stores, ledger): ([Arc<dyn NonceStore>; 3], Arc<dyn Ledger>) = match replay.backend() {
        ReplayBackend::Memory => {
            let memory = MemoryNonceStore::new();
            let stores: [Arc<dyn NonceStore>; 3] = [
                Arc::new(memory.namespaced(namespace("telemetry")?)),
                Arc::new(memory.namespaced(namespace("feedback")?)),
                Arc::new(memory.namespaced(namespace("manifest")?)),
            ];
            (
                stores,
                Arc::new(MemoryLedger::with_capacity(MAX_LEDGER_ENTRIES)),
            )
        }
        ReplayBackend::Redis(url) => {
            let redis = RedisNonceStore::connect(url.as_str(), RedisNonceStore::DEFAULT_TIMEOUT)
                .await
                .map_err(|e| StartError::Store(e.to_string()))?;
            let stores: [Arc<dyn NonceStore>; 3] = [
                Arc::new(redis.namespaced(namespace("telemetry")?)),
                Arc::new(redis.namespaced(namespace("feedback")?)),
                Arc::new(redis.namespaced(namespace("manifest")?)),
            ];
            (stores, Arc::new(RedisLedger::new(redis)))
        }
    };
    let [telemetry, feedback, manifest] = stores.map(|store| AntiReplay::new(freshness, store));
    let guards = Guards {
        telemetry,
        feedback,
        manifest,
    };
    Ok((guards, ledger))
}
