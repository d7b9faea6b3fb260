//! AMD EPYC products that sign SEV-SNP reports, and their bundled AMD roots.

use std::fmt;
use std::sync::OnceLock;

use sev::certs::snp::builtin::{genoa, milan, turin};
use x509_cert::Certificate;

use super::error::SevSnpError;

/// The EPYC generation whose AMD root anchors a verified report.
///
/// Serialises as `"milan"`, `"genoa"` or `"turin"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Product {
    /// 3rd generation EPYC (Zen 3).
    Milan,
    /// 4th generation EPYC (Zen 4).
    Genoa,
    /// 5th generation EPYC (Zen 5).
    Turin,
}

impl fmt::Display for Product {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Milan => "Milan",
            Self::Genoa => "Genoa",
            Self::Turin => "Turin",
        })
    }
}

/// The endorsement key that signed a report, as the report's KEY_INFO says.
///
/// Serialises as `"vcek"` (chip-unique) or `"vlek"` (loaded by a cloud provider).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SigningKey {
    /// Versioned Chip Endorsement Key, certified by the ASK.
    Vcek,
    /// Versioned Loaded Endorsement Key, certified by the ASVK.
    Vlek,
}

impl SigningKey {
    /// "VCEK" or "VLEK".
    pub(super) fn name(self) -> &'static str {
        match self {
            Self::Vcek => "VCEK",
            Self::Vlek => "VLEK",
        }
    }

    /// The intermediate certificate that signs this kind of key.
    pub(super) fn intermediate(self) -> &'static str {
        match self {
            Self::Vcek => "ASK",
            Self::Vlek => "ASVK",
        }
    }
}

impl fmt::Display for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One product's ARK and ASK as published by AMD and bundled in `sev`.
pub(super) struct Root {
    pub(super) product: Product,
    pub(super) ark: Certificate,
    pub(super) ask: Certificate,
    /// Outcome of checking this ARK's self-signature and its signature on
    /// this ASK: the bundled bytes never change, so once per process.
    ca_checked: OnceLock<Result<(), SevSnpError>>,
}

impl Root {
    /// Runs `check` (ARK self-signature, ARK → ASK) on first use; afterwards
    /// returns its remembered outcome.
    pub(super) fn checked_once(
        &self,
        check: impl FnOnce() -> Result<(), SevSnpError>,
    ) -> Result<(), SevSnpError> {
        self.ca_checked.get_or_init(check).clone()
    }

    /// Whether `cert` carries this root's ARK public key (same SPKI).
    pub(super) fn is_ark_key_of(&self, cert: &Certificate) -> bool {
        self.ark.tbs_certificate.subject_public_key_info
            == cert.tbs_certificate.subject_public_key_info
    }
}

static ROOTS: OnceLock<Result<Vec<Root>, String>> = OnceLock::new();

/// AMD's Milan, Genoa and Turin roots, parsed once from `sev`'s bundled PEM.
pub(super) fn bundled() -> Result<&'static [Root], SevSnpError> {
    match ROOTS.get_or_init(load) {
        Ok(roots) => Ok(roots),
        Err(reason) => Err(SevSnpError::BundledRoots {
            reason: reason.clone(),
        }),
    }
}

fn load() -> Result<Vec<Root>, String> {
    Ok(vec![
        root(Product::Milan, milan::ark(), milan::ask())?,
        root(Product::Genoa, genoa::ark(), genoa::ask())?,
        root(Product::Turin, turin::ark(), turin::ask())?,
    ])
}

type Loaded = std::io::Result<sev::certs::snp::Certificate>;

fn root(product: Product, ark: Loaded, ask: Loaded) -> Result<Root, String> {
    let loaded = |cert: Loaded, what: &str| {
        cert.map(Certificate::from)
            .map_err(|e| format!("{product} {what}: {e}"))
    };
    Ok(Root {
        product,
        ark: loaded(ark, "ARK")?,
        ask: loaded(ask, "ASK")?,
        ca_checked: OnceLock::new(),
    })
}
