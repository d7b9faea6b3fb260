//! `verdict`: evaluate policies in a sandbox, log every decision, replay logs.
//!
//! Exit codes: 0 allow (or success), 1 deny (or a failed verification),
//! 2 error (bad arguments or input; the message names the file and the fault).

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod cmd;
mod embedded;
mod files;

/// A WebAssembly-sandboxed policy verifier with a signed, replayable decision log.
#[derive(Parser)]
#[command(name = "verdict", version, about, long_about = None, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Generate a decision-log signing key pair.
    Keygen(cmd::keygen::Args),
    /// Evaluate a policy on an input; print the decision (exit 0 allow, 1 deny, 2 error).
    Eval(cmd::eval::Args),
    /// Write a policy and its tests to start from.
    #[command(subcommand)]
    New(cmd::new::Command),
    /// Run the test_* rules of Rego policies in the sandbox (exit 0 only if all pass).
    Test(cmd::test::Args),
    /// Verify a decision log and re-run every decision (exit 0 only if all match).
    Replay(cmd::replay::Args),
    /// A decision log's checkpoints, inclusion and consistency proofs.
    #[command(subcommand)]
    Log(cmd::log::Command),
    /// Run the built-in policies on the bundled examples, log and replay them.
    Demo(cmd::demo::Args),
    /// Run the federation gateway (mTLS, signed messages, policies over HTTP).
    Serve(cmd::serve::Args),
    /// Sign a telemetry request as a dev-setup identity; print curl or --send it.
    SignTelemetry(cmd::sign::TelemetryArgs),
    /// Sign a feedback request as a dev-setup identity; print curl or --send it.
    SignFeedback(cmd::sign::FeedbackArgs),
    /// Verify an evidence document natively; print its claims (exit 0 valid, 1 invalid, 2 malformed).
    Verify(cmd::verify::Args),
    /// Collect evidence (TPM quote, SEV-SNP report, memory-region report).
    #[command(subcommand)]
    Attest(cmd::attest::Command),
}

/// How a command ended, mapped onto the documented exit codes.
pub enum Outcome {
    /// Allowed, or the command succeeded.
    Ok,
    /// Denied, or a verification failed.
    Denied,
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitCode::from(2)
            } else {
                ExitCode::SUCCESS
            };
        }
    };
    let result = match cli.command {
        Command::Keygen(args) => cmd::keygen::run(args),
        Command::Eval(args) => cmd::eval::run(args),
        Command::New(command) => cmd::new::run(command),
        Command::Test(args) => cmd::test::run(args),
        Command::Replay(args) => cmd::replay::run(args),
        Command::Log(command) => cmd::log::run(command),
        Command::Demo(args) => cmd::demo::run(args),
        Command::Serve(args) => cmd::serve::run(args),
        Command::SignTelemetry(args) => cmd::sign::telemetry(args),
        Command::SignFeedback(args) => cmd::sign::feedback(args),
        Command::Verify(args) => cmd::verify::run(args),
        Command::Attest(command) => cmd::attest::run(command),
    };
    match result {
        Ok(Outcome::Ok) => ExitCode::SUCCESS,
        Ok(Outcome::Denied) => ExitCode::from(1),
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}
