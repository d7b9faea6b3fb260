//! `verdict sign-telemetry` and `verdict sign-feedback`: sign a request as a
//! dev-setup identity, then print a ready curl command or send it.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use ed25519_dalek::pkcs8::DecodePrivateKey;
use serde_json::json;
use verdict_host::gateway::config::GatewayConfig;
use verdict_host::gateway::config::dev::DevLayout;
use verdict_host::ids::{Kid, Nonce, ServiceIdentity, TenantId};
use verdict_host::log::DecisionId;
use verdict_host::messages::{
    Feedback, FeedbackData, FiniteNumber, JsonObject, SafeInteger, SchemaVersion, Sha256Hex,
    UnixSeconds, sign_feedback,
};
use verdict_host::timestamp::Timestamp;

use crate::Outcome;
use verdict_host::gateway::client::{
    ClientIdentity, Connection, SignedRequest, TelemetryRequest, signed_telemetry, tls_config,
};

#[derive(clap::Args)]
pub struct Common {
    /// The dev setup made by `verdict serve --dev DIR`.
    #[arg(long, value_name = "DIR")]
    dev: PathBuf,
    /// The service identity to sign as (alpha or beta in a dev setup).
    #[arg(long, default_value = "alpha")]
    identity: String,
    /// Send the request to this gateway (host:port) instead of printing curl.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "localhost:8443")]
    send: Option<String>,
}

#[derive(clap::Args)]
pub struct TelemetryArgs {
    #[command(flatten)]
    common: Common,
    /// The operator that ran the execution (default: the first of the identity's tenant).
    #[arg(long)]
    operator: Option<String>,
    /// The execution hash (64 lowercase hex; default: random).
    #[arg(long)]
    execution_hash: Option<String>,
    /// The attestation measurement hash (64 lowercase hex; default: random).
    #[arg(long)]
    measurement_hash: Option<String>,
}

#[derive(clap::Args)]
pub struct FeedbackArgs {
    #[command(flatten)]
    common: Common,
    /// The execution the feedback is about (64 lowercase hex).
    #[arg(long)]
    execution_hash: String,
    /// The attestation measurement hash the peer saw (64 lowercase hex).
    #[arg(long)]
    measurement_hash: String,
    #[arg(long, default_value_t = 0.9)]
    confidence: f64,
    #[arg(long, default_value_t = 3600)]
    ttl_seconds: i64,
    /// The signing key id (default: <identity>-k1).
    #[arg(long)]
    kid: Option<String>,
}

/// The identity's files and settings in a dev setup.
struct Signer {
    layout: DevLayout,
    identity: ServiceIdentity,
    tenant: TenantId,
    config: GatewayConfig,
    key: ed25519_dalek::SigningKey,
}

impl Signer {
    fn load(common: &Common) -> Result<Self> {
        let layout = DevLayout::new(&common.dev);
        let config = GatewayConfig::load(&layout.config())
            .context("run `verdict serve --dev DIR` once first")?;
        let identity: ServiceIdentity = common.identity.parse()?;
        let tenant = config
            .identity(&identity)
            .ok_or_else(|| anyhow!("no identity {identity} in {}", layout.config().display()))?
            .tenant()
            .clone();
        let key_path = layout.client_signing_key(&identity);
        let pem = fs::read_to_string(&key_path)
            .with_context(|| format!("reading {}", key_path.display()))?;
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(&pem)
            .map_err(|e| anyhow!("{}: {e}", key_path.display()))?;
        Ok(Self {
            layout,
            identity,
            tenant,
            config,
            key,
        })
    }

    /// Writes the body next to the setup, so curl sends exactly the signed bytes.
    fn write_body(&self, kind: &str, nonce: &Nonce, body: &[u8]) -> Result<PathBuf> {
        let dir = self.layout.dir().join("requests");
        fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{kind}-{nonce}.json"));
        fs::write(&path, body).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

fn now() -> Result<UnixSeconds> {
    UnixSeconds::new(Timestamp::now().unix_seconds().max(0) as u64)
        .ok_or_else(|| anyhow!("clock out of range"))
}

fn fresh_nonce() -> Result<Nonce> {
    Ok(Nonce::parse(&DecisionId::random().to_string())?)
}

fn hash_or_random(given: Option<&str>) -> Result<Sha256Hex> {
    match given {
        Some(hex) => Ok(hex.parse()?),
        None => Ok(verdict_host::digest::Digest::of(DecisionId::random().as_bytes()).into()),
    }
}

pub fn telemetry(args: TelemetryArgs) -> Result<Outcome> {
    let signer = Signer::load(&args.common)?;
    let operator = match &args.operator {
        Some(op) => op.clone(),
        None => signer
            .config
            .operators()
            .iter()
            .find(|(_, tenant)| **tenant == signer.tenant)
            .map(|(op, _)| op.to_string())
            .ok_or_else(|| anyhow!("no operator maps to {}", signer.tenant))?,
    };
    let request = TelemetryRequest {
        tenant: signer.tenant.clone(),
        operator: operator.parse()?,
        campaign: "campaign-1".into(),
        execution_hash: hash_or_random(args.execution_hash.as_deref())?,
        measurement_hash: hash_or_random(args.measurement_hash.as_deref())?,
        timestamp: now()?,
        nonce: fresh_nonce()?,
        payload: json!({"cpu_seconds": 12.5}),
    };
    let SignedRequest { headers, body } = signed_telemetry(&signer.key, &request);
    let nonce = request.nonce;
    deliver(
        &signer,
        &args.common,
        "telemetry",
        "/v1/telemetry",
        &nonce,
        &headers,
        body,
    )
}

pub fn feedback(args: FeedbackArgs) -> Result<Outcome> {
    let signer = Signer::load(&args.common)?;
    let kid: Kid = args
        .kid
        .clone()
        .unwrap_or_else(|| format!("{}-k1", signer.identity))
        .parse()?;
    let nonce = fresh_nonce()?;
    let data = FeedbackData {
        execution_hash: args.execution_hash.parse()?,
        attestation_measurement_hash: args.measurement_hash.parse()?,
        confidence: FiniteNumber::new(args.confidence)?,
        ttl_seconds: SafeInteger::new(args.ttl_seconds)?,
        adjustment: JsonObject::new(),
    };
    let feedback = Feedback {
        tenant_id: signer.tenant.clone(),
        signed_at: now()?,
        nonce: nonce.clone(),
        schema_version: SchemaVersion::V1_0,
        kid,
        data,
    };
    let body = sign_feedback(&signer.key, feedback)?.to_json();
    deliver(
        &signer,
        &args.common,
        "feedback",
        "/v1/feedback",
        &nonce,
        &[],
        body,
    )
}

fn deliver(
    signer: &Signer,
    common: &Common,
    kind: &str,
    path: &str,
    nonce: &Nonce,
    headers: &[(&str, String)],
    body: Vec<u8>,
) -> Result<Outcome> {
    let layout = &signer.layout;
    let identity = ClientIdentity {
        ca: &layout.ca_cert(),
        cert: &layout.client_cert(&signer.identity),
        key: &layout.client_key(&signer.identity),
    };
    let Some(addr) = &common.send else {
        let file = signer.write_body(kind, nonce, &body)?;
        println!("{}", curl(&identity, path, headers, &file));
        return Ok(Outcome::Ok);
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let (status, response) = runtime.block_on(async {
        let mut connection = Connection::open(addr, tls_config(&identity)?).await?;
        connection.post(path, headers, body).await
    })?;
    println!("{status} {}", String::from_utf8_lossy(&response));
    Ok(if (200..300).contains(&status) {
        Outcome::Ok
    } else {
        Outcome::Denied
    })
}

fn curl(
    identity: &ClientIdentity<'_>,
    path: &str,
    headers: &[(&str, String)],
    body: &Path,
) -> String {
    let mut command = format!(
        "curl --cacert {} --cert {} --key {} -H 'Content-Type: application/json'",
        identity.ca.display(),
        identity.cert.display(),
        identity.key.display()
    );
    for (name, value) in headers {
        command.push_str(&format!(" -H '{name}: {value}'"));
    }
    command.push_str(&format!(
        " --data-binary @{} https://localhost:8443{path}",
        body.display()
    ));
    command
}
