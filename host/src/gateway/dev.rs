//! A complete local gateway setup, generated on first use.
//!
//! [`DevSetup::ensure`] fills an empty (or missing) directory with a CA,
//! a server certificate for `localhost`, two service identities with mTLS
//! client certificates and Ed25519 signing keys, the gateway's and the
//! decision log's signing keys, the policies it is given, and a
//! `verdict.toml` that ties them together. Run again on the same directory,
//! it loads that `verdict.toml` and generates nothing. [`DevLayout`] names
//! every file; `docs/gateway-config.md` lists them.
//!
//! The principals:
//!
//! | identity | tenant     | client certificate                         | signing kid |
//! |----------|------------|--------------------------------------------|-------------|
//! | `alpha`  | `tenant-a` | CN `alpha`, URI `spiffe://verdict.local/alpha` | `alpha-k1` |
//! | `beta`   | `tenant-b` | CN `beta`, URI `spiffe://verdict.local/beta`   | `beta-k1`  |
//!
//! Each identity also gets an ML-DSA-65 attester key for its runners'
//! memory reports, trusted by `[attestation.memory]`; the appraisal data
//! requires a memory report whose regions match the pins the operator adds.
//!
//! Operators `op-a1` and `op-a2` belong to `tenant-a`, `op-b1` to `tenant-b`;
//! the gateway signs feedback responses as `gateway-k1`.
//!
//! This is development material: the CA key sits next to the certificates
//! it signed, and nothing is synced to disk.

mod keys;
mod layout;
mod pki;
mod template;
mod writer;

#[cfg(test)]
mod tests;

use std::io;
use std::path::{Path, PathBuf};

use super::config::{ConfigError, GatewayConfig};
use crate::crypto::{SignatureAlgorithm, SigningKey};

pub use layout::{DevLayout, TRUST_DOMAIN};

use layout::{GATEWAY_KID, IDENTITIES, rel};
use template::TemplateIdentity;
use writer::{Access, Found, Writer};

/// The policies a new dev setup is given, written to `policies/`.
#[derive(Debug, Clone, Copy)]
pub struct DevPolicies<'a> {
    /// Written to `policies/isolation.rego`.
    pub isolation_rego: &'a str,
    /// Written to `policies/isolation-data.json`.
    pub isolation_data: &'a str,
    /// Written to `policies/feedback.rego`.
    pub feedback_rego: &'a str,
    /// Written to `policies/feedback-data.json`.
    pub feedback_data: &'a str,
    /// Written to `policies/attestation.rego`.
    pub attestation_rego: &'a str,
    /// Written to `policies/attestation-data.json`.
    pub attestation_data: &'a str,
}

/// A dev setup, freshly generated or found in place.
#[derive(Debug, Clone)]
pub struct DevSetup {
    layout: DevLayout,
    config: GatewayConfig,
    created: Vec<PathBuf>,
}

/// Why [`DevSetup::ensure`] failed. Names the path at fault.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DevError {
    /// The setup path exists but is not a directory.
    #[error("{dir} is not a directory")]
    NotADirectory {
        /// The setup path.
        dir: PathBuf,
    },

    /// The directory holds files but no `verdict.toml`: it is not a dev setup,
    /// or an earlier one was not completed. Nothing is overwritten.
    #[error(
        "{dir} has no verdict.toml but is not empty (it holds {entry}); refusing to generate a dev setup there"
    )]
    DirectoryNotEmpty {
        /// The setup directory.
        dir: PathBuf,
        /// One of the entries found in it.
        entry: PathBuf,
    },

    /// A path could not be inspected.
    #[error("cannot inspect {path}: {source}")]
    Inspect {
        /// The path.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },

    /// A directory could not be created.
    #[error("cannot create directory {dir}: {source}")]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },

    /// A file could not be created or written.
    #[error("cannot write {path}: {source}")]
    Write {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },

    /// A certificate could not be generated.
    #[error("cannot generate the {what}: {reason}")]
    Certificate {
        /// Which certificate.
        what: String,
        /// What the certificate generator said.
        reason: String,
    },

    /// An Ed25519 key could not be encoded.
    #[error("cannot encode the {what}: {reason}")]
    SigningKey {
        /// Which key.
        what: String,
        /// What the encoder said.
        reason: String,
    },

    /// The setup's `verdict.toml`, found or generated, does not load.
    #[error(transparent)]
    Config(#[from] ConfigError),
}

impl DevSetup {
    /// Makes sure `dir` holds a dev setup, and returns it.
    ///
    /// - If `dir/verdict.toml` exists, it is loaded and returned; nothing is
    ///   generated or written, and `policies` is not used.
    /// - If `dir` is missing or empty, a complete setup is generated there
    ///   (fresh keys and certificates, `policies` written to `policies/`),
    ///   `verdict.toml` last. If that fails part way, the files created so
    ///   far are removed again.
    /// - Otherwise ([`DevError::DirectoryNotEmpty`]) nothing is touched.
    ///
    /// # Errors
    ///
    /// [`DevError`]: `dir` is neither a setup nor empty, a file cannot be
    /// written, generation fails, or the `verdict.toml` found does not load.
    pub fn ensure(dir: &Path, policies: &DevPolicies<'_>) -> Result<Self, DevError> {
        let layout = DevLayout::new(dir);
        let config_path = layout.config();
        match writer::survey(dir, &config_path)? {
            Found::Setup => {
                return Ok(Self {
                    config: GatewayConfig::load(&config_path)?,
                    layout,
                    created: Vec::new(),
                });
            }
            Found::Missing => writer::create_dir_all(dir)?,
            Found::Empty => {}
        }
        let mut writer = Writer::default();
        if let Err(error) = generate(&layout, policies, &mut writer) {
            writer.roll_back();
            return Err(error);
        }
        let created = writer.finish();
        Ok(Self {
            config: GatewayConfig::load(&config_path)?,
            layout,
            created,
        })
    }

    /// Where the setup's files are.
    pub fn layout(&self) -> &DevLayout {
        &self.layout
    }

    /// The setup's config, loaded from its `verdict.toml`.
    pub fn config(&self) -> &GatewayConfig {
        &self.config
    }

    /// The config, by value.
    pub fn into_config(self) -> GatewayConfig {
        self.config
    }

    /// Whether this call generated the setup (rather than finding one).
    pub fn generated(&self) -> bool {
        !self.created.is_empty()
    }

    /// What this call created: directories first, then files in the order
    /// written (`verdict.toml` last). Empty when an existing setup was reused.
    pub fn created(&self) -> &[PathBuf] {
        &self.created
    }
}

/// Writes every file of a new setup into the empty directory of `layout`.
fn generate(
    layout: &DevLayout,
    policies: &DevPolicies<'_>,
    writer: &mut Writer,
) -> Result<(), DevError> {
    let at = |rel: &str| layout.dir().join(rel);

    let ca = pki::DevCa::generate(pki::Validity::from_yesterday())?;
    let issued = ca.issued();
    writer.file(at(rel::CA_CERT), Access::Public, issued.cert_pem.as_bytes())?;
    writer.file(at(rel::CA_KEY), Access::Private, issued.key_pem.as_bytes())?;
    let server = ca.server()?;
    writer.file(
        at(rel::SERVER_CERT),
        Access::Public,
        server.cert_pem.as_bytes(),
    )?;
    writer.file(
        at(rel::SERVER_KEY),
        Access::Private,
        server.key_pem.as_bytes(),
    )?;

    writer.dir(at(rel::CLIENTS))?;
    let mut identities = Vec::with_capacity(IDENTITIES.len());
    for (name, tenant) in IDENTITIES {
        let client = |file: &str| at(&rel::client(name, file));
        writer.dir(at(rel::CLIENTS).join(name))?;
        let cert = ca.client(name)?;
        writer.file(
            client(rel::CLIENT_CERT),
            Access::Public,
            cert.cert_pem.as_bytes(),
        )?;
        writer.file(
            client(rel::CLIENT_KEY),
            Access::Private,
            cert.key_pem.as_bytes(),
        )?;
        let signing = keys::generate(&format!("signing key of `{name}`"))?;
        writer.file(
            client(rel::CLIENT_SIGNING_KEY),
            Access::Private,
            signing.private.as_bytes(),
        )?;
        writer.file(
            client(rel::CLIENT_SIGNING_PUB),
            Access::Public,
            signing.public.as_bytes(),
        )?;
        let attester = SigningKey::generate(SignatureAlgorithm::MlDsa65);
        writer.file(
            client(rel::CLIENT_ATTESTER_KEY),
            Access::Private,
            attester.to_pkcs8_pem().as_bytes(),
        )?;
        writer.file(
            client(rel::CLIENT_ATTESTER_PUB),
            Access::Public,
            attester.verifying_key().to_public_key_pem().as_bytes(),
        )?;
        identities.push(TemplateIdentity {
            name,
            tenant,
            fingerprint: cert.fingerprint,
        });
    }

    let gateway = keys::generate(&format!("gateway feedback key `{GATEWAY_KID}`"))?;
    writer.file(
        at(rel::GATEWAY_FEEDBACK_KEY),
        Access::Private,
        gateway.private.as_bytes(),
    )?;
    writer.file(
        at(rel::GATEWAY_FEEDBACK_PUB),
        Access::Public,
        gateway.public.as_bytes(),
    )?;
    let log = keys::generate("decision log key")?;
    writer.file(
        at(rel::DECISION_LOG_KEY),
        Access::Private,
        log.private.as_bytes(),
    )?;
    writer.file(
        at(rel::DECISION_LOG_PUB),
        Access::Public,
        log.public.as_bytes(),
    )?;

    let ear = keys::generate("EAR signing key")?;
    writer.file(at(rel::EAR_KEY), Access::Private, ear.private.as_bytes())?;
    writer.file(at(rel::EAR_PUB), Access::Public, ear.public.as_bytes())?;
    let evidence = SigningKey::generate(SignatureAlgorithm::MlDsa65);
    writer.file(
        at(rel::EVIDENCE_KEY),
        Access::Private,
        evidence.to_pkcs8_pem().as_bytes(),
    )?;
    writer.file(
        at(rel::EVIDENCE_PUB),
        Access::Public,
        evidence.verifying_key().to_public_key_pem().as_bytes(),
    )?;

    writer.dir(at(rel::POLICIES))?;
    for (path, text) in [
        (rel::ISOLATION_REGO, policies.isolation_rego),
        (rel::ISOLATION_DATA, policies.isolation_data),
        (rel::FEEDBACK_REGO, policies.feedback_rego),
        (rel::FEEDBACK_DATA, policies.feedback_data),
        (rel::ATTESTATION_REGO, policies.attestation_rego),
        (rel::ATTESTATION_DATA, policies.attestation_data),
    ] {
        writer.file(at(path), Access::Public, text.as_bytes())?;
    }

    let config = template::verdict_toml(&identities);
    writer.file(layout.config(), Access::Public, config.as_bytes())
}
