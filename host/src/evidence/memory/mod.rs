//! Memory-region reports: regions of a file or a live process hashed with
//! SHA3-256 and signed with ML-DSA-65 (post-quantum).
//!
//! [`region`] reads the bytes, [`snapshot`] hashes them on every core, and
//! [`report`] signs and verifies the report.

pub mod region;
pub mod report;
pub mod snapshot;

pub use report::{
    DEFAULT_TTL, DriftMode, MemoryAppraisal, MemoryClaims, MemoryError, MemoryReport,
    ReportRequest, SIGNING_CONTEXT, create, verify,
};

#[cfg(test)]
mod tests;
