//! The decision log as a transparency log: what the Merkle tree and the
//! checkpoints cost the writer, how fast proofs are made and checked, and
//! replay's rate against the live rate.
//!
//! - `writer`: `append_batch` of 64 records (one write, one `fdatasync`, one
//!   record signature, one checkpoint), and its parts the transparency layer
//!   added: a leaf hash plus tree append per record, and signing one
//!   checkpoint (Ed25519, ML-DSA-65).
//! - `proofs`: on a tree of 2^20 leaves, making and checking an inclusion
//!   proof and a consistency proof, raw and as a bundle (whose check also
//!   verifies the checkpoint's signature and parses the record).
//! - `replay_vs_live`: 256 decisions of `policies/feedback.rego`, evaluated
//!   and logged one at a time as `verdict eval --log` does (live), then
//!   replayed (on every core).
//!
//! Run: `cargo bench -p verdict-host --bench log`; results are recorded in
//! BENCHMARKS.md.

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use serde_json::json;
use verdict_host::claims::{Claims, DataDocument};
use verdict_host::crypto::{SignatureAlgorithm, SigningKey};
use verdict_host::digest::Digest;
use verdict_host::log::{
    Checkpoint, DecisionLog, InclusionBundle, MerkleTree, NewRecord, Origin, SignedCheckpoint,
    TreeHash, read_log, verify_consistency, verify_inclusion,
};
use verdict_host::policy::{
    Decision, PolicyIdentity, PolicyKind, PolicyRuntime, RegoModule, RuntimeConfig,
};
use verdict_host::replay::{PolicyDirectory, replay};
use verdict_host::timestamp::Timestamp;

const POLICY: &str = include_str!("../../policies/feedback.rego");
const DATA: &str = r#"{"operators": {"op-a1": "tenant-a"}, "schema_versions": ["1.0"]}"#;
const ENTRYPOINT: &str = "data.verdict.feedback.allow";

/// A record of the size the gateway writes (about 700 bytes as a line).
fn record(i: u64) -> NewRecord {
    NewRecord {
        timestamp: Timestamp::from_unix(1_795_000_000 + i as i64, 0),
        request_id: Some(format!("req-{i}")),
        policy: PolicyIdentity {
            kind: PolicyKind::Rego,
            digest: Digest::of(POLICY.as_bytes()),
            data_digest: Digest::of(DATA.as_bytes()),
            entrypoint: Some(ENTRYPOINT.into()),
            module: Some("feedback.rego".into()),
            host: "verdict-host 0.1.0".into(),
            engine: "wasmtime 48.0.8; regorus 0.14.1".into(),
        },
        claims: json!({ "caller": { "tenant_id": "tenant-a" }, "execution": { "operator_id": "op-a1" }, "n": i }),
        decision: Decision {
            allow: true,
            reasons: vec!["accepted".into()],
            trust_vector: None,
            annotations: vec![],
        },
    }
}

fn writer(c: &mut Criterion) {
    let mut group = c.benchmark_group("writer");
    let dir = tempfile::tempdir().unwrap();
    let mut log = DecisionLog::open(
        dir.path().join("bench.jsonl"),
        SigningKey::generate(SignatureAlgorithm::Ed25519),
    )
    .unwrap();
    group.bench_function("append_batch_64", |b| {
        b.iter_batched(
            || (0..64).map(record).collect::<Vec<_>>(),
            |batch| log.append_batch(batch).unwrap(),
            BatchSize::SmallInput,
        )
    });
    let line = read_log(dir.path().join("bench.jsonl")).unwrap()[0]
        .raw
        .clone();
    eprintln!("record line: {} bytes", line.len());
    let mut tree = MerkleTree::new();
    group.bench_function("leaf_hash_and_tree_append", |b| {
        b.iter(|| tree.push(TreeHash::leaf(black_box(line.as_bytes()))))
    });
    for alg in SignatureAlgorithm::ALL {
        let key = SigningKey::generate(alg);
        let checkpoint = Checkpoint {
            origin: Origin::for_key(key.verifying_key()),
            size: 1_000_000,
            root: TreeHash::leaf(b"root"),
        };
        group.bench_function(format!("checkpoint_sign_{alg}"), |b| {
            b.iter(|| SignedCheckpoint::sign(black_box(checkpoint.clone()), &key).unwrap())
        });
    }
    group.finish();
}

fn proofs(c: &mut Criterion) {
    let mut group = c.benchmark_group("proofs");
    let size = 1u64 << 20;
    let mut tree = MerkleTree::new();
    for i in 0..size {
        tree.push(TreeHash::leaf(&i.to_be_bytes()));
    }
    let root = tree.root();
    let mut index = 0u64;
    let mut next = move || {
        index = (index + 0x9e37_79b9) % size;
        index
    };
    group.bench_function("inclusion_prove", |b| {
        b.iter(|| tree.inclusion_proof(next(), size).unwrap())
    });
    let leaf_index = 123_457;
    let path = tree.inclusion_proof(leaf_index, size).unwrap();
    let leaf = TreeHash::leaf(&leaf_index.to_be_bytes());
    group.bench_function("inclusion_verify", |b| {
        b.iter(|| verify_inclusion(leaf, leaf_index, size, root, black_box(&path)).unwrap())
    });
    let old = 654_321;
    let old_root = tree.root_at(old).unwrap();
    group.bench_function("consistency_prove", |b| {
        b.iter(|| tree.consistency_proof(black_box(old), size).unwrap())
    });
    let proof = tree.consistency_proof(old, size).unwrap();
    group.bench_function("consistency_verify", |b| {
        b.iter(|| verify_consistency(old, old_root, size, root, black_box(&proof)).unwrap())
    });

    // A whole bundle from a real log: checkpoint signature, path, record.
    let dir = tempfile::tempdir().unwrap();
    let key = SigningKey::generate(SignatureAlgorithm::Ed25519);
    let verifying = key.verifying_key().clone();
    let mut log = DecisionLog::open(dir.path().join("log.jsonl"), key).unwrap();
    log.append_batch((0..1000).map(record).collect()).unwrap();
    let bundle = log.published().inclusion_proof(500).unwrap();
    let json = serde_json::to_string(&bundle).unwrap();
    eprintln!(
        "inclusion bundle: {} bytes, of which the record {} and the checkpoint {}",
        json.len(),
        bundle.record.len(),
        bundle.checkpoint.len()
    );
    group.bench_function("bundle_verify_ed25519", |b| {
        b.iter(|| {
            let parsed: InclusionBundle = serde_json::from_str(black_box(&json)).unwrap();
            parsed.verify(&verifying).unwrap()
        })
    });
    group.finish();
}

fn replay_vs_live(c: &mut Criterion) {
    let mut group = c.benchmark_group("replay_vs_live");
    group.sample_size(10);
    let runtime = PolicyRuntime::new(RuntimeConfig::default()).unwrap();
    let policy = runtime
        .load_rego(
            RegoModule {
                name: "feedback.rego".into(),
                source: POLICY.into(),
            },
            DataDocument::from_json(DATA).unwrap(),
            Some(ENTRYPOINT.into()),
        )
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.rego"), POLICY).unwrap();
    std::fs::write(dir.path().join("d.json"), DATA).unwrap();
    let claims = Claims::from_value(json!({
        "checks": {"signature": true, "replay": true},
        "caller": {"tenant_id": "tenant-a"},
        "execution": {"tenant_id": "tenant-a", "operator_id": "op-a1", "attestation_measurement_hash": "ab"},
        "feedback": {"tenant_id": "tenant-a", "schema_version": "1.0", "kid": "k", "data": {}}
    }))
    .unwrap();
    const DECISIONS: u64 = 256;
    let at = Timestamp::from_unix(1_795_000_000, 0);
    let decide_and_log = |log: &mut DecisionLog| {
        for i in 0..DECISIONS {
            let decision = policy.evaluate(&claims, at).decision;
            log.append(NewRecord {
                timestamp: at,
                request_id: Some(format!("req-{i}")),
                policy: policy.identity().clone(),
                claims: claims.value().clone(),
                decision,
            })
            .unwrap();
        }
    };
    let key = SigningKey::generate(SignatureAlgorithm::Ed25519);
    let mut live = DecisionLog::open(dir.path().join("live.jsonl"), key).unwrap();
    group.bench_function("live_256_evaluate_and_append", |b| {
        b.iter(|| decide_and_log(&mut live))
    });
    drop(live);
    // A log of exactly 256 decisions made the same way, replayed whole.
    let key = SigningKey::generate(SignatureAlgorithm::Ed25519);
    let verifying_replayed = key.verifying_key().clone();
    let replayed = dir.path().join("replayed.jsonl");
    decide_and_log(&mut DecisionLog::open(&replayed, key).unwrap());
    let entries = read_log(&replayed).unwrap();
    let policies = PolicyDirectory::scan(dir.path()).unwrap();
    group.bench_function("replay_256", |b| {
        b.iter(|| {
            let report = replay(&entries, &verifying_replayed, &policies, &runtime, |_| {});
            assert!(report.passed(), "{:?}", report.failures.first());
            assert_eq!(report.matched, DECISIONS as usize);
        })
    });
    group.finish();
}

fn config() -> Criterion {
    Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4))
}

criterion_group! {
    name = log;
    config = config();
    targets = writer, proofs, replay_vs_live
}
criterion_main!(log);
