//! `verdict keygen`.

use std::path::PathBuf;

use anyhow::{Context, Result};
use verdict_host::crypto::{SignatureAlgorithm, SigningKey, write_keypair};

use crate::Outcome;

/// The key files' base name: `<out>/decision-log.key` and `.pub`.
pub const KEY_NAME: &str = "decision-log";

#[derive(clap::Args)]
pub struct Args {
    /// Directory for <name>.key (PKCS#8 PEM, mode 0600) and <name>.pub (SPKI PEM).
    #[arg(long)]
    out: PathBuf,
    /// Signature algorithm.
    #[arg(long, default_value = "ed25519", value_parser = ["ed25519", "ml-dsa-65"])]
    alg: String,
    /// The key files' base name (e.g. `memory-report` for <out>/memory-report.key).
    #[arg(long, default_value = KEY_NAME)]
    name: String,
}

pub fn run(args: Args) -> Result<Outcome> {
    let alg: SignatureAlgorithm = args.alg.parse()?;
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let files = write_keypair(&args.out, &args.name, &SigningKey::generate(alg))?;
    println!("private key: {}", files.private_key.display());
    println!("public key:  {}", files.public_key.display());
    println!("key id:      {}", files.key_id);
    Ok(Outcome::Ok)
}
