//! A gateway on a loopback port, built from a generated dev setup, and an
//! mTLS HTTP/1.1 client for it.

use std::fs;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::{ClientConfig, RootCertStore};
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio_rustls::TlsConnector;

use verdict_host::gateway::Gateway as Service;
use verdict_host::gateway::config::GatewayConfig;
use verdict_host::gateway::dev::{DevLayout, DevPolicies, DevSetup};
use verdict_host::ids::ServiceIdentity;
use verdict_host::log::{LogEntry, read_log};

use crate::common::runtime;

/// The policies and data the gateway runs, as `verdict demo` embeds them.
pub fn policies() -> DevPolicies<'static> {
    DevPolicies {
        isolation_rego: include_str!("../../../policies/isolation.rego"),
        isolation_data: include_str!("../../../examples/isolation/data.json"),
        feedback_rego: include_str!("../../../policies/feedback.rego"),
        feedback_data: include_str!("../../../examples/feedback/data.json"),
        attestation_rego: include_str!("../../../policies/attestation.rego"),
        attestation_data: include_str!("../../../examples/attestation/dev-data.json"),
    }
}

pub fn identity(name: &str) -> ServiceIdentity {
    name.parse().expect("identity name")
}

/// A generated dev setup in a temporary directory (removed on drop).
pub struct Setup {
    dir: tempfile::TempDir,
    layout: DevLayout,
}

impl Setup {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let setup = DevSetup::ensure(dir.path(), &policies()).expect("dev setup generates");
        assert!(setup.generated());
        let layout = setup.layout().clone();
        Self { dir, layout }
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn layout(&self) -> &DevLayout {
        &self.layout
    }

    /// A second replica of this setup: a copy of every file (the same CA,
    /// certificates, keys and config) in its own directory, so it keeps its
    /// own decision log.
    pub fn replica(&self) -> Self {
        fn copy(from: &Path, to: &Path) {
            fs::create_dir_all(to).expect("create replica directory");
            for entry in fs::read_dir(from).expect("read setup directory") {
                let path = entry.expect("directory entry").path();
                let target = to.join(path.file_name().expect("file name"));
                if path.is_dir() {
                    copy(&path, &target);
                } else {
                    fs::copy(&path, &target).expect("copy setup file");
                }
            }
        }
        let dir = tempfile::tempdir().expect("temporary directory");
        copy(self.dir(), dir.path());
        let setup = DevSetup::ensure(dir.path(), &policies()).expect("the copy loads");
        assert!(!setup.generated());
        let layout = setup.layout().clone();
        Self { dir, layout }
    }

    /// Rewrites `verdict.toml` with `edit`; the gateway loads it when started.
    pub fn edit_config(&self, edit: impl FnOnce(String) -> String) {
        let path = self.layout.config();
        let text = fs::read_to_string(&path).expect("read verdict.toml");
        let edited = edit(text.clone());
        assert_ne!(edited, text, "the config edit changed nothing");
        fs::write(&path, edited).expect("write verdict.toml");
    }

    /// Switches `[replay]` to the Redis at `url`, with `ca` as its TLS roots
    /// (`replay.redis_ca`) when given.
    pub fn use_redis(&self, url: &str, ca: Option<&Path>) {
        let ca = ca.map_or_else(String::new, |ca| {
            format!("redis_ca = \"{}\"\n", ca.display())
        });
        self.edit_config(|text| {
            text.replacen(
                "backend = \"memory\"\n",
                &format!("backend = \"redis\"\nredis_url = \"{url}\"\n{ca}"),
                1,
            )
        });
    }

    /// Replaces the `[limits]` table's settings.
    pub fn set_limits(&self, max_body_bytes: usize, rate: u32, burst: u32) {
        self.edit_config(|text| {
            let start = text.find("[limits]").expect("[limits] table");
            format!(
                "{}[limits]\nmax_body_bytes = {max_body_bytes}\nrate_per_identity_per_sec = {rate}\nburst = {burst}\n",
                &text[..start]
            )
        });
    }

    /// The decision log as the gateway left it.
    pub fn log(&self) -> Vec<LogEntry> {
        read_log(self.layout.decision_log()).expect("the decision log parses")
    }

    /// Loads `verdict.toml` and serves it on a free loopback port.
    pub async fn start(self) -> Gateway {
        let config = GatewayConfig::load(&self.layout.config()).expect("verdict.toml loads");
        let service = Service::start(&config, runtime())
            .await
            .expect("the gateway starts");
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local address");
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async move {
            let _ = stopped.await;
        };
        let server = tokio::spawn(service.serve(listener, shutdown, Duration::from_secs(5)));
        let alpha = client_config(&self.layout, Some("alpha"));
        Gateway {
            setup: Some(self),
            addr,
            stop: Some(stop),
            server: Some(server),
            service: Some(service),
            alpha,
        }
    }
}

/// A running gateway. Dropping it stops the server without waiting.
pub struct Gateway {
    setup: Option<Setup>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<()>>>,
    service: Option<Service>,
    alpha: Arc<ClientConfig>,
}

impl Gateway {
    pub fn setup(&self) -> &Setup {
        self.setup.as_ref().expect("running")
    }

    pub fn layout(&self) -> &DevLayout {
        self.setup().layout()
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A TLS client config presenting `identity`'s certificate.
    pub fn tls_for(&self, identity: &str) -> Arc<ClientConfig> {
        if identity == "alpha" {
            return self.alpha.clone();
        }
        client_config(self.layout(), Some(identity))
    }

    /// A keep-alive connection as `identity`.
    pub async fn client(&self, identity: &str) -> Client {
        Client::connect(self.addr, self.tls_for(identity))
            .await
            .expect("connect to the gateway")
    }

    /// Stops the server, waits for in-flight requests and for the decision
    /// log writer to finish, and hands the setup back.
    pub async fn stop(mut self) -> Setup {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let served = tokio::time::timeout(Duration::from_secs(15), server)
                .await
                .expect("the server stops within its drain period")
                .expect("the server task did not panic");
            served.expect("the server ran without I/O errors");
        }
        if let Some(service) = self.service.take() {
            let closed = tokio::task::spawn_blocking(move || service.close());
            tokio::time::timeout(Duration::from_secs(15), closed)
                .await
                .expect("the decision log writer finishes once every connection is gone")
                .expect("the writer did not panic");
        }
        self.setup.take().expect("running")
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// A rustls client trusting the dev CA, presenting `identity`'s client
/// certificate (or none).
pub fn client_config(layout: &DevLayout, identity: Option<&str>) -> Arc<ClientConfig> {
    let cert = identity.map(|name| {
        let id = self::identity(name);
        (
            pem_certs(&layout.client_cert(&id)),
            pem_key(&layout.client_key(&id)),
        )
    });
    tls_client(&layout.ca_cert(), cert)
}

pub fn tls_client(
    ca: &Path,
    client_cert: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Arc<ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut roots = RootCertStore::empty();
    for cert in pem_certs(ca) {
        roots.add(cert).expect("CA certificate");
    }
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots);
    let mut config = match client_cert {
        Some((chain, key)) => builder
            .with_client_auth_cert(chain, key)
            .expect("client certificate"),
        None => builder.with_no_client_auth(),
    };
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

pub fn pem_certs(path: &Path) -> Vec<CertificateDer<'static>> {
    CertificateDer::pem_file_iter(path)
        .expect("read PEM certificates")
        .collect::<Result<_, _>>()
        .expect("PEM certificates")
}

pub fn pem_key(path: &Path) -> PrivateKeyDer<'static> {
    PrivateKeyDer::from_pem_file(path).expect("PEM private key")
}

/// A request, kept as plain data so it can be sent more than once.
#[derive(Clone, Debug)]
pub struct Req {
    pub method: &'static str,
    pub path: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Req {
    pub fn get(path: &str) -> Self {
        Self {
            method: "GET",
            path: path.into(),
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    /// A POST with `Content-Type: application/json`.
    pub fn post_json(path: &str, body: Vec<u8>) -> Self {
        Self {
            method: "POST",
            path: path.into(),
            headers: Vec::new(),
            body,
        }
        .header("content-type", "application/json")
    }

    pub fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self.headers.push((name.to_ascii_lowercase(), value.into()));
        self
    }

    pub fn without_header(mut self, name: &str) -> Self {
        self.headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        self
    }

    fn to_hyper(&self) -> hyper::Request<Full<Bytes>> {
        let mut builder = hyper::Request::builder()
            .method(self.method)
            .uri(self.path.as_str())
            .header("host", "localhost");
        for (name, value) in &self.headers {
            builder = builder.header(name.as_str(), value.as_str());
        }
        builder
            .body(Full::new(Bytes::from(self.body.clone())))
            .expect("valid request")
    }
}

/// A response, read whole.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: Option<String>,
    /// `X-Verdict-Leaf-Index`, which feedback responses carry.
    pub leaf_index: Option<u64>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {}", self.text()))
    }

    /// Asserts the status and returns the JSON body.
    pub fn expect(&self, status: u16) -> Value {
        assert_eq!(
            self.status,
            status,
            "unexpected status; body: {}",
            self.text()
        );
        self.json()
    }

    /// Asserts an error response of `status` with `code`, in the documented
    /// shape `{"error": {"code", "message", "request_id"}}`, whose message
    /// shows no key material. Returns the message.
    pub fn expect_error(&self, status: u16, code: &str) -> String {
        let body = self.expect(status);
        assert!(
            self.content_type
                .as_deref()
                .is_some_and(|t| t.starts_with("application/json")),
            "error responses are JSON: {:?}",
            self.content_type
        );
        let top = body.as_object().expect("the body is an object");
        assert_eq!(top.len(), 1, "only `error` at the top level: {body}");
        let error = body["error"]
            .as_object()
            .unwrap_or_else(|| panic!("`error` is an object: {body}"));
        let mut members: Vec<&str> = error.keys().map(String::as_str).collect();
        members.sort_unstable();
        let expected: &[&str] = if code == "policy_denied" {
            &["code", "decision_id", "leaf_index", "message", "request_id"]
        } else {
            &["code", "message", "request_id"]
        };
        assert_eq!(members, expected, "error members: {body}");
        assert_eq!(error["code"], code, "error code: {body}");
        let request_id = error["request_id"]
            .as_str()
            .expect("request_id is a string");
        assert!(
            is_id(request_id),
            "request_id is 32 lowercase hex digits: {request_id}"
        );
        if code == "policy_denied" {
            assert!(
                error["decision_id"].as_str().is_some_and(is_id),
                "decision_id: {body}"
            );
        }
        let message = error["message"].as_str().expect("message is a string");
        assert!(!message.is_empty(), "the message says what is wrong");
        assert_no_secrets(message);
        message.to_string()
    }
}

/// A decision or request id: 32 lowercase hex digits.
pub fn is_id(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Fails if `text` looks like it carries PEM or key material.
pub fn assert_no_secrets(text: &str) {
    for marker in [
        "-----BEGIN",
        "-----END",
        "PRIVATE KEY",
        "PUBLIC KEY",
        "CERTIFICATE",
    ] {
        assert!(
            !text.contains(marker),
            "the text shows key material ({marker}): {text}"
        );
    }
    // No long base64 run (a key, certificate or signature).
    let longest_b64 = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '+' || c == '/' || c == '='))
        .map(str::len)
        .max()
        .unwrap_or(0);
    assert!(longest_b64 < 80, "the text holds a long base64 run: {text}");
}

/// One HTTP/1.1 keep-alive connection over mTLS.
pub struct Client {
    sender: http1::SendRequest<Full<Bytes>>,
    connection: JoinHandle<Result<(), String>>,
}

impl Client {
    /// Connects and completes the TLS and HTTP handshakes.
    pub async fn connect(addr: SocketAddr, tls: Arc<ClientConfig>) -> Result<Self, String> {
        let tcp = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("TCP connect: {e}"))?;
        let name = ServerName::try_from("localhost").expect("server name");
        let stream = TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .map_err(|e| format!("TLS handshake: {e}"))?;
        let (sender, connection) = http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| format!("HTTP handshake: {e}"))?;
        let connection =
            tokio::spawn(async move { connection.await.map_err(|e| format!("{e:?}")) });
        Ok(Self { sender, connection })
    }

    /// Sends `req` and reads the whole response; `Err` if the connection
    /// fails before a response arrives.
    pub async fn try_send(&mut self, req: &Req) -> Result<Reply, String> {
        if let Err(e) = self.sender.ready().await {
            let cause = self.connection_error().await;
            return Err(format!("connection not ready: {e}; {cause}"));
        }
        let response = match self.sender.send_request(req.to_hyper()).await {
            Ok(response) => response,
            Err(e) => {
                let cause = self.connection_error().await;
                return Err(format!("request failed: {e}; {cause}"));
            }
        };
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let leaf_index = response
            .headers()
            .get("x-verdict-leaf-index")
            .and_then(|v| v.to_str().ok()?.parse().ok());
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("reading the body: {e}"))?
            .to_bytes();
        Ok(Reply {
            status,
            content_type,
            leaf_index,
            body: body.to_vec(),
        })
    }

    /// Why the connection ended, once it has.
    async fn connection_error(&mut self) -> String {
        match tokio::time::timeout(Duration::from_secs(5), &mut self.connection).await {
            Ok(Ok(Ok(()))) => "the connection closed".into(),
            Ok(Ok(Err(e))) => format!("connection error: {e}"),
            Ok(Err(e)) => format!("connection task: {e}"),
            Err(_) => "the connection is still open".into(),
        }
    }

    pub async fn send(&mut self, req: &Req) -> Reply {
        self.try_send(req)
            .await
            .unwrap_or_else(|e| panic!("{} {}: {e}", req.method, req.path))
    }
}

impl Drop for Client {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

/// Tries one request on a fresh connection with `tls`; `Err` says where it
/// failed (TCP, TLS, HTTP) when no response came back.
pub async fn try_once(
    addr: SocketAddr,
    tls: Arc<ClientConfig>,
    req: &Req,
) -> Result<Reply, String> {
    let mut client = Client::connect(addr, tls).await?;
    client.try_send(req).await
}
