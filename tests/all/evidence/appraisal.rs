//! `policies/attestation.rego` on claims from really verified evidence: the
//! Milan report, edited only after verification to probe each rule.

use serde_json::{Value, json};
use verdict_host::evidence::{self, EvidenceDocument, VerifyOptions};
use verdict_host::policy::{Decision, TrustVector};

use crate::common::{claims, now, rego, root};

const MILAN_NONCE: &str = "d447b55d197491bfe15cf298f9de9986b7a7c4be2468b4f6e2d53b71d7c645810b0f2cdfca0040433be063fc1a8293f0f3f8dae7b79fecb3d1cd82bd6a93ebfd";

fn milan_claims() -> Value {
    let path = root().join("tests/fixtures/sev-snp/milan-evidence.json");
    let document = EvidenceDocument::parse(&std::fs::read(path).unwrap()).unwrap();
    let options = VerifyOptions {
        expected_nonce: Some(MILAN_NONCE.parse().unwrap()),
        now: now(),
        memory: Default::default(),
    };
    evidence::verify(&document, &options)
        .unwrap()
        .to_value()
        .unwrap()
}

fn data() -> Value {
    let text = std::fs::read_to_string(root().join("examples/attestation/data.json")).unwrap();
    serde_json::from_str(&text).unwrap()
}

fn appraise(evidence: Value, data: Value) -> Decision {
    let source = std::fs::read_to_string(root().join("policies/attestation.rego")).unwrap();
    let policy = rego(&source, data, Some("data.verdict.attestation.decision"));
    policy
        .evaluate(&claims(json!({"evidence": evidence, "session": {}})), now())
        .decision
}

fn vector(decision: &Decision) -> TrustVector {
    decision.trust_vector.expect("a trust vector")
}

#[test]
fn the_verified_milan_report_is_affirmed_against_its_references() {
    let decision = appraise(milan_claims(), data());
    assert!(decision.allow, "{:?}", decision.reasons);
    assert_eq!(
        (
            vector(&decision).hardware,
            vector(&decision).instance_identity
        ),
        (2, 2)
    );
}

#[test]
fn without_references_hardware_is_affirmed_but_unreferenced() {
    let decision = appraise(milan_claims(), json!({}));
    assert!(decision.allow, "{:?}", decision.reasons);
    assert_eq!(vector(&decision).hardware, 3);
}

#[test]
fn each_rule_denies_with_its_reason_and_a_contraindicated_vector() {
    type Edit = fn(&mut Value);
    let cases: [(&str, Edit, &str); 4] = [
        (
            "measurement",
            |c| c["evidence"][0]["measurement"] = json!("00"),
            "is not a reference value",
        ),
        (
            "debug",
            |c| c["evidence"][0]["policy"]["debug"] = json!(true),
            "allows debugging",
        ),
        (
            "tcb",
            |c| c["evidence"][0]["reported_tcb"]["snp"] = json!(7),
            "reported TCB snp is 7, below 8",
        ),
        (
            "nonce",
            |c| c["nonce"] = Value::Null,
            "not bound to a challenge",
        ),
    ];
    for (name, edit, reason) in cases {
        let mut edited = milan_claims();
        edit(&mut edited);
        let decision = appraise(edited, data());
        assert!(!decision.allow, "{name}");
        assert!(
            decision.reasons.iter().any(|r| r.contains(reason)),
            "{name}: {:?}",
            decision.reasons
        );
        if name != "nonce" {
            assert_eq!(vector(&decision).hardware, 97, "{name}");
        }
    }
}

#[test]
fn drifted_memory_is_refused_and_contraindicates_executables() {
    let memory =
        json!({"type": "memory-report", "regions": [{"id": "weights", "status": "drift"}]});
    let evidence = json!({"schema": "verdict/evidence-claims/v1", "nonce": "00112233445566778899", "evidence": [memory]});
    let decision = appraise(evidence.clone(), data());
    assert!(!decision.allow);
    assert!(
        decision
            .reasons
            .iter()
            .any(|r| r.contains("weights drifted")),
        "{:?}",
        decision.reasons
    );
    assert_eq!(vector(&decision).executables, 96);
    let allowed = appraise(evidence, json!({"memory": {"allow_drift": true}}));
    assert!(allowed.allow, "{:?}", allowed.reasons);
}

#[test]
fn no_evidence_is_refused() {
    let decision = appraise(json!({"nonce": "00", "evidence": []}), data());
    assert!(!decision.allow);
    assert!(
        decision.reasons.iter().any(|r| r.contains("no evidence")),
        "{:?}",
        decision.reasons
    );
}
