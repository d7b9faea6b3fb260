//! `verdict serve`: the federation gateway.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use tokio::net::TcpListener;
use verdict_host::gateway::app::AppState;
use verdict_host::gateway::config::GatewayConfig;
use verdict_host::gateway::config::dev::{DevPolicies, DevSetup};
use verdict_host::gateway::routes::router;
use verdict_host::gateway::serve::serve_mtls;
use verdict_host::gateway::tls::{TlsFiles, server_config};

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
    attestation_data: embedded::ATTESTATION_DATA,
};

async fn serve(args: Args) -> Result<Outcome> {
    let config = load(&args)?;
    if let Some(addr) = config.plaintext_listen() {
        bail!(
            "plaintext_listen ({addr}) is configured but not supported by this version; remove it"
        );
    }
    let policies = files::runtime()?;
    let (state, writer) = AppState::build(&config, &policies).await?;
    let tls = config.tls();
    let tls = server_config(&TlsFiles {
        client_ca: tls.ca().to_path_buf(),
        cert_chain: tls.cert().to_path_buf(),
        private_key: tls.key().to_path_buf(),
    })?;
    let addr = args.listen.unwrap_or(config.listen());
    let listener = TcpListener::bind(addr)
        .await
        .with_context(|| format!("listening on {addr}"))?;
    eprintln!(
        "verdict gateway on https://{} (mTLS required)",
        listener.local_addr()?
    );
    eprintln!("decision log: {}", config.decision_log().path().display());
    serve_mtls(
        listener,
        tls,
        router(state.clone()),
        shutdown_signal(),
        DRAIN,
    )
    .await?;
    drop(state);
    // Every answered request was logged durably before its response; this
    // waits for the writer to finish whatever is still queued.
    let closed = tokio::task::spawn_blocking(move || writer.close());
    if tokio::time::timeout(DRAIN, closed).await.is_err() {
        eprintln!("warning: the decision log writer did not stop within {DRAIN:?}");
    }
    eprintln!("stopped");
    Ok(Outcome::Ok)
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
