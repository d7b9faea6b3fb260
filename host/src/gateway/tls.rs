//! TLS for the gateway: rustls, client certificates required.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::RootCertStore;
use rustls::ServerConfig;
use rustls::server::WebPkiClientVerifier;
use rustls_pki_types::pem::{self, PemObject};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

use crate::digest::Digest;

/// Why the TLS configuration could not be built; names the file at fault
/// and keeps rustls's error as its [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// A PEM certificate file could not be read.
    #[error("{}: cannot read PEM certificates", path.display())]
    Certificates {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: pem::Error,
    },
    /// A certificate file holds no certificate.
    #[error("{}: holds no certificate", path.display())]
    NoCertificate {
        /// The file.
        path: PathBuf,
    },
    /// The server's private key could not be read.
    #[error("{}: cannot read the PEM private key", path.display())]
    PrivateKey {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: pem::Error,
    },
    /// A client CA certificate was refused as a trust anchor.
    #[error("client CA {}", path.display())]
    ClientCa {
        /// The CA file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rustls::Error,
    },
    /// No client certificate verifier could be built from the client CAs.
    #[error("client CA {}", path.display())]
    ClientVerifier {
        /// The CA file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rustls::server::VerifierBuilderError,
    },
    /// rustls refused the server's certificate chain and key.
    #[error("server certificate and key")]
    ServerIdentity(#[source] rustls::Error),
}

/// The files that make up the gateway's TLS identity and trust.
#[derive(Clone, Debug)]
pub struct TlsFiles {
    /// CA certificates that client certificates must chain to (PEM).
    pub client_ca: PathBuf,
    /// The server's certificate chain (PEM), leaf first.
    pub cert_chain: PathBuf,
    /// The server's private key (PEM: PKCS#8, PKCS#1 or SEC1).
    pub private_key: PathBuf,
}

/// A server configuration that completes a handshake only with a client that
/// presents a certificate chaining to `client_ca`: a connection without one
/// never reaches an HTTP handler. Offers HTTP/2 and HTTP/1.1 by ALPN.
pub fn server_config(files: &TlsFiles) -> Result<Arc<ServerConfig>, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for cert in certificates(&files.client_ca)? {
        roots.add(cert).map_err(|source| TlsError::ClientCa {
            path: files.client_ca.clone(),
            source,
        })?;
    }
    let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider.clone())
        .build()
        .map_err(|source| TlsError::ClientVerifier {
            path: files.client_ca.clone(),
            source,
        })?;
    let key = PrivateKeyDer::from_pem_file(&files.private_key).map_err(|source| {
        TlsError::PrivateKey {
            path: files.private_key.clone(),
            source,
        }
    })?;
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::ServerIdentity)?
        .with_client_cert_verifier(verifier)
        .with_single_cert(certificates(&files.cert_chain)?, key)
        .map_err(TlsError::ServerIdentity)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

/// Every certificate in a PEM file; at least one.
pub fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
        .map_err(|source| TlsError::Certificates {
            path: path.to_path_buf(),
            source,
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            path: path.to_path_buf(),
        });
    }
    Ok(certs)
}

/// The SHA-256 fingerprint of a certificate: the digest of its DER encoding,
/// to which a service identity is pinned.
pub fn fingerprint(cert: &CertificateDer<'_>) -> Digest {
    Digest::of(cert.as_ref())
}
