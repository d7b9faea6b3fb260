//! From the file as written to a [`GatewayConfig`]: resolve paths against the
//! config file's directory, check that every named file is there, and check
//! the settings against each other.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::ids::{Kid, ServiceIdentity};

use super::attestation::{AttestationConfig, FileAttestation};
use super::file::{FileConfig, FileIdentity, FileReplay, FileReplayBackend};
use super::identity::{IdentityConfig, IdentityKey};
use super::limits::LimitsConfig;
use super::policy::{FilePolicy, PoliciesConfig, PolicyConfig, PolicyFormat};
use super::replay::{ReplayBackend, ReplayConfig};
use super::sections::{DecisionLogConfig, GatewayKeyConfig, TlsConfig};
use super::{CertFingerprint, ConfigError, GatewayConfig};

/// Checks `file`, read from `config`, and builds the config it describes.
pub(super) fn validate(file: FileConfig, config: &Path) -> Result<GatewayConfig, ConfigError> {
    let check = Checker {
        config,
        base: config.parent().unwrap_or(Path::new("")),
    };
    check.listeners(file.listen, file.plaintext_listen)?;
    check.identities(&file.identities, &file.gateway_key.kid)?;
    let replay = check.replay(file.replay)?;

    let tls = TlsConfig {
        ca: check.file("tls.ca", &file.tls.ca)?,
        cert: check.file("tls.cert", &file.tls.cert)?,
        key: check.file("tls.key", &file.tls.key)?,
    };
    let identities = file
        .identities
        .into_iter()
        .map(|identity| check.identity(identity))
        .collect::<Result<Vec<_>, _>>()?;
    let gateway_key = GatewayKeyConfig {
        kid: file.gateway_key.kid,
        private_key: check.file("gateway_key.private_key", &file.gateway_key.private_key)?,
    };
    let decision_log = DecisionLogConfig {
        path: check.new_file("decision_log.path", &file.decision_log.path)?,
        key: check.file("decision_log.key", &file.decision_log.key)?,
    };
    let policies = PoliciesConfig {
        isolation: check.policy("policies.isolation", file.policies.isolation)?,
        feedback: check.policy("policies.feedback", file.policies.feedback)?,
    };
    let attestation = file
        .attestation
        .map(|section| check.attestation(section))
        .transpose()?;

    let tenants = identities
        .iter()
        .map(|identity| identity.tenant.clone())
        .chain(file.operators.values().cloned())
        .collect::<BTreeSet<_>>();
    Ok(GatewayConfig {
        source: config.to_path_buf(),
        listen: file.listen,
        plaintext_listen: file.plaintext_listen,
        tls,
        identities,
        operators: file.operators,
        tenants,
        gateway_key,
        decision_log,
        policies,
        replay,
        limits: LimitsConfig {
            max_body_bytes: file.limits.max_body_bytes,
            rate_per_identity_per_sec: file.limits.rate_per_identity_per_sec,
            burst: file.limits.burst,
        },
        attestation,
    })
}

struct Checker<'a> {
    /// The config file, for error messages.
    config: &'a Path,
    /// Its directory, which relative paths are resolved against.
    base: &'a Path,
}

impl Checker<'_> {
    fn listeners(
        &self,
        listen: SocketAddr,
        plaintext: Option<SocketAddr>,
    ) -> Result<(), ConfigError> {
        let Some(plaintext) = plaintext else {
            return Ok(());
        };
        let same_port = listen.port() == plaintext.port() && listen.port() != 0;
        let overlapping = listen.ip() == plaintext.ip()
            || listen.ip().is_unspecified()
            || plaintext.ip().is_unspecified();
        if same_port && overlapping {
            return Err(ConfigError::ListenConflict {
                config: self.config.to_path_buf(),
                listen,
                plaintext,
            });
        }
        Ok(())
    }

    /// Names, fingerprints and key ids are unique; every identity has a key.
    fn identities(
        &self,
        identities: &[FileIdentity],
        gateway_kid: &Kid,
    ) -> Result<(), ConfigError> {
        let mut names = BTreeSet::<&ServiceIdentity>::new();
        let mut pins = BTreeMap::<CertFingerprint, &ServiceIdentity>::new();
        let mut kids = BTreeMap::<&Kid, String>::new();
        kids.insert(gateway_kid, "gateway_key".to_owned());
        for identity in identities {
            if !names.insert(&identity.name) {
                return Err(ConfigError::DuplicateIdentity {
                    config: self.config.to_path_buf(),
                    identity: identity.name.clone(),
                });
            }
            if identity.keys.is_empty() {
                return Err(ConfigError::IdentityWithoutKeys {
                    config: self.config.to_path_buf(),
                    identity: identity.name.clone(),
                });
            }
            if let Some(first) = pins.insert(identity.cert_sha256, &identity.name) {
                return Err(ConfigError::DuplicateFingerprint {
                    config: self.config.to_path_buf(),
                    fingerprint: identity.cert_sha256,
                    first: first.clone(),
                    second: identity.name.clone(),
                });
            }
            let owner = format!("identity `{}`", identity.name);
            for key in &identity.keys {
                if let Some(first) = kids.insert(&key.kid, owner.clone()) {
                    return Err(ConfigError::DuplicateKid {
                        config: self.config.to_path_buf(),
                        kid: key.kid.clone(),
                        first,
                        second: owner,
                    });
                }
            }
        }
        Ok(())
    }

    fn replay(&self, replay: FileReplay) -> Result<ReplayConfig, ConfigError> {
        let backend = match (replay.backend, replay.redis_url) {
            (FileReplayBackend::Memory, None) => ReplayBackend::Memory,
            (FileReplayBackend::Redis, Some(url)) => ReplayBackend::Redis(url),
            (FileReplayBackend::Redis, None) => {
                return Err(ConfigError::RedisUrlMissing {
                    config: self.config.to_path_buf(),
                });
            }
            (FileReplayBackend::Memory, Some(_)) => {
                return Err(ConfigError::RedisUrlUnused {
                    config: self.config.to_path_buf(),
                });
            }
        };
        let redis_ca = match (&backend, replay.redis_ca) {
            (_, None) => None,
            (ReplayBackend::Redis(url), Some(ca)) if url.as_str().starts_with("rediss://") => {
                Some(self.file("replay.redis_ca", &ca)?)
            }
            (_, Some(_)) => {
                return Err(ConfigError::RedisCaUnused {
                    config: self.config.to_path_buf(),
                });
            }
        };
        let max_age_secs = replay.max_age_secs.get();
        let window = max_age_secs.checked_add(replay.future_skew_secs);
        if window.is_none_or(|window| replay.retention_secs < window) {
            return Err(ConfigError::RetentionTooShort {
                config: self.config.to_path_buf(),
                retention_secs: replay.retention_secs,
                max_age_secs,
                future_skew_secs: replay.future_skew_secs,
            });
        }
        Ok(ReplayConfig {
            backend,
            redis_ca,
            max_age_secs,
            future_skew_secs: replay.future_skew_secs,
            retention_secs: replay.retention_secs,
        })
    }

    fn identity(&self, identity: FileIdentity) -> Result<IdentityConfig, ConfigError> {
        let keys = identity
            .keys
            .into_iter()
            .map(|key| {
                let name = format!("identities[{}].keys[{}].public_key", identity.name, key.kid);
                Ok(IdentityKey {
                    public_key: self.file(&name, &key.public_key)?,
                    kid: key.kid,
                    retired: key.retired,
                })
            })
            .collect::<Result<Vec<_>, ConfigError>>()?;
        Ok(IdentityConfig {
            name: identity.name,
            tenant: identity.tenant,
            cert_sha256: identity.cert_sha256,
            keys,
        })
    }

    fn attestation(&self, section: FileAttestation) -> Result<AttestationConfig, ConfigError> {
        let seconds = |key: &str, value: u64, max: u64| {
            if value == 0 || value > max {
                Err(ConfigError::OutOfRange {
                    config: self.config.to_path_buf(),
                    key: key.to_string(),
                    rule: format!("must be 1 to {max} seconds"),
                })
            } else {
                Ok(Duration::from_secs(value))
            }
        };
        Ok(AttestationConfig {
            policy: self.policy("attestation.policy", section.policy)?,
            ear_kid: section.ear_kid,
            ear_key: self.file("attestation.ear_key", &section.ear_key)?,
            evidence_key: self.file("attestation.evidence_key", &section.evidence_key)?,
            challenge_ttl: seconds(
                "attestation.challenge_ttl_secs",
                section.challenge_ttl_secs,
                3600,
            )?,
            ear_ttl: seconds("attestation.ear_ttl_secs", section.ear_ttl_secs, 86_400)?,
            binding_retention: seconds(
                "attestation.binding_retention_secs",
                section.binding_retention_secs,
                30 * 86_400,
            )?,
            memory_trusted_keys: section
                .memory
                .trusted_keys
                .iter()
                .map(|key| self.file("attestation.memory.trusted_keys", key))
                .collect::<Result<_, _>>()?,
            memory_pins: section.memory.pins,
            memory_drift: section.memory.drift,
            tpm_tcti: section.tpm_tcti,
            tpm_ak_handle: section.tpm_ak_handle,
        })
    }

    fn policy(&self, key: &str, policy: FilePolicy) -> Result<PolicyConfig, ConfigError> {
        let path_key = format!("{key}.path");
        let path = self.file(&path_key, &policy.path)?;
        let Some(format) = PolicyFormat::of_path(&path) else {
            return Err(ConfigError::UnsupportedPolicy {
                config: self.config.to_path_buf(),
                key: path_key,
                file: path,
            });
        };
        let data = match &policy.data {
            Some(data) => Some(self.file(&format!("{key}.data"), data)?),
            None => None,
        };
        Ok(PolicyConfig {
            path,
            format,
            data,
            entrypoint: policy.entrypoint,
        })
    }

    fn resolve(&self, path: &Path) -> PathBuf {
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            self.base.join(path)
        }
    }

    /// `path`, resolved; it must be an existing regular file (or a link to one).
    fn file(&self, key: &str, path: &Path) -> Result<PathBuf, ConfigError> {
        let file = self.resolve(path);
        match fs::metadata(&file) {
            Ok(meta) if meta.is_file() => Ok(file),
            Ok(_) => Err(ConfigError::NotAFile {
                config: self.config.to_path_buf(),
                key: key.to_owned(),
                file,
            }),
            Err(source) => Err(ConfigError::MissingFile {
                config: self.config.to_path_buf(),
                key: key.to_owned(),
                file,
                source,
            }),
        }
    }

    /// `path`, resolved; a file that may not exist yet, in a directory that must.
    fn new_file(&self, key: &str, path: &Path) -> Result<PathBuf, ConfigError> {
        let file = self.resolve(path);
        if fs::metadata(&file).is_ok_and(|meta| !meta.is_file()) {
            return Err(ConfigError::NotAFile {
                config: self.config.to_path_buf(),
                key: key.to_owned(),
                file,
            });
        }
        let dir = match file.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir,
            _ => Path::new("."),
        };
        if !dir.is_dir() {
            return Err(ConfigError::MissingDirectory {
                config: self.config.to_path_buf(),
                key: key.to_owned(),
                dir: dir.to_path_buf(),
                file,
            });
        }
        Ok(file)
    }
}
