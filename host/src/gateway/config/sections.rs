//! The small sections that only name files: `[tls]`, `[gateway_key]` and
//! `[decision_log]`.

use std::path::{Path, PathBuf};

use crate::ids::Kid;

/// `[tls]`: the mTLS listener's trust and identity.
#[derive(Debug, Clone)]
pub struct TlsConfig {
    pub(super) ca: PathBuf,
    pub(super) cert: PathBuf,
    pub(super) key: PathBuf,
}

impl TlsConfig {
    /// `ca`: PEM certificates that client certificates must chain to.
    pub fn ca(&self) -> &Path {
        &self.ca
    }

    /// `cert`: the server's PEM certificate chain, leaf first.
    pub fn cert(&self) -> &Path {
        &self.cert
    }

    /// `key`: the server's PEM private key.
    pub fn key(&self) -> &Path {
        &self.key
    }
}

/// `[gateway_key]`: the key the gateway signs feedback responses with.
#[derive(Debug, Clone)]
pub struct GatewayKeyConfig {
    pub(super) kid: Kid,
    pub(super) private_key: PathBuf,
}

impl GatewayKeyConfig {
    /// `kid`: the id the gateway's signatures carry.
    pub fn kid(&self) -> &Kid {
        &self.kid
    }

    /// `private_key`: a PKCS#8 PEM file.
    pub fn private_key(&self) -> &Path {
        &self.private_key
    }
}

/// `[decision_log]`: where decisions are recorded and what signs them.
#[derive(Debug, Clone)]
pub struct DecisionLogConfig {
    pub(super) path: PathBuf,
    pub(super) key: PathBuf,
}

impl DecisionLogConfig {
    /// `path`: the JSON Lines log; created if missing, but its directory
    /// must exist.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `key`: the PKCS#8 PEM key that signs every record.
    pub fn key(&self) -> &Path {
        &self.key
    }
}
