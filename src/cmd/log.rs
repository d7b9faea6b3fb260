//! `verdict log`: a decision log's checkpoints and proofs.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use verdict_host::crypto::VerifyingKey;
use verdict_host::log::{
    ConsistencyBundle, InclusionBundle, ProveError, PublishedLog, SignedCheckpoint,
};

use crate::{Outcome, files};

#[derive(clap::Subcommand)]
pub enum Command {
    /// Print the log's latest checkpoint, after checking it against the records.
    Checkpoint(CheckpointArgs),
    /// Write the proof that record SEQ is in the log (a JSON bundle, see docs/decision-log.md).
    Prove(ProveArgs),
    /// Verify an inclusion proof bundle offline (exit 0 valid, 1 invalid).
    CheckProof(CheckArgs),
    /// Prove the log extends an earlier checkpoint (exit 1 if it was cut short, rewritten or forked).
    Consistency(ConsistencyArgs),
    /// Verify a consistency proof bundle offline (exit 0 valid, 1 invalid).
    CheckConsistency(CheckArgs),
}

#[derive(clap::Args)]
pub struct CheckpointArgs {
    /// The decision log.
    log: PathBuf,
    /// The log's public key (SPKI PEM).
    #[arg(long)]
    pubkey: PathBuf,
}

#[derive(clap::Args)]
pub struct ProveArgs {
    /// The decision log.
    log: PathBuf,
    /// The record to prove.
    #[arg(long)]
    seq: u64,
    /// The log's public key (SPKI PEM); the log is checked before proving.
    #[arg(long)]
    pubkey: PathBuf,
    /// Write the bundle here instead of to standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

#[derive(clap::Args)]
pub struct CheckArgs {
    /// The proof bundle (JSON).
    bundle: PathBuf,
    /// The log's public key (SPKI PEM).
    #[arg(long)]
    pubkey: PathBuf,
}

#[derive(clap::Args)]
pub struct ConsistencyArgs {
    /// The decision log.
    log: PathBuf,
    /// The earlier checkpoint (a signed note, as `verdict log checkpoint` prints it).
    #[arg(long)]
    from: PathBuf,
    /// The log's public key (SPKI PEM).
    #[arg(long)]
    pubkey: PathBuf,
    /// Write the consistency bundle here.
    #[arg(long)]
    out: Option<PathBuf>,
}

pub fn run(command: Command) -> Result<Outcome> {
    match command {
        Command::Checkpoint(args) => checkpoint(args),
        Command::Prove(args) => prove(args),
        Command::CheckProof(args) => check_proof(args),
        Command::Consistency(args) => consistency(args),
        Command::CheckConsistency(args) => check_consistency(args),
    }
}

fn checkpoint(args: CheckpointArgs) -> Result<Outcome> {
    let key = files::verifying_key(&args.pubkey)?;
    let Some(log) = load(&args.log, &key)? else {
        return Ok(Outcome::Denied);
    };
    // print_stdout ends the text with the note's final newline.
    files::print_stdout(log.checkpoint().note().trim_end_matches('\n'))?;
    Ok(Outcome::Ok)
}

fn prove(args: ProveArgs) -> Result<Outcome> {
    let key = files::verifying_key(&args.pubkey)?;
    let Some(log) = load(&args.log, &key)? else {
        return Ok(Outcome::Denied);
    };
    let bundle = log.inclusion_proof(args.seq)?;
    write_json(serde_json::to_string_pretty(&bundle)?, args.out.as_deref())?;
    Ok(Outcome::Ok)
}

fn check_proof(args: CheckArgs) -> Result<Outcome> {
    let key = files::verifying_key(&args.pubkey)?;
    let text = files::read_text(&args.bundle, "proof bundle")?;
    let verified = serde_json::from_str::<InclusionBundle>(&text)
        .map_err(|e| format!("not an inclusion proof bundle: {e}"))
        .and_then(|bundle| bundle.verify(&key).map_err(|e| e.to_string()));
    match verified {
        Ok(verified) => {
            let record = &verified.record;
            println!(
                "ok: decision {} (seq {}, allow {}) is record {} of {}",
                record.id, record.seq, record.decision.allow, record.seq, verified.checkpoint
            );
            Ok(Outcome::Ok)
        }
        Err(why) => {
            println!("FAIL {}: {why}", args.bundle.display());
            Ok(Outcome::Denied)
        }
    }
}

fn consistency(args: ConsistencyArgs) -> Result<Outcome> {
    let key = files::verifying_key(&args.pubkey)?;
    let note = files::read_text(&args.from, "checkpoint")?;
    let old = match SignedCheckpoint::verify(&note, &key) {
        Ok(old) => old,
        Err(e) => {
            println!("FAIL checkpoint {}: {e}", args.from.display());
            return Ok(Outcome::Denied);
        }
    };
    let Some(log) = load(&args.log, &key)? else {
        return Ok(Outcome::Denied);
    };
    match log.consistency_with(&old) {
        Ok(bundle) => {
            let new = log.checkpoint();
            println!("ok: {} extends {}", new.checkpoint(), old.checkpoint());
            if let Some(out) = &args.out {
                write_json(serde_json::to_string_pretty(&bundle)?, Some(out))?;
            }
            Ok(Outcome::Ok)
        }
        Err(e @ ProveError::Inconsistent { .. }) => {
            println!("FAIL {}: {e}", args.log.display());
            Ok(Outcome::Denied)
        }
        Err(e) => Err(e.into()),
    }
}

fn check_consistency(args: CheckArgs) -> Result<Outcome> {
    let key = files::verifying_key(&args.pubkey)?;
    let text = files::read_text(&args.bundle, "consistency bundle")?;
    let verified = serde_json::from_str::<ConsistencyBundle>(&text)
        .map_err(|e| format!("not a consistency proof bundle: {e}"))
        .and_then(|bundle| bundle.verify(&key).map_err(|e| e.to_string()));
    match verified {
        Ok(verified) => {
            println!("ok: {} extends {}", verified.to, verified.from);
            Ok(Outcome::Ok)
        }
        Err(why) => {
            println!("FAIL {}: {why}", args.bundle.display());
            Ok(Outcome::Denied)
        }
    }
}

/// The log's published tree; `None` after printing why the log does not
/// match its own checkpoint.
fn load(path: &Path, key: &VerifyingKey) -> Result<Option<PublishedLog>> {
    match PublishedLog::load(path, key) {
        Ok(log) => Ok(Some(log)),
        Err(e @ (ProveError::CheckpointMismatch { .. } | ProveError::Log(_))) => {
            println!("FAIL {e}");
            Ok(None)
        }
        Err(e) => Err(e).with_context(|| format!("loading {}", path.display())),
    }
}

/// Writes `json` and a newline to `out`, or to standard output.
fn write_json(json: String, out: Option<&Path>) -> Result<()> {
    match out {
        Some(path) => {
            std::fs::write(path, json + "\n").with_context(|| format!("writing {}", path.display()))
        }
        None => files::print_stdout(&json),
    }
}
