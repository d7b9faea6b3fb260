//! Load benchmark for the gateway (BENCHMARKS.md): signed telemetry requests
//! per second over mTLS keep-alive connections, next to the bare Ed25519
//! `verify_strict` rate measured in the same run on the same cores.
//!
//! ```sh
//! cargo run --release --example gateway_load -- [SECONDS] [CONNECTIONS] [rego|rust]
//! ```
//!
//! The gateway runs in this process on 127.0.0.1 with a fresh dev setup (rate
//! limit lifted); the client pre-signs every request before the clock starts,
//! so the measured time is the gateway's: TLS, HTTP, JSON, signature,
//! freshness, nonce, the isolation policy in a fresh sandbox, and the decision
//! log's durable append. Client and server share the machine's cores.

use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{Signer, SigningKey};
use verdict_host::digest::Digest;
use verdict_host::gateway::app::AppState;
use verdict_host::gateway::client::{
    ClientIdentity, Connection, SignedRequest, TelemetryRequest, signed_telemetry, tls_config,
};
use verdict_host::gateway::config::GatewayConfig;
use verdict_host::gateway::config::dev::{DevPolicies, DevSetup};
use verdict_host::gateway::routes::router;
use verdict_host::gateway::serve::serve_mtls;
use verdict_host::gateway::tls::{TlsFiles, server_config};
use verdict_host::ids::{Nonce, ServiceIdentity};
use verdict_host::messages::UnixSeconds;
use verdict_host::policy::{PolicyRuntime, RuntimeConfig};
use verdict_host::timestamp::Timestamp;

const POLICIES: DevPolicies<'static> = DevPolicies {
    isolation_rego: include_str!("../policies/isolation.rego"),
    isolation_data: include_str!("../examples/isolation/data.json"),
    feedback_rego: include_str!("../policies/feedback.rego"),
    feedback_data: include_str!("../examples/feedback/data.json"),
    attestation_rego: include_str!("../policies/attestation.rego"),
    attestation_data: include_str!("../examples/attestation/data.json"),
};

/// Requests signed per second of run, per connection: more than the gateway
/// can take, so no connection runs dry.
const PRESIGNED_PER_SECOND: u64 = 30_000;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let seconds: u64 = args.next().map(|s| s.parse()).transpose()?.unwrap_or(10);
    let connections: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(16);
    let isolation = args.next().unwrap_or_else(|| "rego".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());

    let dir = tempfile::tempdir()?;
    let setup = DevSetup::ensure(dir.path(), &POLICIES)?;
    let config_path = setup.layout().config();
    let text = fs::read_to_string(&config_path)?
        .replace(
            "rate_per_identity_per_sec = 200",
            "rate_per_identity_per_sec = 10000000",
        )
        .replace("burst = 400", "burst = 10000000");
    let text = match isolation.as_str() {
        "rego" => text,
        // The Rust twin of the isolation policy (components/isolation), held
        // to the same decisions by tests/all/twins.rs.
        "rust" => {
            let wasm = dir.path().join("policies/isolation_policy.wasm");
            fs::write(&wasm, verdict_host::policy::builtin::ISOLATION_POLICY)?;
            text.replace("policies/isolation.rego", "policies/isolation_policy.wasm")
        }
        other => anyhow::bail!("the isolation policy is `rego` or `rust`, not `{other}`"),
    };
    fs::write(&config_path, text)?;
    let config = GatewayConfig::load(&config_path)?;
    let alpha: ServiceIdentity = "alpha".parse()?;
    let layout = setup.layout();
    let key_pem = fs::read_to_string(layout.client_signing_key(&alpha))?;
    let key = SigningKey::from_pkcs8_pem(&key_pem).context("alpha's signing key")?;

    let total = PRESIGNED_PER_SECOND * seconds;
    eprintln!("pre-signing {total} requests ...");
    let requests = presign(&key, total, connections);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(cores)
        .enable_all()
        .build()?;
    let policies = PolicyRuntime::new(RuntimeConfig::default())?;
    let (ok, other, elapsed) = runtime.block_on(async {
        let (state, writer) = AppState::build(&config, &policies).await?;
        let tls = config.tls();
        let tls = server_config(&TlsFiles {
            client_ca: tls.ca().into(),
            cert_chain: tls.cert().into(),
            private_key: tls.key().into(),
        })?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve_mtls(
            listener,
            tls,
            router(state),
            async {
                let _ = stopped.await;
            },
            Duration::from_secs(5),
        ));
        let client = tls_config(&ClientIdentity {
            ca: &layout.ca_cert(),
            cert: &layout.client_cert(&alpha),
            key: &layout.client_key(&alpha),
        })?;
        let result = drive(
            &format!("localhost:{port}"),
            client,
            requests,
            Duration::from_secs(seconds),
        )
        .await;
        let _ = stop.send(());
        let _ = server.await;
        tokio::task::spawn_blocking(move || writer.close()).await?;
        result
    })?;

    let rate = ok as f64 / elapsed.as_secs_f64();
    eprintln!("measuring bare Ed25519 verify_strict on {cores} threads ...");
    let verifies = verify_rate(&key, cores, Duration::from_secs(seconds));
    println!("connections:          {connections}");
    println!("isolation policy:     {isolation}");
    println!(
        "gateway:              {rate:.0} accepted requests/s ({ok} accepted, {other} other, {elapsed:.1?})"
    );
    println!("ed25519 verify_strict: {verifies:.0} verifies/s on {cores} threads");
    println!("ratio:                {:.3}", rate / verifies);
    Ok(())
}

/// Every request signed up front, round-robin over the connections; each
/// has its own nonce and execution (so the isolation policy sees a new
/// binding every time).
fn presign(key: &SigningKey, total: u64, connections: usize) -> Vec<Vec<SignedRequest>> {
    let now = UnixSeconds::new(Timestamp::now().unix_seconds() as u64).expect("clock in range");
    let mut lanes: Vec<Vec<SignedRequest>> = (0..connections).map(|_| Vec::new()).collect();
    for n in 0..total {
        let execution = Digest::of(&n.to_be_bytes());
        let request = TelemetryRequest {
            tenant: "tenant-a".parse().expect("valid"),
            operator: "op-a1".parse().expect("valid"),
            campaign: "load".into(),
            execution_hash: execution.into(),
            measurement_hash: Digest::of(b"measurement").into(),
            timestamp: now,
            nonce: Nonce::parse(&format!("load-{n:012}")).expect("valid"),
            payload: serde_json::json!({"n": n}),
        };
        lanes[(n as usize) % connections].push(signed_telemetry(key, &request));
    }
    lanes
}

/// Sends each lane's requests in order on its own keep-alive connection
/// until `duration` is up; returns (accepted, other, elapsed).
async fn drive(
    addr: &str,
    tls: Arc<rustls::ClientConfig>,
    lanes: Vec<Vec<SignedRequest>>,
    duration: Duration,
) -> Result<(u64, u64, Duration)> {
    let ok = Arc::new(AtomicU64::new(0));
    let other = Arc::new(AtomicU64::new(0));
    let mut connections = Vec::new();
    for _ in 0..lanes.len() {
        connections.push(Connection::open(addr, tls.clone()).await?);
    }
    let started = Instant::now();
    let deadline = started + duration;
    let mut tasks = Vec::new();
    for (mut connection, lane) in connections.into_iter().zip(lanes) {
        let (ok, other) = (ok.clone(), other.clone());
        tasks.push(tokio::spawn(async move {
            for request in lane {
                if Instant::now() >= deadline {
                    break;
                }
                let headers: Vec<(&str, String)> = request
                    .headers
                    .iter()
                    .map(|(k, v)| (*k, v.clone()))
                    .collect();
                match connection
                    .post("/v1/telemetry", &headers, request.body)
                    .await
                {
                    Ok((202, _)) => ok.fetch_add(1, Ordering::Relaxed),
                    _ => other.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    for task in tasks {
        task.await?;
    }
    Ok((
        ok.load(Ordering::Relaxed),
        other.load(Ordering::Relaxed),
        started.elapsed(),
    ))
}

/// Ed25519 `verify_strict` of one telemetry-sized message, on `threads`
/// threads for `duration`: verifications per second in total.
fn verify_rate(key: &SigningKey, threads: usize, duration: Duration) -> f64 {
    let message = vec![7u8; 400];
    let signature = key.sign(&message);
    let public = key.verifying_key();
    let started = Instant::now();
    let counts: Vec<u64> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut n = 0u64;
                    while started.elapsed() < duration {
                        for _ in 0..64 {
                            assert!(public.verify_strict(&message, &signature).is_ok());
                            n += 1;
                        }
                    }
                    n
                })
            })
            .collect();
        workers
            .into_iter()
            .map(|w| w.join().expect("verifier thread"))
            .collect()
    });
    counts.iter().sum::<u64>() as f64 / started.elapsed().as_secs_f64()
}
