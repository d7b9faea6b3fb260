//! AMD's bundled roots (ARK and ASK) for each product, parsed and checked
//! once per process.

use std::sync::OnceLock;

use sev::certs::snp::builtin::{genoa, milan, turin};
use x509_cert::Certificate;

use super::error::SevSnpError;
use super::product::Product;

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
