//! Building the gateway's state from its configuration: loading keys,
//! policies, attestation material and stores, and starting the decision-log
//! writer. Every failure is a [`StartError`] naming the file or setting.

mod attestation;
mod error;
mod policy;
mod stores;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use ed25519_dalek::pkcs8::{DecodePrivateKey, DecodePublicKey};

use crate::crypto::load_signing_key;
use crate::digest::Digest;
use crate::gateway::config::GatewayConfig;
use crate::gateway::decisions::{self, DecisionWriter};
use crate::gateway::metrics::Metrics;
use crate::gateway::ratelimit::RateLimiter;
use crate::gateway::state::{AppState, Peer};
use crate::log::DecisionLog;
use crate::messages::{KeyEntry, Keyring};
use crate::policy::PolicyRuntime;

pub use error::{SelfRegion, StartError};

use error::{key_error, read};
use policy::load_policy;

/// How long a session binding is held without `[attestation]`: a day.
const DEFAULT_BINDING_RETENTION: Duration = Duration::from_secs(86_400);

/// Loads keys, policies and stores named by `config`, and starts the
/// decision-log writer (returned, to be closed after the server stops).
pub(crate) async fn build(
    config: &GatewayConfig,
    runtime: &PolicyRuntime,
) -> Result<(Arc<AppState>, DecisionWriter), StartError> {
    let (peers, keyring) = identities(config)?;
    let gateway_key_path = config.gateway_key().private_key();
    let gateway_key =
        ed25519_dalek::SigningKey::from_pkcs8_pem(&read(gateway_key_path)?).map_err(|source| {
            StartError::Ed25519Key {
                path: gateway_key_path.to_path_buf(),
                source,
            }
        })?;
    let log_key_path = config.decision_log().key();
    let log_key = load_signing_key(log_key_path).map_err(key_error(log_key_path))?;
    let log = DecisionLog::open(config.decision_log().path(), log_key)
        .map_err(|e| StartError::Log(Box::new(e)))?;
    let published = log.published();
    let (sink, writer) = decisions::start(log).map_err(StartError::LogWriter)?;
    let limits = config.limits();
    let (guards, ledger) = stores::guards(config).await?;
    let state = AppState {
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
        published,
        metrics: Metrics::default(),
        rate: RateLimiter::new(
            limits.rate_per_identity_per_sec().get(),
            limits.burst().get(),
        ),
        max_body_bytes: limits.max_body_bytes().get(),
    };
    Ok((Arc::new(state), writer))
}

/// The pinned service identities and the keyring of their signing keys.
fn identities(config: &GatewayConfig) -> Result<(HashMap<Digest, Peer>, Keyring), StartError> {
    let mut peers = HashMap::new();
    let mut keyring = Keyring::new();
    for identity in config.identities() {
        let mut telemetry_keys = Vec::new();
        for key in identity.keys() {
            let pem = read(key.public_key())?;
            let public =
                ed25519_dalek::VerifyingKey::from_public_key_pem(&pem).map_err(|source| {
                    StartError::Ed25519PublicKey {
                        path: key.public_key().to_path_buf(),
                        source,
                    }
                })?;
            if !key.retired() {
                telemetry_keys.push(public);
            }
            let entry = KeyEntry::new(identity.name().clone(), public).with_retired(key.retired());
            keyring
                .insert(key.kid().clone(), entry)
                .map_err(StartError::Keyring)?;
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
