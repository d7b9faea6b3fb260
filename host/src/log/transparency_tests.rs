//! Tests of the log as a transparency log: checkpoints, proofs, and what
//! reopening a damaged log says.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::json;

use super::tests::{copy, lines, write_lines};
use super::*;
use crate::crypto::{SignatureAlgorithm, SigningKey};
use crate::digest::Digest;
use crate::policy::decision::Decision;
use crate::policy::identity::{PolicyIdentity, PolicyKind};
use crate::timestamp::Timestamp;

fn entry(i: u64) -> NewRecord {
    NewRecord {
        timestamp: Timestamp::from_unix(1_795_000_000 + i as i64, 0),
        request_id: Some(format!("req-{i}")),
        policy: PolicyIdentity {
            kind: PolicyKind::Rego,
            digest: Digest::of(b"package verdict\nallow := true\n"),
            data_digest: Digest::of(b"{}"),
            entrypoint: Some("data.verdict.allow".into()),
            module: Some("verdict.rego".into()),
            host: "verdict-host 0.1.0".into(),
            engine: "wasmtime 48.0.8; regorus 0.14.1".into(),
        },
        claims: json!({ "subject": format!("user-{i}") }),
        decision: Decision {
            allow: true,
            reasons: vec![format!("reason {i}")],
            trust_vector: None,
            annotations: vec![],
        },
    }
}

/// A log written in `batches` (sizes), in a new tempdir.
fn log_of(batches: &[u64], alg: SignatureAlgorithm) -> (tempfile::TempDir, PathBuf, SigningKey) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("decisions.jsonl");
    let key = SigningKey::generate(alg);
    let mut log = DecisionLog::open(&path, copy(&key)).unwrap();
    let mut next = 0;
    for &size in batches {
        log.append_batch((next..next + size).map(entry).collect())
            .unwrap();
        next += size;
    }
    (dir, path, key)
}

fn reopen(path: &Path, key: &SigningKey) -> Result<DecisionLog, LogError> {
    DecisionLog::open(path, copy(key))
}

#[test]
fn every_write_is_checkpointed_for_both_algorithms() {
    for alg in SignatureAlgorithm::ALL {
        let (_dir, path, key) = log_of(&[1, 3, 2], alg);
        let notes = read_notes(&path).unwrap().unwrap();
        // One for the empty log at creation, then one per write.
        let sizes: Vec<u64> = notes
            .iter()
            .map(|n| {
                SignedCheckpoint::verify(&n.text, key.verifying_key())
                    .unwrap()
                    .checkpoint()
                    .size
            })
            .collect();
        assert_eq!(sizes, [0, 1, 4, 6]);
        let latest = latest_checkpoint(&path, key.verifying_key())
            .unwrap()
            .unwrap();
        let tree = tree_of(&read_log(&path).unwrap());
        assert_eq!(latest.checkpoint().root, tree.root());
        assert_eq!(
            latest.checkpoint().origin,
            Origin::for_key(key.verifying_key())
        );
        // Reopening changes nothing and publishes the same checkpoint.
        let log = reopen(&path, &key).unwrap();
        assert_eq!(log.checkpoint(), latest);
        assert_eq!(read_notes(&path).unwrap().unwrap().len(), 4);
    }
}

#[test]
fn every_record_proves_itself_and_a_tampered_one_does_not() {
    let (_dir, path, key) = log_of(&[2, 5], SignatureAlgorithm::Ed25519);
    let published = PublishedLog::load(&path, key.verifying_key()).unwrap();
    for seq in 0..7 {
        let bundle = published.inclusion_proof(seq).unwrap();
        let verified = bundle.verify(key.verifying_key()).unwrap();
        assert_eq!(verified.record.seq, seq);
        assert_eq!(verified.checkpoint.size, 7);
        let size = serde_json::to_string(&bundle).unwrap().len() - bundle.record.len();
        assert!(size < 600, "proof overhead {size} bytes");
    }
    let bundle = published.inclusion_proof(3).unwrap();
    // The record edited (canonically), a hash of the path changed, another
    // leaf index, another key, another format: each fails.
    let mut edited = bundle.clone();
    edited.record = edited.record.replace("\"allow\":true", "\"allow\":false");
    assert!(matches!(
        edited.verify(key.verifying_key()),
        Err(BundleError::Proof(_))
    ));
    let mut bent = bundle.clone();
    bent.audit_path[0] = TreeHash::leaf(b"x");
    assert!(bent.verify(key.verifying_key()).is_err());
    let mut moved = bundle.clone();
    moved.leaf_index = 2;
    assert!(moved.verify(key.verifying_key()).is_err());
    let other = SigningKey::generate(SignatureAlgorithm::Ed25519);
    assert!(matches!(
        bundle.verify(other.verifying_key()),
        Err(BundleError::Checkpoint { .. })
    ));
    let mut renamed = bundle.clone();
    renamed.format = "verdict-inclusion-proof/v0".into();
    assert!(matches!(
        renamed.verify(key.verifying_key()),
        Err(BundleError::UnknownFormat { .. })
    ));
    assert!(matches!(
        published.inclusion_proof(7),
        Err(ProveError::NotCheckpointed { seq: 7, size: 7 })
    ));
}

#[test]
fn the_writer_serves_proofs_for_what_it_just_wrote() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("log.jsonl");
    let key = SigningKey::generate(SignatureAlgorithm::Ed25519);
    let mut log = DecisionLog::open(&path, copy(&key)).unwrap();
    let published = log.published();
    let first = published.checkpoint();
    assert_eq!(first.checkpoint().size, 0);
    log.append_batch((0..3).map(entry).collect()).unwrap();
    log.append(entry(3)).unwrap();
    assert_eq!(published.checkpoint().checkpoint().size, 4);
    published
        .inclusion_proof(3)
        .unwrap()
        .verify(key.verifying_key())
        .unwrap();
    let grown = published.consistency_with(&first).unwrap();
    grown.verify(key.verifying_key()).unwrap();
    assert_eq!(published.consistency_proof(1, 4).unwrap().len(), 2);
    assert!(published.consistency_proof(1, 5).is_err());
}

#[test]
fn truncation_after_a_published_checkpoint_is_caught() {
    let (_dir, path, key) = log_of(&[1, 1, 1], SignatureAlgorithm::Ed25519);
    let published = latest_checkpoint(&path, key.verifying_key())
        .unwrap()
        .unwrap();
    // Cut whole writes off the end, and the checkpoints that named them.
    let all = lines(&path);
    write_lines(&path, &all[..1]);
    let notes = read_notes(&path).unwrap().unwrap();
    fs::write(checkpoints_path(&path), &notes[1].text).unwrap();
    // The file alone still verifies ...
    verify_log(&read_log(&path).unwrap(), key.verifying_key()).unwrap();
    // ... but not against the checkpoint published before.
    let log = PublishedLog::load(&path, key.verifying_key()).unwrap();
    let err = log.consistency_with(&published).unwrap_err();
    assert!(err.to_string().contains("records were cut off"), "{err}");
    // And the writer refuses a log whose checkpoints outnumber its records.
    let notes_before = fs::read(checkpoints_path(&path)).unwrap();
    fs::write(
        checkpoints_path(&path),
        [notes_before, published.note().as_bytes().to_vec()].concat(),
    )
    .unwrap();
    let err = reopen(&path, &key).unwrap_err();
    assert!(
        matches!(err, LogError::Truncated { records: 1, .. }),
        "{err}"
    );
}

#[test]
fn a_rewritten_checkpointed_record_is_refused_with_the_offset_to_keep() {
    let (_dir, path, key) = log_of(&[2, 2], SignatureAlgorithm::Ed25519);
    // Rewrite record 3 (in the second write) and re-sign it with the key:
    // the chain and signatures verify, the checkpoint does not.
    let mut all = lines(&path);
    let mut record: DecisionRecord = serde_json::from_str(&all[3]).unwrap();
    record.decision.allow = false;
    let message = record.signing_input().unwrap();
    record.signature.as_mut().unwrap().value =
        SignatureBytes(key.sign(SIGNING_CONTEXT, &message).unwrap());
    all[3] = record.canonical_json().unwrap();
    write_lines(&path, &all);
    verify_log(&read_log(&path).unwrap(), key.verifying_key()).unwrap();
    let err = reopen(&path, &key).unwrap_err();
    let keep = (all[0].len() + all[1].len() + 2) as u64;
    assert!(
        matches!(err, LogError::Rewritten { line: 3, offset, .. } if offset == keep),
        "{err}"
    );
}

#[test]
fn an_edited_last_line_with_a_stale_signature_is_never_built_upon() {
    // A log from before checkpoints (no checkpoints file): reopening used
    // to check only the last record's key id.
    let (_dir, path, key) = log_of(&[1, 1], SignatureAlgorithm::Ed25519);
    fs::remove_file(checkpoints_path(&path)).unwrap();
    let mut all = lines(&path);
    all[1] = all[1].replace("\"allow\":true", "\"allow\":false");
    write_lines(&path, &all);
    let err = reopen(&path, &key).unwrap_err();
    let offset = (all[0].len() + 1) as u64;
    assert!(
        matches!(&err, LogError::TamperedTail { offset: o, source: ChainError::BadSignature { seq: 1, .. }, .. } if *o == offset),
        "{err}"
    );
    assert_eq!(
        fs::metadata(checkpoints_path(&path)).map(|m| m.len()).ok(),
        None
    );
}

#[test]
fn a_log_from_before_checkpoints_is_checkpointed_on_reopening() {
    let (_dir, path, key) = log_of(&[2, 1], SignatureAlgorithm::Ed25519);
    fs::remove_file(checkpoints_path(&path)).unwrap();
    let log = reopen(&path, &key).unwrap();
    assert_eq!(log.checkpoint().checkpoint().size, 3);
    drop(log);
    let latest = latest_checkpoint(&path, key.verifying_key())
        .unwrap()
        .unwrap();
    assert_eq!(
        latest.checkpoint().root,
        tree_of(&read_log(&path).unwrap()).root()
    );
}

#[test]
fn records_a_crash_left_without_a_checkpoint_are_checkpointed_on_reopening() {
    let (_dir, path, key) = log_of(&[1, 2], SignatureAlgorithm::Ed25519);
    // The machine stopped after the records were synced, before the
    // (unsynced) checkpoint reached the disk.
    let notes = read_notes(&path).unwrap().unwrap();
    let kept: String = notes[..2].iter().map(|n| n.text.as_str()).collect();
    fs::write(checkpoints_path(&path), &kept).unwrap();
    let log = reopen(&path, &key).unwrap();
    assert_eq!(log.checkpoint().checkpoint().size, 3);
    // A checkpoint torn half-way is refused with the offset to cut at.
    drop(log);
    let text = fs::read_to_string(checkpoints_path(&path)).unwrap();
    let torn = &text[..text.len() - 10];
    fs::write(checkpoints_path(&path), torn).unwrap();
    let err = reopen(&path, &key).unwrap_err();
    assert!(
        matches!(err, LogError::TornCheckpoints { offset, .. } if offset == kept.len() as u64),
        "{err}"
    );
}

#[test]
fn a_checkpoint_of_another_origin_or_key_is_refused() {
    let (_dir, path, key) = log_of(&[1], SignatureAlgorithm::Ed25519);
    let origin: Origin = "example.org/replica-2".parse().unwrap();
    let err = DecisionLog::open_with_origin(&path, copy(&key), origin).unwrap_err();
    assert!(matches!(err, LogError::OriginMismatch { .. }), "{err}");
    // A checkpoint signed by someone else, appended to the file.
    let forger = SigningKey::generate(SignatureAlgorithm::Ed25519);
    let forged = SignedCheckpoint::sign(
        Checkpoint {
            origin: Origin::for_key(key.verifying_key()),
            size: 1,
            root: TreeHash::leaf(b"x"),
        },
        &forger,
    )
    .unwrap();
    let mut text = fs::read_to_string(checkpoints_path(&path)).unwrap();
    text.push_str(forged.note());
    fs::write(checkpoints_path(&path), text).unwrap();
    let err = reopen(&path, &key).unwrap_err();
    assert!(matches!(err, LogError::Checkpoint { .. }), "{err}");
}

#[test]
fn replicas_write_under_their_own_origins() {
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate(SignatureAlgorithm::Ed25519);
    let mut roots = Vec::new();
    for replica in ["example.org/log/a", "example.org/log/b"] {
        let path = dir.path().join(format!("{}.jsonl", &replica[16..]));
        let mut log =
            DecisionLog::open_with_origin(&path, copy(&key), replica.parse().unwrap()).unwrap();
        log.append(entry(0)).unwrap();
        let checkpoint = log.checkpoint();
        assert_eq!(checkpoint.checkpoint().origin.as_str(), replica);
        assert!(checkpoint.note().starts_with(replica));
        roots.push(checkpoint.checkpoint().clone());
        drop(log);
        DecisionLog::open_with_origin(&path, copy(&key), replica.parse().unwrap()).unwrap();
    }
    assert_ne!(roots[0].origin, roots[1].origin);
}

#[test]
fn a_fork_is_not_consistent_with_the_original() {
    let (dir, path, key) = log_of(&[2], SignatureAlgorithm::Ed25519);
    let before = latest_checkpoint(&path, key.verifying_key())
        .unwrap()
        .unwrap();
    // The key holder starts over: a different history of the same size
    // and more, under the same origin.
    let fork = dir.path().join("fork.jsonl");
    let mut log = DecisionLog::open(&fork, copy(&key)).unwrap();
    log.append_batch((10..14).map(entry).collect()).unwrap();
    let err = log.published().consistency_with(&before).unwrap_err();
    assert!(err.to_string().contains("rewritten or forked"), "{err}");
}

/// The proof example in docs/decision-log.md: a three-record log written
/// by hand with fixed ids and a key from a fixed seed, so that every value
/// is reproducible. `cargo test -p verdict-host print_proof_example -- --ignored --nocapture`
#[test]
#[ignore = "generates documentation"]
fn print_proof_example() {
    let (key, bundle) = proof_example();
    println!("{}", key.verifying_key().to_public_key_pem());
    let tree = {
        let mut tree = MerkleTree::new();
        let log: Vec<String> = example_lines(&key);
        for line in &log {
            println!("{line}");
            println!("leaf {}", TreeHash::leaf(line.as_bytes()));
            tree.push_line(line.as_bytes());
        }
        tree
    };
    println!("root {}", tree.root());
    println!("{}", serde_json::to_string_pretty(&bundle).unwrap());
}

const EXAMPLE_ORIGIN: &str = "example.org/verdict/decision-log";

/// The three lines of the example log: record 2 is signed.
fn example_lines(key: &SigningKey) -> Vec<String> {
    let mut lines = Vec::new();
    let mut prev = Digest::ZERO;
    for seq in 0..3u64 {
        let new = entry(seq);
        let mut record = DecisionRecord {
            v: RECORD_VERSION,
            seq,
            id: DecisionId::from_bytes([seq as u8 + 1; 16]),
            timestamp: new.timestamp,
            request_id: new.request_id,
            policy: new.policy,
            input: RecordInput {
                claims: new.claims,
                evaluated_at: new.timestamp,
            },
            decision: new.decision,
            prev,
            signature: None,
        };
        if seq == 2 {
            let message = record.signing_input().unwrap();
            record.signature = Some(RecordSignature {
                alg: key.algorithm(),
                kid: key.key_id().clone(),
                value: SignatureBytes(key.sign(SIGNING_CONTEXT, &message).unwrap()),
            });
        }
        let line = record.canonical_json().unwrap();
        prev = Digest::of(line.as_bytes());
        lines.push(line);
    }
    lines
}

fn proof_example() -> (SigningKey, InclusionBundle) {
    let key = SigningKey::from_seed(SignatureAlgorithm::Ed25519, &[7; 32]);
    let lines = example_lines(&key);
    let mut tree = MerkleTree::new();
    for line in &lines {
        tree.push_line(line.as_bytes());
    }
    let checkpoint = SignedCheckpoint::sign(
        Checkpoint {
            origin: EXAMPLE_ORIGIN.parse().unwrap(),
            size: 3,
            root: tree.root(),
        },
        &key,
    )
    .unwrap();
    let bundle = InclusionBundle::new(
        lines[1].clone(),
        1,
        tree.inclusion_proof(1, 3).unwrap(),
        &checkpoint,
    );
    (key, bundle)
}

/// The bundle docs/decision-log.md prints, verified as it is written there.
#[test]
fn the_documented_proof_example_verifies() {
    let key = crate::crypto::VerifyingKey::from_public_key_pem(EXAMPLE_PUBLIC_KEY).unwrap();
    let bundle: InclusionBundle = serde_json::from_str(EXAMPLE_BUNDLE).unwrap();
    let verified = bundle.verify(&key).unwrap();
    assert_eq!(verified.record.seq, 1);
    assert_eq!(verified.checkpoint.root.to_string(), EXAMPLE_ROOT);
    // And it is what the code makes today.
    let (signing, made) = proof_example();
    assert_eq!(signing.verifying_key(), &key);
    assert_eq!(made, bundle);
}

const EXAMPLE_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----
MCowBQYDK2VwAyEA6kpsY+KcUgq+9VB7Ey7F+ZVHdq6+vnuSQh7qaRRG0iw=
-----END PUBLIC KEY-----
";
const EXAMPLE_ROOT: &str = "V6vKJ1TSOGtEBypYoE16o/8lYa0ZILTa9IVDWYHqqVA=";
const EXAMPLE_BUNDLE: &str = r##"{
  "format": "verdict-inclusion-proof/v1",
  "record": "{\"decision\":{\"allow\":true,\"annotations\":[],\"reasons\":[\"reason 1\"],\"trust_vector\":null},\"id\":\"02020202020202020202020202020202\",\"input\":{\"claims\":{\"subject\":\"user-1\"},\"evaluated_at\":\"2026-11-18T11:06:41Z\"},\"policy\":{\"data_digest\":\"sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a\",\"digest\":\"sha256:157c75eb15699c45bdae8db1fbe33c03c625479ec86970a9089d91d70f12b658\",\"engine\":\"wasmtime 48.0.8; regorus 0.14.1\",\"entrypoint\":\"data.verdict.allow\",\"host\":\"verdict-host 0.1.0\",\"kind\":\"rego\",\"module\":\"verdict.rego\"},\"prev\":\"sha256:ee5d719219e0d807a154d57be1ac1fceb464829770b86c42febed0ac8815beba\",\"request_id\":\"req-1\",\"seq\":1,\"timestamp\":\"2026-11-18T11:06:41Z\",\"v\":1}",
  "leaf_index": 1,
  "audit_path": [
    "f5H5DgpdTFEhoZmkPTas1wZKFKKbCGGpoYylj6JR2ow=",
    "0tAlGf1YMvCj1fg45EngKqHmu550zl/tiAR2wfdmLp8="
  ],
  "checkpoint": "example.org/verdict/decision-log\n3\nV6vKJ1TSOGtEBypYoE16o/8lYa0ZILTa9IVDWYHqqVA=\n\n— example.org/verdict/decision-log sQuK8UPRqINKuoIWdiBB9W68H3kmBosBskh2AE6f4xAoMx46m/9IWmJXaoVt+TBLKliBEnFTL7scpojeOwpOEyKdcAo=\n"
}"##;
