//! `verdict eval`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use verdict_host::log::{DecisionLog, NewRecord};
use verdict_host::timestamp::Timestamp;

use crate::{Outcome, files};

#[derive(clap::Args)]
pub struct Args {
    /// The policy: a .rego module or a .wasm component of the verdict:policy world.
    /// With --query: any number of .rego files or directories (repeat the flag).
    #[arg(long, required = true)]
    policy: Vec<PathBuf>,
    /// The policy's data document (a JSON object).
    #[arg(long)]
    data: Option<PathBuf>,
    /// The claims to decide on (a JSON object); with --query, `input`.
    #[arg(long, required_unless_present = "query")]
    input: Option<PathBuf>,
    /// Print the value of this Rego expression or reference (as `opa eval`)
    /// instead of a decision, e.g. `data.example.allow`.
    #[arg(long, conflicts_with_all = ["entrypoint", "log"])]
    query: Option<String>,
    /// How --query prints its result.
    #[arg(long, value_enum, default_value_t = Format::Pretty, requires = "query")]
    format: Format,
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

/// The output format of `--query`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    /// One line of JSON.
    Json,
    /// Indented JSON.
    Pretty,
}

pub fn run(args: Args) -> Result<Outcome> {
    if let Some(query) = &args.query {
        return run_query(&args, query);
    }
    let [policy_path] = args.policy.as_slice() else {
        bail!("without --query, give exactly one --policy");
    };
    let Some(input) = &args.input else {
        bail!("--input is required without --query");
    };
    let claims = files::claims(input)?;
    let data = files::data(args.data.as_deref())?;
    let signer = args.key.as_deref().map(files::signing_key).transpose()?;
    let runtime = files::runtime()?;
    let policy = files::policy(&runtime, policy_path, data, args.entrypoint)?;
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

/// `--query`: the query's results as `opa eval` prints them (`{"result":
/// [...]}`, no `result` when undefined); `print()` output on stderr. Exit 0
/// when defined, 1 when undefined.
fn run_query(args: &Args, query: &str) -> Result<Outcome> {
    let modules = super::test::rego_modules(&args.policy)?;
    let data = files::data(args.data.as_deref())?;
    let input = args
        .input
        .as_deref()
        .map(|path| files::read_text(path, "input"))
        .transpose()?;
    let tools = files::runtime()?
        .rego_tools()
        .context("starting the Rego engine")?;
    let at = args.at.unwrap_or_else(Timestamp::now);
    let output = tools.query(&modules, &data, input.as_deref(), query, at)?;
    for line in &output.prints {
        eprintln!("{line}");
    }
    let defined = output.result.as_array().is_some_and(|r| !r.is_empty());
    let document = if defined {
        serde_json::json!({ "result": output.result })
    } else {
        serde_json::json!({})
    };
    let text = match args.format {
        Format::Json => serde_json::to_string(&document)?,
        Format::Pretty => serde_json::to_string_pretty(&document)?,
    };
    files::print_stdout(&text)?;
    Ok(if defined {
        Outcome::Ok
    } else {
        Outcome::Denied
    })
}
