//! The twin policies: each built-in Rust policy and its Rego twin decide alike.
//!
//! Both twins run over one table of inputs. For every row they must agree on
//! `allow` and on the reasons (compared as sorted lists: Rego's `deny` is a
//! set), and both must give the allow and the reasons written in the table, so
//! twins that are wrong the same way still fail. Claims schemas: docs/claims.md.

use serde_json::{Value, json};
use verdict_host::policy::{Evaluation, Policy};

use crate::common::{claims, component, now, rego_file, root};

/// The data document both twins of each policy are loaded with.
fn data() -> Value {
    json!({
        "operators": {"op-a1": "tenant-a", "op-a2": "tenant-a", "op-b1": "tenant-b"},
        "schema_versions": ["1.0"]
    })
}

const SIGNATURE: &str = "signature check did not pass";
const REPLAY: &str = "replay check did not pass";
const CALLER: &str = "feedback tenant does not match the caller's tenant";
const NO_EXECUTION: &str = "no execution is recorded for execution_hash";
const EXECUTION_TENANT: &str = "execution belongs to another tenant";
const MEASUREMENT: &str =
    "attestation_measurement_hash differs from the one recorded for the execution";
const CONFIDENCE: &str = "confidence is not a number in [0, 1]";
const TTL: &str = "ttl_seconds is not in [60, 86400]";
const SCHEMA: &str = "schema version is not known";
const OP_A1_FEEDBACK: &str = "operator op-a1 is not mapped to the feedback's tenant";
const OP_B1_FEEDBACK: &str = "operator op-b1 is not mapped to the feedback's tenant";
const OP_ZZ_FEEDBACK: &str = "operator op-zz is not mapped to the feedback's tenant";

const NO_TENANT: &str = "record lacks a tenant";
const NO_BINDING: &str = "record lacks a session binding";
const BOUND: &str = "session binding is already bound to another tenant";
const OP_A1_RECORD: &str = "operator op-a1 is not mapped to the record's tenant";
const OP_B1_RECORD: &str = "operator op-b1 is not mapped to the record's tenant";
const OP_NONE_RECORD: &str = "operator  is not mapped to the record's tenant";

const MEASURED: &str = "sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
const BINDING: &str = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

/// One row: a name, the claims, and what both twins must decide.
struct Row {
    name: &'static str,
    claims: Value,
    allow: bool,
    reasons: &'static [&'static str],
}

/// An edit to a valid input: set the member at a JSON pointer, or remove it.
enum Edit {
    Set(&'static str, Value),
    Remove(&'static str),
}
use Edit::{Remove, Set};

fn edited(mut value: Value, edits: Vec<Edit>) -> Value {
    for edit in edits {
        let (pointer, new) = match edit {
            Set(p, v) => (p, Some(v)),
            Remove(p) => (p, None),
        };
        let (parent, member) = pointer.rsplit_once('/').expect("a JSON pointer");
        let object = value
            .pointer_mut(parent)
            .and_then(Value::as_object_mut)
            .unwrap_or_else(|| panic!("{parent} is not an object"));
        match new {
            Some(v) => object.insert(member.to_string(), v),
            None => object.remove(member),
        };
    }
    value
}

fn valid_feedback() -> Value {
    json!({
        "checks": {"signature": true, "replay": true},
        "caller": {"tenant_id": "tenant-a"},
        "feedback": {
            "tenant_id": "tenant-a",
            "execution_hash": "sha256:5b0c3b2b9a6d2a4e1f1a4c8e0d6f7a9b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f",
            "schema_version": "1.0",
            "data": {
                "confidence": 0.9,
                "ttl_seconds": 3600,
                "attestation_measurement_hash": MEASURED
            }
        },
        "execution": {
            "tenant_id": "tenant-a",
            "operator_id": "op-a1",
            "attestation_measurement_hash": MEASURED
        }
    })
}

fn feedback_row(
    name: &'static str,
    edits: Vec<Edit>,
    allow: bool,
    reasons: &'static [&'static str],
) -> Row {
    Row {
        name,
        claims: edited(valid_feedback(), edits),
        allow,
        reasons,
    }
}

fn feedback_rows() -> Vec<Row> {
    vec![
        feedback_row("valid", vec![], true, &[]),
        feedback_row(
            "signature false",
            vec![Set("/checks/signature", json!(false))],
            false,
            &[SIGNATURE],
        ),
        feedback_row(
            "signature missing",
            vec![Remove("/checks/signature")],
            false,
            &[SIGNATURE],
        ),
        feedback_row(
            "signature \"true\" (a string)",
            vec![Set("/checks/signature", json!("true"))],
            false,
            &[SIGNATURE],
        ),
        feedback_row(
            "replay false",
            vec![Set("/checks/replay", json!(false))],
            false,
            &[REPLAY],
        ),
        feedback_row(
            "tenant is not the caller's",
            vec![Set("/caller/tenant_id", json!("tenant-b"))],
            false,
            &[CALLER],
        ),
        feedback_row("caller missing", vec![Remove("/caller")], false, &[CALLER]),
        // Without a feedback tenant, the execution and its operator cannot
        // belong to it either.
        feedback_row(
            "feedback tenant missing",
            vec![Remove("/feedback/tenant_id")],
            false,
            &[CALLER, EXECUTION_TENANT, OP_A1_FEEDBACK],
        ),
        feedback_row(
            "execution null",
            vec![Set("/execution", Value::Null)],
            false,
            &[NO_EXECUTION],
        ),
        feedback_row(
            "execution absent",
            vec![Remove("/execution")],
            false,
            &[NO_EXECUTION],
        ),
        feedback_row(
            "execution of another tenant",
            vec![Set("/execution/tenant_id", json!("tenant-b"))],
            false,
            &[EXECUTION_TENANT],
        ),
        feedback_row(
            "operator not mapped",
            vec![Set("/execution/operator_id", json!("op-zz"))],
            false,
            &[OP_ZZ_FEEDBACK],
        ),
        feedback_row(
            "operator mapped to another tenant",
            vec![Set("/execution/operator_id", json!("op-b1"))],
            false,
            &[OP_B1_FEEDBACK],
        ),
        feedback_row(
            "another operator of the same tenant",
            vec![Set("/execution/operator_id", json!("op-a2"))],
            true,
            &[],
        ),
        feedback_row(
            "measurement hash differs",
            vec![Set(
                "/feedback/data/attestation_measurement_hash",
                json!("sha256:0000000000000000000000000000000000000000000000000000000000000000"),
            )],
            false,
            &[MEASUREMENT],
        ),
        feedback_row(
            "measurement hash missing",
            vec![Remove("/feedback/data/attestation_measurement_hash")],
            false,
            &[MEASUREMENT],
        ),
        feedback_row(
            "confidence -0.1",
            vec![Set("/feedback/data/confidence", json!(-0.1))],
            false,
            &[CONFIDENCE],
        ),
        feedback_row(
            "confidence 1.5",
            vec![Set("/feedback/data/confidence", json!(1.5))],
            false,
            &[CONFIDENCE],
        ),
        feedback_row(
            "confidence \"0.5\" (a string)",
            vec![Set("/feedback/data/confidence", json!("0.5"))],
            false,
            &[CONFIDENCE],
        ),
        feedback_row(
            "confidence 0 (bound)",
            vec![Set("/feedback/data/confidence", json!(0))],
            true,
            &[],
        ),
        feedback_row(
            "confidence 1 (bound)",
            vec![Set("/feedback/data/confidence", json!(1))],
            true,
            &[],
        ),
        feedback_row(
            "ttl 59",
            vec![Set("/feedback/data/ttl_seconds", json!(59))],
            false,
            &[TTL],
        ),
        feedback_row(
            "ttl 86401",
            vec![Set("/feedback/data/ttl_seconds", json!(86401))],
            false,
            &[TTL],
        ),
        feedback_row(
            "ttl 60 (bound)",
            vec![Set("/feedback/data/ttl_seconds", json!(60))],
            true,
            &[],
        ),
        feedback_row(
            "ttl 86400 (bound)",
            vec![Set("/feedback/data/ttl_seconds", json!(86400))],
            true,
            &[],
        ),
        feedback_row(
            "ttl missing",
            vec![Remove("/feedback/data/ttl_seconds")],
            false,
            &[TTL],
        ),
        feedback_row(
            "schema version 2.0",
            vec![Set("/feedback/schema_version", json!("2.0"))],
            false,
            &[SCHEMA],
        ),
        feedback_row(
            "schema version missing",
            vec![Remove("/feedback/schema_version")],
            false,
            &[SCHEMA],
        ),
        feedback_row(
            "several violations",
            vec![
                Set("/checks/signature", json!(false)),
                Remove("/checks/replay"),
                Set("/execution/operator_id", json!("op-b1")),
                Set("/feedback/data/confidence", json!(2)),
                Set("/feedback/data/ttl_seconds", json!(10)),
                Set("/feedback/schema_version", json!("2.0")),
            ],
            false,
            &[SIGNATURE, REPLAY, OP_B1_FEEDBACK, CONFIDENCE, TTL, SCHEMA],
        ),
        Row {
            name: "empty claims",
            claims: json!({}),
            allow: false,
            reasons: &[
                SIGNATURE,
                REPLAY,
                CALLER,
                NO_EXECUTION,
                CONFIDENCE,
                TTL,
                SCHEMA,
            ],
        },
    ]
}

fn valid_record() -> Value {
    json!({
        "record": {
            "tenant_id": "tenant-a",
            "session_binding_hash": BINDING,
            "operator_id": "op-a1"
        },
        "bindings": {
            "sha256:fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9": "tenant-b"
        }
    })
}

fn isolation_row(
    name: &'static str,
    edits: Vec<Edit>,
    allow: bool,
    reasons: &'static [&'static str],
) -> Row {
    Row {
        name,
        claims: edited(valid_record(), edits),
        allow,
        reasons,
    }
}

fn isolation_rows() -> Vec<Row> {
    vec![
        isolation_row("valid", vec![], true, &[]),
        isolation_row(
            "valid, no bindings member",
            vec![Remove("/bindings")],
            true,
            &[],
        ),
        // Without a tenant the operator cannot be mapped to it.
        isolation_row(
            "tenant missing",
            vec![Remove("/record/tenant_id")],
            false,
            &[NO_TENANT, OP_A1_RECORD],
        ),
        isolation_row(
            "tenant empty",
            vec![Set("/record/tenant_id", json!(""))],
            false,
            &[NO_TENANT, OP_A1_RECORD],
        ),
        isolation_row(
            "tenant not a string",
            vec![Set("/record/tenant_id", json!(7))],
            false,
            &[NO_TENANT, OP_A1_RECORD],
        ),
        isolation_row(
            "binding missing",
            vec![Remove("/record/session_binding_hash")],
            false,
            &[NO_BINDING],
        ),
        isolation_row(
            "binding empty",
            vec![Set("/record/session_binding_hash", json!(""))],
            false,
            &[NO_BINDING],
        ),
        isolation_row(
            "binding bound to another tenant",
            vec![Set("/bindings", json!({ BINDING: "tenant-b" }))],
            false,
            &[BOUND],
        ),
        isolation_row(
            "binding bound to the same tenant",
            vec![Set("/bindings", json!({ BINDING: "tenant-a" }))],
            true,
            &[],
        ),
        isolation_row(
            "operator mapped to another tenant",
            vec![Set("/record/operator_id", json!("op-b1"))],
            false,
            &[OP_B1_RECORD],
        ),
        isolation_row(
            "operator missing",
            vec![Remove("/record/operator_id")],
            false,
            &[OP_NONE_RECORD],
        ),
        isolation_row(
            "another operator of the same tenant",
            vec![Set("/record/operator_id", json!("op-a2"))],
            true,
            &[],
        ),
        // A binding held by another tenant is not reported when the record
        // has no tenant: that is already a deny of its own.
        isolation_row(
            "several violations",
            vec![
                Set("/record/tenant_id", json!("")),
                Set("/bindings", json!({ BINDING: "tenant-b" })),
                Set("/record/operator_id", json!("op-b1")),
            ],
            false,
            &[NO_TENANT, OP_B1_RECORD],
        ),
        isolation_row(
            "bound elsewhere and operator of another tenant",
            vec![
                Set("/bindings", json!({ BINDING: "tenant-b" })),
                Set("/record/operator_id", json!("op-b1")),
            ],
            false,
            &[BOUND, OP_B1_RECORD],
        ),
        Row {
            name: "empty claims",
            claims: json!({}),
            allow: false,
            reasons: &[NO_TENANT, NO_BINDING, OP_NONE_RECORD],
        },
    ]
}

fn sorted(reasons: &[String]) -> Vec<String> {
    let mut reasons = reasons.to_vec();
    reasons.sort();
    reasons
}

fn show(eval: &Evaluation) -> String {
    format!(
        "allow={} reasons={:?}{}",
        eval.decision.allow,
        eval.decision.reasons,
        eval.failure
            .as_ref()
            .map(|f| format!(" failure={f}"))
            .unwrap_or_default()
    )
}

/// Runs both twins over `rows`; fails listing every row that went wrong.
fn run_twins(policy: &str, rust: &Policy, rego: &Policy, rows: Vec<Row>) {
    let mut failures = Vec::new();
    for row in &rows {
        let input = claims(row.claims.clone());
        let r = rust.evaluate(&input, now());
        let g = rego.evaluate(&input, now());
        let mut expected: Vec<String> = row.reasons.iter().map(|s| s.to_string()).collect();
        expected.sort();
        let mut problems = Vec::new();
        if r.failure.is_some() || g.failure.is_some() {
            problems.push("the host imposed a deny".to_string());
        }
        if r.decision.allow != g.decision.allow {
            problems.push("the twins disagree on allow".into());
        }
        if sorted(&r.decision.reasons) != sorted(&g.decision.reasons) {
            problems.push("the twins disagree on reasons".into());
        }
        if r.decision.allow != row.allow || g.decision.allow != row.allow {
            problems.push(format!("expected allow={}", row.allow));
        }
        if sorted(&r.decision.reasons) != expected || sorted(&g.decision.reasons) != expected {
            problems.push(format!("expected reasons {expected:?}"));
        }
        let verdict = if problems.is_empty() { "ok" } else { "FAIL" };
        eprintln!(
            "{policy} | {:<46} | {verdict} | rust: {} | rego: {}",
            row.name,
            show(&r),
            show(&g)
        );
        if !problems.is_empty() {
            failures.push(format!(
                "{policy} row `{}`: {}\n  claims: {}\n  rust: {}\n  rego: {}",
                row.name,
                problems.join("; "),
                row.claims,
                show(&r),
                show(&g)
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn feedback_twins_agree() {
    let rust = component("feedback_policy", data());
    let rego = rego_file(&root().join("policies/feedback.rego"), data());
    let rows = feedback_rows();
    assert!(rows.len() >= 14);
    run_twins("feedback", &rust, &rego, rows);
}

#[test]
fn isolation_twins_agree() {
    let rust = component("isolation_policy", data());
    let rego = rego_file(&root().join("policies/isolation.rego"), data());
    let rows = isolation_rows();
    assert!(rows.len() >= 10);
    run_twins("isolation", &rust, &rego, rows);
}

/// A row of odd data: name, data document, edits to the valid claims, the
/// expected allow, the expected reasons.
type OddRow<'a> = (&'a str, Value, Vec<Edit>, bool, &'a [&'a str]);

/// The data document is the operator's: the twins also agree when it holds
/// numbers or has the wrong shape.
#[test]
fn the_twins_agree_on_odd_data_documents() {
    let operators = json!({"op-a1": "tenant-a"});
    let feedback: Vec<OddRow> = vec![
        (
            "schema_versions [1.0], claim 1",
            json!({"operators": operators, "schema_versions": [1.0]}),
            vec![Set("/feedback/schema_version", json!(1))],
            true,
            &[],
        ),
        (
            "schema_versions [1], claim 1.0",
            json!({"operators": operators, "schema_versions": [1]}),
            vec![Set("/feedback/schema_version", json!(1.0))],
            true,
            &[],
        ),
        (
            "schema_versions an object",
            json!({"operators": operators, "schema_versions": {"v": "1.0"}}),
            vec![],
            false,
            &[SCHEMA],
        ),
        (
            "schema_versions a string",
            json!({"operators": operators, "schema_versions": "1.0"}),
            vec![],
            false,
            &[SCHEMA],
        ),
        (
            "no schema_versions",
            json!({"operators": operators}),
            vec![],
            false,
            &[SCHEMA],
        ),
        (
            "operators an array",
            json!({"operators": ["op-a1"], "schema_versions": ["1.0"]}),
            vec![],
            false,
            &[OP_A1_FEEDBACK],
        ),
        (
            "operators a string",
            json!({"operators": "tenant-a", "schema_versions": ["1.0"]}),
            vec![],
            false,
            &[OP_A1_FEEDBACK],
        ),
        (
            "operator mapped to a non-string",
            json!({"operators": {"op-a1": ["tenant-a"]}, "schema_versions": ["1.0"]}),
            vec![],
            false,
            &[OP_A1_FEEDBACK],
        ),
    ];
    for (name, data_doc, edits, allow, reasons) in feedback {
        let rust = component("feedback_policy", data_doc.clone());
        let rego = rego_file(&root().join("policies/feedback.rego"), data_doc);
        let row = feedback_row(name, edits, allow, reasons);
        run_twins("feedback/data", &rust, &rego, vec![row]);
    }
    let isolation: Vec<(&str, Value, bool, &[&str])> = vec![
        ("no operators", json!({}), false, &[OP_A1_RECORD]),
        (
            "operators an array",
            json!({"operators": ["op-a1"]}),
            false,
            &[OP_A1_RECORD],
        ),
        (
            "operator mapped to a non-string",
            json!({"operators": {"op-a1": 1}}),
            false,
            &[OP_A1_RECORD],
        ),
    ];
    for (name, data_doc, allow, reasons) in isolation {
        let rust = component("isolation_policy", data_doc.clone());
        let rego = rego_file(&root().join("policies/isolation.rego"), data_doc);
        let row = isolation_row(name, vec![], allow, reasons);
        run_twins("isolation/data", &rust, &rego, vec![row]);
    }
}
