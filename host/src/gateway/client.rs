//! A minimal mTLS HTTP/1.1 client: what `verdict sign-* --send`, the load
//! benchmark and the tests use to talk to a gateway as a service identity.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

use crate::ids::{Nonce, OperatorId, TenantId};
use crate::messages::{Sha256Hex, UnixSeconds, sign_telemetry};

/// Why a request could not be made: names the file or step, and keeps the
/// lower layer's error as its [`source`](std::error::Error::source).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// A PEM file (CA, certificate chain or key) could not be read.
    #[error("{}", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rustls::pki_types::pem::Error,
    },
    /// A CA certificate was refused as a trust anchor.
    #[error("{}", path.display())]
    CaCertificate {
        /// The CA file.
        path: PathBuf,
        /// Why.
        #[source]
        source: rustls::Error,
    },
    /// rustls refused the client configuration (certificate and key).
    #[error("TLS configuration")]
    Tls(#[source] rustls::Error),
    /// The address's host is not a valid server name.
    #[error("connecting to {addr}")]
    ServerName {
        /// The address.
        addr: String,
        /// Why.
        #[source]
        source: rustls::pki_types::InvalidDnsNameError,
    },
    /// The TCP connection (or its TLS handshake) failed.
    #[error("connecting to {addr}{}", if *.handshake { ": TLS handshake" } else { "" })]
    Connect {
        /// The address.
        addr: String,
        /// Whether TCP connected and the TLS handshake failed.
        handshake: bool,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP exchange failed.
    #[error("HTTP")]
    Http(#[source] hyper::Error),
    /// The request could not be built (an invalid header or path).
    #[error("HTTP request")]
    Request(#[source] hyper::http::Error),
}

type Result<T> = std::result::Result<T, ClientError>;

fn pem_error(path: &Path) -> impl Fn(rustls::pki_types::pem::Error) -> ClientError + '_ {
    |source| ClientError::Pem {
        path: path.to_path_buf(),
        source,
    }
}

/// Where and as whom to connect.
pub struct ClientIdentity<'a> {
    /// CA certificates (PEM) the server's certificate must chain to.
    pub ca: &'a Path,
    /// The client certificate chain (PEM) presented to the server.
    pub cert: &'a Path,
    /// The client certificate's private key (PEM).
    pub key: &'a Path,
}

/// One keep-alive connection.
pub struct Connection {
    sender: SendRequest<Full<Bytes>>,
    host: String,
}

/// A TLS configuration trusting `ca` and presenting the client certificate.
pub fn tls_config(identity: &ClientIdentity<'_>) -> Result<Arc<rustls::ClientConfig>> {
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(identity.ca).map_err(pem_error(identity.ca))?;
    for cert in certs {
        let cert = cert.map_err(pem_error(identity.ca))?;
        roots
            .add(cert)
            .map_err(|source| ClientError::CaCertificate {
                path: identity.ca.to_path_buf(),
                source,
            })?;
    }
    let chain = CertificateDer::pem_file_iter(identity.cert)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(pem_error(identity.cert))?;
    let key = PrivateKeyDer::from_pem_file(identity.key).map_err(pem_error(identity.key))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(ClientError::Tls)?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(ClientError::Tls)?;
    Ok(Arc::new(config))
}

impl Connection {
    /// Connects to `addr` (`host:port`), verifying the server as `host`.
    pub async fn open(addr: &str, tls: Arc<rustls::ClientConfig>) -> Result<Self> {
        let host = addr
            .rsplit_once(':')
            .map_or(addr, |(h, _)| h)
            .trim_matches(['[', ']'])
            .to_string();
        let connect = |handshake: bool| {
            move |source| ClientError::Connect {
                addr: addr.to_string(),
                handshake,
                source,
            }
        };
        let server_name =
            ServerName::try_from(host.clone()).map_err(|source| ClientError::ServerName {
                addr: addr.to_string(),
                source,
            })?;
        let tcp = TcpStream::connect(addr).await.map_err(connect(false))?;
        tcp.set_nodelay(true).map_err(connect(false))?;
        let tls = TlsConnector::from(tls)
            .connect(server_name, tcp)
            .await
            .map_err(connect(true))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(ClientError::Http)?;
        tokio::spawn(connection);
        Ok(Self { sender, host })
    }

    /// POSTs `body` to `path` with `headers`; returns the status and body.
    pub async fn post(
        &mut self,
        path: &str,
        headers: &[(&str, String)],
        body: Vec<u8>,
    ) -> Result<(u16, Vec<u8>)> {
        let mut request = hyper::Request::post(path)
            .header("host", &self.host)
            .header("content-type", "application/json");
        for (name, value) in headers {
            request = request.header(*name, value);
        }
        self.sender.ready().await.map_err(ClientError::Http)?;
        let request = request
            .body(Full::new(Bytes::from(body)))
            .map_err(ClientError::Request)?;
        let response = self
            .sender
            .send_request(request)
            .await
            .map_err(ClientError::Http)?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(ClientError::Http)?
            .to_bytes()
            .to_vec();
        Ok((status, body))
    }
}

/// What a telemetry request says; [`signed_telemetry`] turns it into bytes.
pub struct TelemetryRequest {
    /// `tenant_id`, in the body and its `signed_metadata`.
    pub tenant: TenantId,
    /// `operator_id`, in the body and its `signed_metadata`.
    pub operator: OperatorId,
    /// `campaign_id`, in the body and its `signed_metadata`.
    pub campaign: String,
    /// `execution_hash`: the execution reported.
    pub execution_hash: Sha256Hex,
    /// `attestation_measurement_hash`: the measurement reported.
    pub measurement_hash: Sha256Hex,
    /// `timestamp`, also the `X-Telemetry-Timestamp` header.
    pub timestamp: UnixSeconds,
    /// `nonce`, also the `X-Telemetry-Nonce` header.
    pub nonce: Nonce,
    /// `payload`: the telemetry itself.
    pub payload: serde_json::Value,
}

/// A request ready to POST: its headers and its exact body bytes.
pub struct SignedRequest {
    /// The `X-Telemetry-*` headers, signature included.
    pub headers: Vec<(&'static str, String)>,
    /// The exact bytes that were signed.
    pub body: Vec<u8>,
}

/// Serializes `request` as a `/v1/telemetry` body (with matching
/// `signed_metadata`) and signs it as docs/federation.md specifies.
pub fn signed_telemetry(
    key: &ed25519_dalek::SigningKey,
    request: &TelemetryRequest,
) -> SignedRequest {
    let body = serde_json::json!({
        "tenant_id": request.tenant,
        "operator_id": request.operator,
        "campaign_id": request.campaign,
        "execution_hash": request.execution_hash,
        "attestation_measurement_hash": request.measurement_hash,
        "timestamp": request.timestamp,
        "nonce": request.nonce,
        "signed_metadata": {
            "tenant_id": request.tenant,
            "operator_id": request.operator,
            "campaign_id": request.campaign,
        },
        "payload": request.payload,
    })
    .to_string()
    .into_bytes();
    let signature = sign_telemetry(key, request.timestamp, &request.nonce, &body);
    let headers = vec![
        ("x-telemetry-timestamp", request.timestamp.to_string()),
        ("x-telemetry-nonce", request.nonce.to_string()),
        ("x-telemetry-signature", signature),
    ];
    SignedRequest { headers, body }
}
