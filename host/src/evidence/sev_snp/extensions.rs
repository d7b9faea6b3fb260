//! Binding the VCEK/VLEK to the report through AMD's X.509 extensions.
//!
//! `sev` checks none of this: its chain verification only checks signatures.
//! Here the certified TCB (bl/tee/snp/ucode SPL, and fmc SPL on Turin) must
//! equal the report's reported_tcb, and a VCEK's hwID must be the chip_id.

use sev::firmware::guest::AttestationReport;
use sev::firmware::host::TcbVersion;
use x509_cert::Certificate;
use x509_cert::der::Decode as _;
use x509_cert::der::asn1::ObjectIdentifier;

use super::error::SevSnpError;
use super::product::{Product, SigningKey};

/// One AMD extension: its name in errors and its OID.
struct Ext {
    name: &'static str,
    oid: &'static str,
}

const BL_SPL: Ext = Ext {
    name: "bl_spl",
    oid: "1.3.6.1.4.1.3704.1.3.1",
};
const TEE_SPL: Ext = Ext {
    name: "tee_spl",
    oid: "1.3.6.1.4.1.3704.1.3.2",
};
const SNP_SPL: Ext = Ext {
    name: "snp_spl",
    oid: "1.3.6.1.4.1.3704.1.3.3",
};
const UCODE_SPL: Ext = Ext {
    name: "ucode_spl",
    oid: "1.3.6.1.4.1.3704.1.3.8",
};
const FMC_SPL: Ext = Ext {
    name: "fmc_spl",
    oid: "1.3.6.1.4.1.3704.1.3.9",
};
const HW_ID: Ext = Ext {
    name: "hwID",
    oid: "1.3.6.1.4.1.3704.1.4",
};

/// Checks the certified TCB and, for a VCEK, the hwID against the report.
pub(super) fn check(
    cert: &Certificate,
    which: SigningKey,
    product: Product,
    report: &AttestationReport,
) -> Result<(), SevSnpError> {
    check_layout(&report.reported_tcb, product)?;
    check_tcb(cert, which, product, &report.reported_tcb)?;
    match which {
        SigningKey::Vcek => check_hw_id(cert, &report.chip_id),
        SigningKey::Vlek => match find(cert, &HW_ID) {
            Some(_) => Err(SevSnpError::VlekHasHwId),
            None => Ok(()),
        },
    }
}

/// `sev` picks the TCB layout from CPUID (or, in a version 2 report, from the
/// chip_id's shape); it must agree with the product whose root verified.
fn check_layout(tcb: &TcbVersion, product: Product) -> Result<(), SevSnpError> {
    let turin_layout = tcb.fmc.is_some();
    if turin_layout == (product == Product::Turin) {
        return Ok(());
    }
    let layout = if turin_layout { "Turin" } else { "Milan/Genoa" };
    Err(SevSnpError::TcbLayoutMismatch { layout, product })
}

fn check_tcb(
    cert: &Certificate,
    which: SigningKey,
    product: Product,
    tcb: &TcbVersion,
) -> Result<(), SevSnpError> {
    let mut fields = vec![
        (&BL_SPL, "bootloader", tcb.bootloader),
        (&TEE_SPL, "tee", tcb.tee),
        (&SNP_SPL, "snp", tcb.snp),
        (&UCODE_SPL, "microcode", tcb.microcode),
    ];
    if let (Product::Turin, Some(fmc)) = (product, tcb.fmc) {
        fields.push((&FMC_SPL, "fmc", fmc));
    }
    for (ext, field, reported) in fields {
        let certified = spl(cert, which, ext)?;
        if certified != reported {
            return Err(SevSnpError::TcbMismatch {
                key: which,
                field,
                certified,
                reported,
            });
        }
    }
    Ok(())
}

/// A security patch level: a DER INTEGER from 0 to 255.
fn spl(cert: &Certificate, which: SigningKey, ext: &Ext) -> Result<u8, SevSnpError> {
    let value = require(cert, which, ext)?;
    u8::from_der(value).map_err(|e| malformed(which, ext, e.to_string()))
}

/// hwID is the chip_id, raw (not DER-wrapped) in AMD's certificates: 64
/// bytes on Milan and Genoa, 8 on Turin, whose chip_id is zero beyond them.
fn check_hw_id(cert: &Certificate, chip_id: &[u8; 64]) -> Result<(), SevSnpError> {
    let which = SigningKey::Vcek;
    let hw_id = hw_id_bytes(require(cert, which, &HW_ID)?)
        .ok_or_else(|| malformed(which, &HW_ID, "not 8 or 64 bytes".into()))?;
    if chip_id.iter().all(|&b| b == 0) {
        return Err(SevSnpError::ChipIdMasked);
    }
    let (head, tail) = chip_id.split_at(hw_id.len());
    if head == hw_id && tail.iter().all(|&b| b == 0) {
        return Ok(());
    }
    Err(SevSnpError::HwIdMismatch {
        vcek: hex::encode(hw_id),
        report: hex::encode(chip_id),
    })
}

/// The hwID bytes, raw or wrapped in a DER OCTET STRING (lengths 8 or 64).
fn hw_id_bytes(value: &[u8]) -> Option<&[u8]> {
    match value {
        raw if raw.len() == 8 || raw.len() == 64 => Some(raw),
        [0x04, len, inner @ ..] if usize::from(*len) == inner.len() && matches!(len, 8 | 64) => {
            Some(inner)
        }
        _ => None,
    }
}

fn require<'a>(
    cert: &'a Certificate,
    which: SigningKey,
    ext: &Ext,
) -> Result<&'a [u8], SevSnpError> {
    find(cert, ext).ok_or(SevSnpError::MissingExtension {
        key: which,
        name: ext.name,
        oid: ext.oid,
    })
}

fn find<'a>(cert: &'a Certificate, ext: &Ext) -> Option<&'a [u8]> {
    let oid = ObjectIdentifier::new(ext.oid).ok()?;
    cert.tbs_certificate
        .extensions
        .as_deref()?
        .iter()
        .find(|e| e.extn_id == oid)
        .map(|e| e.extn_value.as_bytes())
}

fn malformed(which: SigningKey, ext: &Ext, reason: String) -> SevSnpError {
    SevSnpError::MalformedExtension {
        key: which,
        name: ext.name,
        oid: ext.oid,
        reason,
    }
}
