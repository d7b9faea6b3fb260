//! Accepting mTLS connections and handing requests, tagged with the peer's
//! certificate, to the router.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::{GracefulShutdown, Watcher};
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use super::tls::fingerprint;
use crate::digest::Digest;

/// The client certificate a request arrived with, as a request extension.
/// Set on every request of an mTLS connection; the handshake guarantees the
/// certificate chains to the configured CA.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerCertificate {
    /// SHA-256 of the leaf certificate's DER.
    pub fingerprint: Digest,
}

/// How long a handshake may take before the connection is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` over mTLS on `listener` until `shutdown` resolves, then stops
/// accepting and waits for in-flight connections (at most `drain`).
pub async fn serve_mtls(
    listener: TcpListener,
    tls: Arc<ServerConfig>,
    app: Router,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) -> std::io::Result<()> {
    let acceptor = TlsAcceptor::from(tls);
    accept_until(listener, shutdown, drain, move |tcp, watcher| {
        let _ = tcp.set_nodelay(true);
        let (acceptor, app) = (acceptor.clone(), app.clone());
        async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(error)) => {
                    tracing::debug!(%error, "TLS handshake refused");
                    return;
                }
                Err(_) => return,
            };
            let Some(peer) = tls
                .get_ref()
                .1
                .peer_certificates()
                .and_then(|c| c.first())
                .map(fingerprint)
            else {
                return;
            };
            let peer = PeerCertificate { fingerprint: peer };
            let service =
                hyper::service::service_fn(move |mut request: hyper::Request<Incoming>| {
                    request.extensions_mut().insert(peer);
                    app.clone().oneshot(request)
                });
            serve_connection(TokioIo::new(tls), service, watcher).await;
        }
    })
    .await;
    Ok(())
}

/// Serves `app` over plaintext HTTP on `listener` until `shutdown`
/// resolves, then stops accepting and waits for in-flight connections (at
/// most `drain`).
///
/// Requests carry no [`PeerCertificate`], so a route that needs a service
/// identity refuses them; pass only the operations routes
/// ([`Gateway::serve_operations`](super::Gateway::serve_operations)).
pub async fn serve_plaintext(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) -> std::io::Result<()> {
    accept_until(listener, shutdown, drain, move |tcp, watcher| {
        let app = app.clone();
        let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            app.clone().oneshot(request)
        });
        serve_connection(TokioIo::new(tcp), service, watcher)
    })
    .await;
    Ok(())
}

/// Accepts connections on `listener` and spawns `connection` for each until
/// `shutdown` resolves, then waits for them to finish (at most `drain`).
async fn accept_until<F>(
    listener: TcpListener,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
    mut connection: impl FnMut(TcpStream, Watcher) -> F,
) where
    F: Future<Output = ()> + Send + 'static,
{
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let (tcp, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(error) => {
                    tracing::warn!(%error, "accept failed");
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        tokio::spawn(connection(tcp, graceful.watcher()));
    }
    drain_connections(graceful, drain).await;
}

/// Serves HTTP/1.1 or HTTP/2 on `io` until the connection ends or a
/// graceful shutdown finishes it.
async fn serve_connection<I, S, B>(io: I, service: S, watcher: Watcher)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    S: hyper::service::Service<hyper::Request<Incoming>, Response = hyper::Response<B>>
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let builder = auto::Builder::new(TokioExecutor::new());
    let connection = builder.serve_connection(io, service);
    if let Err(error) = watcher.watch(connection).await {
        tracing::debug!(%error, "connection ended with an error");
    }
}

/// Waits for the connections `graceful` watches to finish, at most `drain`.
async fn drain_connections(graceful: GracefulShutdown, drain: Duration) {
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(drain) => tracing::warn!("connections still open after the drain period"),
    }
}
