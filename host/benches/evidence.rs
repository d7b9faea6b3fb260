//! Evidence verification rates and SHA3-256 snapshot hashing throughput
//! (BENCHMARKS.md, "Evidence"). `cargo bench -p verdict-host --bench evidence`.
//!
//! Under `cargo test` (no `--bench` argument) every group runs once on small
//! inputs, so the suite stays quick.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::{Read as _, Write as _};
use std::path::Path;

use criterion::{Criterion, SamplingMode, Throughput, criterion_group, criterion_main};
use serde_json::Value;
use verdict_host::crypto::{SignatureAlgorithm, SigningKey};
use verdict_host::evidence::memory::region::{FileRange, InMemory, Protection, RegionSource};
use verdict_host::evidence::memory::report::{self, DriftMode, MemoryAppraisal, ReportRequest};
use verdict_host::evidence::memory::snapshot::{digest_bytes, digest_source, sha3_256};
use verdict_host::evidence::{EvidenceDocument, EvidenceEntry, EvidenceNonce, sev_snp, tpm};
use verdict_host::timestamp::Timestamp;

const MIB: usize = 1 << 20;

fn benchmarking() -> bool {
    std::env::args().any(|arg| arg == "--bench")
}

fn fixture(rel: &str) -> EvidenceDocument {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/fixtures")
        .join(rel);
    EvidenceDocument::parse(&std::fs::read(path).expect("fixture")).expect("document")
}

fn verification(c: &mut Criterion) {
    let mut group = c.benchmark_group("verify");
    let nonce = hex::decode("000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f")
        .expect("hex");
    for ak in ["ecdsa-p256", "rsa-2048"] {
        let document = fixture(&format!("tpm/quote-{ak}.json"));
        let EvidenceEntry::Tpm(entry) = &document.evidence[0] else {
            panic!("a tpm entry")
        };
        group.bench_function(format!("tpm_quote_{ak}"), |b| {
            b.iter(|| tpm::verify(black_box(entry), Some(&nonce)).expect("valid"))
        });
    }
    let document = fixture("sev-snp/milan-evidence.json");
    let EvidenceEntry::SevSnp(entry) = &document.evidence[0] else {
        panic!("an sev-snp entry")
    };
    group.bench_function("sev_snp_milan", |b| {
        b.iter(|| sev_snp::verify(black_box(entry), None).expect("valid"))
    });
    let (report, nonce) = memory_report();
    let appraisal = MemoryAppraisal {
        mode: DriftMode::Lenient,
        ..MemoryAppraisal::default()
    };
    group.bench_function("memory_report_ml_dsa_65", |b| {
        b.iter(|| {
            report::verify(
                black_box(&report),
                Some(&nonce),
                Timestamp::now(),
                &appraisal,
            )
            .expect("valid")
        })
    });
    group.finish();
}

fn memory_report() -> (Value, EvidenceNonce) {
    let region = InMemory::new(
        "weights".parse().expect("id"),
        "bench",
        vec![7; 4096],
        Protection::READ_ONLY,
    );
    let sources: [&dyn RegionSource; 1] = [&region];
    let nonce = EvidenceNonce::random();
    let made = report::create(
        &ReportRequest {
            sources: &sources,
            workload_id: "bench",
            platform: "linux-x86_64",
            nonce: &nonce,
            expected: BTreeMap::new(),
            ttl: report::DEFAULT_TTL,
            now: Timestamp::now(),
            threads: 1,
        },
        &SigningKey::generate(SignatureAlgorithm::MlDsa65),
    )
    .expect("report");
    (serde_json::to_value(made).expect("json"), nonce)
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect()
}

fn hashing(c: &mut Criterion) {
    let size = if benchmarking() { 256 * MIB } else { 4 * MIB };
    let bytes = pattern(size);
    let mut group = c.benchmark_group("sha3_memory");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    group.throughput(Throughput::Bytes(size as u64));
    group.bench_function("plain_1core", |b| b.iter(|| sha3_256(black_box(&bytes))));
    group.bench_function("snapshot_1thread", |b| {
        b.iter(|| digest_bytes(black_box(&bytes), 1))
    });
    group.bench_function("snapshot_all_threads", |b| {
        b.iter(|| digest_bytes(black_box(&bytes), 0))
    });
    group.finish();

    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("weights.bin");
    let mut file = std::fs::File::create(&path).expect("create");
    let copies = if benchmarking() { 4 } else { 1 };
    for _ in 0..copies {
        file.write_all(&bytes).expect("write");
    }
    drop(file);
    warm(&path);
    let range =
        FileRange::open(&path, 0, None, "weights".parse().expect("id"), "bench").expect("range");
    let mut group = c.benchmark_group("sha3_file");
    group.sampling_mode(SamplingMode::Flat).sample_size(10);
    group.throughput(Throughput::Bytes(range.len()));
    group.bench_function("file_backend_1thread", |b| {
        b.iter(|| digest_source(black_box(&range), 1).expect("hash"))
    });
    group.bench_function("file_backend_all_threads", |b| {
        b.iter(|| digest_source(black_box(&range), 0).expect("hash"))
    });
    group.finish();
}

/// Reads the file once so it is in the page cache: the benchmark measures
/// hashing, not the disk.
fn warm(path: &Path) {
    let mut file = std::fs::File::open(path).expect("open");
    let mut sink = vec![0u8; 8 * MIB];
    while file.read(&mut sink).expect("read") > 0 {}
}

criterion_group!(benches, verification, hashing);
criterion_main!(benches);
