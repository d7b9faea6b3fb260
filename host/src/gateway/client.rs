//! A minimal mTLS HTTP/1.1 client: what `verdict sign-* --send`, the load
//! benchmark and the tests use to talk to a gateway as a service identity.

use std::path::Path;
use std::sync::Arc;

/// Why a request could not be made; names the file or step.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{path}: {reason}")]
    File { path: String, reason: String },
    #[error("TLS configuration: {0}")]
    Tls(String),
    #[error("connecting to {addr}: {reason}")]
    Connect { addr: String, reason: String },
    #[error("HTTP: {0}")]
    Http(String),
}

type Result<T> = std::result::Result<T, ClientError>;

fn file_error(path: &Path, e: impl std::fmt::Display) -> ClientError {
    ClientError::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    }
}

fn http(e: impl std::fmt::Display) -> ClientError {
    ClientError::Http(e.to_string())
}
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

/// Where and as whom to connect.
pub struct ClientIdentity<'a> {
    pub ca: &'a Path,
    pub cert: &'a Path,
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
    let certs =
        CertificateDer::pem_file_iter(identity.ca).map_err(|e| file_error(identity.ca, e))?;
    for cert in certs {
        let cert = cert.map_err(|e| file_error(identity.ca, e))?;
        roots.add(cert).map_err(|e| file_error(identity.ca, e))?;
    }
    let chain = CertificateDer::pem_file_iter(identity.cert)
        .and_then(|certs| certs.collect::<std::result::Result<Vec<_>, _>>())
        .map_err(|e| file_error(identity.cert, e))?;
    let key =
        PrivateKeyDer::from_pem_file(identity.key).map_err(|e| file_error(identity.key, e))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| ClientError::Tls(e.to_string()))?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .map_err(|e| ClientError::Tls(e.to_string()))?;
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
        let connect = |reason: String| ClientError::Connect {
            addr: addr.to_string(),
            reason,
        };
        let server_name = ServerName::try_from(host.clone()).map_err(|e| connect(e.to_string()))?;
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| connect(e.to_string()))?;
        tcp.set_nodelay(true).map_err(|e| connect(e.to_string()))?;
        let tls = TlsConnector::from(tls)
            .connect(server_name, tcp)
            .await
            .map_err(|e| connect(format!("TLS handshake: {e}")))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls))
            .await
            .map_err(http)?;
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
        self.sender.ready().await.map_err(http)?;
        let request = request.body(Full::new(Bytes::from(body))).map_err(http)?;
        let response = self.sender.send_request(request).await.map_err(http)?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(http)?
            .to_bytes()
            .to_vec();
        Ok((status, body))
    }
}

/// What a telemetry request says; [`signed_telemetry`] turns it into bytes.
pub struct TelemetryRequest {
    pub tenant: TenantId,
    pub operator: OperatorId,
    pub campaign: String,
    pub execution_hash: Sha256Hex,
    pub measurement_hash: Sha256Hex,
    pub timestamp: UnixSeconds,
    pub nonce: Nonce,
    pub payload: serde_json::Value,
}

/// A request ready to POST: its headers and its exact body bytes.
pub struct SignedRequest {
    pub headers: Vec<(&'static str, String)>,
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
