//! Loading and rejecting config files. The files a config names only have to
//! exist, so these fixtures hold placeholders; `dev::tests` loads real ones.

use std::fs;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use tempfile::TempDir;

use super::*;
use crate::evidence::memory::report::DriftMode;

const PIN_A: &str = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
const PIN_B: &str = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

const MINIMAL: &str = r#"[tls]
ca = "ca.pem"
cert = "server.pem"
key = "server.key"

[[identities]]
name = "alpha"
tenant = "tenant-a"
cert_sha256 = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"

[[identities.keys]]
kid = "alpha-k1"
public_key = "keys/alpha-k1.pub"

[[identities.keys]]
kid = "alpha-k0"
public_key = "keys/alpha-k0.pub"
retired = true

[[identities]]
name = "beta"
tenant = "tenant-b"
cert_sha256 = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"

[[identities.keys]]
kid = "beta-k1"
public_key = "keys/beta-k1.pub"

[operators]
op-a1 = "tenant-a"
op-c1 = "tenant-c"

[gateway_key]
kid = "gateway-k1"
private_key = "gateway.key"

[decision_log]
path = "decisions.jsonl"
key = "decision-log.key"

[policies.isolation]
path = "policies/isolation.rego"
data = "policies/isolation.json"

[policies.feedback]
path = "policies/feedback.wasm"
entrypoint = "verdict/feedback#decide"
"#;

const FILES: [&str; 10] = [
    "ca.pem",
    "server.pem",
    "server.key",
    "keys/alpha-k1.pub",
    "keys/alpha-k0.pub",
    "keys/beta-k1.pub",
    "gateway.key",
    "decision-log.key",
    "policies/isolation.rego",
    "policies/isolation.json",
];

/// A directory with every file `MINIMAL` names, and `text` as its config.
fn fixture(text: &str) -> (TempDir, PathBuf) {
    let dir = TempDir::new().unwrap();
    for file in FILES.iter().chain(&["policies/feedback.wasm"]) {
        let path = dir.path().join(file);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, "placeholder").unwrap();
    }
    let config = dir.path().join("verdict.toml");
    fs::write(&config, text).unwrap();
    (dir, config)
}

fn load(text: &str) -> Result<GatewayConfig, ConfigError> {
    let (_dir, config) = fixture(text);
    GatewayConfig::load(&config)
}

fn reject(text: &str) -> ConfigError {
    load(text).expect_err("config should be rejected")
}

/// `MINIMAL` with `from` replaced by `to` (which must occur).
fn edit(from: &str, to: &str) -> String {
    assert!(MINIMAL.contains(from), "{from:?} not in MINIMAL");
    MINIMAL.replacen(from, to, 1)
}

fn id<T: std::str::FromStr>(s: &str) -> T
where
    T::Err: std::fmt::Debug,
{
    s.parse().unwrap()
}

#[test]
fn minimal_config_loads_with_defaults_and_resolved_paths() {
    let (dir, path) = fixture(MINIMAL);
    let config = GatewayConfig::load(&path).unwrap();
    let at = |rel: &str| dir.path().join(rel);

    assert_eq!(config.source(), path);
    assert_eq!(
        config.listen(),
        "127.0.0.1:8443".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(config.plaintext_listen(), None);
    assert_eq!(config.tls().ca(), at("ca.pem"));
    assert_eq!(config.tls().cert(), at("server.pem"));
    assert_eq!(config.tls().key(), at("server.key"));

    let names: Vec<_> = config
        .identities()
        .iter()
        .map(|i| i.name().as_str())
        .collect();
    assert_eq!(names, ["alpha", "beta"]);
    let alpha = config.identity(&id("alpha")).unwrap();
    assert_eq!(alpha.tenant().as_str(), "tenant-a");
    assert_eq!(alpha.cert_sha256().hex(), PIN_A);
    assert_eq!(alpha.keys().len(), 2);
    assert_eq!(
        alpha.key(&id("alpha-k1")).unwrap().public_key(),
        at("keys/alpha-k1.pub")
    );
    assert!(alpha.key(&id("alpha-k0")).unwrap().retired());
    let active: Vec<_> = alpha.active_keys().map(|k| k.kid().as_str()).collect();
    assert_eq!(active, ["alpha-k1"]);
    let beta = config.identity_by_cert(&PIN_B.parse().unwrap()).unwrap();
    assert_eq!(beta.name().as_str(), "beta");
    assert!(config.identity(&id("gamma")).is_none());
    let (owner, key) = config.identity_key(&id("alpha-k0")).unwrap();
    assert_eq!((owner.name().as_str(), key.retired()), ("alpha", true));
    assert!(config.identity_key(&id("gateway-k1")).is_none());

    assert_eq!(config.operator_tenant(&id("op-a1")), Some(&id("tenant-a")));
    assert_eq!(config.operators().len(), 2);
    let tenants: Vec<_> = config.tenants().iter().map(|t| t.as_str()).collect();
    assert_eq!(tenants, ["tenant-a", "tenant-b", "tenant-c"]);

    assert_eq!(config.gateway_key().kid().as_str(), "gateway-k1");
    assert_eq!(config.gateway_key().private_key(), at("gateway.key"));
    assert_eq!(config.decision_log().path(), at("decisions.jsonl"));
    assert_eq!(config.decision_log().key(), at("decision-log.key"));

    let isolation = config.policies().isolation();
    assert_eq!(isolation.format(), PolicyFormat::Rego);
    assert_eq!(
        isolation.data(),
        Some(at("policies/isolation.json").as_path())
    );
    assert_eq!(isolation.entrypoint(), None);
    let feedback = config.policies().feedback();
    assert_eq!(feedback.format(), PolicyFormat::Component);
    assert_eq!(feedback.data(), None);
    assert_eq!(
        feedback.entrypoint().unwrap().as_str(),
        "verdict/feedback#decide"
    );

    let replay = config.replay();
    assert_eq!(replay.backend(), &ReplayBackend::Memory);
    assert_eq!(replay.max_age().as_secs(), 300);
    assert_eq!(replay.future_skew().as_secs(), 30);
    assert_eq!(replay.retention().as_secs(), 900);
    let limits = config.limits();
    assert_eq!(limits.max_body_bytes().get(), 1024 * 1024);
    assert_eq!(limits.rate_per_identity_per_sec().get(), 200);
    assert_eq!(limits.burst().get(), 400);
}

#[test]
fn explicit_settings_override_defaults() {
    let text = format!(
        "listen = \"0.0.0.0:9443\"\nplaintext_listen = \"127.0.0.1:8080\"\n{MINIMAL}\n\
         [replay]\nbackend = \"redis\"\nredis_url = \"redis://:hunter2@cache:6379/0\"\n\
         max_age_secs = 60\nfuture_skew_secs = 0\nretention_secs = 60\n\n\
         [limits]\nmax_body_bytes = 4096\nrate_per_identity_per_sec = 5\nburst = 1\n"
    );
    let config = load(&text).unwrap();
    assert_eq!(
        config.listen(),
        "0.0.0.0:9443".parse::<SocketAddr>().unwrap()
    );
    assert_eq!(
        config.plaintext_listen(),
        Some("127.0.0.1:8080".parse().unwrap())
    );
    let ReplayBackend::Redis(url) = config.replay().backend() else {
        panic!("expected redis, got {:?}", config.replay().backend());
    };
    assert_eq!(url.as_str(), "redis://:hunter2@cache:6379/0");
    assert_eq!(url.to_string(), "redis://:***@cache:6379/0");
    assert!(!format!("{config:?}").contains("hunter2"));
    assert_eq!(config.replay().retention().as_secs(), 60);
    assert_eq!(config.limits().max_body_bytes().get(), 4096);
    assert_eq!(config.limits().burst().get(), 1);
}

#[test]
fn absolute_paths_are_kept() {
    let (dir, path) = fixture(MINIMAL);
    let elsewhere = TempDir::new().unwrap();
    let ca = elsewhere.path().join("other-ca.pem");
    fs::write(&ca, "placeholder").unwrap();
    let text = MINIMAL.replacen(
        "ca = \"ca.pem\"",
        &format!("ca = {:?}", ca.to_str().unwrap()),
        1,
    );
    fs::write(&path, text).unwrap();
    let config = GatewayConfig::load(&path).unwrap();
    assert_eq!(config.tls().ca(), ca);
    assert_eq!(config.tls().cert(), dir.path().join("server.pem"));
}

#[test]
fn rejects_unknown_fields_everywhere() {
    for (text, field) in [
        (format!("lisen = \"127.0.0.1:1\"\n{MINIMAL}"), "lisen"),
        (
            edit("ca = \"ca.pem\"", "ca = \"ca.pem\"\nca_file = \"x\""),
            "ca_file",
        ),
        (edit("retired = true", "retire = true"), "retire"),
        (
            edit(
                "tenant = \"tenant-b\"",
                "tenant = \"tenant-b\"\nrole = \"x\"",
            ),
            "role",
        ),
        (format!("{MINIMAL}\n[replay]\nmax_age = 5\n"), "max_age"),
        (format!("{MINIMAL}\n[limits]\nrate = 5\n"), "rate"),
        (edit("entrypoint =", "entry_point ="), "entry_point"),
        (format!("{MINIMAL}\n[metrics]\nport = 1\n"), "metrics"),
    ] {
        let err = reject(&text);
        let ConfigError::Parse {
            position, message, ..
        } = &err
        else {
            panic!("{field}: expected a parse error, got {err:?}");
        };
        assert!(position.is_some(), "{field}: {err}");
        assert!(
            message.contains(&format!("unknown field `{field}`")),
            "{field}: {err}"
        );
    }
}

#[test]
fn malformed_toml_names_line_and_column() {
    let err = reject(&edit("[tls]\nca = \"ca.pem\"\n", "[tls]\nca = \"ca.pem\n"));
    let ConfigError::Parse { position, .. } = &err else {
        panic!("expected a parse error, got {err:?}");
    };
    let position = position.unwrap();
    assert_eq!(position.line, 2, "{err}");
    assert!(
        err.to_string().contains("verdict.toml: line 2, column "),
        "{err}"
    );

    // A value its type rejects is located too.
    let err = reject(&format!("listen = \"localhost:8443\"\n{MINIMAL}"));
    assert!(err.to_string().contains("line 1, column 10"), "{err}");
    let err = reject(&edit(PIN_A, &PIN_A.to_uppercase()));
    assert!(err.to_string().contains("line 9, column 15"), "{err}");
    assert!(
        err.to_string().contains("not a certificate fingerprint"),
        "{err}"
    );
    let err = reject(&edit("name = \"beta\"", "name = \"be ta\""));
    assert!(
        err.to_string().contains("invalid service identity `be ta`"),
        "{err}"
    );
    assert!(err.to_string().contains("line 21, column 8"), "{err}");
}

#[test]
fn rejects_missing_sections() {
    let err = reject(&edit(
        "[gateway_key]\nkid = \"gateway-k1\"\nprivate_key = \"gateway.key\"\n",
        "",
    ));
    assert!(
        err.to_string().contains("missing field `gateway_key`"),
        "{err}"
    );
}

#[test]
fn rejects_identity_without_keys() {
    let text = edit(
        "[[identities.keys]]\nkid = \"beta-k1\"\npublic_key = \"keys/beta-k1.pub\"\n",
        "",
    );
    let err = reject(&text);
    assert!(
        matches!(&err, ConfigError::IdentityWithoutKeys { identity, .. } if identity.as_str() == "beta"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("identity `beta` has no signing keys"),
        "{err}"
    );
}

#[test]
fn rejects_duplicate_kids() {
    let err = reject(&edit("kid = \"beta-k1\"", "kid = \"alpha-k0\""));
    let ConfigError::DuplicateKid {
        kid, first, second, ..
    } = &err
    else {
        panic!("expected a duplicate kid, got {err:?}");
    };
    assert_eq!(kid.as_str(), "alpha-k0");
    assert_eq!(first, "identity `alpha`");
    assert_eq!(second, "identity `beta`");

    let err = reject(&edit("kid = \"beta-k1\"", "kid = \"gateway-k1\""));
    assert!(
        err.to_string()
            .contains("key id `gateway-k1` is used by both gateway_key and identity `beta`"),
        "{err}"
    );

    let err = reject(&edit("kid = \"alpha-k0\"", "kid = \"alpha-k1\""));
    assert!(matches!(err, ConfigError::DuplicateKid { .. }), "{err:?}");
}

#[test]
fn rejects_duplicate_identities_and_pins() {
    let err = reject(&edit("name = \"beta\"", "name = \"alpha\""));
    assert!(
        matches!(err, ConfigError::DuplicateIdentity { .. }),
        "{err:?}"
    );
    let err = reject(&edit(PIN_B, PIN_A));
    assert!(
        err.to_string()
            .contains("identities `alpha` and `beta` pin the same certificate"),
        "{err}"
    );
}

#[test]
fn redis_ca_is_taken_only_for_a_tls_url() {
    let tls = format!(
        "{MINIMAL}\n[replay]\nbackend = \"redis\"\nredis_url = \"rediss://verdict:pw@cache:6380/\"\nredis_ca = \"gateway.key\"\n"
    );
    let config = load(&tls).unwrap();
    assert!(config.replay().redis_ca().unwrap().ends_with("gateway.key"));

    let plaintext = tls.replace("rediss://", "redis://");
    assert!(matches!(
        reject(&plaintext),
        ConfigError::RedisCaUnused { .. }
    ));
    let missing = tls.replace("redis_ca = \"gateway.key\"", "redis_ca = \"nowhere.pem\"");
    let err = reject(&missing).to_string();
    assert!(err.contains("replay.redis_ca"), "{err}");
}

#[test]
fn redis_url_is_required_exactly_with_redis() {
    let err = reject(&format!("{MINIMAL}\n[replay]\nbackend = \"redis\"\n"));
    assert!(
        matches!(err, ConfigError::RedisUrlMissing { .. }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("requires replay.redis_url"),
        "{err}"
    );

    let err = reject(&format!(
        "{MINIMAL}\n[replay]\nredis_url = \"redis://localhost\"\n"
    ));
    assert!(matches!(err, ConfigError::RedisUrlUnused { .. }), "{err:?}");

    let err = reject(&format!(
        "{MINIMAL}\n[replay]\nbackend = \"redis\"\nredis_url = \"http://x\"\n"
    ));
    assert!(err.to_string().contains("invalid redis_url"), "{err}");

    let err = reject(&format!("{MINIMAL}\n[replay]\nbackend = \"postgres\"\n"));
    assert!(
        err.to_string().contains("unknown variant `postgres`"),
        "{err}"
    );
}

#[test]
fn retention_must_cover_max_age_and_skew() {
    let err = reject(&format!("{MINIMAL}\n[replay]\nretention_secs = 329\n"));
    let ConfigError::RetentionTooShort {
        retention_secs,
        max_age_secs,
        future_skew_secs,
        ..
    } = err
    else {
        panic!("expected retention too short, got {err:?}");
    };
    assert_eq!(
        (retention_secs, max_age_secs, future_skew_secs),
        (329, 300, 30)
    );
    assert!(load(&format!("{MINIMAL}\n[replay]\nretention_secs = 330\n")).is_ok());

    let err = reject(&format!("{MINIMAL}\n[replay]\nmax_age_secs = 0\n"));
    assert!(err.to_string().contains("nonzero"), "{err}");
}

#[test]
fn limits_must_be_nonzero() {
    for key in ["max_body_bytes", "rate_per_identity_per_sec", "burst"] {
        let err = reject(&format!("{MINIMAL}\n[limits]\n{key} = 0\n"));
        assert!(
            matches!(
                err,
                ConfigError::Parse {
                    position: Some(_),
                    ..
                }
            ),
            "{key}: {err:?}"
        );
    }
}

#[test]
fn missing_files_are_named_with_their_key() {
    for (file, key) in [
        ("ca.pem", "tls.ca"),
        ("server.key", "tls.key"),
        (
            "keys/alpha-k0.pub",
            "identities[alpha].keys[alpha-k0].public_key",
        ),
        ("gateway.key", "gateway_key.private_key"),
        ("decision-log.key", "decision_log.key"),
        ("policies/isolation.rego", "policies.isolation.path"),
        ("policies/isolation.json", "policies.isolation.data"),
        ("policies/feedback.wasm", "policies.feedback.path"),
    ] {
        let (dir, path) = fixture(MINIMAL);
        let missing = dir.path().join(file);
        fs::remove_file(&missing).unwrap();
        let err = GatewayConfig::load(&path).expect_err(file);
        let ConfigError::MissingFile {
            key: named,
            file: named_file,
            ..
        } = &err
        else {
            panic!("{file}: expected a missing file, got {err:?}");
        };
        assert_eq!(named, key);
        assert_eq!(named_file, &missing);
        let message = err.to_string();
        assert!(
            message.contains(&format!("`{key}` names {}", missing.display())),
            "{message}"
        );
    }
}

#[test]
fn a_directory_is_not_a_file() {
    let (dir, path) = fixture(MINIMAL);
    fs::remove_file(dir.path().join("ca.pem")).unwrap();
    fs::create_dir(dir.path().join("ca.pem")).unwrap();
    let err = GatewayConfig::load(&path).unwrap_err();
    assert!(
        matches!(&err, ConfigError::NotAFile { key, .. } if key == "tls.ca"),
        "{err:?}"
    );
}

#[test]
fn the_decision_log_may_be_new_but_its_directory_must_exist() {
    let err = reject(&edit(
        "path = \"decisions.jsonl\"",
        "path = \"logs/decisions.jsonl\"",
    ));
    assert!(
        matches!(&err, ConfigError::MissingDirectory { key, dir, .. } if key == "decision_log.path" && dir.ends_with("logs")),
        "{err:?}"
    );
}

#[test]
fn policies_must_be_rego_or_wasm() {
    let (dir, path) = fixture(&edit("policies/feedback.wasm", "policies/feedback.py"));
    fs::write(dir.path().join("policies/feedback.py"), "").unwrap();
    let err = GatewayConfig::load(&path).unwrap_err();
    assert!(
        matches!(&err, ConfigError::UnsupportedPolicy { key, .. } if key == "policies.feedback.path"),
        "{err:?}"
    );
}

#[test]
fn plaintext_listener_must_not_take_the_tls_port() {
    let err = reject(&format!("plaintext_listen = \"0.0.0.0:8443\"\n{MINIMAL}"));
    assert!(matches!(err, ConfigError::ListenConflict { .. }), "{err:?}");
    assert!(load(&format!("plaintext_listen = \"127.0.0.2:8443\"\n{MINIMAL}")).is_ok());
}

#[test]
fn unreadable_config_is_named() {
    let err = GatewayConfig::load(Path::new("/nonexistent/verdict.toml")).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err:?}");
    assert!(
        err.to_string()
            .starts_with("cannot read config file /nonexistent/verdict.toml"),
        "{err}"
    );
}

#[test]
fn text_positions_count_characters() {
    let text = "ab\nçd=x\n";
    assert_eq!(
        TextPosition::of_offset(text, 0),
        TextPosition { line: 1, column: 1 }
    );
    assert_eq!(
        TextPosition::of_offset(text, 3),
        TextPosition { line: 2, column: 1 }
    );
    // 'd' is at byte 5, after the two-byte 'ç'.
    assert_eq!(
        TextPosition::of_offset(text, 5),
        TextPosition { line: 2, column: 2 }
    );
    // Inside 'ç', and past the end.
    assert_eq!(
        TextPosition::of_offset(text, 4),
        TextPosition { line: 2, column: 1 }
    );
    assert_eq!(
        TextPosition::of_offset(text, 99),
        TextPosition { line: 3, column: 1 }
    );
}

#[test]
fn fingerprints_and_urls_parse_strictly() {
    assert_eq!(PIN_A.parse::<CertFingerprint>().unwrap().to_string(), PIN_A);
    for bad in [
        "",
        &PIN_A[1..],
        &PIN_A.to_uppercase(),
        &format!("sha256:{PIN_A}"),
    ] {
        assert!(bad.parse::<CertFingerprint>().is_err(), "{bad}");
    }
    let digest = crate::digest::Digest::of(b"cert");
    assert_eq!(CertFingerprint::from(digest).digest(), digest);
    assert_eq!(CertFingerprint::of_der(b"cert").hex(), digest.hex());

    for (url, shown) in [
        ("redis://localhost:6379", "redis://localhost:6379"),
        ("rediss://user:pw@host/0", "rediss://user:***@host/0"),
        ("redis://:p@ss@host", "redis://:***@host"),
        ("redis://user@host", "redis://user@host"),
        ("unix:///run/redis.sock", "unix:///run/redis.sock"),
    ] {
        assert_eq!(url.parse::<RedisUrl>().unwrap().to_string(), shown);
    }
    for bad in ["redis://", "localhost:6379", "redis://a b"] {
        assert!(bad.parse::<RedisUrl>().is_err(), "{bad}");
    }
    assert!("".parse::<Entrypoint>().is_err());
    assert!("data.x y".parse::<Entrypoint>().is_err());
}

/// An `[attestation]` section over files `MINIMAL`'s fixture already has.
const ATTESTATION: &str = r#"
[attestation]
ear_kid = "ear-k1"
ear_key = "gateway.key"
evidence_key = "decision-log.key"

[attestation.policy]
path = "policies/isolation.rego"

[attestation.memory]
trusted_keys = ["keys/alpha-k1.pub"]
pins = { weights = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" }
"#;

#[test]
fn attestation_is_optional_and_loads_with_defaults() {
    assert!(load(MINIMAL).unwrap().attestation().is_none());
    let config = load(&format!("{MINIMAL}{ATTESTATION}")).unwrap();
    let attestation = config.attestation().expect("[attestation]");
    assert_eq!(attestation.ear_kid().as_str(), "ear-k1");
    assert_eq!(attestation.challenge_ttl().as_secs(), 120);
    assert_eq!(attestation.ear_ttl().as_secs(), 300);
    assert_eq!(attestation.binding_retention().as_secs(), 86_400);
    assert_eq!(
        attestation.memory_drift(),
        DriftMode::Strict,
        "strict unless asked"
    );
    assert_eq!(attestation.memory_pins().len(), 1);
    assert!(attestation.memory_trusted_keys()[0].ends_with("keys/alpha-k1.pub"));
}

#[test]
fn attestation_settings_are_checked() {
    let zero_ttl = format!("{MINIMAL}{ATTESTATION}").replace(
        "ear_kid = \"ear-k1\"",
        "ear_kid = \"ear-k1\"\nchallenge_ttl_secs = 0",
    );
    let error = reject(&zero_ttl).to_string();
    assert!(error.contains("attestation.challenge_ttl_secs"), "{error}");
    let missing = format!("{MINIMAL}{ATTESTATION}")
        .replace("ear_key = \"gateway.key\"", "ear_key = \"nowhere.key\"");
    let error = reject(&missing).to_string();
    assert!(error.contains("attestation.ear_key"), "{error}");
    let unknown = format!("{MINIMAL}{ATTESTATION}")
        .replace("[attestation.memory]", "[attestation.memory]\ncolour = 1");
    assert!(matches!(reject(&unknown), ConfigError::Parse { .. }));
    let lenient = format!("{MINIMAL}{ATTESTATION}").replace(
        "[attestation.memory]",
        "[attestation.memory]\ndrift = \"lenient\"",
    );
    let lenient = load(&lenient).unwrap();
    assert_eq!(
        lenient.attestation().unwrap().memory_drift(),
        DriftMode::Lenient
    );
    let old_flag = format!("{MINIMAL}{ATTESTATION}").replace(
        "[attestation.memory]",
        "[attestation.memory]\nstrict = false",
    );
    assert!(matches!(reject(&old_flag), ConfigError::Parse { .. }));
    let bad_mode = format!("{MINIMAL}{ATTESTATION}").replace(
        "[attestation.memory]",
        "[attestation.memory]\ndrift = \"loose\"",
    );
    assert!(matches!(reject(&bad_mode), ConfigError::Parse { .. }));
    let bad_pin = format!("{MINIMAL}{ATTESTATION}").replace("weights = \"aaaa", "weights = \"zzzz");
    assert!(matches!(reject(&bad_pin), ConfigError::Parse { .. }));
}
