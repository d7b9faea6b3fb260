//! `verdict demo`: the main job on an embedded default.
//!
//! Writes the built-in policies (Rust components and their Rego twins), their
//! data and a signing key into a directory, evaluates the bundled examples
//! with both twins, verifies a real SEV-SNP report natively and appraises it
//! with the attestation policy, appends every decision to a signed log, then
//! replays the whole log as an auditor would.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use serde_json::json;
use verdict_host::claims::{Claims, DataDocument};
use verdict_host::crypto::{SignatureAlgorithm, SigningKey, write_keypair};
use verdict_host::evidence::{self, EvidenceDocument, VerifyOptions};
use verdict_host::log::{DecisionLog, NewRecord, read_log};
use verdict_host::policy::builtin::{FEEDBACK_POLICY, ISOLATION_POLICY};
use verdict_host::policy::{Policy, PolicyRuntime, RegoModule};
use verdict_host::replay::{PolicyDirectory, replay};
use verdict_host::timestamp::Timestamp;

use super::keygen::KEY_NAME;
use crate::{Outcome, embedded, files};

#[derive(clap::Args)]
pub struct Args {
    /// Where to write the policies, keys and decision log (reused when it exists).
    #[arg(long, default_value = "verdict-demo")]
    dir: PathBuf,
}

/// One built-in policy pair and its bundled examples.
struct Suite {
    name: &'static str,
    rego: &'static str,
    wasm: &'static [u8],
    data: &'static str,
    examples: [(&'static str, &'static str); 2],
}

const SUITES: [Suite; 2] = [
    Suite {
        name: "feedback",
        rego: embedded::FEEDBACK_REGO,
        wasm: FEEDBACK_POLICY,
        data: embedded::FEEDBACK_DATA,
        examples: embedded::FEEDBACK_EXAMPLES,
    },
    Suite {
        name: "isolation",
        rego: embedded::ISOLATION_REGO,
        wasm: ISOLATION_POLICY,
        data: embedded::ISOLATION_DATA,
        examples: embedded::ISOLATION_EXAMPLES,
    },
];

pub fn run(args: Args) -> Result<Outcome> {
    let policies_dir = args.dir.join("policies");
    let keys_dir = args.dir.join("keys");
    fs::create_dir_all(&policies_dir)
        .with_context(|| format!("creating {}", policies_dir.display()))?;
    let signer = signing_key(&keys_dir)?;
    let public_key = signer.verifying_key().clone();
    let log_path = args.dir.join("decisions.jsonl");
    let mut log = DecisionLog::open(&log_path, signer)?;
    let runtime = files::runtime()?;

    println!(
        "{:<10} {:<12} {:<8} {:<8} reasons",
        "policy", "example", "rust", "rego"
    );
    let mut twins_agree = true;
    for suite in &SUITES {
        let (rust, rego) = write_and_load(&runtime, &policies_dir, suite)?;
        for (example, text) in suite.examples {
            let claims =
                Claims::from_json(text).with_context(|| format!("bundled example {example}"))?;
            let at = Timestamp::now();
            let decisions = [&rust, &rego].map(|p| (p, p.evaluate(&claims, at).decision));
            for (policy, decision) in &decisions {
                log.append(NewRecord {
                    timestamp: at,
                    request_id: None,
                    policy: policy.identity().clone(),
                    claims: claims.value().clone(),
                    decision: decision.clone(),
                })?;
            }
            let (r, g) = (&decisions[0].1, &decisions[1].1);
            twins_agree &= r.allow == g.allow;
            let verdict = |allow: bool| if allow { "allow" } else { "deny" };
            println!(
                "{:<10} {:<12} {:<8} {:<8} {}",
                suite.name,
                example,
                verdict(r.allow),
                verdict(g.allow),
                r.reasons.join("; ")
            );
        }
    }
    appraise_milan(&runtime, &policies_dir, &mut log)?;
    drop(log);

    let entries = read_log(&log_path)?;
    let report = replay(
        &entries,
        &public_key,
        &PolicyDirectory::scan(&policies_dir)?,
        &runtime,
        |_| {},
    );
    println!(
        "\nlog {}: {} records; replay: {}",
        log_path.display(),
        report.records,
        if report.passed() {
            "every link, signature and verdict matches"
        } else {
            "FAILED"
        }
    );
    if let Some(first) = report.first_failure() {
        println!("first bad record: {first}");
    }
    println!(
        "replay it yourself: verdict replay {} --policies {} --pubkey {}",
        log_path.display(),
        policies_dir.display(),
        keys_dir.join(format!("{KEY_NAME}.pub")).display()
    );
    if !twins_agree {
        bail!("the Rust and Rego twins disagreed");
    }
    Ok(if report.passed() {
        Outcome::Ok
    } else {
        Outcome::Denied
    })
}

/// Verifies the embedded Milan SEV-SNP evidence natively (chain, signature,
/// TCB), appraises its claims with the attestation policy, and logs the
/// decision.
fn appraise_milan(runtime: &PolicyRuntime, dir: &Path, log: &mut DecisionLog) -> Result<()> {
    let document = EvidenceDocument::parse(embedded::MILAN_EVIDENCE.as_bytes())?;
    let options = VerifyOptions {
        expected_nonce: Some(embedded::MILAN_NONCE.parse()?),
        now: Timestamp::now(),
        memory: Default::default(),
    };
    let verified = evidence::verify(&document, &options).context("the bundled Milan report")?;
    for (name, text) in [
        ("attestation.rego", embedded::ATTESTATION_REGO),
        ("attestation-data.json", embedded::ATTESTATION_DATA),
    ] {
        let path = dir.join(name);
        fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    let policy = runtime.load_rego(
        RegoModule {
            name: "attestation.rego".into(),
            source: embedded::ATTESTATION_REGO.into(),
        },
        DataDocument::from_json(embedded::ATTESTATION_DATA)?,
        Some("data.verdict.attestation.decision".into()),
    )?;
    let claims = Claims::from_value(json!({"evidence": verified.to_value()?, "session": {}}))?;
    let at = Timestamp::now();
    let decision = policy.evaluate(&claims, at).decision;
    log.append(NewRecord {
        timestamp: at,
        request_id: None,
        policy: policy.identity().clone(),
        claims: claims.value().clone(),
        decision: decision.clone(),
    })?;
    let vector = decision
        .trust_vector
        .map(|v| {
            format!(
                "hardware {}, instance-identity {}",
                v.hardware, v.instance_identity
            )
        })
        .unwrap_or_default();
    println!(
        "{:<10} {:<12} {:<8} {:<8} {} ({})",
        "evidence",
        "milan-snp",
        "verified",
        if decision.allow { "allow" } else { "deny" },
        decision.reasons.join("; "),
        vector,
    );
    Ok(())
}

fn signing_key(dir: &Path) -> Result<SigningKey> {
    let private = dir.join(format!("{KEY_NAME}.key"));
    if private.exists() {
        return files::signing_key(&private);
    }
    fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let key = SigningKey::generate(SignatureAlgorithm::Ed25519);
    write_keypair(dir, KEY_NAME, &key)?;
    Ok(key)
}

/// Writes the suite's files (replay finds them by digest) and loads both twins.
fn write_and_load(runtime: &PolicyRuntime, dir: &Path, suite: &Suite) -> Result<(Policy, Policy)> {
    let write = |name: String, bytes: &[u8]| {
        let path = dir.join(name);
        fs::write(&path, bytes).with_context(|| format!("writing {}", path.display()))
    };
    write(format!("{}.rego", suite.name), suite.rego.as_bytes())?;
    write(format!("{}_policy.wasm", suite.name), suite.wasm)?;
    write(format!("{}-data.json", suite.name), suite.data.as_bytes())?;
    let data = DataDocument::from_json(suite.data)?;
    let rust = runtime.load_component(suite.wasm, data.clone())?;
    let module = RegoModule {
        name: format!("{}.rego", suite.name),
        source: suite.rego.into(),
    };
    let rego = runtime.load_rego(module, data, None)?;
    Ok((rust, rego))
}
