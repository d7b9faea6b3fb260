//! A minimal mTLS HTTP/1.1 client for `--send` and the load benchmark.

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, anyhow};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1::SendRequest;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;

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
    for cert in CertificateDer::pem_file_iter(identity.ca)
        .with_context(|| format!("reading {}", identity.ca.display()))?
    {
        roots.add(cert.with_context(|| format!("parsing {}", identity.ca.display()))?)?;
    }
    let chain = CertificateDer::pem_file_iter(identity.cert)
        .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
        .with_context(|| format!("reading {}", identity.cert.display()))?;
    let key = PrivateKeyDer::from_pem_file(identity.key)
        .with_context(|| format!("reading {}", identity.key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)?;
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
        let server_name =
            ServerName::try_from(host.clone()).map_err(|e| anyhow!("server name {host}: {e}"))?;
        let tcp = TcpStream::connect(addr)
            .await
            .with_context(|| format!("connecting to {addr}"))?;
        tcp.set_nodelay(true)?;
        let tls = TlsConnector::from(tls)
            .connect(server_name, tcp)
            .await
            .context("TLS handshake")?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(tls)).await?;
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
        self.sender.ready().await?;
        let response = self
            .sender
            .send_request(request.body(Full::new(Bytes::from(body)))?)
            .await?;
        let status = response.status().as_u16();
        let body = response.into_body().collect().await?.to_bytes().to_vec();
        Ok((status, body))
    }
}
