//! `policies/attestation.rego` on claims from really verified evidence: the
//! Milan report, edited only after verification to probe each rule.

use serde_json::{Value, json};
use verdict_host::ear::EarStatus;
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
fn without_measurements_genuine_hardware_is_affirmed_but_unreferenced() {
    let decision = appraise(milan_claims(), json!({"required": ["sev-snp"]}));
    assert!(decision.allow, "{:?}", decision.reasons);
    assert_eq!(vector(&decision).hardware, 3);
    assert_eq!(EarStatus::of_decision(&decision), EarStatus::Affirming);
}

#[test]
fn each_rule_denies_with_its_reason_and_a_contraindicated_vector() {
    type Edit = fn(&mut Value);
    let cases: [(&str, Edit, &str); 5] = [
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
            "vmpl",
            |c| c["evidence"][0]["vmpl"] = json!(2),
            "from VMPL 2, not one of the allowed [0]",
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
        assert_eq!(
            EarStatus::of_decision(&decision),
            EarStatus::Contraindicated
        );
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
fn a_debug_guest_is_refused_even_without_reference_values() {
    let mut debug = milan_claims();
    debug["evidence"][0]["policy"]["debug"] = json!(true);
    let decision = appraise(debug.clone(), json!({"required": ["sev-snp"]}));
    assert!(!decision.allow);
    assert_eq!(vector(&decision).hardware, 97);
    let allowed = appraise(
        debug,
        json!({"required": ["sev-snp"], "sev_snp": {"allow_debug": true}}),
    );
    assert!(allowed.allow, "{:?}", allowed.reasons);
}

/// Data that requires nothing affirms nothing: the old hole where the SNP
/// reference values were bypassed by sending no SNP report.
#[test]
fn data_that_requires_nothing_denies_everything() {
    for data in [json!({}), json!({"required": []})] {
        let decision = appraise(milan_claims(), data);
        assert!(!decision.allow);
        assert!(
            decision
                .reasons
                .iter()
                .any(|r| r.contains("requires no evidence type")),
            "{:?}",
            decision.reasons
        );
    }
}

#[test]
fn a_missing_required_type_is_refused_and_contraindicated() {
    let memory = trusted_memory("match");
    let decision = appraise(evidence(vec![memory.clone()]), data());
    assert!(!decision.allow);
    assert!(
        decision
            .reasons
            .iter()
            .any(|r| r == "required evidence type sev-snp was not presented"),
        "{:?}",
        decision.reasons
    );
    assert_eq!(vector(&decision).hardware, 97);

    let snp_only = appraise(
        milan_claims(),
        json!({"required": ["sev-snp", "memory-report"]}),
    );
    assert!(!snp_only.allow);
    assert_eq!(vector(&snp_only).executables, 96);
}

#[test]
fn an_unknown_tpm_ak_is_refused_and_a_listed_one_affirmed() {
    let tpm = json!({
        "type": "tpm",
        "ak_fingerprint": "sha256:aa",
        "pcrs": {"sha256": {"0": "00"}},
        "clock": {"clock": 1000, "reset_count": 1, "restart_count": 0, "safe": true},
    });
    let required = json!({"required": ["tpm"]});
    let decision = appraise(evidence(vec![tpm.clone()]), required);
    assert!(!decision.allow);
    assert!(
        decision
            .reasons
            .iter()
            .any(|r| r == "TPM AK sha256:aa is not trusted (data.tpm.trusted_aks)"),
        "{:?}",
        decision.reasons
    );
    assert_eq!(
        (
            vector(&decision).instance_identity,
            vector(&decision).hardware
        ),
        (97, 97)
    );
    let trusted = json!({"required": ["tpm"], "tpm": {"trusted_aks": ["sha256:aa"]}});
    let decision = appraise(evidence(vec![tpm.clone()]), trusted.clone());
    assert!(decision.allow, "{:?}", decision.reasons);
    assert_eq!(
        vector(&decision).hardware,
        3,
        "no PCR references: unreferenced"
    );

    let mut unsafe_clock = tpm.clone();
    unsafe_clock["clock"]["safe"] = json!(false);
    let decision = appraise(evidence(vec![unsafe_clock]), trusted.clone());
    assert!(!decision.allow);
    assert!(
        decision
            .reasons
            .iter()
            .any(|r| r == "TPM clock of AK sha256:aa is not safe (it may have gone backwards)"),
        "{:?}",
        decision.reasons
    );
    assert_eq!(vector(&decision).hardware, 97);

    let mut referenced = trusted;
    referenced["tpm"]["pcrs"] = json!({"sha256": {"0": "11"}});
    let decision = appraise(evidence(vec![tpm]), referenced);
    assert!(!decision.allow);
    assert!(
        decision
            .reasons
            .iter()
            .any(|r| r == "PCR sha256:0 is 00, expected 11"),
        "{:?}",
        decision.reasons
    );
}

#[test]
fn memory_reports_must_come_from_a_trusted_attester_and_match_every_pin() {
    let required = json!({"required": ["memory-report"]});
    let decision = appraise(evidence(vec![trusted_memory("match")]), required.clone());
    assert!(decision.allow, "{:?}", decision.reasons);
    assert_eq!(vector(&decision).executables, 2);
    assert_eq!(EarStatus::of_decision(&decision), EarStatus::Affirming);

    type Edit = fn(&mut Value);
    let cases: [(&str, Edit, &str, i8); 4] = [
        (
            "self-signed",
            |m| m["signer"]["pinned"] = json!(false),
            "memory report r-1 is signed by key k-1, which is not a trusted attester",
            97,
        ),
        (
            "drift",
            |m| m["regions"][0]["status"] = json!("drift"),
            "memory region weights drifted from its pinned digest",
            2,
        ),
        (
            "unpinned",
            |m| m["regions"][0]["status"] = json!("unpinned"),
            "memory region weights has no pinned digest",
            2,
        ),
        (
            "missing pinned region",
            |m| m["missing_regions"] = json!(["tokenizer"]),
            "pinned memory region tokenizer is missing from report r-1",
            2,
        ),
    ];
    for (name, edit, reason, instance_identity) in cases {
        let mut memory = trusted_memory("match");
        edit(&mut memory);
        let decision = appraise(evidence(vec![memory]), required.clone());
        assert!(!decision.allow, "{name}");
        assert!(
            decision.reasons.iter().any(|r| r == reason),
            "{name}: {:?}",
            decision.reasons
        );
        assert_eq!(vector(&decision).executables, 96, "{name}");
        assert_eq!(
            vector(&decision).instance_identity,
            instance_identity,
            "{name}"
        );
    }

    let allowed = appraise(
        evidence(vec![trusted_memory("drift")]),
        json!({"required": ["memory-report"], "memory": {"allow_drift": true}}),
    );
    assert!(allowed.allow, "{:?}", allowed.reasons);
    assert_eq!(
        vector(&allowed).executables,
        32,
        "allowed drift is a warning"
    );
    assert_eq!(EarStatus::of_decision(&allowed), EarStatus::Warning);
}

#[test]
fn an_evidence_type_the_policy_does_not_know_is_refused() {
    let decision = appraise(
        evidence(vec![trusted_memory("match"), json!({"type": "sgx"})]),
        json!({"required": ["memory-report"]}),
    );
    assert!(!decision.allow);
    assert!(
        decision
            .reasons
            .iter()
            .any(|r| r == "evidence type sgx is not appraised by this policy"),
        "{:?}",
        decision.reasons
    );
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

/// Claims of one verified memory report from a trusted attester, with one
/// region in `status`.
fn trusted_memory(status: &str) -> Value {
    json!({
        "type": "memory-report",
        "report_id": "r-1",
        "signer": {"alg": "ML-DSA-65", "kid": "k-1", "pinned": true},
        "regions": [{"id": "weights", "status": status}],
        "drift": status == "drift",
        "missing_regions": [],
    })
}

fn evidence(entries: Vec<Value>) -> Value {
    json!({"schema": "verdict/evidence-claims/v1", "nonce": "00112233445566778899", "evidence": entries})
}
