//! Building the gateway's [`Attestation`] state from `[attestation]`.

use std::path::Path;

use ed25519_dalek::pkcs8::DecodePrivateKey as _;

use super::error::{SelfRegion, StartError, key_error, read, read_bytes};
use super::policy::load_policy;
use crate::crypto::{SignatureAlgorithm, load_signing_key, load_verifying_key};
use crate::ear::EarSigner;
use crate::evidence::appraisal::{AppraisalData, ConfiguredAnchors};
use crate::evidence::memory::region::{FileRange, InMemory, Protection, RegionSource};
use crate::evidence::memory::report::{self, MeasuredRegion, MemoryAppraisal};
use crate::gateway::config::{AttestationConfig, GatewayConfig};
use crate::gateway::state::{Attestation, ControlPlaneTpm};
use crate::gateway::tls::{self, TlsError};
use crate::policy::PolicyRuntime;

/// Loads the keys and policy `[attestation]` names and measures the
/// regions the control plane reports about itself.
pub(super) fn build(
    config: &GatewayConfig,
    section: &AttestationConfig,
    runtime: &PolicyRuntime,
) -> Result<Attestation, StartError> {
    let ear_key =
        ed25519_dalek::SigningKey::from_pkcs8_pem(&read(section.ear_key())?).map_err(|source| {
            StartError::Ed25519Key {
                path: section.ear_key().to_path_buf(),
                source,
            }
        })?;
    let evidence_key =
        load_signing_key(section.evidence_key()).map_err(key_error(section.evidence_key()))?;
    if evidence_key.algorithm() != SignatureAlgorithm::MlDsa65 {
        return Err(StartError::EvidenceKeyAlgorithm {
            path: section.evidence_key().to_path_buf(),
        });
    }
    check_anchored(section)?;
    let policy = load_policy(runtime, section.policy())?;
    let certs = tls::certificates(config.tls().cert()).map_err(StartError::Tls)?;
    let leaf = certs.first().ok_or_else(|| {
        StartError::Tls(TlsError::NoCertificate {
            path: config.tls().cert().to_path_buf(),
        })
    })?;
    Ok(Attestation {
        self_regions: self_regions(section.policy().path())?,
        policy_id: format!(
            "verdict/attestation/{}",
            section
                .policy()
                .path()
                .file_name()
                .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
        ),
        policy,
        ear: EarSigner::new(ear_key, section.ear_kid().clone()),
        evidence_key,
        control_plane: tls::fingerprint(leaf),
        challenge_ttl: section.challenge_ttl(),
        ear_ttl: section.ear_ttl(),
        binding_retention: section.binding_retention(),
        memory: memory_appraisal(section)?,
        tpm: control_plane_tpm(section)?,
    })
}

/// Refuses an `[attestation]` section under which the appraisal could never
/// affirm anything: no required evidence type, or a required type that
/// nothing configured anchors (docs/gateway-config.md).
fn check_anchored(section: &AttestationConfig) -> Result<(), StartError> {
    let (data, named) = match section.policy().data() {
        Some(path) => {
            let text = read(path)?;
            let data =
                AppraisalData::from_json(&text).map_err(|source| StartError::AppraisalData {
                    path: path.to_path_buf(),
                    source,
                })?;
            (data, path.display().to_string())
        }
        None => (AppraisalData::default(), "(none)".to_string()),
    };
    let anchors = ConfiguredAnchors {
        memory_attester_keys: section.memory_trusted_keys().len(),
    };
    data.check_anchored(anchors)
        .map_err(|source| StartError::Untrusted {
            data: named,
            source,
        })
}

fn control_plane_tpm(section: &AttestationConfig) -> Result<Option<ControlPlaneTpm>, StartError> {
    let Some(tcti) = section.tpm_tcti() else {
        return Ok(None);
    };
    if !cfg!(feature = "tpm-collect") {
        return Err(StartError::NoTpmSupport);
    }
    Ok(Some(ControlPlaneTpm {
        tcti: tcti.to_string(),
        ak_handle: section.tpm_ak_handle(),
        lock: tokio::sync::Mutex::new(()),
    }))
}

fn memory_appraisal(section: &AttestationConfig) -> Result<MemoryAppraisal, StartError> {
    let trusted_keys = section
        .memory_trusted_keys()
        .iter()
        .map(|path| load_verifying_key(path).map_err(key_error(path)))
        .collect::<Result<_, _>>()?;
    Ok(MemoryAppraisal {
        trusted_keys,
        pinned: section.memory_pins().clone(),
        mode: section.memory_drift(),
        ..MemoryAppraisal::default()
    })
}

/// The gateway's executable and its appraisal policy, hashed once at start.
fn self_regions(policy: &Path) -> Result<Vec<MeasuredRegion>, StartError> {
    let measure = |source: &dyn RegionSource, what: SelfRegion| {
        report::measure(source, 0).map_err(|source| StartError::SelfMeasurement { what, source })
    };
    let policy_bytes = read_bytes(policy)?;
    let policy_region = InMemory::new(
        "attestation-policy"
            .parse()
            .map_err(StartError::SelfRegionId)?,
        format!("the appraisal policy {}", policy.display()),
        policy_bytes,
        Protection::READ_ONLY,
    );
    let mut regions = vec![measure(&policy_region, SelfRegion::AttestationPolicy)?];
    let exe = Path::new("/proc/self/exe");
    if exe.exists() {
        let binary = FileRange::open(
            exe,
            0,
            None,
            "gateway-executable"
                .parse()
                .map_err(StartError::SelfRegionId)?,
            "the running gateway's executable".to_string(),
        )
        .map_err(|source| StartError::SelfRegion {
            what: SelfRegion::Executable,
            source,
        })?;
        regions.push(measure(&binary, SelfRegion::Executable)?);
    }
    Ok(regions)
}
