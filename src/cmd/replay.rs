//! `verdict replay`.

use std::io::IsTerminal;
use std::path::PathBuf;

use anyhow::Result;
use indicatif::{ProgressBar, ProgressStyle};
use verdict_host::log::{LogError, read_log};
use verdict_host::replay::{PolicyDirectory, replay};

use crate::{Outcome, files};

#[derive(clap::Args)]
pub struct Args {
    /// The decision log (JSON Lines).
    log: PathBuf,
    /// Directory holding the policies and data documents; found by content digest.
    #[arg(long)]
    policies: PathBuf,
    /// The log's public key (SPKI PEM, from `verdict keygen`).
    #[arg(long)]
    pubkey: PathBuf,
}

pub fn run(args: Args) -> Result<Outcome> {
    let key = files::verifying_key(&args.pubkey)?;
    let entries = match read_log(&args.log) {
        Ok(entries) => entries,
        Err(e @ (LogError::Open { .. } | LogError::Read { .. } | LogError::NotAFile { .. })) => {
            return Err(e.into());
        }
        Err(damaged) => {
            println!("FAIL {damaged}");
            println!("replay failed: the log {} is damaged", args.log.display());
            return Ok(Outcome::Denied);
        }
    };
    let policies = PolicyDirectory::scan(&args.policies)?;
    let runtime = files::runtime()?;
    let bar = progress_bar(entries.len() as u64);
    let report = replay(&entries, &key, &policies, &runtime, |done| {
        bar.set_position(done as u64)
    });
    bar.finish_and_clear();

    for failure in &report.failures {
        println!("FAIL {failure}");
    }
    let failed_lines = {
        let mut lines: Vec<usize> = report.failures.iter().map(|f| f.line()).collect();
        lines.dedup();
        lines.len()
    };
    println!(
        "replayed {} records from {}: {} matched, {} failed",
        report.records,
        args.log.display(),
        report.records.saturating_sub(failed_lines),
        failed_lines
    );
    match report.first_failure() {
        None => Ok(Outcome::Ok),
        Some(first) => {
            println!("first bad record: {first}");
            Ok(Outcome::Denied)
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
