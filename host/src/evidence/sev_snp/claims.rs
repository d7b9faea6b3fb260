//! What a verified report asserts, in a stable snake_case JSON schema.

use sev::firmware::guest::{AttestationReport, GuestPolicy, PlatformInfo, Version};
use sev::firmware::host::TcbVersion;
use sha2::{Digest as _, Sha256};

use super::product::{Product, SigningKey};

/// The claims of a verified SEV-SNP report.
///
/// Every field is present in every serialisation (optional values as
/// `null`), byte strings are lowercase hex, and every value comes from the
/// signed part of the report, except `product` (the AMD root that anchored
/// the chain), `signing_key` (which the signed KEY_INFO names) and
/// `vcek_fingerprint`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SevSnpClaims {
    /// The EPYC generation whose bundled AMD ARK anchored the chain.
    pub product: Product,
    /// Whether a VCEK or a VLEK signed the report.
    pub signing_key: SigningKey,
    /// Report format version.
    pub version: u32,
    /// Guest security version number from the ID block.
    pub guest_svn: u32,
    /// Guest policy fixed at launch.
    pub policy: Policy,
    /// Family ID from the ID block, hex.
    pub family_id: String,
    /// Image ID from the ID block, hex.
    pub image_id: String,
    /// VMPL the report was requested for.
    pub vmpl: u32,
    /// Launch measurement (SHA-384), hex.
    pub measurement: String,
    /// Data the host supplied at launch, hex.
    pub host_data: String,
    /// The 64 bytes the guest asked to have signed, hex.
    pub report_data: String,
    /// SHA-384 of the ID key that signed the ID block, hex (zero if none).
    pub id_key_digest: String,
    /// SHA-384 of the author key that certified the ID key, hex (zero if none).
    pub author_key_digest: String,
    /// Report ID of this guest, hex.
    pub report_id: String,
    /// Report ID of the guest's migration agent, hex.
    pub report_id_ma: String,
    /// TCB the signing key was derived from; certified by the VCEK/VLEK.
    pub reported_tcb: Tcb,
    /// TCB the platform has committed to (anti-rollback floor).
    pub committed_tcb: Tcb,
    /// TCB the platform is currently running.
    pub current_tcb: Tcb,
    /// TCB at the time the guest was launched.
    pub launch_tcb: Tcb,
    /// Current SNP firmware version, "major.minor.build".
    pub current_version: String,
    /// Committed SNP firmware version, "major.minor.build".
    pub committed_version: String,
    /// The chip's unique ID, hex (zero when MASK_CHIP_ID is set).
    pub chip_id: String,
    /// Platform configuration flags.
    pub platform_info: Platform,
    /// "sha256:" and the hex SHA-256 of the VCEK (or VLEK) DER.
    pub vcek_fingerprint: String,
}

/// The guest policy bits that bound what the host may do with the guest.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Policy {
    /// Minimum firmware ABI major version.
    pub abi_major: u8,
    /// Minimum firmware ABI minor version.
    pub abi_minor: u8,
    /// Host SMT is allowed.
    pub smt: bool,
    /// Association with a migration agent is allowed.
    pub migrate_ma: bool,
    /// Debugging (host access to guest memory) is allowed.
    pub debug: bool,
    /// The guest may run on one socket only.
    pub single_socket: bool,
    /// CXL may be populated with devices or memory.
    pub cxl_allowed: bool,
    /// AES-256-XTS memory encryption is required.
    pub mem_aes_256_xts: bool,
    /// RAPL must be disabled.
    pub rapl_dis: bool,
    /// Ciphertext hiding must be enabled.
    pub ciphertext_hiding: bool,
    /// Page swap commands are disabled for the guest.
    pub page_swap_disabled: bool,
}

/// A TCB version: security patch levels of each firmware component.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Tcb {
    /// PSP bootloader SPL.
    pub bootloader: u8,
    /// PSP OS (TEE) SPL.
    pub tee: u8,
    /// SNP firmware SPL.
    pub snp: u8,
    /// Lowest microcode patch level of all cores.
    pub microcode: u8,
    /// FMC firmware SPL; Turin only, `null` otherwise.
    pub fmc: Option<u8>,
}

/// Platform configuration flags from PLATFORM_INFO.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Platform {
    /// SMT is enabled on the host.
    pub smt_enabled: bool,
    /// Transparent SME is enabled.
    pub tsme_enabled: bool,
    /// ECC memory is in use.
    pub ecc_enabled: bool,
    /// RAPL is disabled.
    pub rapl_disabled: bool,
    /// Ciphertext hiding is enabled.
    pub ciphertext_hiding_enabled: bool,
    /// Alias check completed with no aliasing found (report version 3+).
    pub alias_check_complete: bool,
    /// SEV-TIO is enabled.
    pub tio_enabled: bool,
}

/// Builds the claims of a report whose signature and chain have verified.
pub(super) fn build(
    r: &AttestationReport,
    product: Product,
    signing_key: SigningKey,
    vek_der: &[u8],
) -> SevSnpClaims {
    SevSnpClaims {
        product,
        signing_key,
        version: r.version,
        guest_svn: r.guest_svn,
        policy: policy(r.policy),
        family_id: hex::encode(r.family_id),
        image_id: hex::encode(r.image_id),
        vmpl: r.vmpl,
        measurement: hex::encode(r.measurement),
        host_data: hex::encode(r.host_data),
        report_data: hex::encode(r.report_data),
        id_key_digest: hex::encode(r.id_key_digest),
        author_key_digest: hex::encode(r.author_key_digest),
        report_id: hex::encode(r.report_id),
        report_id_ma: hex::encode(r.report_id_ma),
        reported_tcb: tcb(&r.reported_tcb),
        committed_tcb: tcb(&r.committed_tcb),
        current_tcb: tcb(&r.current_tcb),
        launch_tcb: tcb(&r.launch_tcb),
        current_version: version(r.current),
        committed_version: version(r.committed),
        chip_id: hex::encode(r.chip_id),
        platform_info: platform(r.plat_info),
        vcek_fingerprint: format!("sha256:{}", hex::encode(Sha256::digest(vek_der))),
    }
}

fn policy(p: GuestPolicy) -> Policy {
    Policy {
        abi_major: u8::try_from(p.abi_major()).unwrap_or(u8::MAX),
        abi_minor: u8::try_from(p.abi_minor()).unwrap_or(u8::MAX),
        smt: p.smt_allowed(),
        migrate_ma: p.migrate_ma_allowed(),
        debug: p.debug_allowed(),
        single_socket: p.single_socket_required(),
        cxl_allowed: p.cxl_allowed(),
        mem_aes_256_xts: p.mem_aes_256_xts(),
        rapl_dis: p.rapl_dis(),
        ciphertext_hiding: p.ciphertext_hiding(),
        page_swap_disabled: p.page_swap_disabled(),
    }
}

fn tcb(t: &TcbVersion) -> Tcb {
    Tcb {
        bootloader: t.bootloader,
        tee: t.tee,
        snp: t.snp,
        microcode: t.microcode,
        fmc: t.fmc,
    }
}

fn version(v: Version) -> String {
    v.to_string()
}

fn platform(p: PlatformInfo) -> Platform {
    Platform {
        smt_enabled: p.smt_enabled(),
        tsme_enabled: p.tsme_enabled(),
        ecc_enabled: p.ecc_enabled(),
        rapl_disabled: p.rapl_disabled(),
        ciphertext_hiding_enabled: p.ciphertext_hiding_enabled(),
        alias_check_complete: p.alias_check_complete(),
        tio_enabled: p.tio_enabled(),
    }
}
