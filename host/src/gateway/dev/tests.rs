//! Generating a dev setup, finding it again, and refusing to clobber.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use ed25519_dalek::pkcs8::{DecodePrivateKey as _, DecodePublicKey as _};
use tempfile::TempDir;

use super::*;
use crate::gateway::config::{CertFingerprint, FingerprintError, GatewayConfig, PolicyFormat};
use crate::ids::ServiceIdentity;

const POLICIES: DevPolicies<'static> = DevPolicies {
    isolation_rego: "package verdict.isolation\ndefault allow := false\n",
    isolation_data: "{\"isolation\": true}\n",
    feedback_rego: "package verdict.feedback\ndefault allow := true\n",
    feedback_data: "{\"feedback\": true}\n",
    attestation_rego: "package verdict.attestation\ndefault decision := {\"allow\": false}\n",
    attestation_data: "{}\n",
};

fn identity(name: &str) -> ServiceIdentity {
    name.parse().unwrap()
}

/// Every file under `dir`, relative, with its contents.
fn snapshot(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, files);
            } else {
                let contents = fs::read(&path).unwrap();
                files.insert(path.strip_prefix(root).unwrap().to_path_buf(), contents);
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files);
    files
}

#[test]
fn ensure_generates_a_complete_setup_that_loads() {
    let tmp = TempDir::new().unwrap();
    let dir = tmp.path().join("dev"); // missing: created
    let setup = DevSetup::ensure(&dir, &POLICIES).unwrap();
    assert!(setup.generated());
    let layout = setup.layout();
    assert_eq!(layout.dir(), dir);

    let (alpha, beta) = (identity("alpha"), identity("beta"));
    let mut expected = vec![
        layout.config(),
        layout.ca_cert(),
        layout.ca_key(),
        layout.server_cert(),
        layout.server_key(),
        layout.gateway_feedback_key(),
        layout.gateway_feedback_pub(),
        layout.decision_log_key(),
        layout.decision_log_pub(),
        layout.isolation_rego(),
        layout.isolation_data(),
        layout.feedback_rego(),
        layout.feedback_data(),
        layout.attestation_rego(),
        layout.attestation_data(),
        layout.ear_key(),
        layout.ear_pub(),
        layout.evidence_key(),
        layout.evidence_pub(),
        dir.join("clients"),
        dir.join("policies"),
    ];
    for id in [&alpha, &beta] {
        expected.extend([
            layout.client_dir(id),
            layout.client_cert(id),
            layout.client_key(id),
            layout.client_signing_key(id),
            layout.client_signing_pub(id),
            layout.client_attester_key(id),
            layout.client_attester_pub(id),
        ]);
    }
    let mut created = setup.created().to_vec();
    assert_eq!(
        created.last(),
        Some(&layout.config()),
        "verdict.toml is written last"
    );
    created.sort();
    expected.sort();
    assert_eq!(created, expected);
    for path in &expected {
        assert!(path.exists(), "{} missing", path.display());
    }
    assert!(
        !layout.decision_log().exists(),
        "the log is left to its writer"
    );

    let config = GatewayConfig::load(&layout.config()).unwrap();
    let identities: Vec<_> = config
        .identities()
        .iter()
        .map(|i| (i.name().as_str(), i.tenant().as_str()))
        .collect();
    assert_eq!(identities, [("alpha", "tenant-a"), ("beta", "tenant-b")]);
    let operators: Vec<_> = config
        .operators()
        .iter()
        .map(|(op, tenant)| (op.as_str(), tenant.as_str()))
        .collect();
    assert_eq!(
        operators,
        [
            ("op-a1", "tenant-a"),
            ("op-a2", "tenant-a"),
            ("op-b1", "tenant-b")
        ]
    );
    assert_eq!(config.tenants().len(), 2);
    assert_eq!(config.gateway_key().kid().as_str(), "gateway-k1");
    assert_eq!(
        config.gateway_key().private_key(),
        layout.gateway_feedback_key()
    );
    assert_eq!(config.decision_log().path(), layout.decision_log());
    assert_eq!(config.decision_log().key(), layout.decision_log_key());
    assert_eq!(config.tls().ca(), layout.ca_cert());
    assert_eq!(config.tls().cert(), layout.server_cert());
    assert_eq!(config.tls().key(), layout.server_key());
    assert_eq!(
        config.policies().isolation().path(),
        layout.isolation_rego()
    );
    assert_eq!(config.policies().isolation().format(), PolicyFormat::Rego);
    assert_eq!(
        config.policies().feedback().data(),
        Some(layout.feedback_data().as_path())
    );
    assert_eq!(config.plaintext_listen(), None);
    assert_eq!(config.listen().to_string(), "127.0.0.1:8443");

    for id in [&alpha, &beta] {
        let pinned = config.identity(id).unwrap();
        let recomputed = CertFingerprint::of_pem_file(&layout.client_cert(id)).unwrap();
        assert_eq!(pinned.cert_sha256(), recomputed, "{id}");
        assert_eq!(config.identity_by_cert(&recomputed).unwrap().name(), id);
        let [key] = pinned.keys() else {
            panic!("{id}: expected one key, got {:?}", pinned.keys());
        };
        assert_eq!(key.kid().as_str(), format!("{id}-k1"));
        assert!(!key.retired());
        assert_eq!(key.public_key(), layout.client_signing_pub(id));
    }
    let attestation = config.attestation().expect("[attestation]");
    assert_eq!(
        attestation.memory_trusted_keys(),
        [
            layout.client_attester_pub(&alpha),
            layout.client_attester_pub(&beta)
        ],
        "memory reports are trusted from the identities' attester keys"
    );
    assert_ne!(
        config.identity(&alpha).unwrap().cert_sha256(),
        config.identity(&beta).unwrap().cert_sha256()
    );

    assert_eq!(
        fs::read_to_string(layout.isolation_rego()).unwrap(),
        POLICIES.isolation_rego
    );
    assert_eq!(
        fs::read_to_string(layout.isolation_data()).unwrap(),
        POLICIES.isolation_data
    );
    assert_eq!(
        fs::read_to_string(layout.feedback_rego()).unwrap(),
        POLICIES.feedback_rego
    );
    assert_eq!(
        fs::read_to_string(layout.feedback_data()).unwrap(),
        POLICIES.feedback_data
    );
}

#[test]
fn signing_keys_are_ed25519_pairs() {
    let tmp = TempDir::new().unwrap();
    let setup = DevSetup::ensure(tmp.path(), &POLICIES).unwrap();
    let layout = setup.layout();
    let alpha = identity("alpha");
    for (private, public) in [
        (
            layout.client_signing_key(&alpha),
            layout.client_signing_pub(&alpha),
        ),
        (layout.gateway_feedback_key(), layout.gateway_feedback_pub()),
        (layout.decision_log_key(), layout.decision_log_pub()),
    ] {
        let private_pem = fs::read_to_string(&private).unwrap();
        assert!(
            private_pem.starts_with("-----BEGIN PRIVATE KEY-----\n"),
            "{}",
            private.display()
        );
        let key = ed25519_dalek::SigningKey::from_pkcs8_pem(&private_pem).unwrap();
        let public =
            ed25519_dalek::VerifyingKey::from_public_key_pem(&fs::read_to_string(&public).unwrap())
                .unwrap();
        assert_eq!(key.verifying_key(), public, "{}", private.display());
    }
    let gateway = fs::read_to_string(layout.gateway_feedback_key()).unwrap();
    let log = fs::read_to_string(layout.decision_log_key()).unwrap();
    assert_ne!(gateway, log);
}

#[test]
fn certificates_name_their_subjects() {
    let tmp = TempDir::new().unwrap();
    let setup = DevSetup::ensure(tmp.path(), &POLICIES).unwrap();
    let layout = setup.layout();
    let der = |path: PathBuf| {
        use rustls_pki_types::pem::PemObject as _;
        rustls_pki_types::CertificateDer::from_pem_file(path)
            .unwrap()
            .to_vec()
    };
    let contains =
        |haystack: &[u8], needle: &[u8]| haystack.windows(needle.len()).any(|w| w == needle);

    let server = der(layout.server_cert());
    assert!(contains(&server, b"localhost"));
    assert!(
        contains(&server, &[0x87, 4, 127, 0, 0, 1]),
        "IP SAN 127.0.0.1"
    );
    for id in ["alpha", "beta"] {
        let client = der(layout.client_cert(&identity(id)));
        let uri = format!("spiffe://verdict.local/{id}");
        assert!(contains(&client, uri.as_bytes()), "{id}: {uri}");
    }
    assert_eq!(TRUST_DOMAIN, "verdict.local");

    assert!(matches!(
        CertFingerprint::of_pem_file(&layout.server_key()),
        Err(FingerprintError::NoCertificate { .. })
    ));
    assert!(matches!(
        CertFingerprint::of_pem_file(&tmp.path().join("absent.pem")),
        Err(FingerprintError::Read { .. })
    ));
}

#[cfg(unix)]
#[test]
fn private_keys_are_owner_only() {
    use std::os::unix::fs::PermissionsExt as _;

    let tmp = TempDir::new().unwrap();
    let setup = DevSetup::ensure(tmp.path(), &POLICIES).unwrap();
    let layout = setup.layout();
    let mode = |path: &Path| fs::metadata(path).unwrap().permissions().mode() & 0o777;
    let mut private = vec![
        layout.ca_key(),
        layout.server_key(),
        layout.gateway_feedback_key(),
        layout.decision_log_key(),
    ];
    for id in ["alpha", "beta"] {
        private.push(layout.client_key(&identity(id)));
        private.push(layout.client_signing_key(&identity(id)));
    }
    for path in &private {
        assert_eq!(mode(path), 0o600, "{}", path.display());
    }
    for path in setup
        .created()
        .iter()
        .filter(|p| p.is_file() && !private.contains(p))
    {
        assert_eq!(
            mode(path) & 0o077 & !0o044,
            0,
            "{} is group/other writable",
            path.display()
        );
    }
}

#[test]
fn ensure_again_reuses_the_setup() {
    let tmp = TempDir::new().unwrap();
    let first = DevSetup::ensure(tmp.path(), &POLICIES).unwrap();
    let before = snapshot(tmp.path());

    let other_policies = DevPolicies {
        isolation_rego: "package changed\n",
        ..POLICIES
    };
    let second = DevSetup::ensure(tmp.path(), &other_policies).unwrap();
    assert!(!second.generated());
    assert!(second.created().is_empty());
    assert_eq!(snapshot(tmp.path()), before, "nothing was rewritten");

    let pins = |setup: &DevSetup| -> Vec<_> {
        setup
            .config()
            .identities()
            .iter()
            .map(|i| i.cert_sha256())
            .collect()
    };
    assert_eq!(pins(&first), pins(&second));
    assert_eq!(second.config().source(), first.layout().config());
}

#[test]
fn ensure_refuses_a_directory_that_is_not_a_setup() {
    let tmp = TempDir::new().unwrap();
    fs::write(tmp.path().join("notes.txt"), "mine").unwrap();
    let err = DevSetup::ensure(tmp.path(), &POLICIES).unwrap_err();
    assert!(
        matches!(&err, DevError::DirectoryNotEmpty { entry, .. } if entry == Path::new("notes.txt")),
        "{err:?}"
    );
    assert_eq!(snapshot(tmp.path()).len(), 1, "nothing was written");

    let file = tmp.path().join("notes.txt");
    let err = DevSetup::ensure(&file, &POLICIES).unwrap_err();
    assert!(matches!(err, DevError::NotADirectory { .. }), "{err:?}");
}

#[test]
fn a_broken_existing_config_is_reported_not_replaced() {
    let tmp = TempDir::new().unwrap();
    DevSetup::ensure(tmp.path(), &POLICIES).unwrap();
    let layout = DevLayout::new(tmp.path());
    fs::remove_file(layout.ca_cert()).unwrap();
    let err = DevSetup::ensure(tmp.path(), &POLICIES).unwrap_err();
    assert!(
        matches!(&err, DevError::Config(ConfigError::MissingFile { key, .. }) if key == "tls.ca"),
        "{err:?}"
    );
    assert!(!layout.ca_cert().exists());
}

#[test]
fn a_failed_setup_is_rolled_back() {
    let tmp = TempDir::new().unwrap();
    let mut writer = Writer::default();
    writer.dir(tmp.path().join("sub")).unwrap();
    writer
        .file(tmp.path().join("sub/a.key"), Access::Private, b"secret")
        .unwrap();
    let err = writer
        .file(tmp.path().join("sub/a.key"), Access::Public, b"again")
        .unwrap_err();
    assert!(matches!(err, DevError::Write { .. }), "{err:?}");
    writer.roll_back();
    assert!(snapshot(tmp.path()).is_empty());
    assert!(!tmp.path().join("sub").exists());
}
