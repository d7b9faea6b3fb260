//! The `verdict` binary: exit codes, messages, and no panics on bad input.

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use crate::common::{component_bytes, feedback_policy_dir, root};

pub fn verdict(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_verdict"))
        .args(args)
        .env("VERDICT_CACHE_DIR", root().join("target/test-cache"))
        .output()
        .expect("run verdict")
}

pub fn code(out: &Output) -> i32 {
    out.status.code().expect("exited")
}

pub fn stderr(out: &Output) -> String {
    let text = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!text.contains("panicked"), "verdict panicked: {text}");
    text
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn path(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn example(rel: &str) -> String {
    root().join("examples").join(rel).display().to_string()
}

fn feedback_rego() -> String {
    root().join("policies/feedback.rego").display().to_string()
}

#[test]
fn eval_exits_0_on_allow_and_1_on_deny_with_the_decision_on_stdout() {
    for (input, expected, allow) in [
        ("feedback/accept.json", 0, true),
        ("feedback/reject.json", 1, false),
    ] {
        let out = verdict(&[
            "eval",
            "--policy",
            &feedback_rego(),
            "--data",
            &example("feedback/data.json"),
            "--input",
            &example(input),
        ]);
        assert_eq!(code(&out), expected, "{}", stderr(&out));
        let decision: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
        assert_eq!(decision["allow"], allow);
    }
}

#[test]
fn malformed_inputs_exit_2_naming_the_file_and_the_fault() {
    let dir = tempfile::tempdir().unwrap();
    let bad_json = dir.path().join("bad.json");
    fs::write(&bad_json, "{\n  \"a\": 1,\n  \"b\": }\n").unwrap();
    let broken = dir.path().join("broken.rego");
    fs::write(&broken, "package x\n\nallow if {\n  input.a ==\n}\n").unwrap();
    let core = dir.path().join("core.wasm");
    fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let truncated = dir.path().join("truncated.wasm");
    let bytes = component_bytes("feedback_policy");
    fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap();
    let not_utf8 = dir.path().join("latin1.json");
    fs::write(&not_utf8, b"{\"a\": \"\xe9\"}").unwrap();
    let array = dir.path().join("array.json");
    fs::write(&array, "[1, 2]").unwrap();
    let missing = dir.path().join("missing.json");
    let missing_policy = dir.path().join("missing.rego");
    let policy = feedback_rego();
    let input = example("feedback/accept.json");

    let cases: Vec<(Vec<&str>, Vec<&str>)> = vec![
        (
            vec!["eval", "--policy", path(&missing_policy), "--input", &input],
            vec![path(&missing_policy), "cannot read"],
        ),
        (
            vec!["eval", "--policy", &policy, "--input", path(&missing)],
            vec![path(&missing)],
        ),
        (
            vec!["eval", "--policy", &policy, "--input", path(&bad_json)],
            vec![path(&bad_json), "line 3, column 8"],
        ),
        (
            vec![
                "eval",
                "--policy",
                &policy,
                "--data",
                path(&bad_json),
                "--input",
                &input,
            ],
            vec!["data", path(&bad_json)],
        ),
        (
            vec!["eval", "--policy", &policy, "--input", path(&array)],
            vec![path(&array), "JSON object"],
        ),
        (
            vec!["eval", "--policy", &policy, "--input", path(&not_utf8)],
            vec![path(&not_utf8), "UTF-8"],
        ),
        (
            vec!["eval", "--policy", path(&broken), "--input", &input],
            vec![path(&broken), "broken.rego:5:1"],
        ),
        (
            vec!["eval", "--policy", path(&core), "--input", &input],
            vec![path(&core), "core module"],
        ),
        (
            vec!["eval", "--policy", path(&truncated), "--input", &input],
            vec![path(&truncated)],
        ),
        (
            vec![
                "eval",
                "--policy",
                &policy,
                "--input",
                &input,
                "--entrypoint",
                "data.verdict.feedback.nope",
            ],
            vec!["data.verdict.feedback.nope"],
        ),
        (
            vec!["eval", "--policy", path(&bad_json), "--input", &input],
            vec!["expected a .rego or .wasm"],
        ),
        (
            vec![
                "eval", "--policy", &policy, "--input", &input, "--log", "x.jsonl",
            ],
            vec!["--key"],
        ),
        (vec!["eval", "--policy", &policy], vec!["--input"]),
        (
            vec![
                "replay",
                path(&missing),
                "--policies",
                ".",
                "--pubkey",
                path(&missing),
            ],
            vec![path(&missing)],
        ),
        (vec!["keygen", "--out", ".", "--alg", "rsa"], vec!["rsa"]),
    ];
    for (args, needles) in cases {
        let out = verdict(&args);
        let err = stderr(&out);
        assert_eq!(code(&out), 2, "{args:?}: {err}");
        for needle in needles {
            assert!(
                err.contains(needle),
                "{args:?}: expected `{needle}` in: {err}"
            );
        }
    }
}

#[test]
fn every_command_has_help() {
    for cmd in [&[][..], &["eval"], &["replay"], &["keygen"], &["demo"]] {
        let mut args = cmd.to_vec();
        args.push("--help");
        let out = verdict(&args);
        assert_eq!(code(&out), 0);
        assert!(stdout(&out).contains("Usage: verdict"), "{args:?}");
    }
}

#[test]
fn keygen_eval_log_and_replay_round_trip_and_tampering_is_named() {
    for alg in ["ed25519", "ml-dsa-65"] {
        let dir = tempfile::tempdir().unwrap();
        let keys = dir.path().join("keys");
        let out = verdict(&["keygen", "--out", path(&keys), "--alg", alg]);
        assert_eq!(code(&out), 0, "{}", stderr(&out));
        assert!(stdout(&out).contains(&format!("key id:      {alg}-")));
        let log = dir.path().join("decisions.jsonl");
        let key = keys.join("decision-log.key");
        for input in [
            "feedback/accept.json",
            "feedback/reject.json",
            "feedback/accept.json",
        ] {
            let out = verdict(&[
                "eval",
                "--policy",
                &feedback_rego(),
                "--data",
                &example("feedback/data.json"),
                "--input",
                &example(input),
                "--log",
                path(&log),
                "--key",
                path(&key),
            ]);
            assert!(code(&out) < 2, "{}", stderr(&out));
        }
        let policies = feedback_policy_dir(dir.path());
        let pubkey = keys.join("decision-log.pub");
        let replay = |log: &Path| {
            verdict(&[
                "replay",
                path(log),
                "--policies",
                path(&policies),
                "--pubkey",
                path(&pubkey),
            ])
        };

        let out = replay(&log);
        assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
        assert!(
            stdout(&out).contains("3 matched, 0 failed"),
            "{}",
            stdout(&out)
        );

        let text = fs::read_to_string(&log).unwrap();
        let tampered = text.replacen("\"allow\":false", "\"allow\":true", 1);
        assert_ne!(tampered, text);
        fs::write(&log, &tampered).unwrap();
        let out = replay(&log);
        assert_eq!(code(&out), 1);
        assert!(
            stdout(&out).contains("first bad record: record 1 (line 2)"),
            "{}",
            stdout(&out)
        );

        fs::write(&log, &text[..text.len() - 10]).unwrap();
        let out = replay(&log);
        assert_eq!(code(&out), 1);
        assert!(stdout(&out).contains("line 3"), "{}", stdout(&out));
        let out = verdict(&[
            "eval",
            "--policy",
            &feedback_rego(),
            "--input",
            &example("feedback/accept.json"),
            "--log",
            path(&log),
            "--key",
            path(&key),
        ]);
        assert_eq!(
            code(&out),
            2,
            "appending to a torn log must refuse: {}",
            stderr(&out)
        );
    }
}

#[test]
fn a_component_policy_evaluates_from_the_cli() {
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("isolation.wasm");
    fs::write(&wasm, component_bytes("isolation_policy")).unwrap();
    let out = verdict(&[
        "eval",
        "--policy",
        path(&wasm),
        "--data",
        &example("isolation/data.json"),
        "--input",
        &example("isolation/reject.json"),
    ]);
    assert_eq!(code(&out), 1, "{}", stderr(&out));
    assert!(stdout(&out).contains("session binding is already bound to another tenant"));
    let out = verdict(&[
        "eval",
        "--policy",
        path(&wasm),
        "--input",
        &example("isolation/reject.json"),
        "--entrypoint",
        "data.x.y",
    ]);
    assert_eq!(code(&out), 2);
    assert!(stderr(&out).contains("Rego policies only"));
}

#[test]
fn the_demo_runs_logs_and_replays() {
    let dir = tempfile::tempdir().unwrap();
    let out = verdict(&["demo", "--dir", path(dir.path())]);
    assert_eq!(code(&out), 0, "{}{}", stdout(&out), stderr(&out));
    assert!(
        stdout(&out).contains("every link, signature and verdict matches"),
        "{}",
        stdout(&out)
    );
    assert_eq!(
        fs::read_to_string(dir.path().join("decisions.jsonl"))
            .unwrap()
            .lines()
            .count(),
        9,
        "four examples with two twins each, and the appraised Milan report"
    );
    assert!(
        stdout(&out).contains("evidence   milan-snp    verified allow"),
        "{}",
        stdout(&out)
    );
}

/// `verdict serve --dev` in a child process, stopped (SIGTERM: graceful) on drop.
struct Served {
    child: std::process::Child,
    addr: String,
}

/// A loopback address with a port that was free a moment ago.
fn free_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

impl Served {
    fn start(dir: &Path) -> Self {
        let addr = free_addr();
        let child = Command::new(env!("CARGO_BIN_EXE_verdict"))
            .args(["serve", "--dev", path(dir), "--listen", &addr])
            .env("VERDICT_CACHE_DIR", root().join("target/test-cache"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("start verdict serve");
        let served = Self { child, addr };
        for _ in 0..600 {
            if std::net::TcpStream::connect(&served.addr).is_ok() {
                return served;
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        panic!("verdict serve did not listen on {}", served.addr);
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let _ = self.child.wait();
    }
}

#[test]
fn sign_helpers_send_from_a_dev_setup_and_from_named_files() {
    let dir = tempfile::tempdir().unwrap();
    let gw = dir.path().join("gw");
    let served = Served::start(&gw);
    let hash = "a".repeat(64);
    let measurement = "b".repeat(64);
    let sent = verdict(&[
        "sign-telemetry",
        "--dev",
        path(&gw),
        "--execution-hash",
        &hash,
        "--measurement-hash",
        &measurement,
        "--send",
        &served.addr,
    ]);
    assert_eq!(code(&sent), 0, "{}{}", stdout(&sent), stderr(&sent));
    assert!(stdout(&sent).starts_with("202 "), "{}", stdout(&sent));

    // A peer of a real deployment names its files one by one.
    let client = gw.join("clients/alpha");
    let files = |name: &str| client.join(name).display().to_string();
    let ca = gw.join("ca.pem").display().to_string();
    let feedback = verdict(&[
        "sign-feedback",
        "--key",
        &files("signing.pem"),
        "--identity",
        "alpha",
        "--tenant",
        "tenant-a",
        "--ca",
        &ca,
        "--cert",
        &files("cert.pem"),
        "--client-key",
        &files("key.pem"),
        "--execution-hash",
        &hash,
        "--measurement-hash",
        &measurement,
        "--gateway",
        &served.addr,
        "--send",
    ]);
    assert_eq!(
        code(&feedback),
        0,
        "{}{}",
        stdout(&feedback),
        stderr(&feedback)
    );
    assert!(
        stdout(&feedback).contains("\"status\":\"accepted\""),
        "{}",
        stdout(&feedback)
    );

    // Without --send: a curl command for the gateway named, body on disk.
    let out_dir = dir.path().join("bodies");
    let printed = verdict(&[
        "sign-telemetry",
        "--key",
        &files("signing.pem"),
        "--tenant",
        "tenant-a",
        "--operator",
        "op-a1",
        "--ca",
        &ca,
        "--cert",
        &files("cert.pem"),
        "--client-key",
        &files("key.pem"),
        "--out-dir",
        path(&out_dir),
        "--gateway",
        "gw.example:9443",
    ]);
    assert_eq!(code(&printed), 0, "{}", stderr(&printed));
    assert!(
        stdout(&printed).contains("https://gw.example:9443/v1/telemetry"),
        "{}",
        stdout(&printed)
    );
    assert_eq!(fs::read_dir(&out_dir).unwrap().count(), 1);

    let incomplete = verdict(&["sign-telemetry", "--key", &files("signing.pem")]);
    assert_eq!(code(&incomplete), 2);
    drop(served);
    let replayed = verdict(&[
        "replay",
        path(&gw.join("decisions.jsonl")),
        "--policies",
        path(&gw.join("policies")),
        "--pubkey",
        path(&gw.join("decision-log.pub")),
    ]);
    assert_eq!(
        code(&replayed),
        0,
        "{}{}",
        stdout(&replayed),
        stderr(&replayed)
    );
}

/// One plaintext HTTP/1.1 exchange with `addr`; the whole response text.
fn plain_http(addr: &str, request: &str) -> String {
    use std::io::{Read as _, Write as _};
    for _ in 0..100 {
        if let Ok(mut stream) = std::net::TcpStream::connect(addr) {
            stream.write_all(request.as_bytes()).unwrap();
            let mut response = String::new();
            stream.read_to_string(&mut response).unwrap();
            return response;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("nothing listens on {addr}");
}

#[test]
fn an_explicit_plaintext_listener_serves_only_health_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let gw = dir.path().join("gw");
    drop(Served::start(&gw));
    let log = gw.join("decisions.jsonl");
    let records = || fs::read_to_string(&log).map_or(0, |text| text.lines().count());
    let plain = free_addr();
    let config = gw.join("verdict.toml");
    let text = fs::read_to_string(&config).unwrap();
    let commented = "# plaintext_listen = \"127.0.0.1:8080\"";
    assert!(
        text.contains(commented),
        "the dev config documents the option"
    );
    fs::write(
        &config,
        text.replace(commented, &format!("plaintext_listen = \"{plain}\"")),
    )
    .unwrap();
    let served = Served::start(&gw);

    let health = plain_http(
        &plain,
        "GET /healthz HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
    );
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");
    assert!(health.ends_with("ok\n"), "{health}");
    let metrics = || {
        plain_http(
            &plain,
            "GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n",
        )
    };
    let empty = metrics();
    assert!(empty.starts_with("HTTP/1.1 200"), "{empty}");
    assert!(empty.ends_with("# EOF\n"), "{empty}");

    // A signed message sent without TLS reaches no handler and no log.
    let before = records();
    let body = "{}";
    let telemetry = plain_http(
        &plain,
        &format!(
            "POST /v1/telemetry HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        ),
    );
    assert!(telemetry.starts_with("HTTP/1.1 404"), "{telemetry}");
    assert!(telemetry.contains("need mTLS"), "{telemetry}");
    assert_eq!(records(), before, "nothing was logged");

    // The mTLS listener still serves the signed routes.
    let sent = verdict(&[
        "sign-telemetry",
        "--dev",
        path(&gw),
        "--execution-hash",
        &"c".repeat(64),
        "--measurement-hash",
        &"d".repeat(64),
        "--send",
        &served.addr,
    ]);
    assert!(stdout(&sent).starts_with("202 "), "{}", stdout(&sent));
    assert_eq!(records(), before + 1);
    let counted = metrics();
    assert!(
        counted.contains("verdict_requests_total{route=\"telemetry\",status=\"202\"} 1"),
        "{counted}"
    );
}
