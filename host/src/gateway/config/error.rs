//! Why a gateway config file was rejected.

use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;

use crate::ids::{Kid, ServiceIdentity};

use super::CertFingerprint;

/// A line and column in a config file, both counted from 1; the column
/// counts characters, not bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TextPosition {
    /// The line, from 1.
    pub line: usize,
    /// The column, in characters, from 1.
    pub column: usize,
}

impl TextPosition {
    /// The position of byte `offset` in `text`. An offset past the end, or
    /// inside a character, counts as the next character boundary at or before it.
    pub fn of_offset(text: &str, offset: usize) -> Self {
        let mut offset = offset.min(text.len());
        while !text.is_char_boundary(offset) {
            offset -= 1;
        }
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |i| i + 1);
        Self {
            line: before.matches('\n').count() + 1,
            column: before[line_start..].chars().count() + 1,
        }
    }
}

impl fmt::Display for TextPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}", self.line, self.column)
    }
}

/// Why [`GatewayConfig::load`](super::GatewayConfig::load) rejected a config
/// file. Every variant names the config file (`config`); those about one
/// setting name its key, written as in the file (`tls.ca`,
/// `identities[alpha].keys[alpha-k1].public_key`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config file itself could not be read.
    #[error("cannot read config file {config}: {source}")]
    Read {
        /// The config file.
        config: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },

    /// The file is not valid TOML, or does not have the shape of a gateway
    /// config: a syntax error, an unknown or missing key, a value of the
    /// wrong type, or a value its type rejects (an identifier, a socket
    /// address, a fingerprint).
    #[error("{config}: {}{message}", position.map(|p| format!("{p}: ")).unwrap_or_default())]
    Parse {
        /// The config file.
        config: PathBuf,
        /// Where in the file, when the parser knows.
        position: Option<TextPosition>,
        /// What is wrong there.
        message: String,
    },

    /// A file the config refers to does not exist or cannot be inspected.
    #[error("{config}: `{key}` names {file}, which cannot be opened: {source}")]
    MissingFile {
        /// The config file.
        config: PathBuf,
        /// The setting that names the file.
        key: String,
        /// The file, resolved against the config file's directory.
        file: PathBuf,
        /// What the operating system said.
        source: io::Error,
    },

    /// A path the config refers to exists but is not a regular file.
    #[error("{config}: `{key}` names {file}, which is not a regular file")]
    NotAFile {
        /// The config file.
        config: PathBuf,
        /// The setting that names the file.
        key: String,
        /// The path, resolved against the config file's directory.
        file: PathBuf,
    },

    /// The directory a file is to be created in does not exist.
    #[error("{config}: `{key}` names {file}, but its directory {dir} does not exist")]
    MissingDirectory {
        /// The config file.
        config: PathBuf,
        /// The setting that names the file.
        key: String,
        /// The file, resolved against the config file's directory.
        file: PathBuf,
        /// The directory that is missing.
        dir: PathBuf,
    },

    /// A policy file is neither `.rego` nor `.wasm`.
    #[error("{config}: `{key}` names {file}, which is neither a .rego nor a .wasm file")]
    UnsupportedPolicy {
        /// The config file.
        config: PathBuf,
        /// The setting that names the file.
        key: String,
        /// The file, resolved against the config file's directory.
        file: PathBuf,
    },

    /// `plaintext_listen` would bind the same port as `listen`.
    #[error("{config}: plaintext_listen {plaintext} conflicts with listen {listen}")]
    ListenConflict {
        /// The config file.
        config: PathBuf,
        /// `listen`.
        listen: SocketAddr,
        /// `plaintext_listen`.
        plaintext: SocketAddr,
    },

    /// Two `[[identities]]` have the same `name`.
    #[error("{config}: identity `{identity}` is declared more than once")]
    DuplicateIdentity {
        /// The config file.
        config: PathBuf,
        /// The repeated name.
        identity: ServiceIdentity,
    },

    /// An identity has no `[[identities.keys]]`.
    #[error(
        "{config}: identity `{identity}` has no signing keys (add an [[identities.keys]] table)"
    )]
    IdentityWithoutKeys {
        /// The config file.
        config: PathBuf,
        /// The identity.
        identity: ServiceIdentity,
    },

    /// Two identities pin the same client certificate, so a connection could
    /// not tell them apart.
    #[error(
        "{config}: identities `{first}` and `{second}` pin the same certificate (cert_sha256 = {fingerprint})"
    )]
    DuplicateFingerprint {
        /// The config file.
        config: PathBuf,
        /// The fingerprint both pin.
        fingerprint: CertFingerprint,
        /// The identity declared first.
        first: ServiceIdentity,
        /// The identity declared second.
        second: ServiceIdentity,
    },

    /// A key id is used twice; key ids are unique across every identity's
    /// keys and the gateway key.
    #[error("{config}: key id `{kid}` is used by both {first} and {second}")]
    DuplicateKid {
        /// The config file.
        config: PathBuf,
        /// The repeated key id.
        kid: Kid,
        /// The owner of the first use: ``identity `alpha` `` or `gateway_key`.
        first: String,
        /// The owner of the second use.
        second: String,
    },

    /// A number is outside the range its key allows.
    #[error("{config}: `{key}` {rule}")]
    OutOfRange {
        /// The config file.
        config: PathBuf,
        /// The key at fault.
        key: String,
        /// What the value must be.
        rule: String,
    },

    /// `replay.backend = "redis"` without `replay.redis_url`.
    #[error("{config}: replay.backend = \"redis\" requires replay.redis_url")]
    RedisUrlMissing {
        /// The config file.
        config: PathBuf,
    },

    /// `replay.redis_url` with the memory backend, where it would be ignored.
    #[error(
        "{config}: replay.redis_url is set, but replay.backend is \"memory\"; set backend = \"redis\" or remove the url"
    )]
    RedisUrlUnused {
        /// The config file.
        config: PathBuf,
    },

    /// `replay.redis_ca` names TLS roots for a connection that is not TLS.
    #[error("{config}: replay.redis_ca is set, but replay.redis_url is not a rediss:// (TLS) URL")]
    RedisCaUnused {
        /// The config file.
        config: PathBuf,
    },

    /// Seen nonces would be forgotten while a request carrying one could
    /// still be accepted, opening a replay window.
    #[error(
        "{config}: replay.retention_secs = {retention_secs} is less than \
         replay.max_age_secs + replay.future_skew_secs = {max_age_secs} + {future_skew_secs}"
    )]
    RetentionTooShort {
        /// The config file.
        config: PathBuf,
        /// `replay.retention_secs`.
        retention_secs: u64,
        /// `replay.max_age_secs`.
        max_age_secs: u64,
        /// `replay.future_skew_secs`.
        future_skew_secs: u64,
    },
}
