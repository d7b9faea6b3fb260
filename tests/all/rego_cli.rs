//! `verdict test`, `verdict eval --query`, and load errors at the command line.

use std::fs;

use crate::cli::{code, stderr, stdout, verdict};
use crate::common::root;

const POLICY: &str = "package t\n\nallow if input.n > 1\n";
const TESTS: &str = "package t_test\n\nimport data.t\n\ntest_two if t.allow with input as {\"n\": 2}\n\ntest_one if {\n  print(\"n is one\")\n  t.allow with input as {\"n\": 1}\n}\n";

#[test]
fn verdict_test_reports_each_test_and_fails_when_one_fails() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("t.rego"), POLICY).unwrap();
    fs::write(dir.path().join("t_test.rego"), TESTS).unwrap();
    let out = verdict(&["test", "-v", dir.path().to_str().unwrap()]);
    let text = stdout(&out);
    let err = stderr(&out);
    assert_eq!(code(&out), 1, "{text}{err}");
    assert!(text.contains("PASS  data.t_test.test_two  ("), "{text}");
    assert!(text.contains("t_test.rego:5:1)"), "{text}");
    assert!(text.contains("FAIL  data.t_test.test_one  ("), "{text}");
    assert!(text.trim_end().ends_with("1 passed, 1 failed"), "{text}");
    assert!(err.contains("n is one"), "{err}");
}

#[test]
fn verdict_test_passes_the_shipped_policies_with_coverage() {
    let policies = root().join("policies");
    let feedback = policies.join("feedback.rego");
    let feedback_test = policies.join("feedback_test.rego");
    let out = verdict(&[
        "test",
        "--coverage",
        "--threshold",
        "90",
        feedback.to_str().unwrap(),
        feedback_test.to_str().unwrap(),
    ]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}{}", stderr(&out));
    assert!(text.contains(" passed, 0 failed"), "{text}");
    assert!(text.contains("coverage  total  "), "{text}");
}

#[test]
fn verdict_test_fails_below_the_coverage_threshold() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(
        dir.path().join("t.rego"),
        // The test never gets past `input.m == 1`: line 7 is not covered.
        "package t\n\nallow if input.n > 1\n\nother if {\n  input.m == 1\n  input.k == 2\n}\n",
    )
    .unwrap();
    fs::write(
        dir.path().join("t_test.rego"),
        "package t_test\n\nimport data.t\n\ntest_two if t.allow with input as {\"n\": 2}\n",
    )
    .unwrap();
    let out = verdict(&[
        "test",
        "--coverage",
        "--threshold",
        "100",
        dir.path().to_str().unwrap(),
    ]);
    let text = stdout(&out);
    assert_eq!(code(&out), 1, "{text}");
    assert!(text.contains("not covered: [7]"), "{text}");
    assert!(stderr(&out).contains("below the threshold"));
}

#[test]
fn verdict_eval_query_prints_the_value_and_prints_go_to_stderr() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("t.rego");
    fs::write(
        &policy,
        "package t\n\nallow if {\n  print(\"looking at\", input.n)\n  input.n > 1\n}\n",
    )
    .unwrap();
    let input = dir.path().join("input.json");
    fs::write(&input, r#"{"n": 2}"#).unwrap();
    let out = verdict(&[
        "eval",
        "--policy",
        policy.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
        "--query",
        "data.t.allow",
        "--format",
        "json",
    ]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}{}", stderr(&out));
    let value: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        value["result"][0]["expressions"][0]["value"], true,
        "{text}"
    );
    assert!(!text.contains("looking at"), "{text}");
    assert!(stderr(&out).contains("looking at 2"));
}

#[test]
fn verdict_eval_refuses_a_policy_calling_an_unknown_function_naming_where() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("t.rego");
    fs::write(
        &policy,
        "package t\n\nallow if glob.mach(\"*\", [], input.h)\n",
    )
    .unwrap();
    let input = dir.path().join("input.json");
    fs::write(&input, r#"{"h": "x"}"#).unwrap();
    let out = verdict(&[
        "eval",
        "--policy",
        policy.to_str().unwrap(),
        "--input",
        input.to_str().unwrap(),
    ]);
    let err = stderr(&out);
    assert_eq!(code(&out), 2, "{err}");
    assert!(err.contains("t.rego:3:10"), "{err}");
    assert!(err.contains("glob.mach"), "{err}");
}

#[test]
fn a_new_rego_policy_passes_its_own_tests_and_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let at = dir.path().to_str().unwrap();
    let out = verdict(&["new", "rego", "gate", "--dir", at]);
    assert_eq!(code(&out), 0, "{}", stderr(&out));
    let out = verdict(&["test", at]);
    let text = stdout(&out);
    assert_eq!(code(&out), 0, "{text}{}", stderr(&out));
    assert!(text.trim_end().ends_with("3 passed, 0 failed"), "{text}");
    let again = verdict(&["new", "rego", "gate", "--dir", at]);
    assert_eq!(code(&again), 2);
    assert!(stderr(&again).contains("gate.rego"));
    let bad = verdict(&["new", "rego", "Bad-Name", "--dir", at]);
    assert_eq!(code(&bad), 2);
}
