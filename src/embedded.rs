//! The built-in policies, their data and examples, compiled into the binary
//! so `verdict demo` and `verdict serve --dev` work from nothing.

pub const ISOLATION_REGO: &str = include_str!("../policies/isolation.rego");
pub const ISOLATION_DATA: &str = include_str!("../examples/isolation/data.json");
pub const FEEDBACK_REGO: &str = include_str!("../policies/feedback.rego");
pub const FEEDBACK_DATA: &str = include_str!("../examples/feedback/data.json");
pub const ATTESTATION_REGO: &str = include_str!("../policies/attestation.rego");
/// The demo's appraisal data: requires the SEV-SNP report it appraises.
pub const ATTESTATION_DATA: &str = include_str!("../examples/attestation/data.json");
/// The dev gateway's appraisal data: requires a memory report, signed by an
/// attester key the dev setup trusts, whose regions match its pins.
pub const DEV_ATTESTATION_DATA: &str = include_str!("../examples/attestation/dev-data.json");
/// A real AMD Milan SEV-SNP report with its VCEK and chain
/// (tests/fixtures/sev-snp/ORIGIN.md).
pub const MILAN_EVIDENCE: &str = include_str!("../tests/fixtures/sev-snp/milan-evidence.json");
/// The `report_data` the Milan report was requested with: the challenge it
/// answers.
pub const MILAN_NONCE: &str = "d447b55d197491bfe15cf298f9de9986b7a7c4be2468b4f6e2d53b71d7c645810b0f2cdfca0040433be063fc1a8293f0f3f8dae7b79fecb3d1cd82bd6a93ebfd";

pub const FEEDBACK_EXAMPLES: [(&str, &str); 2] = [
    (
        "accept.json",
        include_str!("../examples/feedback/accept.json"),
    ),
    (
        "reject.json",
        include_str!("../examples/feedback/reject.json"),
    ),
];

pub const ISOLATION_EXAMPLES: [(&str, &str); 2] = [
    (
        "accept.json",
        include_str!("../examples/isolation/accept.json"),
    ),
    (
        "reject.json",
        include_str!("../examples/isolation/reject.json"),
    ),
];
