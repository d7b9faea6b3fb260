//! Replay: a clean log passes; every kind of tampering fails at the right record.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use verdict_host::crypto::{SignatureAlgorithm, SigningKey, VerifyingKey};
use verdict_host::log::{ChainError, DecisionLog, LogEntry, NewRecord, read_log};
use verdict_host::policy::Policy;
use verdict_host::replay::{PolicyDirectory, ReplayFailure, ReplayReport, replay};
use verdict_host::timestamp::Timestamp;

use verdict_host::claims::DataDocument;
use verdict_host::policy::RegoModule;

use crate::common::{claims, component_bytes, feedback_policy_dir, root, runtime};

/// A log of six decisions by the Rust and Rego feedback twins, and the
/// directory an auditor would replay it against.
struct Fixture {
    _dir: tempfile::TempDir,
    log: PathBuf,
    policies: PathBuf,
    key: VerifyingKey,
}

/// The data document byte for byte as the file holds it, so its digest is the
/// one replay finds in the policy directory.
fn data() -> DataDocument {
    DataDocument::from_json(
        &fs::read_to_string(root().join("examples/feedback/data.json")).unwrap(),
    )
    .unwrap()
}

fn example(name: &str) -> Value {
    serde_json::from_str(&fs::read_to_string(root().join("examples/feedback").join(name)).unwrap())
        .unwrap()
}

fn twins() -> [Policy; 2] {
    let rust = runtime()
        .load_component(&component_bytes("feedback_policy"), data())
        .unwrap();
    let source = fs::read_to_string(root().join("policies/feedback.rego")).unwrap();
    let module = RegoModule {
        name: "feedback.rego".into(),
        source,
    };
    [rust, runtime().load_rego(module, data(), None).unwrap()]
}

fn fixture(alg: SignatureAlgorithm) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let policies = feedback_policy_dir(dir.path());
    fs::write(
        policies.join("feedback.wasm"),
        component_bytes("feedback_policy"),
    )
    .unwrap();

    let signer = SigningKey::generate(alg);
    let key = signer.verifying_key().clone();
    let log = dir.path().join("decisions.jsonl");
    let mut writer = DecisionLog::open(&log, signer).unwrap();
    for (i, name) in ["accept.json", "reject.json", "accept.json"]
        .into_iter()
        .enumerate()
    {
        let input = claims(example(name));
        let at = Timestamp::from_unix(1_795_000_000 + i as i64, 0);
        for policy in twins() {
            writer
                .append(record(
                    &policy,
                    &input,
                    at,
                    policy.evaluate(&input, at).decision,
                ))
                .unwrap();
        }
    }
    Fixture {
        _dir: dir,
        log,
        policies,
        key,
    }
}

fn record(
    policy: &Policy,
    input: &verdict_host::claims::Claims,
    at: Timestamp,
    decision: verdict_host::policy::Decision,
) -> NewRecord {
    NewRecord {
        timestamp: at,
        request_id: None,
        policy: policy.identity().clone(),
        claims: input.value().clone(),
        decision,
    }
}

fn run(log: &Path, policies: &Path, key: &VerifyingKey) -> ReplayReport {
    let entries = read_log(log).unwrap();
    replay(
        &entries,
        key,
        &PolicyDirectory::scan(policies).unwrap(),
        runtime(),
        |_| {},
    )
}

/// Rewrites the log's lines (1-based `line`) through `edit`, canonically, so
/// only the signature or the chain can notice.
fn edit_line(log: &Path, line: usize, edit: impl FnOnce(&mut Value)) {
    let text = fs::read_to_string(log).unwrap();
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let mut value: Value = serde_json::from_str(&lines[line - 1]).unwrap();
    edit(&mut value);
    lines[line - 1] = serde_jcs::to_string(&value).unwrap();
    fs::write(log, lines.join("\n") + "\n").unwrap();
}

fn rewrite_lines(log: &Path, change: impl FnOnce(&mut Vec<&str>)) {
    let text = fs::read_to_string(log).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    change(&mut lines);
    fs::write(log, lines.join("\n") + "\n").unwrap();
}

fn first_line(report: &ReplayReport) -> usize {
    report.first_failure().expect("replay must fail").line()
}

#[test]
fn a_clean_log_replays_with_both_algorithms() {
    for alg in [SignatureAlgorithm::Ed25519, SignatureAlgorithm::MlDsa65] {
        let f = fixture(alg);
        let report = run(&f.log, &f.policies, &f.key);
        assert!(report.passed(), "{:?}", report.failures);
        assert_eq!(report.records, 6);
    }
}

#[test]
fn a_flipped_decision_breaks_its_signature() {
    let f = fixture(SignatureAlgorithm::Ed25519);
    edit_line(&f.log, 4, |r| r["decision"]["allow"] = json!(true));
    let report = run(&f.log, &f.policies, &f.key);
    assert_eq!(first_line(&report), 4);
    assert!(
        matches!(
            report.first_failure(),
            Some(ReplayFailure::Chain(ChainError::BadSignature { .. }))
        ),
        "{:?}",
        report.failures
    );
}

#[test]
fn an_edited_input_breaks_its_signature_and_its_verdict() {
    let f = fixture(SignatureAlgorithm::Ed25519);
    // Line 5 records an accepted feedback; a TTL of 5 s would be rejected.
    edit_line(&f.log, 5, |r| {
        r["input"]["claims"]["feedback"]["data"]["ttl_seconds"] = json!(5)
    });
    let report = run(&f.log, &f.policies, &f.key);
    assert_eq!(first_line(&report), 5);
    assert!(
        report
            .failures
            .iter()
            .any(|e| matches!(e, ReplayFailure::VerdictDiffers { line: 5, .. })),
        "{:?}",
        report.failures
    );
}

#[test]
fn a_validly_signed_wrong_verdict_is_caught_by_re_evaluation() {
    // Whoever holds the key could sign anything: replay re-runs the policy.
    let f = fixture(SignatureAlgorithm::Ed25519);
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("forged.jsonl");
    let signer = SigningKey::generate(SignatureAlgorithm::Ed25519);
    let key = signer.verifying_key().clone();
    let mut writer = DecisionLog::open(&log, signer).unwrap();
    let [rust, _] = twins();
    let input = claims(example("reject.json"));
    let at = Timestamp::from_unix(1_795_000_000, 0);
    let mut forged = rust.evaluate(&input, at).decision;
    writer
        .append(record(&rust, &input, at, forged.clone()))
        .unwrap();
    forged.allow = true;
    writer.append(record(&rust, &input, at, forged)).unwrap();
    let report = run(&log, &f.policies, &key);
    assert_eq!(report.failures.len(), 1, "{:?}", report.failures);
    assert!(matches!(
        report.first_failure(),
        Some(ReplayFailure::VerdictDiffers {
            line: 2,
            seq: 1,
            ..
        })
    ));
}

#[test]
fn a_deleted_record_breaks_the_chain_at_the_next_one() {
    let f = fixture(SignatureAlgorithm::Ed25519);
    rewrite_lines(&f.log, |lines| {
        lines.remove(2);
    });
    let report = run(&f.log, &f.policies, &f.key);
    assert_eq!(first_line(&report), 3);
    assert!(matches!(
        report.first_failure(),
        Some(ReplayFailure::Chain(_))
    ));
}

#[test]
fn reordered_records_break_the_chain_at_the_first_moved_one() {
    let f = fixture(SignatureAlgorithm::Ed25519);
    rewrite_lines(&f.log, |lines| lines.swap(1, 4));
    let report = run(&f.log, &f.policies, &f.key);
    assert_eq!(first_line(&report), 2);
}

#[test]
fn the_wrong_public_key_fails_at_the_first_record() {
    let f = fixture(SignatureAlgorithm::Ed25519);
    let other = SigningKey::generate(SignatureAlgorithm::Ed25519)
        .verifying_key()
        .clone();
    let report = run(&f.log, &f.policies, &other);
    assert_eq!(first_line(&report), 1);
    assert!(matches!(
        report.first_failure(),
        Some(ReplayFailure::Chain(_))
    ));
}

#[test]
fn an_unknown_policy_digest_is_named() {
    let f = fixture(SignatureAlgorithm::Ed25519);
    fs::write(f.policies.join("feedback.rego"), "package changed\n").unwrap();
    let report = run(&f.log, &f.policies, &f.key);
    assert!(
        matches!(
            report.first_failure(),
            Some(ReplayFailure::UnknownPolicy { line: 2, .. })
        ),
        "{:?}",
        report.failures
    );
}

#[test]
fn entries_carry_their_lines() {
    let f = fixture(SignatureAlgorithm::Ed25519);
    let entries: Vec<LogEntry> = read_log(&f.log).unwrap();
    assert_eq!(
        entries.iter().map(|e| e.line).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6]
    );
}
