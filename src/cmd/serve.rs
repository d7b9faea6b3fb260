//! `verdict serve`: the federation gateway.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use verdict_host::gateway::Gateway;
use verdict_host::gateway::config::GatewayConfig;
use verdict_host::gateway::dev::{DevPolicies, DevSetup};

use crate::{Outcome, embedded, files};

#[derive(clap::Args)]
#[command(group = clap::ArgGroup::new("source").required(true).args(["config", "dev"]))]
pub struct Args {
    /// The gateway configuration (TOML; docs/gateway-config.md).
    #[arg(long)]
    config: Option<PathBuf>,
    /// A dev setup: generated in DIR when it is empty (CA, server and client
    /// certificates, keys, policies, verdict.toml), reused when it exists.
    #[arg(long, value_name = "DIR")]
    dev: Option<PathBuf>,
    /// Listen here instead of the configured address (default 127.0.0.1:8443).
    #[arg(long)]
    listen: Option<SocketAddr>,
}

/// How long open connections may finish after a shutdown signal.
const DRAIN: Duration = Duration::from_secs(10);

pub fn run(args: Args) -> Result<Outcome> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting tokio")?;
    runtime.block_on(serve(args))
}

/// The embedded policies and data a dev setup starts with.
pub const DEV_POLICIES: DevPolicies<'static> = DevPolicies {
    isolation_rego: embedded::ISOLATION_REGO,
    isolation_data: embedded::ISOLATION_DATA,
    feedback_rego: embedded::FEEDBACK_REGO,
    feedback_data: embedded::FEEDBACK_DATA,
    attestation_rego: embedded::ATTESTATION_REGO,
    attestation_data: embedded::DEV_ATTESTATION_DATA,
};

async fn serve(args: Args) -> Result<Outcome> {
    let config = load(&args)?;
    let policies = files::runtime()?;
    let gateway = Gateway::start(&config, &policies).await?;
    let addr = args.listen.unwrap_or(config.listen());
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    eprintln!(
        "verdict gateway on https://{} (mTLS required)",
        listener.local_addr()?
    );
    eprintln!("decision log: {}", config.decision_log().path().display());
    let (stop, stopped) = watch::channel(());
    tokio::spawn(async move {
        shutdown_signal().await;
        stop.send_replace(());
    });
    let plaintext = match config.plaintext_listen() {
        Some(addr) => Some(serve_operations(addr, &gateway, stopped.clone()).await?),
        None => None,
    };
    gateway
        .serve(listener, until_changed(stopped), DRAIN)
        .await?;
    if let Some(plaintext) = plaintext {
        plaintext.await.context("the plaintext listener")??;
    }
    // Every answered request was logged durably before its response; this
    // waits for the writer to finish whatever is still queued.
    let closed = tokio::task::spawn_blocking(move || gateway.close());
    if tokio::time::timeout(DRAIN, closed).await.is_err() {
        eprintln!("warning: the decision log writer did not stop within {DRAIN:?}");
    }
    eprintln!("stopped");
    Ok(Outcome::Ok)
}

/// Starts the explicitly configured plaintext listener, which serves only
/// `/healthz` and `/metrics`, until `stopped` changes.
async fn serve_operations(
    addr: SocketAddr,
    gateway: &Gateway,
    stopped: watch::Receiver<()>,
) -> Result<JoinHandle<std::io::Result<()>>> {
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr} (plaintext_listen)"))?;
    eprintln!(
        "plaintext listener on http://{} (only /healthz and /metrics)",
        listener.local_addr()?
    );
    Ok(tokio::spawn(gateway.serve_operations(
        listener,
        until_changed(stopped),
        DRAIN,
    )))
}

/// Resolves when the shutdown signal was sent (or its sender is gone).
async fn until_changed(mut stopped: watch::Receiver<()>) {
    let _ = stopped.changed().await;
}

fn load(args: &Args) -> Result<GatewayConfig> {
    if let Some(path) = &args.config {
        return GatewayConfig::load(path).with_context(|| format!("config {}", path.display()));
    }
    let dir = args.dev.as_ref().context("--config or --dev is required")?;
    let setup = DevSetup::ensure(dir, &DEV_POLICIES)
        .with_context(|| format!("dev setup in {}", dir.display()))?;
    if setup.generated() {
        eprintln!("generated a dev setup in {}:", dir.display());
        for file in setup.created() {
            eprintln!("  {}", file.display());
        }
    } else {
        eprintln!("reusing the dev setup in {}", dir.display());
    }
    eprintln!(
        "send a signed request: verdict sign-telemetry --dev {} --identity alpha --send",
        dir.display()
    );
    Ok(setup.into_config())
}

async fn shutdown_signal() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut terminate =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(signal) => signal,
                Err(_) => {
                    let _ = interrupt.await;
                    return;
                }
            };
        tokio::select! {
            _ = interrupt => {}
            _ = terminate.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = interrupt.await;
}
