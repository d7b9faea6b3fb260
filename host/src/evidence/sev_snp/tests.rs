//! Unit tests for the checks real AMD material cannot reach on its own:
//! the certificate-to-report binding, fed edited copies of parsed reports.

use sev::firmware::guest::AttestationReport;
use sev::firmware::host::TcbVersion;
use sev::parser::ByteParser as _;
use x509_cert::Certificate;
use x509_cert::der::Decode as _;

use super::error::SevSnpError;
use super::extensions::check;
use super::product::{Product, SigningKey};

const REPORT: &[u8] = include_bytes!("../../../../tests/fixtures/sev-snp/report_milan.bin");
const VCEK_MILAN: &[u8] = include_bytes!("../../../../tests/fixtures/sev-snp/vcek_milan.der");
const VCEK_TURIN: &[u8] = include_bytes!("../../../../tests/fixtures/sev-snp/vcek_turin.der");

fn milan() -> (Certificate, AttestationReport) {
    let cert = Certificate::from_der(VCEK_MILAN).unwrap();
    (cert, AttestationReport::from_bytes(REPORT).unwrap())
}

#[test]
fn milan_binding_holds() {
    let (cert, report) = milan();
    assert_eq!(
        check(&cert, SigningKey::Vcek, Product::Milan, &report),
        Ok(())
    );
}

type Edit = fn(&mut TcbVersion);

#[test]
fn each_tcb_component_is_compared() {
    let (cert, report) = milan();
    let cases: [(&str, Edit); 4] = [
        ("bootloader", |t| t.bootloader += 1),
        ("tee", |t| t.tee += 1),
        ("snp", |t| t.snp += 1),
        ("microcode", |t| t.microcode += 1),
    ];
    for (field, edit) in cases {
        let mut edited = report;
        edit(&mut edited.reported_tcb);
        let err = check(&cert, SigningKey::Vcek, Product::Milan, &edited).unwrap_err();
        assert!(
            matches!(err, SevSnpError::TcbMismatch { field: f, .. } if f == field),
            "{err}"
        );
    }
}

#[test]
fn chip_id_must_be_hw_id() {
    let (cert, mut report) = milan();
    report.chip_id[63] ^= 1;
    let err = check(&cert, SigningKey::Vcek, Product::Milan, &report).unwrap_err();
    assert!(matches!(err, SevSnpError::HwIdMismatch { .. }), "{err}");
    report.chip_id = [0; 64];
    let err = check(&cert, SigningKey::Vcek, Product::Milan, &report).unwrap_err();
    assert_eq!(err, SevSnpError::ChipIdMasked);
}

#[test]
fn vlek_must_not_be_chip_bound() {
    let (cert, report) = milan();
    let err = check(&cert, SigningKey::Vlek, Product::Milan, &report).unwrap_err();
    assert_eq!(err, SevSnpError::VlekHasHwId);
}

#[test]
fn tcb_layout_must_fit_product() {
    let (cert, report) = milan();
    let err = check(&cert, SigningKey::Vcek, Product::Turin, &report).unwrap_err();
    assert_eq!(
        err,
        SevSnpError::TcbLayoutMismatch {
            layout: "Milan/Genoa",
            product: Product::Turin
        }
    );
}

/// A Milan report edited to the values of the Turin VCEK: fmc/bl/tee/snp 0,
/// microcode 9, and its 8-byte hwID as chip_id.
fn turin_like() -> AttestationReport {
    let mut report = AttestationReport::from_bytes(REPORT).unwrap();
    report.reported_tcb = TcbVersion::new(Some(0), 0, 0, 0, 9);
    report.chip_id = [0; 64];
    report.chip_id[..8].copy_from_slice(&hex::decode("1e550a8ee5cf9f4d").unwrap());
    report
}

#[test]
fn turin_binding_uses_fmc_and_short_hw_id() {
    let cert = Certificate::from_der(VCEK_TURIN).unwrap();
    let report = turin_like();
    assert_eq!(
        check(&cert, SigningKey::Vcek, Product::Turin, &report),
        Ok(())
    );

    let mut fmc = report;
    fmc.reported_tcb.fmc = Some(1);
    let err = check(&cert, SigningKey::Vcek, Product::Turin, &fmc).unwrap_err();
    assert!(
        matches!(err, SevSnpError::TcbMismatch { field: "fmc", .. }),
        "{err}"
    );

    let mut tail = report;
    tail.chip_id[8] = 1;
    let err = check(&cert, SigningKey::Vcek, Product::Turin, &tail).unwrap_err();
    assert!(matches!(err, SevSnpError::HwIdMismatch { .. }), "{err}");
}

#[test]
fn turin_product_requires_fmc_extension() {
    let cert = Certificate::from_der(VCEK_MILAN).unwrap();
    let mut report = AttestationReport::from_bytes(REPORT).unwrap();
    report.reported_tcb = TcbVersion::new(Some(0), 3, 0, 8, 115);
    let err = check(&cert, SigningKey::Vcek, Product::Turin, &report).unwrap_err();
    assert!(
        matches!(
            err,
            SevSnpError::MissingExtension {
                name: "fmc_spl",
                ..
            }
        ),
        "{err}"
    );
}
