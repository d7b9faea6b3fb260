//! The signed memory-region report: what an attester measured, signed with
//! ML-DSA-65 (docs/evidence.md, "Memory-region reports").

use std::collections::BTreeMap;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::region::{Protection, RegionSource};
use super::snapshot::{SnapshotDigest, digest_source};
use crate::crypto::{KeyId, SignatureAlgorithm, SigningKey, VerifyingKey};
use crate::evidence::EvidenceNonce;
use crate::timestamp::Timestamp;

/// The report's `format` member.
pub const FORMAT: &str = "verdict/memory-report/v1";
/// The FIPS 204 context string the report is signed under.
pub const SIGNING_CONTEXT: &str = "verdict/memory-report/v1";
/// The signature's `alg` member.
pub const ALGORITHM: &str = "ML-DSA-65";
/// How long a report is valid unless the attester says otherwise.
pub const DEFAULT_TTL: Duration = Duration::from_secs(300);
/// The longest validity a report may claim: a day. Reports are meant to be
/// fresh; a longer one is most likely a unit mistake.
pub const MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);
/// The most regions one report may carry.
pub const MAX_REGIONS: usize = 256;
/// The largest integer a report carries as a JSON number (2^53 - 1): larger
/// ones do not survive every JSON parser, and the signature is over JSON.
const MAX_SAFE_INTEGER: u64 = (1 << 53) - 1;

/// A memory-region report as it travels: every member but `signature` is
/// signed (RFC 8785 canonical JSON of the report without `signature`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MemoryReport {
    /// Always [`FORMAT`].
    pub format: String,
    /// 32 lowercase hex digits, random per report.
    pub id: String,
    /// When the regions were measured, unix seconds.
    pub issued_at: u64,
    /// When the report stops being valid, unix seconds.
    pub expires_at: u64,
    /// The regions, each with its snapshot digest.
    pub regions: Vec<MeasuredRegion>,
    /// What the attester claims about the workload.
    pub claims: ReportClaims,
    /// The ML-DSA-65 signature over everything else.
    pub signature: ReportSignature,
}

/// One measured region.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MeasuredRegion {
    /// 1-128 of `[A-Za-z0-9._:-]`, unique within the report.
    pub id: String,
    /// Free text: what the region holds.
    pub description: String,
    /// The region's start: a virtual address for process memory, a byte
    /// offset for a file; `0x` and lowercase hex.
    pub address: String,
    /// Its length in bytes.
    pub size: u64,
    /// `r`, `w`, `x` or `-` in three places, as in `/proc/<pid>/maps`.
    pub protection: Protection,
    /// The snapshot digest of its bytes (SHA3-256 chunk tree).
    pub sha3_256: SnapshotDigest,
}

/// The attester's claims.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportClaims {
    /// The workload the regions belong to.
    pub workload_id: String,
    /// Where it ran, e.g. `linux-x86_64`.
    pub platform: String,
    /// The verifier's challenge, hex.
    pub nonce: EvidenceNonce,
    /// What the attester expected each region to hash to (informational:
    /// drift is judged against the verifier's own pins).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub expected_sha3_256: BTreeMap<String, SnapshotDigest>,
}

/// The `signature` member.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportSignature {
    /// Always [`ALGORITHM`].
    pub alg: String,
    /// The key id of `public_key` (`ml-dsa-65-<16 hex>`).
    pub kid: String,
    /// The raw 1952-byte ML-DSA-65 public key, base64.
    pub public_key: String,
    /// The 3309-byte signature, base64.
    pub value: String,
}

/// What the attester asks for when it makes a report.
pub struct ReportRequest<'a> {
    pub sources: &'a [&'a dyn RegionSource],
    pub workload_id: &'a str,
    pub platform: &'a str,
    pub nonce: &'a EvidenceNonce,
    pub expected: BTreeMap<String, SnapshotDigest>,
    pub ttl: Duration,
    pub now: Timestamp,
    /// Hashing threads; 0 means one per core.
    pub threads: usize,
}

/// How the verifier appraises a report beyond its signature.
#[derive(Clone, Debug)]
pub struct MemoryAppraisal {
    /// The keys trusted to sign reports; empty falls back to the key a
    /// report carries, which anchors nothing: the claims then say
    /// `signer.pinned: false` and the appraisal policy must refuse them.
    pub trusted_keys: Vec<VerifyingKey>,
    /// The expected digest of each region, by region id.
    pub pinned: BTreeMap<String, SnapshotDigest>,
    /// Whether drift (or a region without a pin, or a pin without a region)
    /// fails verification; [`DriftMode::Strict`] unless asked otherwise.
    pub mode: DriftMode,
    /// Clock skew tolerated on `issued_at` and `expires_at`.
    pub skew: Duration,
}

impl Default for MemoryAppraisal {
    fn default() -> Self {
        Self {
            trusted_keys: Vec::new(),
            pinned: BTreeMap::new(),
            mode: DriftMode::Strict,
            skew: Duration::from_secs(30),
        }
    }
}

/// How pinned digests are enforced. Written `"strict"` or `"lenient"` in
/// configuration.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DriftMode {
    /// Every region must have a pin and match it, and every pin must name a
    /// region of the report; anything else fails verification. The default:
    /// a verifier that was told what to expect never lets a difference pass.
    #[default]
    Strict,
    /// A region that differs from its pin is reported as `drift` in the
    /// claims, one without a pin as `unpinned`, and a pin that names no
    /// region of the report in `missing_regions`; the policy decides (the
    /// shipped one refuses all three). Only when asked for explicitly.
    Lenient,
}

/// The normalized claims of a verified report.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct MemoryClaims {
    pub report_id: String,
    pub workload_id: String,
    pub platform: String,
    pub nonce: EvidenceNonce,
    pub issued_at: u64,
    pub expires_at: u64,
    pub signer: SignerClaims,
    pub regions: Vec<RegionClaims>,
    /// True when any region drifted from its pin.
    pub drift: bool,
    /// The pinned region ids the report does not carry (lenient mode; in
    /// strict mode a missing one fails verification), sorted.
    pub missing_regions: Vec<String>,
}

/// Who signed.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SignerClaims {
    pub alg: &'static str,
    pub kid: KeyId,
    /// True when the key is one the verifier was configured to trust.
    pub pinned: bool,
}

/// One region, appraised.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RegionClaims {
    pub id: String,
    pub description: String,
    pub address: String,
    pub size: u64,
    pub protection: Protection,
    pub sha3_256: SnapshotDigest,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attester_expected_sha3_256: Option<SnapshotDigest>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pinned_sha3_256: Option<SnapshotDigest>,
    pub status: RegionStatus,
}

/// A region's digest against the verifier's pin.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum RegionStatus {
    Match,
    Drift,
    Unpinned,
}

/// Why a report could not be made or was not verified.
#[derive(Debug, thiserror::Error)]
pub enum MemoryError {
    #[error("malformed report: {0}")]
    Malformed(String),
    #[error("report format is `{0}`, expected `{FORMAT}`")]
    Format(String),
    #[error("signature alg is `{0}`, expected `{ALGORITHM}`")]
    Algorithm(String),
    #[error("signature.{field} is not base64")]
    Base64 { field: &'static str },
    #[error("signature.public_key: {0}")]
    PublicKey(String),
    #[error("signature.kid is `{claimed}` but the public key's id is `{actual}`")]
    KidMismatch { claimed: String, actual: KeyId },
    #[error("the signing key {0} is not one of the trusted report keys")]
    UntrustedKey(KeyId),
    #[error("the signature does not verify: {0}")]
    Signature(String),
    #[error("the report expired at {expires_at} (now {now}, skew {skew}s)")]
    Expired {
        expires_at: u64,
        now: i64,
        skew: u64,
    },
    #[error("the report is issued at {issued_at}, in the future (now {now}, skew {skew}s)")]
    NotYetValid { issued_at: u64, now: i64, skew: u64 },
    #[error("the report's validity is {0}s, more than the allowed {max}s", max = MAX_TTL.as_secs())]
    TooLong(u64),
    #[error("the report's nonce {found} is not the expected {expected}")]
    NonceMismatch { expected: String, found: String },
    #[error("region `{region}` drifted: measured {measured}, pinned {pinned}")]
    Drift {
        region: String,
        measured: String,
        pinned: String,
    },
    #[error("region `{0}` has no pinned digest (strict mode)")]
    Unpinned(String),
    #[error("pinned region `{0}` is missing from the report (strict mode)")]
    MissingRegion(String),
    #[error("measuring region `{region}`: {reason}")]
    Measure { region: String, reason: String },
    #[error("the report key must be ML-DSA-65, not {0}")]
    WrongKeyAlgorithm(SignatureAlgorithm),
    #[error("signing failed: {0}")]
    Sign(String),
}

/// The platform this build runs on, as reports name it: `<os>-<arch>`,
/// e.g. `linux-x86_64`.
pub fn platform() -> String {
    format!("{}-{}", std::env::consts::OS, std::env::consts::ARCH)
}

/// Everything a report says besides its regions.
pub struct ReportMeta<'a> {
    pub workload_id: &'a str,
    pub platform: &'a str,
    pub nonce: &'a EvidenceNonce,
    pub expected: BTreeMap<String, SnapshotDigest>,
    pub ttl: Duration,
    pub now: Timestamp,
}

/// Measures every source and signs the report with `key` (ML-DSA-65).
pub fn create(request: &ReportRequest<'_>, key: &SigningKey) -> Result<MemoryReport, MemoryError> {
    let regions = request
        .sources
        .iter()
        .map(|source| measure(*source, request.threads))
        .collect::<Result<Vec<_>, _>>()?;
    let meta = ReportMeta {
        workload_id: request.workload_id,
        platform: request.platform,
        nonce: request.nonce,
        expected: request.expected.clone(),
        ttl: request.ttl,
        now: request.now,
    };
    sign_measured(regions, meta, key)
}

/// Signs a report over regions measured earlier (a long-running attester
/// re-signs the same measurement for each challenge).
pub fn sign_measured(
    regions: Vec<MeasuredRegion>,
    meta: ReportMeta<'_>,
    key: &SigningKey,
) -> Result<MemoryReport, MemoryError> {
    if key.algorithm() != SignatureAlgorithm::MlDsa65 {
        return Err(MemoryError::WrongKeyAlgorithm(key.algorithm()));
    }
    if meta.ttl.is_zero() || meta.ttl > MAX_TTL {
        return Err(MemoryError::TooLong(meta.ttl.as_secs()));
    }
    let issued_at = u64::try_from(meta.now.unix_seconds())
        .map_err(|_| MemoryError::Malformed("the clock is before 1970".into()))?;
    let mut report = MemoryReport {
        format: FORMAT.to_string(),
        id: random_id(),
        issued_at,
        expires_at: issued_at + meta.ttl.as_secs(),
        regions,
        claims: ReportClaims {
            workload_id: meta.workload_id.to_string(),
            platform: meta.platform.to_string(),
            nonce: meta.nonce.clone(),
            expected_sha3_256: meta.expected,
        },
        signature: ReportSignature {
            alg: ALGORITHM.to_string(),
            kid: key.key_id().to_string(),
            public_key: BASE64.encode(key.verifying_key().raw()),
            value: String::new(),
        },
    };
    check_shape(&report)?;
    let message = signed_message(&to_value(&report)?)?;
    let signature = key
        .sign(SIGNING_CONTEXT, &message)
        .map_err(|e| MemoryError::Sign(e.to_string()))?;
    report.signature.value = BASE64.encode(signature);
    Ok(report)
}

/// Reads and hashes one region.
pub fn measure(source: &dyn RegionSource, threads: usize) -> Result<MeasuredRegion, MemoryError> {
    let region = source.region();
    let digest = digest_source(source, threads).map_err(|e| MemoryError::Measure {
        region: region.id.to_string(),
        reason: e.to_string(),
    })?;
    Ok(MeasuredRegion {
        id: region.id.to_string(),
        description: region.description.clone(),
        address: format!("{:#x}", region.address),
        size: region.size,
        protection: region.protection,
        sha3_256: digest,
    })
}

fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand_core::RngCore::fill_bytes(&mut rand_core::OsRng, &mut bytes);
    hex::encode(bytes)
}

fn to_value(report: &MemoryReport) -> Result<Value, MemoryError> {
    serde_json::to_value(report).map_err(|e| MemoryError::Malformed(e.to_string()))
}

/// The bytes the signature covers: the RFC 8785 canonical JSON of `report`
/// with its `signature` member removed.
pub fn signed_message(report: &Value) -> Result<Vec<u8>, MemoryError> {
    let mut unsigned = report
        .as_object()
        .ok_or_else(|| MemoryError::Malformed("a report is a JSON object".into()))?
        .clone();
    unsigned.remove("signature");
    serde_jcs::to_vec(&unsigned).map_err(|e| MemoryError::Malformed(e.to_string()))
}

/// Verifies a report as received (`report` is the JSON value, so the
/// signature is checked over exactly what was sent), then appraises it:
/// signature, key, validity window, nonce, and drift against the pins.
pub fn verify(
    report: &Value,
    expected_nonce: Option<&EvidenceNonce>,
    now: Timestamp,
    appraisal: &MemoryAppraisal,
) -> Result<MemoryClaims, MemoryError> {
    let parsed: MemoryReport = serde_json::from_value(report.clone())
        .map_err(|e| MemoryError::Malformed(e.to_string()))?;
    check_shape(&parsed)?;
    let signer = verify_signature(report, &parsed.signature, appraisal)?;
    check_window(&parsed, now, appraisal.skew)?;
    if let Some(expected) = expected_nonce
        && expected != &parsed.claims.nonce
    {
        return Err(MemoryError::NonceMismatch {
            expected: expected.hex(),
            found: parsed.claims.nonce.hex(),
        });
    }
    let regions = appraise_regions(&parsed, appraisal)?;
    Ok(MemoryClaims {
        drift: regions.iter().any(|r| r.status == RegionStatus::Drift),
        missing_regions: missing_regions(&parsed, appraisal),
        report_id: parsed.id,
        workload_id: parsed.claims.workload_id,
        platform: parsed.claims.platform,
        nonce: parsed.claims.nonce,
        issued_at: parsed.issued_at,
        expires_at: parsed.expires_at,
        signer,
        regions,
    })
}

fn check_shape(report: &MemoryReport) -> Result<(), MemoryError> {
    if report.format != FORMAT {
        return Err(MemoryError::Format(report.format.clone()));
    }
    let malformed = |m: String| Err(MemoryError::Malformed(m));
    let lower_hex = |b: u8| b.is_ascii_digit() || (b'a'..=b'f').contains(&b);
    if report.id.len() != 32 || !report.id.bytes().all(lower_hex) {
        return malformed("id must be 32 lowercase hex digits".into());
    }
    if report.regions.is_empty() || report.regions.len() > MAX_REGIONS {
        return malformed(format!("a report has 1 to {MAX_REGIONS} regions"));
    }
    let mut seen = std::collections::BTreeSet::new();
    for region in &report.regions {
        if region.id.parse::<super::region::RegionId>().is_err() {
            return malformed(format!(
                "region id `{}` is not 1-128 of [A-Za-z0-9._:-]",
                region.id
            ));
        }
        if !seen.insert(region.id.as_str()) {
            return malformed(format!("region id `{}` appears twice", region.id));
        }
        if parse_address(&region.address).is_none() {
            return malformed(format!(
                "region `{}`: address must be 0x and hex",
                region.id
            ));
        }
    }
    for (name, value) in [
        ("issued_at", report.issued_at),
        ("expires_at", report.expires_at),
    ]
    .into_iter()
    .chain(report.regions.iter().map(|r| ("size", r.size)))
    {
        if value > MAX_SAFE_INTEGER {
            return malformed(format!("{name} exceeds 2^53 - 1"));
        }
    }
    if report.expires_at <= report.issued_at {
        return malformed("expires_at must be after issued_at".into());
    }
    if let Some(unknown) = report
        .claims
        .expected_sha3_256
        .keys()
        .find(|id| !seen.contains(id.as_str()))
    {
        return malformed(format!(
            "claims.expected_sha3_256 names `{unknown}`, which is not a region of the report"
        ));
    }
    Ok(())
}

fn parse_address(text: &str) -> Option<u64> {
    let hex = text.strip_prefix("0x")?;
    if hex.is_empty() || hex.len() > 16 || hex.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    u64::from_str_radix(hex, 16).ok()
}

fn verify_signature(
    report: &Value,
    signature: &ReportSignature,
    appraisal: &MemoryAppraisal,
) -> Result<SignerClaims, MemoryError> {
    if signature.alg != ALGORITHM {
        return Err(MemoryError::Algorithm(signature.alg.clone()));
    }
    let raw = BASE64
        .decode(&signature.public_key)
        .map_err(|_| MemoryError::Base64 {
            field: "public_key",
        })?;
    let key = VerifyingKey::from_raw(SignatureAlgorithm::MlDsa65, &raw)
        .map_err(|e| MemoryError::PublicKey(e.to_string()))?;
    if signature.kid != key.key_id().as_str() {
        return Err(MemoryError::KidMismatch {
            claimed: signature.kid.clone(),
            actual: key.key_id().clone(),
        });
    }
    let pinned = appraisal
        .trusted_keys
        .iter()
        .any(|trusted| trusted.key_id() == key.key_id() && trusted.raw() == raw);
    if !appraisal.trusted_keys.is_empty() && !pinned {
        return Err(MemoryError::UntrustedKey(key.key_id().clone()));
    }
    let value = BASE64
        .decode(&signature.value)
        .map_err(|_| MemoryError::Base64 { field: "value" })?;
    key.verify(SIGNING_CONTEXT, &signed_message(report)?, &value)
        .map_err(|e| MemoryError::Signature(e.to_string()))?;
    Ok(SignerClaims {
        alg: ALGORITHM,
        kid: key.key_id().clone(),
        pinned,
    })
}

fn check_window(report: &MemoryReport, now: Timestamp, skew: Duration) -> Result<(), MemoryError> {
    let validity = report.expires_at - report.issued_at;
    if validity > MAX_TTL.as_secs() {
        return Err(MemoryError::TooLong(validity));
    }
    let now_s = now.unix_seconds();
    let skew_s = skew.as_secs();
    let now_i = i128::from(now_s);
    if i128::from(report.expires_at) + i128::from(skew_s) < now_i {
        return Err(MemoryError::Expired {
            expires_at: report.expires_at,
            now: now_s,
            skew: skew_s,
        });
    }
    if i128::from(report.issued_at) - i128::from(skew_s) > now_i {
        return Err(MemoryError::NotYetValid {
            issued_at: report.issued_at,
            now: now_s,
            skew: skew_s,
        });
    }
    Ok(())
}

/// The pinned region ids `report` does not carry, in id order.
fn missing_regions(report: &MemoryReport, appraisal: &MemoryAppraisal) -> Vec<String> {
    appraisal
        .pinned
        .keys()
        .filter(|id| !report.regions.iter().any(|r| &r.id == *id))
        .cloned()
        .collect()
}

fn appraise_regions(
    report: &MemoryReport,
    appraisal: &MemoryAppraisal,
) -> Result<Vec<RegionClaims>, MemoryError> {
    let strict = appraisal.mode == DriftMode::Strict;
    if strict && let Some(missing) = missing_regions(report, appraisal).into_iter().next() {
        return Err(MemoryError::MissingRegion(missing));
    }
    report
        .regions
        .iter()
        .map(|region| {
            let pinned = appraisal.pinned.get(&region.id).copied();
            let status = match pinned {
                None if strict => return Err(MemoryError::Unpinned(region.id.clone())),
                None => RegionStatus::Unpinned,
                Some(pin) if pin == region.sha3_256 => RegionStatus::Match,
                Some(pin) if strict => {
                    return Err(MemoryError::Drift {
                        region: region.id.clone(),
                        measured: region.sha3_256.hex(),
                        pinned: pin.hex(),
                    });
                }
                Some(_) => RegionStatus::Drift,
            };
            Ok(RegionClaims {
                id: region.id.clone(),
                description: region.description.clone(),
                address: region.address.clone(),
                size: region.size,
                protection: region.protection,
                sha3_256: region.sha3_256,
                attester_expected_sha3_256: report
                    .claims
                    .expected_sha3_256
                    .get(&region.id)
                    .copied(),
                pinned_sha3_256: pinned,
                status,
            })
        })
        .collect()
}
