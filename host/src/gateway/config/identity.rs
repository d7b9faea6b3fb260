//! `[[identities]]`: the service identities allowed to connect, each pinned
//! to one client certificate, with the keys its signed messages may use.

use std::path::{Path, PathBuf};

use crate::ids::{Kid, ServiceIdentity, TenantId};

use super::CertFingerprint;

/// A federated service identity.
#[derive(Debug, Clone)]
pub struct IdentityConfig {
    pub(super) name: ServiceIdentity,
    pub(super) tenant: TenantId,
    pub(super) cert_sha256: CertFingerprint,
    pub(super) keys: Vec<IdentityKey>,
}

impl IdentityConfig {
    /// `name`: the identity.
    pub fn name(&self) -> &ServiceIdentity {
        &self.name
    }

    /// `tenant`: the tenant the identity acts for.
    pub fn tenant(&self) -> &TenantId {
        &self.tenant
    }

    /// `cert_sha256`: the pinned client certificate. A connection is this
    /// identity exactly when its client certificate has this fingerprint.
    pub fn cert_sha256(&self) -> CertFingerprint {
        self.cert_sha256
    }

    /// Every signing key, retired or not, in file order; never empty.
    pub fn keys(&self) -> &[IdentityKey] {
        &self.keys
    }

    /// The key with id `kid`, retired or not.
    pub fn key(&self, kid: &Kid) -> Option<&IdentityKey> {
        self.keys.iter().find(|key| key.kid == *kid)
    }

    /// The keys that are not retired.
    pub fn active_keys(&self) -> impl Iterator<Item = &IdentityKey> {
        self.keys.iter().filter(|key| !key.retired)
    }
}

/// One `[[identities.keys]]`: a public key the identity signs with.
#[derive(Debug, Clone)]
pub struct IdentityKey {
    pub(super) kid: Kid,
    pub(super) public_key: PathBuf,
    pub(super) retired: bool,
}

impl IdentityKey {
    /// `kid`: the key's id, unique in the whole config.
    pub fn kid(&self) -> &Kid {
        &self.kid
    }

    /// `public_key`: an Ed25519 SubjectPublicKeyInfo PEM file, resolved
    /// against the config file's directory.
    pub fn public_key(&self) -> &Path {
        &self.public_key
    }

    /// `retired`: the key is kept (to name and check old signatures) but is
    /// no longer accepted for new messages.
    pub fn retired(&self) -> bool {
        self.retired
    }
}
