//! The SEV-SNP verifier against a real AMD Milan report (from the `sev` crate's test data).

use std::time::Instant;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};
use verdict_host::evidence::sev_snp::{
    self, CollectError, Product, SevSnpClaims, SevSnpEntry, SevSnpError, SigningKey,
};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(
        crate::common::root()
            .join("tests/fixtures/sev-snp")
            .join(name),
    )
    .expect("fixture")
}

fn fixture_text(name: &str) -> String {
    String::from_utf8(fixture(name)).expect("utf-8 fixture")
}

fn report() -> Vec<u8> {
    fixture("report_milan.bin")
}

fn entry_with(report: &[u8], vcek: Option<&str>, chain: Option<&str>) -> SevSnpEntry {
    SevSnpEntry {
        report: STANDARD.encode(report),
        vcek: vcek.map(|name| STANDARD.encode(fixture(name))),
        cert_chain: chain.map(fixture_text),
    }
}

fn entry(report: &[u8]) -> SevSnpEntry {
    entry_with(report, Some("vcek_milan.der"), None)
}

fn report_data() -> Vec<u8> {
    report()[0x50..0x90].to_vec()
}

fn check_milan_claims(claims: &SevSnpClaims) {
    assert_eq!(claims.product, Product::Milan);
    assert_eq!(claims.signing_key, SigningKey::Vcek);
    assert_eq!(claims.version, 2);
    assert_eq!(claims.vmpl, 0);
    assert_eq!(claims.report_data, hex::encode(report_data()));
    assert_eq!(claims.chip_id, hex::encode(&report()[0x1a0..0x1e0]));
    assert_eq!(claims.policy.abi_major, 0);
    assert!(claims.policy.smt && !claims.policy.debug && !claims.policy.migrate_ma);
    let tcb = &claims.reported_tcb;
    assert_eq!(
        (tcb.bootloader, tcb.tee, tcb.snp, tcb.microcode, tcb.fmc),
        (3, 0, 8, 115, None)
    );
    let fingerprint = hex::encode(Sha256::digest(fixture("vcek_milan.der")));
    assert_eq!(claims.vcek_fingerprint, format!("sha256:{fingerprint}"));
}

#[test]
fn verifies_with_bundled_roots() {
    let claims = sev_snp::verify(&entry(&report()), None).expect("verifies");
    check_milan_claims(&claims);
}

#[test]
fn verifies_with_explicit_chain_in_either_order() {
    let with_chain = entry_with(&report(), Some("vcek_milan.der"), Some("cert_chain_milan"));
    let claims = sev_snp::verify(&with_chain, None).expect("verifies");
    check_milan_claims(&claims);
    assert_eq!(claims, sev_snp::verify(&entry(&report()), None).unwrap());

    let chain = fixture_text("cert_chain_milan");
    let split = chain.find("-----BEGIN CERTIFICATE-----\n").unwrap();
    let second = chain[split + 1..].find("-----BEGIN").unwrap() + split + 1;
    let reversed = format!("{}{}", &chain[second..], &chain[..second]);
    let entry = SevSnpEntry {
        cert_chain: Some(reversed),
        ..with_chain
    };
    check_milan_claims(&sev_snp::verify(&entry, None).expect("ARK first verifies too"));
}

#[test]
fn evidence_json_fixture_verifies() {
    let doc: serde_json::Value =
        serde_json::from_str(&fixture_text("milan-evidence.json")).unwrap();
    let mut item = doc["evidence"][0].clone();
    assert_eq!(item["type"], "sev-snp");
    item.as_object_mut().unwrap().remove("type");
    let entry: SevSnpEntry = serde_json::from_value(item).expect("entry");
    check_milan_claims(&sev_snp::verify(&entry, None).expect("verifies"));
}

#[test]
fn entry_refuses_unknown_fields() {
    let json = r#"{"report":"AA==","vcek":"AA==","extra":1}"#;
    assert!(serde_json::from_str::<SevSnpEntry>(json).is_err());
}

#[test]
fn claims_schema_is_stable() {
    let claims = sev_snp::verify(&entry(&report()), None).unwrap();
    let value = serde_json::to_value(&claims).unwrap();
    let keys: Vec<&str> = value
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let expected = [
        "author_key_digest",
        "chip_id",
        "committed_tcb",
        "committed_version",
        "current_tcb",
        "current_version",
        "family_id",
        "guest_svn",
        "host_data",
        "id_key_digest",
        "image_id",
        "launch_tcb",
        "measurement",
        "platform_info",
        "policy",
        "product",
        "report_data",
        "report_id",
        "report_id_ma",
        "reported_tcb",
        "signing_key",
        "vcek_fingerprint",
        "version",
        "vmpl",
    ];
    assert_eq!(keys, expected);
    assert_eq!(value["product"], "milan");
    assert_eq!(value["signing_key"], "vcek");
    assert_eq!(value["reported_tcb"]["fmc"], serde_json::Value::Null);
    assert_eq!(value["policy"]["smt"], true);
}

#[test]
fn nonce_must_be_report_data() {
    let entry = entry(&report());
    let data = report_data();
    check_milan_claims(&sev_snp::verify(&entry, Some(&data)).expect("own report_data"));

    let mut other = data.clone();
    other[7] ^= 1;
    assert!(matches!(
        sev_snp::verify(&entry, Some(&other)),
        Err(SevSnpError::NonceMismatch { .. })
    ));
    // A prefix is not enough: the rest of report_data must be zero.
    assert!(matches!(
        sev_snp::verify(&entry, Some(&data[..32])),
        Err(SevSnpError::NonceMismatch { .. })
    ));
    assert_eq!(
        sev_snp::verify(&entry, Some(&[])),
        Err(SevSnpError::NonceLength { len: 0 })
    );
    assert_eq!(
        sev_snp::verify(&entry, Some(&[0u8; 65])),
        Err(SevSnpError::NonceLength { len: 65 })
    );
}

#[test]
fn every_bit_flip_in_the_signed_area_fails() {
    let original = report();
    let start = Instant::now();
    for offset in 0..0x2a0 {
        let mut flipped = original.clone();
        flipped[offset] ^= 1 << (offset % 8);
        let result = sev_snp::verify(&entry(&flipped), None);
        assert!(result.is_err(), "flip at {offset:#x} was accepted");
    }
    eprintln!("672 flipped reports refused in {:?}", start.elapsed());
}

#[test]
fn every_bit_flip_in_the_vcek_fails() {
    let vcek = fixture("vcek_milan.der");
    let start = Instant::now();
    for offset in 0..vcek.len() {
        let mut flipped = vcek.clone();
        flipped[offset] ^= 1 << (offset % 8);
        let entry = SevSnpEntry {
            vcek: Some(STANDARD.encode(&flipped)),
            ..entry_with(&report(), None, Some("cert_chain_milan"))
        };
        assert!(
            sev_snp::verify(&entry, None).is_err(),
            "VCEK flip at {offset} was accepted"
        );
    }
    eprintln!(
        "{} flipped VCEKs refused in {:?}",
        vcek.len(),
        start.elapsed()
    );
}

#[test]
fn reserved_tcb_bytes_count() {
    // sev's own report check zeroes these before hashing; they must still count.
    for offset in [0x3a, 0x3d, 0x182, 0x185, 0x1e2, 0x1f5] {
        let mut flipped = report();
        flipped[offset] ^= 0x10;
        assert_eq!(
            sev_snp::verify(&entry(&flipped), None),
            Err(SevSnpError::ReservedNotZero { offset })
        );
    }
}

#[test]
fn signature_tampering_fails() {
    let mut r_byte = report();
    r_byte[0x2a0] ^= 0x01;
    assert!(matches!(
        sev_snp::verify(&entry(&r_byte), None),
        Err(SevSnpError::BadSignature {
            key: SigningKey::Vcek,
            ..
        })
    ));
    let mut s_byte = report();
    s_byte[0x2e8 + 20] ^= 0x80;
    assert!(matches!(
        sev_snp::verify(&entry(&s_byte), None),
        Err(SevSnpError::BadSignature {
            key: SigningKey::Vcek,
            ..
        })
    ));
    for offset in [0x2a0 + 48, 0x2e8 + 71, 0x330, 0x49f] {
        let mut padded = report();
        padded[offset] = 1;
        assert_eq!(
            sev_snp::verify(&entry(&padded), None),
            Err(SevSnpError::SignaturePadding { offset })
        );
    }
}

#[test]
fn turin_vcek_fails() {
    let bundled = entry_with(&report(), Some("vcek_turin.der"), None);
    assert!(matches!(
        sev_snp::verify(&bundled, None),
        Err(SevSnpError::BadSignature {
            key: SigningKey::Vcek,
            ..
        })
    ));
    let milan_chain = entry_with(&report(), Some("vcek_turin.der"), Some("cert_chain_milan"));
    assert!(matches!(
        sev_snp::verify(&milan_chain, None),
        Err(SevSnpError::VekSignature {
            product: Product::Milan,
            ..
        })
    ));
    let turin_chain = entry_with(&report(), Some("vcek_turin.der"), Some("cert_chain_turin"));
    assert!(matches!(
        sev_snp::verify(&turin_chain, None),
        Err(SevSnpError::BadSignature {
            key: SigningKey::Vcek,
            ..
        })
    ));
}

#[test]
fn self_made_chain_fails() {
    // A report re-signed by a self-made VCEK, under a self-made ASK and ARK
    // that copy AMD's names: only the ARK anchor check stands in the way.
    let fake = fixture("fake_report_milan.bin");
    let own_chain = entry_with(
        &fake,
        Some("fake_vcek_milan.der"),
        Some("fake_chain_milan.pem"),
    );
    assert_eq!(
        sev_snp::verify(&own_chain, None),
        Err(SevSnpError::UntrustedArk)
    );
    let bundled = entry_with(&fake, Some("fake_vcek_milan.der"), None);
    assert_eq!(
        sev_snp::verify(&bundled, None),
        Err(SevSnpError::NoBundledRootSignsVek {
            key: SigningKey::Vcek
        })
    );
    let real = entry_with(
        &report(),
        Some("vcek_milan.der"),
        Some("fake_chain_milan.pem"),
    );
    assert_eq!(sev_snp::verify(&real, None), Err(SevSnpError::UntrustedArk));
    // AMD's real ARK with a self-made ASK under it.
    let forged = entry_with(
        &report(),
        Some("vcek_milan.der"),
        Some("forged_ask_chain_milan.pem"),
    );
    assert!(matches!(
        sev_snp::verify(&forged, None),
        Err(SevSnpError::IntermediateSignature {
            product: Product::Milan,
            ..
        })
    ));
}

#[test]
fn malformed_entries_give_distinct_errors() {
    let full = report();
    assert_eq!(
        sev_snp::verify(&entry(&full[..1183]), None),
        Err(SevSnpError::ReportLength { actual: 1183 })
    );
    let mut long = full.clone();
    long.push(0);
    assert_eq!(
        sev_snp::verify(&entry(&long), None),
        Err(SevSnpError::ReportLength { actual: 1185 })
    );
    let bad_b64 = SevSnpEntry {
        report: "not base64!".into(),
        ..entry(&full)
    };
    assert!(matches!(
        sev_snp::verify(&bad_b64, None),
        Err(SevSnpError::ReportBase64 { .. })
    ));
    let no_vcek = entry_with(&full, None, Some("cert_chain_milan"));
    let err = sev_snp::verify(&no_vcek, None).unwrap_err();
    assert_eq!(
        err,
        SevSnpError::MissingVek {
            key: SigningKey::Vcek
        }
    );
    assert!(err.to_string().contains("does not fetch"), "{err}");
    let bad_vcek = SevSnpEntry {
        vcek: Some(STANDARD.encode(b"junk")),
        ..entry(&full)
    };
    assert!(matches!(
        sev_snp::verify(&bad_vcek, None),
        Err(SevSnpError::VekDer { .. })
    ));
    let one_cert = SevSnpEntry {
        cert_chain: Some(
            fixture_text("cert_chain_milan")
                .split_inclusive("-----END CERTIFICATE-----\n")
                .next()
                .unwrap()
                .to_string(),
        ),
        ..entry(&full)
    };
    assert_eq!(
        sev_snp::verify(&one_cert, None),
        Err(SevSnpError::CertChainCount { found: 1 })
    );
    let mut v1 = full.clone();
    v1[0] = 1;
    assert_eq!(
        sev_snp::verify(&entry(&v1), None),
        Err(SevSnpError::UnsupportedReportVersion { version: 1 })
    );
}

#[test]
fn collect_names_the_missing_device() {
    if std::path::Path::new("/dev/sev-guest").exists() {
        return;
    }
    let err = sev_snp::collect([0u8; 64]).unwrap_err();
    assert_eq!(
        err,
        CollectError::NoDevice {
            path: "/dev/sev-guest"
        }
    );
    assert!(err.to_string().contains("/dev/sev-guest"), "{err}");
}

#[test]
fn an_expired_or_not_yet_valid_vcek_fails() {
    let entry = entry(&report());
    let in_2100 = 4_102_444_800;
    let in_2000 = 946_684_800;
    for now in [in_2100, in_2000] {
        let result = sev_snp::verify_at(&entry, None, now);
        assert!(
            matches!(&result, Err(SevSnpError::CertificateValidity { role, .. }) if role == "VCEK"),
            "{result:?}"
        );
    }
    let today = 1_795_000_000;
    assert!(sev_snp::verify_at(&entry, None, today).is_ok());
    let fixture = crate::common::root().join("tests/fixtures/sev-snp/milan-evidence.json");
    let out = crate::cli::verdict(&[
        "verify",
        fixture.to_str().unwrap(),
        "--at",
        "2100-01-01T00:00:00Z",
    ]);
    assert_eq!(crate::cli::code(&out), 1);
    assert!(
        crate::cli::stderr(&out).contains("not valid at"),
        "{}",
        crate::cli::stderr(&out)
    );
}
