//! Reading the files a command is given, with errors that name them.

use std::path::Path;

use anyhow::{Context, Result, anyhow};
use verdict_host::claims::{Claims, DataDocument};
use verdict_host::crypto::{SigningKey, VerifyingKey, load_signing_key, load_verifying_key};
use verdict_host::policy::{LoadError, Policy, PolicyRuntime, RegoModule, RuntimeConfig};

pub fn read_text(path: &Path, what: &str) -> Result<String> {
    let bytes =
        std::fs::read(path).with_context(|| format!("cannot read {what} {}", path.display()))?;
    String::from_utf8(bytes).map_err(|e| {
        anyhow!(
            "{what} {} is not UTF-8 (invalid byte at offset {})",
            path.display(),
            e.utf8_error().valid_up_to()
        )
    })
}

pub fn claims(path: &Path) -> Result<Claims> {
    let text = read_text(path, "input")?;
    Claims::from_json(&text).with_context(|| format!("input {}", path.display()))
}

pub fn data(path: Option<&Path>) -> Result<DataDocument> {
    match path {
        None => Ok(DataDocument::empty()),
        Some(path) => {
            let text = read_text(path, "data")?;
            DataDocument::from_json(&text).with_context(|| format!("data {}", path.display()))
        }
    }
}

pub fn signing_key(path: &Path) -> Result<SigningKey> {
    load_signing_key(path).with_context(|| format!("signing key {}", path.display()))
}

pub fn verifying_key(path: &Path) -> Result<VerifyingKey> {
    load_verifying_key(path).with_context(|| format!("public key {}", path.display()))
}

pub fn runtime() -> Result<PolicyRuntime> {
    PolicyRuntime::new(RuntimeConfig::default()).context("starting the policy runtime")
}

/// Loads a `.rego` or `.wasm` policy file. The Rego module is named after the
/// file, so parse errors point at it.
pub fn policy(
    runtime: &PolicyRuntime,
    path: &Path,
    data: DataDocument,
    entrypoint: Option<String>,
) -> Result<Policy> {
    let loaded: Result<Policy, LoadError> = match path.extension().and_then(|e| e.to_str()) {
        Some("rego") => {
            let source = read_text(path, "policy")?;
            let name = path.file_name().map_or_else(
                || "policy.rego".into(),
                |n| n.to_string_lossy().into_owned(),
            );
            runtime.load_rego(RegoModule { name, source }, data, entrypoint)
        }
        Some("wasm") => {
            if entrypoint.is_some() {
                return Err(anyhow!(
                    "--entrypoint applies to Rego policies only, and {} is a component",
                    path.display()
                ));
            }
            let bytes = std::fs::read(path)
                .with_context(|| format!("cannot read policy {}", path.display()))?;
            runtime.load_component(&bytes, data)
        }
        _ => {
            return Err(anyhow!(
                "policy {}: expected a .rego or .wasm file",
                path.display()
            ));
        }
    };
    loaded.with_context(|| format!("policy {}", path.display()))
}

/// Writes `text` and a newline to stdout. A closed pipe (`verdict … | head`)
/// is not an error: the reader has what it wanted.
pub fn print_stdout(text: &str) -> Result<()> {
    use std::io::Write as _;
    let mut out = std::io::stdout().lock();
    match writeln!(out, "{text}").and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(e.into()),
        _ => Ok(()),
    }
}
