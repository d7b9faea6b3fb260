//! `verdict attest memory` and `verdict verify` end to end: real files, a
//! real ML-DSA-65 key, and every way the document may be refused.

use std::fs;
use std::path::Path;

use serde_json::Value;
use tempfile::TempDir;

use crate::cli::{code, stderr, stdout, verdict};

const NONCE: &str = "00112233445566778899aabbccddeeff";

struct Attester {
    dir: TempDir,
}

impl Attester {
    fn new() -> Self {
        let dir = TempDir::new().unwrap();
        let out = dir.path().to_str().unwrap();
        for name in ["attester", "stranger"] {
            let made = verdict(&["keygen", "--out", out, "--alg", "ml-dsa-65", "--name", name]);
            assert_eq!(code(&made), 0, "{}", stderr(&made));
        }
        let weights: Vec<u8> = (0..5_000_000u32).map(|i| (i * 7 % 256) as u8).collect();
        fs::write(dir.path().join("weights.bin"), weights).unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn attest(&self, extra: &[&str]) -> String {
        let out = self.path("evidence.json");
        let key = self.path("attester.key");
        let file = self.path("weights.bin");
        let mut args = vec![
            "attest",
            "memory",
            "--file",
            &file,
            "--region-id",
            "weights",
            "--workload",
            "llm-7",
            "--key",
            &key,
            "--nonce",
            NONCE,
            "--out",
            &out,
        ];
        args.extend_from_slice(extra);
        let made = verdict(&args);
        assert_eq!(code(&made), 0, "{}", stderr(&made));
        out
    }

    fn verify(&self, document: &str, extra: &[&str]) -> std::process::Output {
        let mut args = vec!["verify", document];
        args.extend_from_slice(extra);
        verdict(&args)
    }
}

fn claims(out: &std::process::Output) -> Value {
    serde_json::from_str(&stdout(out)).expect("claims JSON on stdout")
}

#[test]
fn an_attested_file_range_verifies_with_its_nonce_and_key() {
    let a = Attester::new();
    let document = a.attest(&["--offset", "1000", "--length", "3000000"]);
    let trusted = a.path("attester.pub");
    let out = a.verify(
        &document,
        &["--nonce", NONCE, "--memory-key", &trusted, "--lenient"],
    );
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert!(!stderr(&out).contains("warning"), "{}", stderr(&out));
    let claims = claims(&out);
    assert_eq!(claims["schema"], "verdict/evidence-claims/v1");
    assert_eq!(claims["nonce"], NONCE);
    let entry = &claims["evidence"][0];
    assert_eq!(entry["type"], "memory-report");
    assert_eq!(entry["signer"]["pinned"], true);
    assert_eq!(entry["regions"][0]["address"], "0x3e8");
    assert_eq!(entry["regions"][0]["size"], 3_000_000);
    assert_eq!(entry["regions"][0]["status"], "unpinned");
}

#[test]
fn wrong_nonce_wrong_key_and_drift_exit_1_with_the_reason() {
    let a = Attester::new();
    let document = a.attest(&[]);
    let stranger = a.path("stranger.pub");
    let wrong_nonce = a.verify(&document, &["--nonce", "ffeeddccbbaa99887766554433221100"]);
    assert_eq!(code(&wrong_nonce), 1);
    assert!(
        stderr(&wrong_nonce).contains("nonce"),
        "{}",
        stderr(&wrong_nonce)
    );

    let wrong_key = a.verify(&document, &["--memory-key", &stranger]);
    assert_eq!(code(&wrong_key), 1);
    assert!(
        stderr(&wrong_key).contains("not one of the trusted"),
        "{}",
        stderr(&wrong_key)
    );

    let pins = a.path("pins.json");
    fs::write(&pins, format!(r#"{{"weights": "{}"}}"#, "ab".repeat(32))).unwrap();
    let strict = a.verify(&document, &["--pins", &pins]);
    assert_eq!(code(&strict), 1, "strict is the default");
    assert!(stderr(&strict).contains("drifted"), "{}", stderr(&strict));
    let lenient = a.verify(&document, &["--pins", &pins, "--lenient"]);
    assert_eq!(code(&lenient), 0, "{}", stderr(&lenient));
    assert_eq!(claims(&lenient)["evidence"][0]["drift"], true);
}

#[test]
fn strict_mode_is_the_default_and_the_report_key_fallback_is_named() {
    let a = Attester::new();
    let document = a.attest(&[]);
    let unpinned = a.verify(&document, &[]);
    assert_eq!(code(&unpinned), 1, "{}", stderr(&unpinned));
    assert!(
        stderr(&unpinned).contains("no pinned digest") && stderr(&unpinned).contains("--lenient"),
        "{}",
        stderr(&unpinned)
    );

    // A pin naming a region the report lacks: refused in strict mode,
    // listed in the claims in lenient mode.
    let pins = a.path("pins.json");
    let digest =
        serde_json::from_str::<Value>(&fs::read_to_string(&document).unwrap()).unwrap()["evidence"]
            [0]["report"]["regions"][0]["sha3_256"]
            .clone();
    fs::write(
        &pins,
        serde_json::json!({"weights": digest, "tokenizer": "cd".repeat(32)}).to_string(),
    )
    .unwrap();
    let missing = a.verify(&document, &["--pins", &pins]);
    assert_eq!(code(&missing), 1);
    assert!(
        stderr(&missing).contains("`tokenizer` is missing"),
        "{}",
        stderr(&missing)
    );
    let lenient = a.verify(&document, &["--pins", &pins, "--lenient"]);
    assert_eq!(code(&lenient), 0, "{}", stderr(&lenient));
    let entry = &claims(&lenient)["evidence"][0];
    assert_eq!(entry["missing_regions"], serde_json::json!(["tokenizer"]));
    assert_eq!(entry["signer"]["pinned"], false);
    assert!(
        stderr(&lenient)
            .contains("warning: evidence[0] (memory-report) was verified with the key it carries"),
        "{}",
        stderr(&lenient)
    );
}

#[test]
fn pinning_the_measured_digest_passes_strict_mode() {
    let a = Attester::new();
    let document = a.attest(&[]);
    let text = fs::read_to_string(&document).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    let digest = value["evidence"][0]["report"]["regions"][0]["sha3_256"].clone();
    let pins = a.path("pins.json");
    fs::write(&pins, serde_json::json!({"weights": digest}).to_string()).unwrap();
    let out = a.verify(&document, &["--pins", &pins, "--nonce", NONCE]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    assert_eq!(claims(&out)["evidence"][0]["regions"][0]["status"], "match");
}

#[test]
fn an_expired_report_exits_1() {
    let a = Attester::new();
    let document = a.attest(&["--ttl", "60"]);
    let later = "2100-01-01T00:00:00Z";
    let out = a.verify(&document, &["--at", later]);
    assert_eq!(code(&out), 1);
    assert!(stderr(&out).contains("expired"), "{}", stderr(&out));
}

#[test]
fn continuous_mode_writes_a_fresh_report_each_interval() {
    let a = Attester::new();
    let document = a.attest(&["--interval", "1", "--count", "2"]);
    let out = a.verify(&document, &["--nonce", NONCE, "--lenient"]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    fs::write(&path, text).unwrap();
    path.display().to_string()
}

#[test]
fn malformed_documents_exit_2_naming_the_fault() {
    let a = Attester::new();
    let good: Value = serde_json::from_str(&fs::read_to_string(a.attest(&[])).unwrap()).unwrap();
    let report = good["evidence"][0]["report"].to_string();
    let cases = [
        ("truncated", r#"{"evidence": [{"type": "tpm""#.to_string(), "invalid JSON"),
        ("not-object", "[1, 2]".to_string(), "JSON object"),
        ("no-entries", r#"{"evidence": []}"#.to_string(), "1 to 16 entries"),
        ("unknown-type", r#"{"evidence": [{"type": "sgx"}]}"#.to_string(), "unknown evidence type"),
        ("bad-nonce", r#"{"nonce": "xyz", "evidence": [{"type": "tpm"}]}"#.to_string(), "nonce"),
        ("extra-member", r#"{"evidence": [], "x": 1}"#.to_string(), "unknown member"),
        ("tpm-missing", r#"{"evidence": [{"type": "tpm", "quote": "AA=="}]}"#.to_string(), "evidence[0]"),
        ("tpm-wrong-type", r#"{"evidence": [{"type": "tpm", "ak_public": 1, "quote": "", "signature": "", "pcrs": {}}]}"#.to_string(), "evidence[0]"),
        ("snp-extra", r#"{"evidence": [{"type": "sev-snp", "report": "", "colour": 1}]}"#.to_string(), "unknown field"),
        ("memory-not-object", r#"{"evidence": [{"type": "memory-report", "report": 3}]}"#.to_string(), "must be an object"),
        ("memory-extra", format!(r#"{{"evidence": [{{"type": "memory-report", "report": {report}, "x": 1}}]}}"#), "unknown member"),
    ];
    let mut with_extra: Value = serde_json::from_str(&report).unwrap();
    with_extra["colour"] = "blue".into();
    let more = [
        (
            "report-extra",
            format!(r#"{{"evidence": [{{"type": "memory-report", "report": {with_extra}}}]}}"#),
            "unknown field",
        ),
        (
            "duplicate",
            format!(r#"{{"nonce": "{NONCE}", "nonce": "{NONCE}", "evidence": []}}"#),
            "duplicate",
        ),
    ];
    for (name, text, expected) in cases.into_iter().chain(more) {
        let path = write(a.dir.path(), &format!("{name}.json"), &text);
        let out = a.verify(&path, &[]);
        assert_eq!(code(&out), 2, "{name}: {}", stderr(&out));
        assert!(stderr(&out).contains(expected), "{name}: {}", stderr(&out));
    }
    let huge = a.dir.path().join("huge.json");
    fs::write(&huge, vec![b' '; 2 << 20]).unwrap();
    let out = a.verify(huge.to_str().unwrap(), &[]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("more than"), "{}", stderr(&out));
}

#[test]
fn the_real_milan_report_verifies_through_the_cli() {
    let fixture = crate::common::root().join("tests/fixtures/sev-snp/milan-evidence.json");
    let out = verdict(&["verify", fixture.to_str().unwrap()]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let claims = claims(&out);
    assert_eq!(claims["evidence"][0]["type"], "sev-snp");
    assert_eq!(claims["evidence"][0]["product"], "milan");
    let wrong = verdict(&["verify", fixture.to_str().unwrap(), "--nonce", NONCE]);
    assert_eq!(code(&wrong), 1, "{}", stderr(&wrong));
}

#[test]
fn a_live_process_region_is_attested_and_verifies() {
    let a = Attester::new();
    let mut child = std::process::Command::new("sleep")
        .arg("30")
        .spawn()
        .unwrap();
    let pid = child.id().to_string();
    // The first readable mapping of sleep's own binary (wait for execve).
    let mapping = (0..200)
        .find_map(|_| {
            let maps = fs::read_to_string(format!("/proc/{pid}/maps")).unwrap_or_default();
            let line = maps
                .lines()
                .find(|l| {
                    l.ends_with("/sleep")
                        && l.split_whitespace()
                            .nth(1)
                            .is_some_and(|p| p.starts_with('r'))
                })
                .map(str::to_string);
            if line.is_none() {
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            line
        })
        .expect("sleep's binary is mapped");
    let start = mapping.split('-').next().unwrap();
    let address = format!("0x{start}");
    let out = a.path("process.json");
    let key = a.path("attester.key");
    let made = verdict(&[
        "attest",
        "memory",
        "--pid",
        &pid,
        "--address",
        &address,
        "--region-id",
        "sleep-text",
        "--workload",
        "sleep",
        "--key",
        &key,
        "--nonce",
        NONCE,
        "--out",
        &out,
    ]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(code(&made), 0, "{}", stderr(&made));
    let checked = a.verify(&out, &["--nonce", NONCE, "--lenient"]);
    assert_eq!(code(&checked), 0, "{}", stderr(&checked));
    let region = &claims(&checked)["evidence"][0]["regions"][0];
    let expected = format!("{:#x}", u64::from_str_radix(start, 16).unwrap());
    assert_eq!(region["address"], expected.as_str());
    assert_eq!(
        region["protection"].as_str().unwrap().chars().next(),
        Some('r')
    );

    let gone = verdict(&[
        "attest",
        "memory",
        "--pid",
        "4000000000",
        "--address",
        "0x1000",
        "--region-id",
        "x",
        "--workload",
        "w",
        "--key",
        &key,
        "--nonce",
        NONCE,
        "--out",
        &out,
    ]);
    assert_eq!(code(&gone), 2);
    assert!(stderr(&gone).contains("4000000000"), "{}", stderr(&gone));
}
