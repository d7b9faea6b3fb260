//! A throwaway `redis-server` child process for one test.

use std::io::ErrorKind;
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` listening on a free loopback port, without persistence,
/// killed when dropped.
pub struct RedisServer {
    child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts a server and waits until it accepts connections. Panics, asking
    /// for `tests/setup.sh`, if `redis-server` is not installed.
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    /// Starts a server on `port`, e.g. to restart one that was killed.
    pub fn start_on(port: u16) -> Self {
        Self::start_with(port, &[])
    }

    /// Starts a server on `port` with `extra` configuration arguments
    /// (e.g. `["--maxmemory-policy", "allkeys-lru"]`).
    pub fn start_with(port: u16, extra: &[&str]) -> Self {
        let child = Command::new("redis-server")
            .args(["--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--bind", "127.0.0.1"])
            .args(extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn();
        let child = match child {
            Ok(child) => child,
            Err(e) if e.kind() == ErrorKind::NotFound => panic!(
                "redis-server is not installed (not found on PATH): run tests/setup.sh to install it"
            ),
            Err(e) => panic!("could not start redis-server: {e}"),
        };
        let mut server = Self { child, port };
        server.wait_until_ready();
        server
    }

    /// The URL to connect to.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Kills the server now; connections to it break.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Polls the port until the server accepts a connection. The deadline
    /// only turns a server that never comes up into a clear failure.
    fn wait_until_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!(
                    "redis-server on port {} exited at startup: {status}",
                    self.port
                );
            }
            if TcpStream::connect(("127.0.0.1", self.port)).is_ok() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server on port {} never accepted a connection",
                self.port
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A `redis-server` that speaks only TLS, with the default user disabled and
/// one ACL user, [`TlsRedis::USER`], allowed exactly what verdict needs on
/// its own keys. Its certificate is issued by a CA made for the test.
pub struct TlsRedis {
    pub server: RedisServer,
    /// The CA certificate (PEM) that issued the server's.
    pub ca_pem: Vec<u8>,
    /// Where the certificates live; removed on drop.
    dir: tempfile::TempDir,
}

impl TlsRedis {
    pub const USER: &'static str = "verdict";
    pub const PASSWORD: &'static str = "s3cret-Pa55";

    pub fn start() -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (ca_pem, cert_pem, key_pem) = server_certificates();
        let path = |name: &str, pem: &str| {
            let path = dir.path().join(name);
            std::fs::write(&path, pem).expect("write certificate");
            path.display().to_string()
        };
        let (ca, cert, key) = (
            path("ca.pem", &ca_pem),
            path("server.pem", &cert_pem),
            path("server.key", &key_pem),
        );
        let password = format!(">{}", Self::PASSWORD);
        let port = free_port();
        let port_text = port.to_string();
        let args = [
            "--port",
            "0",
            "--tls-port",
            &port_text,
            "--tls-cert-file",
            &cert,
            "--tls-key-file",
            &key,
            "--tls-ca-cert-file",
            &ca,
            "--tls-auth-clients",
            "no",
            "--user",
            "default",
            "off",
            "--user",
            Self::USER,
            "on",
            &password,
            "resetkeys",
            "~verdict:*",
            "-@all",
            "+@connection",
            "+info",
            "+set",
            "+get",
            "+getdel",
            "+del",
            "+eval",
        ];
        let server = RedisServer::start_with(port, &args);
        Self {
            server,
            ca_pem: ca_pem.into_bytes(),
            dir,
        }
    }

    /// The CA certificate's file, for `replay.redis_ca`.
    pub fn ca_file(&self) -> std::path::PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// `rediss://<user>:<password>@127.0.0.1:<port>/`.
    pub fn url(&self, user: &str, password: &str) -> String {
        format!(
            "rediss://{user}:{password}@127.0.0.1:{}/",
            self.server.port()
        )
    }
}

/// A CA, and a server certificate it issued for `localhost` and
/// `127.0.0.1`: (CA PEM, server certificate PEM, server key PEM).
fn server_certificates() -> (String, String, String) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().expect("CA key"))
        .expect("CA certificate");
    let params = CertificateParams::new(vec!["localhost".to_string(), "127.0.0.1".to_string()])
        .expect("server parameters");
    let key = KeyPair::generate().expect("server key");
    let cert = params.signed_by(&key, &ca).expect("server certificate");
    (ca.pem(), cert.pem(), key.serialize_pem())
}

/// A loopback port that was free a moment ago: bind port 0, read, release.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}
