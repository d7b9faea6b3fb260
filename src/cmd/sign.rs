//! `verdict sign-telemetry` and `verdict sign-feedback`: sign a request as a
//! service identity, then print a ready curl command or send it. The
//! identity's files come from a dev setup (`--dev DIR`) or are named one by
//! one (`--key`, `--tenant`, `--ca`, `--cert`, `--client-key`), as a peer of
//! a real deployment holds them.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow};
use ed25519_dalek::pkcs8::DecodePrivateKey;
use serde_json::json;
use verdict_host::gateway::config::GatewayConfig;
use verdict_host::gateway::dev::DevLayout;
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
    #[arg(long, value_name = "DIR", required_unless_present = "key", conflicts_with_all = ["key", "tenant", "ca", "cert", "client_key"])]
    dev: Option<PathBuf>,
    /// The service identity to sign as (alpha or beta in a dev setup).
    #[arg(long, default_value = "alpha")]
    identity: String,
    /// Instead of --dev: the identity's Ed25519 signing key (PKCS#8 PEM).
    #[arg(long, value_name = "FILE", requires_all = ["tenant", "ca", "cert", "client_key"])]
    key: Option<PathBuf>,
    /// With --key: the tenant the identity acts for.
    #[arg(long)]
    tenant: Option<String>,
    /// With --key: the CA certificate (PEM) the gateway's certificate chains to.
    #[arg(long, value_name = "FILE")]
    ca: Option<PathBuf>,
    /// With --key: the identity's mTLS client certificate (PEM).
    #[arg(long, value_name = "FILE")]
    cert: Option<PathBuf>,
    /// With --key: the client certificate's private key (PEM).
    #[arg(long, value_name = "FILE")]
    client_key: Option<PathBuf>,
    /// With --key: where to write the signed bodies curl sends.
    #[arg(long, value_name = "DIR", default_value = ".")]
    out_dir: PathBuf,
    /// The gateway the curl command addresses (host:port).
    #[arg(long, value_name = "ADDR", default_value = "localhost:8443")]
    gateway: String,
    /// Send the request (to ADDR, or to --gateway) instead of printing curl.
    #[arg(long, value_name = "ADDR", num_args = 0..=1, default_missing_value = "")]
    send: Option<String>,
}

#[derive(clap::Args)]
pub struct TelemetryArgs {
    #[command(flatten)]
    common: Common,
    /// The operator that ran the execution (with --dev, default: the first of the identity's tenant).
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

/// The identity's key, tenant and TLS files, from a dev setup or named one
/// by one.
struct Signer {
    identity: ServiceIdentity,
    tenant: TenantId,
    key: ed25519_dalek::SigningKey,
    /// In a dev setup: the first operator of the tenant.
    default_operator: Option<String>,
    ca: PathBuf,
    cert: PathBuf,
    client_key: PathBuf,
    requests_dir: PathBuf,
}

impl Signer {
    fn load(common: &Common) -> Result<Self> {
        let identity: ServiceIdentity = common.identity.parse()?;
        match (&common.dev, &common.key) {
            (Some(dev), _) => Self::from_dev(dev, identity),
            (None, Some(key)) => Self::from_files(common, key, identity),
            (None, None) => Err(anyhow!("give --dev DIR, or --key with its TLS files")),
        }
    }

    fn from_dev(dir: &Path, identity: ServiceIdentity) -> Result<Self> {
        let layout = DevLayout::new(dir);
        let config = GatewayConfig::load(&layout.config())
            .context("run `verdict serve --dev DIR` once first")?;
        let tenant = config
            .identity(&identity)
            .ok_or_else(|| anyhow!("no identity {identity} in {}", layout.config().display()))?
            .tenant()
            .clone();
        let default_operator = config
            .operators()
            .iter()
            .find(|(_, t)| **t == tenant)
            .map(|(op, _)| op.to_string());
        Ok(Self {
            key: signing_key(&layout.client_signing_key(&identity))?,
            default_operator,
            ca: layout.ca_cert(),
            cert: layout.client_cert(&identity),
            client_key: layout.client_key(&identity),
            requests_dir: layout.dir().join("requests"),
            identity,
            tenant,
        })
    }

    fn from_files(common: &Common, key: &Path, identity: ServiceIdentity) -> Result<Self> {
        let given = |file: &Option<PathBuf>, flag: &str| {
            file.clone().ok_or_else(|| anyhow!("--key needs {flag}"))
        };
        let tenant = common
            .tenant
            .as_deref()
            .ok_or_else(|| anyhow!("--key needs --tenant"))?;
        Ok(Self {
            key: signing_key(key)?,
            tenant: tenant.parse()?,
            default_operator: None,
            ca: given(&common.ca, "--ca")?,
            cert: given(&common.cert, "--cert")?,
            client_key: given(&common.client_key, "--client-key")?,
            requests_dir: common.out_dir.clone(),
            identity,
        })
    }

    /// Writes the body to a file, so curl sends exactly the signed bytes.
    fn write_body(&self, kind: &str, nonce: &Nonce, body: &[u8]) -> Result<PathBuf> {
        fs::create_dir_all(&self.requests_dir)?;
        let path = self.requests_dir.join(format!("{kind}-{nonce}.json"));
        fs::write(&path, body).with_context(|| format!("writing {}", path.display()))?;
        Ok(path)
    }
}

fn signing_key(path: &Path) -> Result<ed25519_dalek::SigningKey> {
    let pem = fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    ed25519_dalek::SigningKey::from_pkcs8_pem(&pem)
        .map_err(|e| anyhow!("{}: not an Ed25519 PKCS#8 key: {e}", path.display()))
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
    let operator = match (&args.operator, &signer.default_operator) {
        (Some(op), _) | (None, Some(op)) => op.clone(),
        (None, None) => {
            return Err(anyhow!(
                "give --operator (no operator maps to {})",
                signer.tenant
            ));
        }
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
    let identity = ClientIdentity {
        ca: &signer.ca,
        cert: &signer.cert,
        key: &signer.client_key,
    };
    let Some(addr) = &common.send else {
        let file = signer.write_body(kind, nonce, &body)?;
        println!("{}", curl(&identity, &common.gateway, path, headers, &file));
        return Ok(Outcome::Ok);
    };
    let addr = if addr.is_empty() {
        &common.gateway
    } else {
        addr
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
    gateway: &str,
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
        " --data-binary @{} https://{gateway}{path}",
        body.display()
    ));
    command
}
