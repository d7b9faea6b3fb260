//! Accepting mTLS connections and handing requests, tagged with the peer's
//! certificate, to the router.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls::ServerConfig;
use tokio::net::TcpListener;
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
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let app = app.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
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
            let builder = auto::Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection(TokioIo::new(tls), service);
            if let Err(error) = watcher.watch(connection).await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drain_connections(graceful, drain).await;
    Ok(())
}

/// Serves `app` over plaintext HTTP on `listener` until `shutdown`
/// resolves, then stops accepting and waits for in-flight connections (at
/// most `drain`).
///
/// Requests carry no [`PeerCertificate`], so a route that needs a service
/// identity refuses them; pass only the operations routes
/// ([`operations_router`](super::routes::operations_router)).
pub async fn serve_plaintext(
    listener: TcpListener,
    app: Router,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) -> std::io::Result<()> {
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
        let app = app.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
                app.clone().oneshot(request)
            });
            let builder = auto::Builder::new(TokioExecutor::new());
            let connection = builder.serve_connection(TokioIo::new(tcp), service);
            if let Err(error) = watcher.watch(connection).await {
                tracing::debug!(%error, "connection ended with an error");
            }
        });
    }
    drain_connections(graceful, drain).await;
    Ok(())
}

/// Waits for the connections `graceful` watches to finish, at most `drain`.
async fn drain_connections(graceful: GracefulShutdown, drain: Duration) {
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(drain) => tracing::warn!("connections still open after the drain period"),
    }
}
