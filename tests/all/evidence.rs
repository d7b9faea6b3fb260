//! Evidence: TPM quotes from swtpm, the real Milan SEV-SNP report, signed
//! memory-region reports, `verdict verify` and `verdict attest`.

mod appraisal;
mod memory;
mod sev_snp;
pub mod swtpm;
#[cfg(feature = "tpm-collect")]
mod tpm;
