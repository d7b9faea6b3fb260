//! Collecting a report inside an SEV-SNP guest through `/dev/sev-guest`.

use super::SevSnpEntry;
use super::error::CollectError;

/// The Linux SEV-SNP guest device.
const DEVICE: &str = "/dev/sev-guest";

/// Requests a report binding `report_data` from the AMD Secure Processor.
///
/// Asks for an extended report first, so that the VCEK (or VLEK) and the
/// ASK/ARK the host cached are included; falls back to a plain report when
/// the host does not offer extended reports. The report is requested for
/// VMPL 0. Fails with [`CollectError::NoDevice`] naming `/dev/sev-guest`
/// when the device does not exist (not an SNP guest).
#[cfg(target_os = "linux")]
pub fn collect(report_data: [u8; 64]) -> Result<SevSnpEntry, CollectError> {
    use sev::firmware::guest::Firmware;

    if let Err(e) = std::fs::metadata(DEVICE) {
        return Err(match e.kind() {
            std::io::ErrorKind::NotFound => CollectError::NoDevice { path: DEVICE },
            _ => open_error(&e),
        });
    }
    let mut firmware = Firmware::open().map_err(|e| open_error(&e))?;
    let (report, certs) = match firmware.get_ext_report(None, Some(report_data), None) {
        Ok(extended) => extended,
        Err(_) => {
            let plain = firmware
                .get_report(None, Some(report_data), None)
                .map_err(|e| CollectError::Report {
                    path: DEVICE,
                    reason: e.to_string(),
                })?;
            (plain, None)
        }
    };
    certs::entry(&report, certs.unwrap_or_default())
}

/// Report collection needs the Linux sev-guest driver.
#[cfg(not(target_os = "linux"))]
pub fn collect(_report_data: [u8; 64]) -> Result<SevSnpEntry, CollectError> {
    Err(CollectError::Unsupported)
}

#[cfg(target_os = "linux")]
fn open_error(e: &std::io::Error) -> CollectError {
    CollectError::Open {
        path: DEVICE,
        reason: e.to_string(),
    }
}

/// Turning the host's certificate table into the entry's `vcek` and `cert_chain`.
#[cfg(target_os = "linux")]
mod certs {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;
    use sev::firmware::host::{CertTableEntry, CertType};
    use x509_cert::Certificate;
    use x509_cert::der::{Decode as _, DecodePem as _, Encode as _, EncodePem as _, SliceReader};

    use super::super::SevSnpEntry;
    use super::CollectError;

    /// The entry for `report`, with the VCEK/VLEK and ASK+ARK when present.
    pub(super) fn entry(
        report: &[u8],
        table: Vec<CertTableEntry>,
    ) -> Result<SevSnpEntry, CollectError> {
        let mut vek = None;
        let (mut ask, mut ark) = (None, None);
        for item in table {
            let kind = match item.cert_type {
                CertType::VCEK => "VCEK",
                CertType::VLEK => "VLEK",
                CertType::ASK => "ASK",
                CertType::ARK => "ARK",
                _ => continue,
            };
            let cert = certificate(&item.data, kind)?;
            match kind {
                "ASK" => ask = Some(pem(&cert, kind)?),
                "ARK" => ark = Some(pem(&cert, kind)?),
                _ => vek = Some(STANDARD.encode(der(&cert, kind)?)),
            }
        }
        Ok(SevSnpEntry {
            report: STANDARD.encode(report),
            vcek: vek,
            cert_chain: ask.zip(ark).map(|(ask, ark)| ask + &ark),
        })
    }

    /// One certificate from a table entry, DER (trailing padding ignored) or PEM.
    fn certificate(data: &[u8], kind: &'static str) -> Result<Certificate, CollectError> {
        let from_der = SliceReader::new(data).and_then(|mut r| Certificate::decode(&mut r));
        from_der
            .or_else(|der_error| Certificate::from_pem(data).map_err(|_| der_error))
            .map_err(|e| CollectError::Certificate {
                kind,
                reason: e.to_string(),
            })
    }

    fn der(cert: &Certificate, kind: &'static str) -> Result<Vec<u8>, CollectError> {
        cert.to_der().map_err(|e| CollectError::Certificate {
            kind,
            reason: e.to_string(),
        })
    }

    fn pem(cert: &Certificate, kind: &'static str) -> Result<String, CollectError> {
        cert.to_pem(x509_cert::der::pem::LineEnding::LF)
            .map_err(|e| CollectError::Certificate {
                kind,
                reason: e.to_string(),
            })
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use sev::firmware::host::{CertTableEntry, CertType};
    use x509_cert::Certificate;
    use x509_cert::der::{DecodePem as _, Encode as _};

    const REPORT: &[u8] = include_bytes!("../../../../tests/fixtures/sev-snp/report_milan.bin");
    const VCEK: &[u8] = include_bytes!("../../../../tests/fixtures/sev-snp/vcek_milan.der");

    fn der_of(pem: &[u8]) -> Vec<u8> {
        Certificate::from_pem(pem).unwrap().to_der().unwrap()
    }

    #[test]
    fn host_certificate_table_becomes_a_verifiable_entry() {
        use sev::certs::snp::builtin::milan;
        let mut padded_vcek = VCEK.to_vec();
        padded_vcek.extend_from_slice(&[0; 100]);
        let table = vec![
            CertTableEntry {
                cert_type: CertType::ARK,
                data: der_of(milan::ARK),
            },
            CertTableEntry {
                cert_type: CertType::ASK,
                data: der_of(milan::ASK),
            },
            CertTableEntry {
                cert_type: CertType::VCEK,
                data: padded_vcek,
            },
        ];
        let entry = super::certs::entry(REPORT, table).unwrap();
        let chain = entry.cert_chain.as_deref().unwrap();
        assert!(chain.starts_with("-----BEGIN CERTIFICATE-----"));
        let claims = super::super::verify(&entry, None).unwrap();
        assert_eq!(claims.product, super::super::Product::Milan);
    }
}
