//! `verdict replay`.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use indicatif::{ProgressBar, ProgressStyle};
use verdict_host::crypto::VerifyingKey;
use verdict_host::log::{
    Checkpoint, LogEntry, LogError, SignedCheckpoint, latest_checkpoint, read_log,
};
use verdict_host::replay::{PolicyDirectory, ReplayReport, replay_against};

use crate::{Outcome, files};

#[derive(clap::Args)]
pub struct Args {
    /// The decision logs (JSON Lines), e.g. one per gateway replica.
    #[arg(required = true, num_args = 1..)]
    logs: Vec<PathBuf>,
    /// Directory holding the policies and data documents; found by content digest.
    #[arg(long)]
    policies: PathBuf,
    /// The logs' public key (SPKI PEM, from `verdict keygen`).
    #[arg(long)]
    pubkey: PathBuf,
    /// A checkpoint (signed note) published earlier; the log with its origin
    /// must contain the tree it commits to. Repeatable.
    #[arg(long = "checkpoint")]
    checkpoints: Vec<PathBuf>,
}

/// A log to replay and the checkpoints it must contain.
struct Audit {
    path: PathBuf,
    /// The log's own last checkpoint, from its checkpoints file.
    own: Option<SignedCheckpoint>,
    held: Vec<Checkpoint>,
}

pub fn run(args: Args) -> Result<Outcome> {
    let key = files::verifying_key(&args.pubkey)?;
    let Some(mut audits) = audits(&args, &key)? else {
        return Ok(Outcome::Denied);
    };
    let policies = PolicyDirectory::scan(&args.policies)?;
    let runtime = files::runtime()?;
    let mut passed = true;
    for audit in &mut audits {
        let Some(entries) = read(&audit.path)? else {
            passed = false;
            continue;
        };
        if let Some(own) = &audit.own {
            audit.held.push(own.checkpoint().clone());
        }
        let bar = progress_bar(entries.len() as u64);
        let report = replay_against(&entries, &key, &audit.held, &policies, &runtime, |done| {
            bar.set_position(done as u64)
        });
        bar.finish_and_clear();
        passed &= print_report(audit, &report);
    }
    Ok(if passed { Outcome::Ok } else { Outcome::Denied })
}

/// Each log with its own checkpoint and the `--checkpoint`s of its origin;
/// `None` (after printing why) if a checkpoint is not signed by `key` or
/// matches no log.
fn audits(args: &Args, key: &VerifyingKey) -> Result<Option<Vec<Audit>>> {
    let mut audits = Vec::new();
    for path in &args.logs {
        let own = match latest_checkpoint(path, key) {
            Ok(own) => own,
            Err(e) => {
                println!("FAIL {e}");
                return Ok(None);
            }
        };
        audits.push(Audit {
            path: path.clone(),
            own,
            held: Vec::new(),
        });
    }
    for file in &args.checkpoints {
        let note = files::read_text(file, "checkpoint")?;
        let checkpoint = match SignedCheckpoint::verify(&note, key) {
            Ok(signed) => signed.checkpoint().clone(),
            Err(e) => {
                println!("FAIL checkpoint {}: {e}", file.display());
                return Ok(None);
            }
        };
        let single = audits.len() == 1;
        let target = audits.iter_mut().find(|audit| {
            audit
                .own
                .as_ref()
                .is_some_and(|own| own.checkpoint().origin == checkpoint.origin)
        });
        match target {
            Some(audit) => audit.held.push(checkpoint),
            // One log without checkpoints of that origin: the checkpoint is
            // still held against it, and a log of another origin fails it.
            None if single => audits[0].held.push(checkpoint),
            None => {
                println!(
                    "FAIL checkpoint {} is for origin {}, which none of the logs has",
                    file.display(),
                    checkpoint.origin
                );
                return Ok(None);
            }
        }
    }
    Ok(Some(audits))
}

/// The log's records, or `None` after printing why the log is damaged.
fn read(path: &Path) -> Result<Option<Vec<LogEntry>>> {
    match read_log(path) {
        Ok(entries) => Ok(Some(entries)),
        Err(e @ (LogError::Open { .. } | LogError::Read { .. } | LogError::NotAFile { .. })) => {
            Err(e).context("reading the decision log")
        }
        Err(damaged) => {
            println!("FAIL {damaged}");
            println!("replay failed: the log {} is damaged", path.display());
            Ok(None)
        }
    }
}

/// Prints the report; `true` if the log passed.
fn print_report(audit: &Audit, report: &ReplayReport) -> bool {
    for failure in &report.failures {
        println!("FAIL {failure}");
    }
    let failed_records = {
        let mut lines: Vec<usize> = report
            .failures
            .iter()
            .map(|f| f.line())
            .filter(|&line| line > 0)
            .collect();
        lines.dedup();
        lines.len()
    };
    println!(
        "replayed {} records from {}: {} matched, {} failed, {} verified, not re-run (host checks)",
        report.records,
        audit.path.display(),
        report
            .records
            .saturating_sub(failed_records)
            .saturating_sub(report.not_rerun),
        failed_records,
        report.not_rerun,
    );
    let signed = audit
        .own
        .as_ref()
        .map(SignedCheckpoint::checkpoint)
        .filter(|own| own.size == report.records as u64 && own.root == report.root);
    match signed {
        Some(own) => println!("checkpoint: {own} (signed)"),
        None => println!(
            "checkpoint: size {} root {} (no signed checkpoint covers the whole log)",
            report.records, report.root
        ),
    }
    match report.first_failure() {
        None => true,
        Some(first) => {
            println!("first bad record: {first}");
            false
        }
    }
}

fn progress_bar(len: u64) -> ProgressBar {
    if !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(len);
    if let Ok(style) = ProgressStyle::with_template("{bar:40} {pos}/{len} records ({eta} left)") {
        bar.set_style(style);
    }
    bar
}
