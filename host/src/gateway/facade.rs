//! [`Gateway`]: the one way to run a gateway from its config, used by
//! `verdict serve`, the tests and the load benchmark alike.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use rustls::ServerConfig;
use tokio::net::TcpListener;

use crate::gateway::config::GatewayConfig;
use crate::gateway::decisions::DecisionWriter;
use crate::gateway::routes;
use crate::gateway::serve::{serve_mtls, serve_plaintext};
use crate::gateway::start::{self, StartError};
use crate::gateway::state::AppState;
use crate::gateway::tls::{TlsFiles, server_config};
use crate::policy::PolicyRuntime;

/// A started gateway: its state loaded from the config (keys, policies,
/// stores, attestation), its decision-log writer running, and its mTLS
/// configuration built. Serve it on as many listeners as needed, then
/// [`close`](Self::close) it.
///
/// Start, serve and stop a gateway on a generated dev setup:
///
/// ```
/// use std::time::Duration;
/// use verdict_host::gateway::Gateway;
/// use verdict_host::gateway::config::GatewayConfig;
/// use verdict_host::gateway::dev::{DevPolicies, DevSetup};
/// use verdict_host::policy::{PolicyRuntime, RuntimeConfig};
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let policy = |name: &str| {
///     std::fs::read_to_string(format!("{}/../{name}", env!("CARGO_MANIFEST_DIR")))
/// };
/// let (isolation, feedback, attestation) = (
///     policy("policies/isolation.rego")?,
///     policy("policies/feedback.rego")?,
///     policy("policies/attestation.rego")?,
/// );
/// // The appraisal must require something the setup anchors, or the
/// // gateway refuses to start: a memory report from its attester keys.
/// let appraisal_data = policy("examples/attestation/dev-data.json")?;
/// let dir = tempfile::tempdir()?;
/// let setup = DevSetup::ensure(
///     dir.path(),
///     &DevPolicies {
///         isolation_rego: &isolation,
///         isolation_data: "{}",
///         feedback_rego: &feedback,
///         feedback_data: "{}",
///         attestation_rego: &attestation,
///         attestation_data: &appraisal_data,
///     },
/// )?;
/// let config = GatewayConfig::load(&setup.layout().config())?;
/// let runtime = PolicyRuntime::new(RuntimeConfig::default())?;
/// tokio::runtime::Runtime::new()?.block_on(async {
///     let gateway = Gateway::start(&config, &runtime).await?;
///     let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
///     // Stops at once here; a server passes its shutdown signal.
///     gateway.serve(listener, async {}, Duration::from_secs(1)).await?;
///     tokio::task::spawn_blocking(move || gateway.close()).await?;
///     Ok(())
/// })
/// # }
/// ```
pub struct Gateway {
    state: Arc<AppState>,
    tls: Arc<ServerConfig>,
    writer: DecisionWriter,
}

impl Gateway {
    /// Loads everything `config` names, evaluating policies in `runtime`,
    /// and starts the decision-log writer.
    ///
    /// # Errors
    ///
    /// [`StartError`], naming the file or setting at fault.
    pub async fn start(
        config: &GatewayConfig,
        runtime: &PolicyRuntime,
    ) -> Result<Self, StartError> {
        let (state, writer) = start::build(config, runtime).await?;
        let tls = config.tls();
        let tls = server_config(&TlsFiles {
            client_ca: tls.ca().to_path_buf(),
            cert_chain: tls.cert().to_path_buf(),
            private_key: tls.key().to_path_buf(),
        })?;
        Ok(Self { state, tls, writer })
    }

    /// Serves every route over mTLS on `listener` until `shutdown`
    /// resolves, then waits for open connections (at most `drain`).
    pub fn serve<S>(
        &self,
        listener: TcpListener,
        shutdown: S,
        drain: Duration,
    ) -> impl Future<Output = std::io::Result<()>> + Send + use<S>
    where
        S: Future<Output = ()> + Send + 'static,
    {
        self.serve_with(listener, Router::new(), shutdown, drain)
    }

    /// [`serve`](Self::serve) with `extra` routes beside the gateway's (for
    /// instrumentation such as the load benchmark's baselines).
    pub fn serve_with<S>(
        &self,
        listener: TcpListener,
        extra: Router,
        shutdown: S,
        drain: Duration,
    ) -> impl Future<Output = std::io::Result<()>> + Send + use<S>
    where
        S: Future<Output = ()> + Send + 'static,
    {
        let app = routes::router(self.state.clone()).merge(extra);
        serve_mtls(listener, self.tls.clone(), app, shutdown, drain)
    }

    /// Serves only `GET /healthz` and `GET /metrics` over plaintext HTTP on
    /// `listener` (`plaintext_listen`) until `shutdown` resolves; every
    /// other path is 404 there.
    pub fn serve_operations<S>(
        &self,
        listener: TcpListener,
        shutdown: S,
        drain: Duration,
    ) -> impl Future<Output = std::io::Result<()>> + Send + use<S>
    where
        S: Future<Output = ()> + Send + 'static,
    {
        let app = routes::operations_router(self.state.clone());
        serve_plaintext(listener, app, shutdown, drain)
    }

    /// Stops the gateway once every server it was given to has returned:
    /// waits until each queued decision is written. Blocks; call it off the
    /// async workers (`spawn_blocking`).
    pub fn close(self) {
        let Self { state, tls, writer } = self;
        drop((state, tls));
        writer.close();
    }
}
