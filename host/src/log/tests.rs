//! Tests of the log against real files.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::*;
use crate::crypto::{SignatureAlgorithm, SigningKey, VerifyingKey};
use crate::digest::Digest;
use crate::policy::decision::{Annotation, Decision, TrustVector};
use crate::policy::identity::{PolicyIdentity, PolicyKind};
use crate::timestamp::Timestamp;

fn policy() -> PolicyIdentity {
    PolicyIdentity {
        kind: PolicyKind::Rego,
        digest: Digest::of(b"package verdict\nallow := true\n"),
        data_digest: Digest::of(b"{}"),
        entrypoint: Some("data.verdict.allow".into()),
        module: Some("verdict.rego".into()),
        host: "verdict-host 0.1.0".into(),
        engine: "wasmtime 48.0.8; regorus 0.14.1".into(),
    }
}

fn entry(i: u64) -> NewRecord {
    NewRecord {
        timestamp: Timestamp::from_unix(1_795_000_000 + i as i64, 123_456_789),
        request_id: i.is_multiple_of(2).then(|| format!("req-{i}")),
        policy: policy(),
        claims: json!({ "subject": format!("user-{i}"), "level": i, "z": { "b": [1.5, null, true], "a": "é\u{1}" } }),
        decision: Decision {
            allow: i % 3 != 1,
            reasons: vec![format!("reason {i}")],
            trust_vector: (i == 0).then(TrustVector::default),
            annotations: vec![Annotation {
                key: "k".into(),
                value: "v".into(),
            }],
        },
    }
}

/// A key and an independent copy of it (the log takes ownership of one).
fn key_pair(alg: SignatureAlgorithm) -> (SigningKey, VerifyingKey) {
    let key = SigningKey::generate(alg);
    let verifying = key.verifying_key().clone();
    (key, verifying)
}

pub(super) fn copy(key: &SigningKey) -> SigningKey {
    SigningKey::from_pkcs8_pem(&key.to_pkcs8_pem()).unwrap()
}

/// A log of `n` records signed by a new Ed25519 key, in a new tempdir.
fn sample_log(n: u64) -> (tempfile::TempDir, PathBuf, SigningKey) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    let key = SigningKey::generate(SignatureAlgorithm::Ed25519);
    let mut log = DecisionLog::open(&path, copy(&key)).unwrap();
    for i in 0..n {
        log.append(entry(i)).unwrap();
    }
    (dir, path, key)
}

pub(super) fn lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

pub(super) fn write_lines(path: &Path, lines: &[String]) {
    fs::write(
        path,
        lines.iter().map(|l| format!("{l}\n")).collect::<String>(),
    )
    .unwrap();
}

/// Replaces line `index` (0-based) by `edit` applied to its record,
/// re-serialized canonically, as a careful forger would.
fn edit_record(path: &Path, index: usize, edit: impl FnOnce(&mut DecisionRecord)) {
    let mut all = lines(path);
    let mut record: DecisionRecord = serde_json::from_str(&all[index]).unwrap();
    edit(&mut record);
    all[index] = record.canonical_json().unwrap();
    write_lines(path, &all);
}

fn resign(record: &mut DecisionRecord, key: &SigningKey) {
    let message = record.signing_input().unwrap();
    let signature = record.signature.as_mut().expect("a signed record");
    signature.value = SignatureBytes(key.sign(SIGNING_CONTEXT, &message).unwrap());
}

fn verify_file(path: &Path, key: &VerifyingKey) -> Result<VerifiedChain, ChainError> {
    verify_log(&read_log(path).unwrap(), key)
}

#[test]
fn clean_logs_verify_for_both_algorithms() {
    for alg in SignatureAlgorithm::ALL {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        let (key, verifying) = key_pair(alg);
        let mut log = DecisionLog::open(&path, key).unwrap();
        let written = [log.append(entry(0)).unwrap(), log.append(entry(1)).unwrap()];
        let batch = log
            .append_batch(vec![entry(2), entry(3), entry(4)])
            .unwrap();

        let entries = read_log(&path).unwrap();
        assert_eq!(
            entries[..2].iter().map(|e| &e.record).collect::<Vec<_>>(),
            written.iter().collect::<Vec<_>>()
        );
        assert_eq!(
            batch,
            entries[2..]
                .iter()
                .map(|e| Appended {
                    seq: e.record.seq,
                    id: e.record.id
                })
                .collect::<Vec<_>>()
        );
        let verified = verify_log(&entries, &verifying).unwrap();
        assert_eq!(
            verified,
            VerifiedChain {
                records: 5,
                head: log.head()
            }
        );
        assert_eq!(log.next_seq(), 5);

        assert_eq!(entries[0].record.prev, Digest::ZERO);
        for (i, e) in entries.iter().enumerate() {
            assert_eq!(e.line, i + 1);
            assert_eq!(e.record.seq, i as u64);
            assert_eq!(e.record.v, 1);
            assert_eq!(e.record.input.evaluated_at, e.record.timestamp);
            // A batch signs only its last record.
            let signature = e.record.signature.as_ref();
            assert_eq!(signature.is_some(), i != 2 && i != 3, "record {i}");
            if let Some(signature) = signature {
                assert_eq!(signature.alg, alg);
                assert_eq!(&signature.kid, verifying.key_id());
            }
            if i > 0 {
                assert_eq!(e.record.prev, Digest::of(entries[i - 1].raw.as_bytes()));
            }
        }
        assert!(fs::read(&path).unwrap().ends_with(b"}\n"));
    }
}

#[test]
fn lines_are_jcs_and_the_signature_covers_the_rest() {
    let (_dir, path, key) = sample_log(2);
    for e in read_log(&path).unwrap() {
        let mut value: serde_json::Value = serde_json::from_str(&e.raw).unwrap();
        assert_eq!(serde_jcs::to_string(&value).unwrap(), e.raw);
        assert!(e.raw.starts_with("{\"decision\":{\"allow\":"), "{}", e.raw);
        assert!(e.raw.ends_with(",\"v\":1}"), "{}", e.raw);
        // Signing input computed independently of the record type.
        let signature = value.as_object_mut().unwrap().remove("signature").unwrap();
        let message = serde_jcs::to_vec(&value).unwrap();
        assert_eq!(message, e.record.signing_input().unwrap());
        let signature = base64::Engine::decode(
            &base64::engine::general_purpose::STANDARD,
            signature["value"].as_str().unwrap(),
        )
        .unwrap();
        key.verifying_key()
            .verify("verdict/decision-record/v1", &message, &signature)
            .unwrap();
    }
}

#[test]
fn returned_records_match_what_is_read_back() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.jsonl");
    let mut log =
        DecisionLog::open(&path, SigningKey::generate(SignatureAlgorithm::Ed25519)).unwrap();
    let mut big = entry(0);
    big.claims = json!({ "n": u64::MAX, "f": 1.0, "small": -0.0 });
    let record = log.append(big).unwrap();
    assert_eq!(record, read_log(&path).unwrap()[0].record);
    assert_eq!(record.input.claims["f"], json!(1));
    verify_file(&path, log.verifying_key()).unwrap();
}

#[test]
fn empty_file_is_an_empty_log() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.jsonl");
    fs::write(&path, "").unwrap();
    assert!(read_log(&path).unwrap().is_empty());
    let key = SigningKey::generate(SignatureAlgorithm::Ed25519);
    assert_eq!(
        verify_log(&[], key.verifying_key()).unwrap(),
        VerifiedChain {
            records: 0,
            head: Digest::ZERO
        }
    );
    let mut log = DecisionLog::open(&path, key).unwrap();
    assert_eq!((log.next_seq(), log.head()), (0, Digest::ZERO));
    log.append(entry(0)).unwrap();
    verify_file(&path, log.verifying_key()).unwrap();
}

#[test]
fn reopening_continues_the_chain() {
    for alg in SignatureAlgorithm::ALL {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("log.jsonl");
        let key = SigningKey::generate(alg);
        let head = {
            let mut log = DecisionLog::open(&path, copy(&key)).unwrap();
            log.append_batch(vec![entry(0), entry(1)]).unwrap();
            log.head()
        };
        let mut log = DecisionLog::open(&path, copy(&key)).unwrap();
        assert_eq!((log.next_seq(), log.head()), (2, head));
        let record = log.append(entry(2)).unwrap();
        assert_eq!((record.seq, record.prev), (2, head));
        assert_eq!(verify_file(&path, key.verifying_key()).unwrap().records, 3);
    }
}

#[test]
fn empty_batch_writes_nothing() {
    let (_dir, path, key) = sample_log(1);
    let before = fs::read(&path).unwrap();
    let mut log = DecisionLog::open(&path, key).unwrap();
    assert!(log.append_batch(Vec::new()).unwrap().is_empty());
    assert_eq!(fs::read(&path).unwrap(), before);
}

#[test]
fn a_second_writer_is_locked_out() {
    let (_dir, path, key) = sample_log(1);
    let _first = DecisionLog::open(&path, copy(&key)).unwrap();
    let err = DecisionLog::open(&path, key).unwrap_err();
    assert!(
        matches!(&err, LogError::Locked { path: p } if *p == path),
        "{err}"
    );
}

#[test]
fn reopening_with_another_key_is_refused() {
    let (_dir, path, key) = sample_log(2);
    let other = SigningKey::generate(SignatureAlgorithm::Ed25519);
    let err = DecisionLog::open(&path, other).unwrap_err();
    assert!(
        matches!(&err, LogError::ForeignKey { line: 2, found, .. } if found == key.key_id()),
        "{err}"
    );
}

#[test]
fn flipping_allow_breaks_that_records_signature() {
    let (_dir, path, key) = sample_log(4);
    edit_record(&path, 2, |r| r.decision.allow = !r.decision.allow);
    let err = verify_file(&path, key.verifying_key()).unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::BadSignature {
                line: 3,
                seq: 2,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!((err.line(), err.seq()), (3, 2));
}

#[test]
fn editing_a_claim_breaks_that_records_signature() {
    let (_dir, path, key) = sample_log(4);
    edit_record(&path, 1, |r| r.input.claims["subject"] = json!("admin"));
    let err = verify_file(&path, key.verifying_key()).unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::BadSignature {
                line: 2,
                seq: 1,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_non_canonical_edit_is_caught() {
    let (_dir, path, key) = sample_log(3);
    let mut all = lines(&path);
    all[1] = all[1].replacen(":", ": ", 1);
    write_lines(&path, &all);
    let err = verify_file(&path, key.verifying_key()).unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::NonCanonical {
                line: 2,
                seq: 1,
                column: 13
            }
        ),
        "{err}"
    );
}

#[test]
fn deleting_a_middle_record_is_caught_at_the_next_one() {
    let (_dir, path, key) = sample_log(4);
    let mut all = lines(&path);
    all.remove(1);
    write_lines(&path, &all);
    let err = verify_file(&path, key.verifying_key()).unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::SequenceMismatch {
                line: 2,
                seq: 2,
                expected: 1
            }
        ),
        "{err}"
    );
    let err = DecisionLog::open(&path, key).unwrap_err();
    assert!(
        matches!(
            err,
            LogError::OutOfSequence {
                line: 3,
                expected: 2,
                found: 3,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn renumbering_after_a_deletion_breaks_the_chain() {
    let (_dir, path, key) = sample_log(4);
    let mut all = lines(&path);
    all.remove(1);
    write_lines(&path, &all);
    // A forger with the key renumbers the record after the gap.
    edit_record(&path, 1, |r| {
        r.seq = 1;
        resign(r, &key);
    });
    let err = verify_file(&path, key.verifying_key()).unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::BrokenChain {
                line: 2,
                seq: 1,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn swapping_two_records_is_caught_at_the_first() {
    let (_dir, path, key) = sample_log(4);
    let mut all = lines(&path);
    all.swap(1, 2);
    write_lines(&path, &all);
    let err = verify_file(&path, key.verifying_key()).unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::SequenceMismatch {
                line: 2,
                seq: 2,
                expected: 1
            }
        ),
        "{err}"
    );
}

#[test]
fn verifying_with_another_key_fails_at_the_first_record() {
    for alg in SignatureAlgorithm::ALL {
        let (_dir, path, key) = sample_log(2);
        let other = SigningKey::generate(alg);
        let err = verify_file(&path, other.verifying_key()).unwrap_err();
        assert!(
            matches!(&err, ChainError::UnknownKey { line: 1, seq: 0, found, .. } if found == key.key_id()),
            "{err}"
        );
    }
}

#[test]
fn a_wrong_algorithm_or_version_is_named() {
    let (_dir, path, key) = sample_log(3);
    edit_record(&path, 1, |r| {
        r.signature.as_mut().unwrap().alg = SignatureAlgorithm::MlDsa65
    });
    let err = verify_file(&path, key.verifying_key()).unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::AlgorithmMismatch {
                line: 2,
                seq: 1,
                ..
            }
        ),
        "{err}"
    );

    let (_dir, path, key) = sample_log(3);
    edit_record(&path, 2, |r| {
        r.v = 2;
        resign(r, &key);
    });
    let err = verify_file(&path, key.verifying_key()).unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::UnsupportedVersion {
                line: 3,
                seq: 2,
                found: 2
            }
        ),
        "{err}"
    );
}

#[test]
fn a_truncated_last_line_is_a_torn_tail() {
    let (_dir, path, key) = sample_log(3);
    let bytes = fs::read(&path).unwrap();
    let last_start = lines(&path)[..2].iter().map(|l| l.len() + 1).sum::<usize>() as u64;
    for cut in [1, 20] {
        let torn = &bytes[..bytes.len() - cut];
        fs::write(&path, torn).unwrap();
        let err = read_log(&path).unwrap_err();
        assert!(
            matches!(err, LogError::TornTail { line: 3, offset, .. } if offset == last_start),
            "{err}"
        );
        let err = DecisionLog::open(&path, copy(&key)).unwrap_err();
        assert!(
            matches!(err, LogError::TornTail { line: 3, offset, .. } if offset == last_start),
            "{err}"
        );
        assert!(
            err.to_string()
                .contains(&format!("truncate the file to {last_start} bytes")),
            "{err}"
        );
        assert_eq!(
            fs::read(&path).unwrap(),
            torn,
            "open must not repair the file"
        );
    }
}

#[test]
fn appended_garbage_is_named_by_line() {
    let (_dir, path, key) = sample_log(2);
    let clean = fs::read(&path).unwrap();
    let append = |extra: &str| fs::write(&path, [&clean[..], extra.as_bytes()].concat()).unwrap();

    append("garbage\n");
    let err = read_log(&path).unwrap_err();
    assert!(
        matches!(
            err,
            LogError::InvalidJson {
                line: 3,
                column: 1,
                ..
            }
        ),
        "{err}"
    );
    let err = DecisionLog::open(&path, copy(&key)).unwrap_err();
    assert!(
        matches!(err, LogError::InvalidJson { line: 3, .. }),
        "{err}"
    );

    append("{\"v\":1}\n");
    let err = read_log(&path).unwrap_err();
    assert!(
        matches!(&err, LogError::InvalidRecord { line: 3, reason, .. } if reason.contains("missing field")),
        "{err}"
    );

    append("garbage");
    assert!(matches!(
        read_log(&path).unwrap_err(),
        LogError::TornTail { line: 3, .. }
    ));

    append("\n");
    assert!(matches!(
        read_log(&path).unwrap_err(),
        LogError::InvalidJson { line: 3, .. }
    ));

    fs::write(&path, [&clean[..], b"{\"a\":\"\xff\"}\n"].concat()).unwrap();
    assert!(matches!(
        read_log(&path).unwrap_err(),
        LogError::NotUtf8 {
            line: 3,
            column: 7,
            ..
        }
    ));
}

#[test]
fn unknown_fields_are_rejected_by_name() {
    let (_dir, path, _key) = sample_log(2);
    let mut all = lines(&path);
    all[1] = all[1].replacen("{\"decision\":{", "{\"decision\":{\"extra\":1,", 1);
    write_lines(&path, &all);
    let err = read_log(&path).unwrap_err();
    assert!(
        matches!(&err, LogError::InvalidRecord { line: 2, reason, .. } if reason.contains("unknown field `extra`")),
        "{err}"
    );
    assert_eq!(err.line(), Some(2));
}

/// Prints a worked example for docs/decision-log.md:
/// `cargo test print_worked_example -- --ignored --nocapture`.
#[test]
#[ignore = "generates documentation"]
fn print_worked_example() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate(SignatureAlgorithm::Ed25519);
    println!("{}", key.verifying_key().to_public_key_pem());
    let mut log = DecisionLog::open(dir.path().join("log.jsonl"), key).unwrap();
    let mut example = entry(0);
    example.claims = json!({ "subject": "alice", "roles": ["admin"], "mfa": true });
    example.decision = Decision {
        allow: true,
        reasons: vec!["admin with MFA".into()],
        trust_vector: None,
        annotations: vec![],
    };
    let record = log.append(example).unwrap();
    println!("{}", record.canonical_json().unwrap());
    println!(
        "{}",
        String::from_utf8(record.signing_input().unwrap()).unwrap()
    );
}

#[test]
fn only_regular_files_are_logs() {
    let dir = tempfile::tempdir().unwrap();
    let err = read_log(dir.path()).unwrap_err();
    assert!(
        matches!(err, LogError::NotAFile { .. } | LogError::Read { .. }),
        "{err}"
    );
    let err = DecisionLog::open(
        dir.path(),
        SigningKey::generate(SignatureAlgorithm::Ed25519),
    )
    .unwrap_err();
    assert!(
        matches!(err, LogError::NotAFile { .. } | LogError::Open { .. }),
        "{err}"
    );
    #[cfg(target_os = "linux")]
    {
        let err = read_log("/dev/zero").unwrap_err();
        assert!(matches!(err, LogError::NotAFile { .. }), "{err}");
        let err = DecisionLog::open(
            "/dev/zero",
            SigningKey::generate(SignatureAlgorithm::Ed25519),
        )
        .unwrap_err();
        assert!(matches!(err, LogError::NotAFile { .. }), "{err}");
    }
}

/// The worked example in docs/decision-log.md, made by `print_worked_example`.
const EXAMPLE_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEA+6uVYbjRWis64CJ1PLir257T9keBVIo24dCXhHshHJQ=
-----END PUBLIC KEY-----
";
const EXAMPLE_LINE: &str = r#"{"decision":{"allow":true,"annotations":[],"reasons":["admin with MFA"],"trust_vector":null},"id":"f14f91ca4284e14b3f1b88dbeda40bb5","input":{"claims":{"mfa":true,"roles":["admin"],"subject":"alice"},"evaluated_at":"2026-11-18T11:06:40.123456789Z"},"policy":{"data_digest":"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a","digest":"sha256:157c75eb15699c45bdae8db1fbe33c03c625479ec86970a9089d91d70f12b658","engine":"wasmtime 48.0.8; regorus 0.14.1","entrypoint":"data.verdict.allow","host":"verdict-host 0.1.0","kind":"rego","module":"verdict.rego"},"prev":"sha256:0000000000000000000000000000000000000000000000000000000000000000","request_id":"req-0","seq":0,"signature":{"alg":"ed25519","kid":"ed25519-6295646517027079","value":"k0GQnNxTS6tTr4zYKBn3MIRWCFzDOl/wrKXHLAU6T6ZSNSVoHNoEnNQU/V5OGxYnrD3Rm6iLaGjx/3qIl8mODA=="},"timestamp":"2026-11-18T11:06:40.123456789Z","v":1}"#;

#[test]
fn the_documented_example_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("example.jsonl");
    fs::write(&path, format!("{EXAMPLE_LINE}\n")).unwrap();
    let key = VerifyingKey::from_public_key_pem(EXAMPLE_PUBLIC_KEY).unwrap();
    assert_eq!(key.key_id().as_str(), "ed25519-6295646517027079");
    let verified = verify_file(&path, &key).unwrap();
    assert_eq!(verified.head, Digest::of(EXAMPLE_LINE.as_bytes()));

    // The Ed25519 signing input, spelled out as the docs do.
    let record = &read_log(&path).unwrap()[0].record;
    let unsigned = EXAMPLE_LINE.replace(
        r#","signature":{"alg":"ed25519","kid":"ed25519-6295646517027079","value":"k0GQnNxTS6tTr4zYKBn3MIRWCFzDOl/wrKXHLAU6T6ZSNSVoHNoEnNQU/V5OGxYnrD3Rm6iLaGjx/3qIl8mODA=="}"#,
        "",
    );
    assert_eq!(record.signing_input().unwrap(), unsigned.as_bytes());
    let framed = [b"verdict/decision-record/v1\0", unsigned.as_bytes()].concat();
    let raw_key =
        ed25519_dalek::VerifyingKey::from_bytes(&key.spki_der()[12..].try_into().unwrap()).unwrap();
    let signature =
        ed25519_dalek::Signature::from_slice(&record.signature.as_ref().unwrap().value.0).unwrap();
    raw_key.verify_strict(&framed, &signature).unwrap();
}

#[test]
fn timestamps_on_whole_seconds_stay_canonical() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.jsonl");
    let mut log =
        DecisionLog::open(&path, SigningKey::generate(SignatureAlgorithm::Ed25519)).unwrap();
    for nanos in [0, 500_000_000, 1] {
        let mut e = entry(0);
        e.timestamp = Timestamp::from_unix(1_795_000_000, nanos);
        log.append(e).unwrap();
    }
    let entries = read_log(&path).unwrap();
    assert!(
        entries[0]
            .raw
            .contains(r#""timestamp":"2026-11-18T11:06:40Z""#),
        "{}",
        entries[0].raw
    );
    assert!(
        entries[1]
            .raw
            .contains(r#""timestamp":"2026-11-18T11:06:40.5Z""#),
        "{}",
        entries[1].raw
    );
    verify_log(&entries, log.verifying_key()).unwrap();
}

/// A log of one batch of `n` records: only the last is signed.
fn batch_log(n: u64) -> (tempfile::TempDir, PathBuf, SigningKey) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.jsonl");
    let key = SigningKey::generate(SignatureAlgorithm::Ed25519);
    let mut log = DecisionLog::open(&path, copy(&key)).unwrap();
    log.append_batch((0..n).map(entry).collect()).unwrap();
    (dir, path, key)
}

#[test]
fn a_batch_is_signed_once_at_its_end() {
    let (_dir, path, key) = batch_log(4);
    let entries = read_log(&path).unwrap();
    let signed: Vec<bool> = entries
        .iter()
        .map(|e| e.record.signature.is_some())
        .collect();
    assert_eq!(signed, [false, false, false, true]);
    assert!(!entries[0].raw.contains("\"signature\""));
    assert_eq!(
        verify_log(&entries, key.verifying_key()).unwrap().records,
        4
    );
}

#[test]
fn editing_an_unsigned_record_breaks_the_chain_to_the_signed_one() {
    // A careful forger keeps the edited record canonical and then fixes
    // every later `prev`; the batch's one signature still catches it.
    let (_dir, path, key) = batch_log(4);
    edit_record(&path, 1, |r| r.decision.allow = !r.decision.allow);
    let err = verify_file(&path, key.verifying_key()).unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::BrokenChain {
                line: 3,
                seq: 2,
                ..
            }
        ),
        "{err}"
    );
    for index in 2..4 {
        let all = lines(&path);
        let prev = Digest::of(all[index - 1].as_bytes());
        edit_record(&path, index, |r| r.prev = prev);
    }
    let err = verify_file(&path, key.verifying_key()).unwrap_err();
    assert!(
        matches!(
            err,
            ChainError::BadSignature {
                line: 4,
                seq: 3,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn records_appended_without_a_signature_are_an_unsigned_tail() {
    let (_dir, path, key) = sample_log(2);
    let verifying = key.verifying_key().clone();
    let mut all = lines(&path);
    for seq in 2..4 {
        let prev = Digest::of(all.last().unwrap().as_bytes());
        let mut record: DecisionRecord = serde_json::from_str(&all[0]).unwrap();
        (record.seq, record.prev, record.signature) = (seq, prev, None);
        all.push(record.canonical_json().unwrap());
    }
    write_lines(&path, &all);
    let err = verify_file(&path, &verifying).unwrap_err();
    assert_eq!(err, ChainError::UnsignedTail { line: 3, seq: 2 });

    // The writer refuses to continue the chain, and names the cut.
    let offset = (all[0].len() + all[1].len() + 2) as u64;
    let err = DecisionLog::open(&path, key).unwrap_err();
    assert!(
        matches!(&err, LogError::UnsignedTail { line: 3, offset: o, .. } if *o == offset),
        "{err}"
    );
    assert!(
        err.to_string()
            .contains(&format!("truncate the file to {offset} bytes"))
    );
}

#[test]
fn stripping_the_last_signature_leaves_an_unsigned_tail() {
    let (_dir, path, key) = batch_log(3);
    edit_record(&path, 2, |r| r.signature = None);
    let err = verify_file(&path, key.verifying_key()).unwrap_err();
    assert_eq!(err, ChainError::UnsignedTail { line: 1, seq: 0 });
    let err = DecisionLog::open(&path, key).unwrap_err();
    assert!(
        matches!(
            err,
            LogError::UnsignedTail {
                line: 1,
                offset: 0,
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn a_null_signature_is_not_canonical() {
    let (_dir, path, key) = batch_log(2);
    let mut all = lines(&path);
    all[0] = all[0].replacen("\"seq\":0", "\"seq\":0,\"signature\":null", 1);
    write_lines(&path, &all);
    let err = verify_file(&path, key.verifying_key()).unwrap_err();
    assert!(
        matches!(err, ChainError::NonCanonical { line: 1, .. }),
        "{err}"
    );
}
