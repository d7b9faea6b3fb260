//! Rego queries and tests in the sandbox: the builtins policy authors use,
//! `test_*` rules, and the Rego tests shipped for policies/.

use std::sync::OnceLock;

use serde_json::{Value, json};
use verdict_host::policy::{RegoModule, RegoTools, ToolError};
use verdict_host::timestamp::Timestamp;

use crate::common::{data, now, root, runtime};

fn tools() -> &'static RegoTools {
    static TOOLS: OnceLock<RegoTools> = OnceLock::new();
    TOOLS.get_or_init(|| runtime().rego_tools().expect("the Rego engine starts"))
}

fn module(name: &str, source: &str) -> RegoModule {
    RegoModule {
        name: name.into(),
        source: source.into(),
    }
}

/// The single value of `query` over no modules, or `None` when undefined.
fn value_of(query: &str) -> Option<Value> {
    let output = tools()
        .query(&[], &data(json!({})), None, query, now())
        .unwrap_or_else(|e| panic!("{query}: {e}"));
    output
        .result
        .as_array()?
        .first()
        .map(|solution| solution["expressions"][0]["value"].clone())
}

#[test]
fn the_builtins_policy_authors_use_give_opas_results() {
    let cases: &[(&str, Value)] = &[
        (
            r#"time.parse_rfc3339_ns("2026-12-02T15:04:05.5+01:00")"#,
            json!(1_796_220_245_500_000_000_i64),
        ),
        (
            r#"time.parse_ns("2006-01-02", "2026-12-02")"#,
            json!(1_796_169_600_000_000_000_i64),
        ),
        (
            r#"time.parse_ns("02 Jan 06 15:04 MST", "02 Dec 26 15:04 UTC")"#,
            json!(1_796_223_840_000_000_000_i64),
        ),
        (
            r#"time.parse_duration_ns("1h30m")"#,
            json!(5_400_000_000_000_i64),
        ),
        (
            r#"time.parse_duration_ns("-1.5s")"#,
            json!(-1_500_000_000_i64),
        ),
        ("time.date(1796223845000000000)", json!([2026, 12, 2])),
        ("time.clock(1796223845000000000)", json!([15, 4, 5])),
        (
            r#"time.clock([1796223845000000000, "Europe/Berlin"])"#,
            json!([16, 4, 5]),
        ),
        ("time.weekday(1796223845000000000)", json!("Wednesday")),
        (
            "time.format(1796223845500000000)",
            json!("2026-12-02T15:04:05.5Z"),
        ),
        (
            r#"time.format([1796223845000000000, "America/New_York", "Mon Jan _2 3:04PM MST 2006"])"#,
            json!("Wed Dec  2 10:04AM EST 2026"),
        ),
        // October 31 plus one month is December 1, as Go's AddDate.
        (
            r#"time.format(time.add_date(time.parse_rfc3339_ns("2026-10-31T00:00:00Z"), 0, 1, 0))"#,
            json!("2026-12-01T00:00:00Z"),
        ),
        (
            r#"time.diff(time.parse_rfc3339_ns("2024-02-28T00:00:00Z"), time.parse_rfc3339_ns("2026-03-01T01:02:03Z"))"#,
            json!([2, 0, 2, 1, 2, 3]),
        ),
        (
            r#"glob.match("*.example.com", ["."], "api.example.com")"#,
            json!(true),
        ),
        (
            r#"glob.match("*.example.com", ["."], "a.b.example.com")"#,
            json!(false),
        ),
        (
            r#"net.cidr_contains("10.0.0.0/8", "10.1.2.3")"#,
            json!(true),
        ),
        (
            r#"net.cidr_contains("10.0.0.0/8", "11.0.0.1")"#,
            json!(false),
        ),
        (
            r#"net.cidr_contains("2001:db8::/32", "2001:db8::1/128")"#,
            json!(true),
        ),
        (
            r#"net.cidr_intersects("10.0.0.0/8", "10.2.0.0/16")"#,
            json!(true),
        ),
        (
            r#"net.cidr_intersects("10.0.0.0/8", "192.168.0.0/16")"#,
            json!(false),
        ),
        (r#"yaml.unmarshal("a: [1, two]")"#, json!({"a": [1, "two"]})),
        (r#"yaml.is_valid("a: [")"#, json!(false)),
        (r#"strings.count("11111", "11")"#, json!(2)),
        (r#"strings.count("abc", "")"#, json!(4)),
        ("json.is_valid(1)", json!(false)),
        (r#"json.is_valid("{\"a\": 1}")"#, json!(true)),
        (r#"crypto.hmac.equal("abc", "abc")"#, json!(true)),
        (r#"crypto.hmac.equal("abc", "abd")"#, json!(false)),
        (r#"semver.compare("1.2.3", "1.10.0")"#, json!(-1)),
        (r#"units.parse_bytes("1KiB")"#, json!(1024)),
        (r#"regex.match("^a+$", "aaa")"#, json!(true)),
    ];
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|(query, expected)| {
            let actual = value_of(query);
            (actual.as_ref() != Some(expected))
                .then(|| format!("{query}: expected {expected}, got {actual:?}"))
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

#[test]
fn the_local_time_zone_is_refused() {
    let err = tools()
        .query(
            &[],
            &data(json!({})),
            None,
            r#"time.clock([0, "Local"])"#,
            now(),
        )
        .map(|o| o.result);
    // An error, or undefined: never the host's local time.
    match err {
        Err(ToolError::Rego(text)) => assert!(text.contains("no local time zone"), "{text}"),
        Ok(result) => assert_eq!(result, json!([])),
        Err(other) => panic!("{other}"),
    }
}

#[test]
fn a_query_sees_modules_data_input_and_the_recorded_time() {
    let modules = [
        module(
            "lib.rego",
            "package lib.strs\n\nhas_prefix(s, p) if startswith(s, p)\n",
        ),
        module(
            "p.rego",
            "package p\n\nimport data.lib.strs as s\n\nallow if {\n  print(\"checking\", input.user)\n  s.has_prefix(input.user, data.prefix)\n}\n\nnow := time.now_ns()\n",
        ),
    ];
    let at = Timestamp::from_unix(1_796_223_845, 7);
    let output = tools()
        .query(
            &modules,
            &data(json!({"prefix": "admin-"})),
            Some(r#"{"user": "admin-ann"}"#),
            "data.p",
            at,
        )
        .unwrap();
    let value = &output.result[0]["expressions"][0]["value"];
    assert_eq!(value["allow"], json!(true), "{value}");
    assert_eq!(value["now"], json!(1_796_223_845_000_000_007_i64));
    assert_eq!(output.prints, ["p.rego:6: checking admin-ann"]);
}

#[test]
fn a_query_over_modules_that_do_not_load_is_an_error_naming_the_location() {
    let err = tools()
        .query(
            &[module("bad.rego", "package bad\n\nx := time.nwo_ns()\n")],
            &data(json!({})),
            None,
            "data.bad.x",
            now(),
        )
        .unwrap_err();
    let text = err.to_string();
    assert!(matches!(err, ToolError::Rego(_)), "{text}");
    assert!(text.contains("bad.rego:3:6"), "{text}");
    assert!(text.contains("time.nwo_ns"), "{text}");
}

const TESTED: &str = "package t\n\nallow if input.n > 1\n\nsmall if input.n < 10\n";
const TESTS: &str = "package t_test\n\nimport data.t\n\ntest_allows_two if t.allow with input as {\"n\": 2}\n\ntest_fails if {\n  print(\"n is\", 1)\n  t.allow with input as {\"n\": 1}\n}\n\ntest_data_mock if data.limit == 3 with data.limit as 3\n";

#[test]
fn test_rules_are_found_run_and_judged() {
    let modules = [module("t.rego", TESTED), module("t_test.rego", TESTS)];
    let tests = tools().list_tests(&modules).unwrap();
    let rules: Vec<&str> = tests.iter().map(|t| t.rule.as_str()).collect();
    assert_eq!(
        rules,
        [
            "data.t_test.test_allows_two",
            "data.t_test.test_fails",
            "data.t_test.test_data_mock"
        ]
    );
    assert_eq!(tests[1].location, "t_test.rego:7:1");
    let run = |rule: &str| {
        tools()
            .run_test(&modules, &data(json!({})), rule, now(), true)
            .unwrap()
    };
    let passed = run("data.t_test.test_allows_two");
    assert!(passed.passed, "{passed:?}");
    let covered: Vec<u32> = passed
        .coverage
        .iter()
        .find(|f| f.path == "t.rego")
        .map(|f| f.covered.clone())
        .unwrap_or_default();
    assert!(covered.contains(&3), "{:?}", passed.coverage);
    let failed = run("data.t_test.test_fails");
    assert!(!failed.passed);
    assert_eq!(failed.failure.as_deref(), Some("undefined"));
    assert_eq!(failed.prints, ["t_test.rego:8: n is 1"]);
    assert!(run("data.t_test.test_data_mock").passed);
}

/// The Rego tests shipped next to the policies all pass.
#[test]
fn the_rego_tests_of_the_shipped_policies_pass() {
    for policy in ["feedback", "isolation"] {
        let modules: Vec<RegoModule> = [policy.to_string(), format!("{policy}_test")]
            .iter()
            .map(|stem| {
                let path = root().join("policies").join(format!("{stem}.rego"));
                module(
                    &path.display().to_string(),
                    &std::fs::read_to_string(&path).unwrap(),
                )
            })
            .collect();
        let tests = tools().list_tests(&modules).unwrap();
        assert!(tests.len() >= 5, "{policy}: {tests:?}");
        for test in tests {
            let outcome = tools()
                .run_test(&modules, &data(json!({})), &test.rule, now(), false)
                .unwrap();
            assert!(
                outcome.passed,
                "{} ({}): {:?} {:?}",
                test.rule, test.location, outcome.failure, outcome.prints
            );
        }
    }
}
