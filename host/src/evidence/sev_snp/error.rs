//! Why an SEV-SNP entry was refused, or why one could not be collected.

use super::product::{Product, SigningKey};

/// Why [`verify`](super::verify) refused an SEV-SNP entry.
///
/// Each variant names exactly one failed check, so a refusal can be told
/// apart from every other without parsing the message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SevSnpError {
    /// The caller's expected nonce is empty or longer than `report_data`.
    #[error("the expected nonce must be 1 to 64 bytes, got {len}")]
    NonceLength {
        /// Length of the nonce the caller passed.
        len: usize,
    },
    /// `report` is not standard base64.
    #[error("\"report\" is not valid base64: {reason}")]
    ReportBase64 {
        /// The base64 decoder's message.
        reason: String,
    },
    /// The decoded report is not exactly 1184 bytes.
    #[error("an SEV-SNP report must be exactly 1184 bytes, got {actual}")]
    ReportLength {
        /// Number of bytes the base64 decoded to.
        actual: usize,
    },
    /// The report's version field predates SEV-SNP report version 2.
    #[error("SEV-SNP report version {version} is not supported (version 2 or later is required)")]
    UnsupportedReportVersion {
        /// The version field of the report.
        version: u32,
    },
    /// The `sev` crate could not parse the report.
    #[error("the SEV-SNP report cannot be parsed: {reason}")]
    ReportParse {
        /// The `sev` crate's message.
        reason: String,
    },
    /// The report's CPUID family and model are not Milan, Genoa or Turin.
    #[error(
        "the report's CPUID family {family:#04x} model {model:#04x} is not Milan, Genoa or Turin"
    )]
    UnsupportedCpu {
        /// CPUID family from the report.
        family: u8,
        /// CPUID model from the report.
        model: u8,
    },
    /// The report's signature algorithm is not ECDSA P-384 with SHA-384.
    #[error("the report's signature algorithm is {found}, not 1 (ECDSA P-384 with SHA-384)")]
    SignatureAlgorithm {
        /// The report's `signature_algo` field.
        found: u32,
    },
    /// The firmware did not sign the report (MASK_CHIP_KEY, or signing key "none").
    #[error("the report is not signed (MASK_CHIP_KEY set or signing key \"none\")")]
    UnsignedReport,
    /// The report's SIGNING_KEY field is a reserved value.
    #[error("the report's signing key field is {found}, neither VCEK (0) nor VLEK (1)")]
    UnknownSigningKey {
        /// The SIGNING_KEY field of the report's key info.
        found: u32,
    },
    /// The entry has no `vcek`; nothing is fetched from AMD's KDS.
    #[error(
        "the report is signed by a {key} but the entry has no \"vcek\": verdict does not fetch \
         it from AMD's KDS (no network access), so the attester must include it"
    )]
    MissingVek {
        /// The key the report names as its signer.
        key: SigningKey,
    },
    /// `vcek` is not standard base64.
    #[error("\"vcek\" is not valid base64: {reason}")]
    VekBase64 {
        /// The base64 decoder's message.
        reason: String,
    },
    /// `vcek` does not decode to one DER X.509 certificate.
    #[error("\"vcek\" is not a DER X.509 certificate: {reason}")]
    VekDer {
        /// The DER decoder's message.
        reason: String,
    },
    /// A certificate of the chain is outside its validity period at the
    /// verifier's time.
    #[error(
        "the {role} certificate is not valid at {now} (unix seconds): valid from {not_before} to {not_after}"
    )]
    CertificateValidity {
        /// Which certificate: "VCEK", "VLEK", "ASK", "ASVK" or "ARK".
        role: String,
        /// The verifier's time.
        now: u64,
        /// notBefore, unix seconds.
        not_before: u64,
        /// notAfter, unix seconds.
        not_after: u64,
    },
    /// The VCEK or VLEK does not carry a P-384 public key.
    #[error("the {key}'s public key is not an ECDSA P-384 key: {reason}")]
    VekPublicKey {
        /// Which endorsement key.
        key: SigningKey,
        /// The key decoder's message.
        reason: String,
    },
    /// A certificate's outer signatureAlgorithm differs from its signed copy.
    #[error(
        "a {certificate} certificate's outer signatureAlgorithm differs from the signed one \
         in its tbsCertificate (RFC 5280 4.1.1.2)"
    )]
    UnsignedAlgorithmMismatch {
        /// "VCEK", "VLEK" or "cert_chain".
        certificate: &'static str,
    },
    /// `cert_chain` is not a sequence of PEM X.509 certificates.
    #[error("\"cert_chain\" is not PEM X.509 certificates: {reason}")]
    CertChainPem {
        /// The PEM/DER decoder's message.
        reason: String,
    },
    /// `cert_chain` does not hold exactly two certificates.
    #[error(
        "\"cert_chain\" must hold exactly 2 certificates (ASK or ASVK, and ARK), found {found}"
    )]
    CertChainCount {
        /// Number of certificates found.
        found: usize,
    },
    /// No certificate in `cert_chain` has the key of a bundled AMD ARK.
    #[error(
        "no certificate in \"cert_chain\" carries the key of AMD's Milan, Genoa or Turin ARK: \
         a chain to any other root is refused"
    )]
    UntrustedArk,
    /// The report's CPUID names one product, the certificate chain another.
    #[error("the report comes from a {report} CPU but the certificate chain is {chain}'s")]
    ProductMismatch {
        /// Product named by the report's CPUID fields.
        report: Product,
        /// Product whose ARK anchors the chain.
        chain: Product,
    },
    /// A VLEK-signed report came without the ASVK, which is not bundled.
    #[error(
        "the report is signed by a VLEK but the entry has no \"cert_chain\" with the ASVK; \
         verdict bundles AMD's ARKs and ASKs, not the ASVKs"
    )]
    MissingAsvk,
    /// The ARK's self-signature does not verify.
    #[error("the {product} ARK is not validly self-signed: {reason}")]
    ArkSelfSignature {
        /// Product of the ARK.
        product: Product,
        /// The verifier's message.
        reason: String,
    },
    /// The ARK does not sign the ASK (or ASVK).
    #[error("the {product} ARK does not sign the {intermediate}: {reason}")]
    IntermediateSignature {
        /// Product of the ARK.
        product: Product,
        /// "ASK" or "ASVK".
        intermediate: &'static str,
        /// The verifier's message.
        reason: String,
    },
    /// The ASK (or ASVK) does not sign the VCEK (or VLEK).
    #[error("the {product} {intermediate} does not sign the {key}: {reason}")]
    VekSignature {
        /// Product of the chain.
        product: Product,
        /// "ASK" or "ASVK".
        intermediate: &'static str,
        /// Which endorsement key.
        key: SigningKey,
        /// The verifier's message.
        reason: String,
    },
    /// No bundled root's ASK signs the VCEK (product detection by trial).
    #[error("the {key} is not signed by AMD's bundled Milan, Genoa or Turin ASK")]
    NoBundledRootSignsVek {
        /// Which endorsement key.
        key: SigningKey,
    },
    /// Bytes of the signature field that must be zero are not.
    #[error(
        "the report's signature field has a non-zero byte at offset {offset:#05x}, where it must be zero"
    )]
    SignaturePadding {
        /// Offset in the report of the first non-zero byte.
        offset: usize,
    },
    /// The ECDSA P-384 signature over bytes 0..0x2a0 does not verify.
    #[error("the {key} does not sign this report (ECDSA P-384 over bytes 0..0x2a0): {reason}")]
    BadSignature {
        /// Which endorsement key.
        key: SigningKey,
        /// The verifier's message.
        reason: String,
    },
    /// A reserved byte of the signed area is not zero (or this verifier
    /// does not know the field there), so `sev`'s re-encoding differs.
    #[error(
        "the report's byte at offset {offset:#05x} is in a reserved field (or one this verifier \
         does not know) and is not zero"
    )]
    ReservedNotZero {
        /// Offset in the report of the first such byte.
        offset: usize,
    },
    /// The report's TCB layout does not fit the product of the chain.
    #[error(
        "the report's TCB fields were laid out for {layout}, which does not fit a {product} chip"
    )]
    TcbLayoutMismatch {
        /// "Turin" or "Milan/Genoa".
        layout: &'static str,
        /// Product whose chain verified.
        product: Product,
    },
    /// A required TCB or hwID extension is absent from the certificate.
    #[error("the {key} has no {name} extension ({oid})")]
    MissingExtension {
        /// Which endorsement key.
        key: SigningKey,
        /// Extension name, e.g. "snp_spl".
        name: &'static str,
        /// Its object identifier.
        oid: &'static str,
    },
    /// A TCB or hwID extension does not hold what AMD's specification says.
    #[error("the {key}'s {name} extension ({oid}) is malformed: {reason}")]
    MalformedExtension {
        /// Which endorsement key.
        key: SigningKey,
        /// Extension name.
        name: &'static str,
        /// Its object identifier.
        oid: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The certificate certifies a TCB other than the report's reported_tcb.
    #[error(
        "the {key} certifies {field} = {certified}, but the report's reported_tcb has {reported}"
    )]
    TcbMismatch {
        /// Which endorsement key.
        key: SigningKey,
        /// TCB component: "bootloader", "tee", "snp", "microcode" or "fmc".
        field: &'static str,
        /// Value in the certificate's extension.
        certified: u8,
        /// Value in the report.
        reported: u8,
    },
    /// The report's chip_id is masked, so it cannot be bound to the VCEK.
    #[error(
        "the report's chip_id is all zeros (MASK_CHIP_ID), so it cannot be bound to the VCEK's hwID"
    )]
    ChipIdMasked,
    /// The VCEK's hwID is not the report's chip_id.
    #[error("the VCEK's hwID {vcek} is not the report's chip_id {report}")]
    HwIdMismatch {
        /// hwID from the VCEK, hex.
        vcek: String,
        /// chip_id from the report, hex.
        report: String,
    },
    /// The report says VLEK but the certificate is chip-bound (has a hwID).
    #[error(
        "the report is signed by a VLEK but \"vcek\" holds a chip-bound certificate (it has a hwID)"
    )]
    VlekHasHwId,
    /// report_data is not the expected nonce followed by zero bytes.
    #[error("report_data {found} is not the expected nonce zero-padded to 64 bytes ({expected})")]
    NonceMismatch {
        /// The expected nonce padded to 64 bytes, hex.
        expected: String,
        /// The report's report_data, hex.
        found: String,
    },
    /// The AMD roots bundled with `sev` do not load (a build defect).
    #[error("the bundled AMD root certificates cannot be loaded: {reason}")]
    BundledRoots {
        /// The loader's message.
        reason: String,
    },
}

/// Why [`collect`](super::collect) could not produce an SEV-SNP entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CollectError {
    /// The SEV-SNP guest device is absent: not an SNP guest, or no driver.
    #[error(
        "{path} does not exist: this is not an SEV-SNP guest, or the sev-guest driver is not loaded"
    )]
    NoDevice {
        /// The device path, `/dev/sev-guest`.
        path: &'static str,
    },
    /// The device exists but cannot be opened (often permissions).
    #[error("cannot open {path}: {reason}")]
    Open {
        /// The device path, `/dev/sev-guest`.
        path: &'static str,
        /// The operating system's message.
        reason: String,
    },
    /// The firmware refused both the extended and the plain report request.
    #[error("the SEV-SNP firmware refused the report request through {path}: {reason}")]
    Report {
        /// The device path, `/dev/sev-guest`.
        path: &'static str,
        /// The `sev` crate's message.
        reason: String,
    },
    /// A certificate the host attached to the extended report is not X.509.
    #[error("the host attached a {kind} certificate that is not X.509: {reason}")]
    Certificate {
        /// "ARK", "ASK", "VCEK" or "VLEK".
        kind: &'static str,
        /// The decoder's message.
        reason: String,
    },
    /// Collection needs the Linux sev-guest driver.
    #[error("SEV-SNP report collection is only supported on Linux")]
    Unsupported,
}
