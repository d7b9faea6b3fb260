//! `verdict eval`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use verdict_host::log::{DecisionLog, NewRecord};
use verdict_host::timestamp::Timestamp;

use crate::{Outcome, files};

#[derive(clap::Args)]
pub struct Args {
    /// The policy: a .rego module or a .wasm component of the verdict:policy world.
    #[arg(long)]
    policy: PathBuf,
    /// The policy's data document (a JSON object).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The claims to decide on (a JSON object).
    #[arg(long)]
    input: PathBuf,
    /// Rego only: the rule that decides, e.g. data.example.allow.
    #[arg(long)]
    entrypoint: Option<String>,
    /// Append the decision to this signed decision log.
    #[arg(long, requires = "key")]
    log: Option<PathBuf>,
    /// The log's signing key (PKCS#8 PEM, from `verdict keygen`).
    #[arg(long, requires = "log")]
    key: Option<PathBuf>,
    /// Evaluate as of this RFC 3339 time instead of now.
    #[arg(long)]
    at: Option<Timestamp>,
}

pub fn run(args: Args) -> Result<Outcome> {
    let claims = files::claims(&args.input)?;
    let data = files::data(args.data.as_deref())?;
    let signer = args.key.as_deref().map(files::signing_key).transpose()?;
    let runtime = files::runtime()?;
    let policy = files::policy(&runtime, &args.policy, data, args.entrypoint)?;
    let at = args.at.unwrap_or_else(Timestamp::now);
    let decision = policy.evaluate(&claims, at).decision;

    if let (Some(path), Some(signer)) = (&args.log, signer) {
        let mut log = DecisionLog::open(path, signer)?;
        let record = log
            .append(NewRecord {
                timestamp: at,
                request_id: None,
                policy: policy.identity().clone(),
                claims: claims.value().clone(),
                decision: decision.clone(),
            })
            .with_context(|| format!("the decision was not logged to {}", path.display()))?;
        eprintln!(
            "logged as record {} ({}) in {}",
            record.seq,
            record.id,
            path.display()
        );
    }
    files::print_stdout(&serde_json::to_string_pretty(&decision)?)?;
    Ok(if decision.allow {
        Outcome::Ok
    } else {
        Outcome::Denied
    })
}
