//! Load benchmark for the gateway (BENCHMARKS.md): signed telemetry requests
//! per second over mTLS keep-alive connections, next to the bare Ed25519
//! `verify_strict` rate measured in the same run on the same cores.
//!
//! ```sh
//! cargo run --release --example gateway_load -- [SECONDS] [CONNECTIONS] [rego|rust|transport|verify]
//! ```
//!
//! The gateway runs in a child process of this program on 127.0.0.1, with a
//! fresh dev setup (rate limit lifted), pinned with `taskset` to the first
//! half of the machine's CPUs; the load client runs on the other half and
//! pre-signs every request before the clock starts. So the measured work is
//! the gateway's alone: TLS, HTTP, JSON, signature, freshness, nonce, binding,
//! the isolation policy in a fresh sandbox, and the decision log's durable
//! append. The bare verify rate is then measured on the gateway's CPUs, with
//! one thread per CPU.

use std::fs;
use std::io::{BufRead as _, Read as _};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use axum::Router;
use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::{Signer, SigningKey};
use verdict_host::digest::Digest;
use verdict_host::gateway::Gateway;
use verdict_host::gateway::client::{
    ClientIdentity, Connection, SignedRequest, TelemetryRequest, signed_telemetry, tls_config,
};
use verdict_host::gateway::config::GatewayConfig;
use verdict_host::gateway::dev::{DevPolicies, DevSetup};
use verdict_host::ids::{Nonce, ServiceIdentity};
use verdict_host::messages::UnixSeconds;
use verdict_host::messages::telemetry::{TelemetryHeaders, verify_telemetry};
use verdict_host::policy::{PolicyRuntime, RuntimeConfig};
use verdict_host::timestamp::Timestamp;

const POLICIES: DevPolicies<'static> = DevPolicies {
    isolation_rego: include_str!("../policies/isolation.rego"),
    isolation_data: include_str!("../examples/isolation/data.json"),
    feedback_rego: include_str!("../policies/feedback.rego"),
    feedback_data: include_str!("../examples/feedback/data.json"),
    attestation_rego: include_str!("../policies/attestation.rego"),
    attestation_data: include_str!("../examples/attestation/dev-data.json"),
};

/// Requests signed per second of run, per connection: more than the gateway
/// can take, so no connection runs dry.
const PRESIGNED_PER_SECOND: u64 = 30_000;

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let first = args.next();
    if first.as_deref() == Some(SERVE_ARG) {
        let config = args.next().context("--serve needs a config path")?;
        let threads: usize = args
            .next()
            .context("--serve needs a thread count")?
            .parse()?;
        let key = args
            .next()
            .context("--serve needs the client's signing key")?;
        return serve_child(Path::new(&config), threads, Path::new(&key));
    }
    let seconds: u64 = first.map(|s| s.parse()).transpose()?.unwrap_or(10);
    let connections: usize = args.next().map(|s| s.parse()).transpose()?.unwrap_or(64);
    let workload = Workload::parse(args.next().as_deref().unwrap_or("rego"))?;
    let split = CoreSplit::of_machine();

    let dir = tempfile::tempdir()?;
    let setup = DevSetup::ensure(dir.path(), &POLICIES)?;
    let config_path = setup.layout().config();
    write_load_config(&config_path, dir.path(), workload)?;
    let alpha: ServiceIdentity = "alpha".parse()?;
    let layout = setup.layout();
    let key_pem = fs::read_to_string(layout.client_signing_key(&alpha))?;
    let key = SigningKey::from_pkcs8_pem(&key_pem).context("alpha's signing key")?;

    let total = PRESIGNED_PER_SECOND * seconds;
    eprintln!("pre-signing {total} requests ...");
    let requests = presign(&key, total, connections);

    let gateway = GatewayChild::spawn(&config_path, &layout.client_signing_key(&alpha), &split)?;
    pin_self(&split.client)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(split.client.count)
        .enable_all()
        .build()?;
    let client = tls_config(&ClientIdentity {
        ca: &layout.ca_cert(),
        cert: &layout.client_cert(&alpha),
        key: &layout.client_key(&alpha),
    })?;
    let address = format!("localhost:{}", gateway.port);
    let (ok, other, elapsed) = runtime.block_on(drive(
        &address,
        workload.path(),
        client,
        requests,
        Duration::from_secs(seconds),
    ))?;
    drop(runtime);
    gateway.stop()?;

    let rate = ok as f64 / elapsed.as_secs_f64();
    pin_self(&split.gateway)?;
    eprintln!(
        "measuring bare Ed25519 verify_strict on the gateway's cores ({}) ...",
        split.gateway.list
    );
    let verifies = verify_rate(&key, split.gateway.count, Duration::from_secs(seconds));
    println!("connections:           {connections}");
    println!("workload:              {}", workload.describe());
    println!(
        "gateway cores:         {} (client on {})",
        split.gateway.list, split.client.list
    );
    println!(
        "gateway:               {rate:.0} accepted requests/s ({ok} accepted, {other} other, {elapsed:.1?})"
    );
    println!(
        "ed25519 verify_strict: {verifies:.0} verifies/s on {} thread(s)",
        split.gateway.count
    );
    println!("ratio:                 {:.3}", rate / verifies);
    Ok(())
}

/// The first argument that makes this program the gateway child.
const SERVE_ARG: &str = "--serve";

/// What each request exercises.
#[derive(Clone, Copy)]
enum Workload {
    /// `/v1/telemetry` with the Rego isolation policy: the whole gateway.
    Rego,
    /// `/v1/telemetry` with the isolation policy's Rust twin.
    Rust,
    /// A route of this tool that reads the body and answers 202: the floor
    /// that mTLS, HTTP/1.1 and the kernel set, with no verification at all.
    Transport,
    /// A route of this tool that parses the headers and body and verifies
    /// the signature (`verify_telemetry`), then answers 202: the transport
    /// floor plus the one verify the ratio is measured against.
    Verify,
}

impl Workload {
    fn parse(text: &str) -> Result<Self> {
        Ok(match text {
            "rego" => Workload::Rego,
            "rust" => Workload::Rust,
            "transport" => Workload::Transport,
            "verify" => Workload::Verify,
            other => {
                anyhow::bail!(
                    "the workload is `rego`, `rust`, `transport` or `verify`, not `{other}`"
                )
            }
        })
    }

    fn path(self) -> &'static str {
        match self {
            Workload::Rego | Workload::Rust => "/v1/telemetry",
            Workload::Transport => TRANSPORT_PATH,
            Workload::Verify => VERIFY_PATH,
        }
    }

    fn describe(self) -> &'static str {
        match self {
            Workload::Rego => "/v1/telemetry, Rego isolation policy",
            Workload::Rust => "/v1/telemetry, Rust twin of the isolation policy",
            Workload::Transport => "transport floor (mTLS + HTTP, body read, 202)",
            Workload::Verify => "verify floor (transport + verify_telemetry, 202)",
        }
    }
}

/// The floor routes, served only by this tool's gateway child.
const TRANSPORT_PATH: &str = "/load/transport";
const VERIFY_PATH: &str = "/load/verify";

/// The dev configuration with the rate limit lifted and the workload's
/// isolation policy.
fn write_load_config(config_path: &Path, dir: &Path, workload: Workload) -> Result<()> {
    let text = fs::read_to_string(config_path)?
        .replace(
            "rate_per_identity_per_sec = 200",
            "rate_per_identity_per_sec = 10000000",
        )
        .replace("burst = 400", "burst = 10000000");
    let text = match workload {
        // The Rust twin of the isolation policy (components/isolation), held
        // to the same decisions by tests/all/twins.rs.
        Workload::Rust => {
            let wasm = dir.join("policies/isolation_policy.wasm");
            fs::write(&wasm, verdict_host::policy::builtin::ISOLATION_POLICY)?;
            text.replace("policies/isolation.rego", "policies/isolation_policy.wasm")
        }
        _ => text,
    };
    fs::write(config_path, text)?;
    Ok(())
}

/// A set of CPUs, as `taskset` takes it.
struct Cpus {
    list: String,
    count: usize,
}

/// The machine's CPUs split between the gateway (first half, rounded up)
/// and the load client (the rest), so the client's TLS and HTTP work is not
/// counted against the gateway.
struct CoreSplit {
    gateway: Cpus,
    client: Cpus,
}

impl CoreSplit {
    fn of_machine() -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        if cores < 2 {
            let all = || Cpus {
                list: "0".into(),
                count: 1,
            };
            return CoreSplit {
                gateway: all(),
                client: all(),
            };
        }
        let gateway = cores.div_ceil(2);
        CoreSplit {
            gateway: Cpus {
                list: format!("0-{}", gateway - 1),
                count: gateway,
            },
            client: Cpus {
                list: format!("{gateway}-{}", cores - 1),
                count: cores - gateway,
            },
        }
    }
}

/// Moves every thread of this process onto `cpus`; threads started later
/// inherit it.
fn pin_self(cpus: &Cpus) -> Result<()> {
    let status = Command::new("taskset")
        .args([
            "-a",
            "-p",
            "-c",
            &cpus.list,
            &std::process::id().to_string(),
        ])
        .stdout(Stdio::null())
        .status()
        .context("running taskset (util-linux)")?;
    anyhow::ensure!(status.success(), "taskset -p -c {} failed", cpus.list);
    Ok(())
}

/// The gateway, in a child process of this program pinned to its CPUs.
struct GatewayChild {
    child: Child,
    port: u16,
}

impl GatewayChild {
    fn spawn(config: &Path, client_key: &Path, split: &CoreSplit) -> Result<Self> {
        let mut child = Command::new("taskset")
            .args(["-c", &split.gateway.list])
            .arg(std::env::current_exe()?)
            .arg(SERVE_ARG)
            .arg(config)
            .arg(split.gateway.count.to_string())
            .arg(client_key)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .context("starting the gateway child under taskset")?;
        let stdout = child.stdout.take().context("child stdout")?;
        let mut line = String::new();
        std::io::BufReader::new(stdout).read_line(&mut line)?;
        let port = line
            .trim()
            .parse()
            .with_context(|| format!("the gateway child printed {line:?}, not a port"))?;
        Ok(Self { child, port })
    }

    /// Closes the child's stdin, which shuts the gateway down gracefully,
    /// and waits for it.
    fn stop(mut self) -> Result<()> {
        drop(self.child.stdin.take());
        let status = self.child.wait()?;
        anyhow::ensure!(status.success(), "the gateway child failed: {status}");
        Ok(())
    }
}

/// The gateway child: serves the config, plus the floor routes, on
/// `threads` worker threads until its stdin closes, then shuts down and
/// closes the decision log.
fn serve_child(config_path: &Path, threads: usize, client_key: &Path) -> Result<()> {
    let config = GatewayConfig::load(config_path)?;
    let key_pem = fs::read_to_string(client_key)?;
    let client_key = SigningKey::from_pkcs8_pem(&key_pem)
        .context("the client's signing key")?
        .verifying_key();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads)
        .enable_all()
        .build()?;
    let policies = PolicyRuntime::new(RuntimeConfig::default())?;
    runtime.block_on(async {
        let gateway = Gateway::start(&config, &policies).await?;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("{}", listener.local_addr()?.port());
        let stdin_closed = tokio::task::spawn_blocking(|| {
            let mut sink = Vec::new();
            let _ = std::io::stdin().read_to_end(&mut sink);
        });
        gateway
            .serve_with(
                listener,
                floor_routes(client_key),
                async move {
                    let _ = stdin_closed.await;
                },
                Duration::from_secs(5),
            )
            .await?;
        tokio::task::spawn_blocking(move || gateway.close()).await?;
        anyhow::Ok(())
    })
}

/// The floor workloads' routes (see [`Workload`]).
fn floor_routes(key: ed25519_dalek::VerifyingKey) -> Router {
    Router::new()
        .route(
            TRANSPORT_PATH,
            post(|body: Bytes| async move { (StatusCode::ACCEPTED, body.len().to_string()) }),
        )
        .route(
            VERIFY_PATH,
            post(move |headers: HeaderMap, body: Bytes| async move {
                let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
                let verified = TelemetryHeaders::parse(
                    header("x-telemetry-timestamp"),
                    header("x-telemetry-nonce"),
                    header("x-telemetry-signature"),
                )
                .and_then(|parsed| verify_telemetry(&parsed, &body, &key));
                match verified {
                    Ok(_) => StatusCode::ACCEPTED,
                    Err(_) => StatusCode::UNAUTHORIZED,
                }
            }),
        )
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
    path: &'static str,
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
                match connection.post(path, &headers, request.body).await {
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
