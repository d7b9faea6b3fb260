//! Building the gateway's [`Attestation`] state from `[attestation]`.

use std::path::Path;

use ed25519_dalek::pkcs8::DecodePrivateKey as _;

use super::{StartError, file_error, load_policy, read};
use crate::gateway::config::{AttestationConfig, GatewayConfig};
use crate::gateway::routes::attest::{Attestation, ControlPlaneTpm};
use crate::gateway::tls;
use crate::crypto::{SignatureAlgorithm, load_signing_key, load_verifying_key};
use crate::ear::EarSigner;
use crate::evidence::memory::region::{FileRange, InMemory, Protection, RegionSource};
use crate::evidence::memory::report::{self, DriftMode, MeasuredRegion, MemoryAppraisal};
use crate::policy::PolicyRuntime;

/// Loads the keys and policy `[attestation]` names and measures the
/// regions the control plane reports about itself.
pub(super) fn build(
    config: &GatewayConfig,
    section: &AttestationConfig,
    runtime: &PolicyRuntime,
) -> Result<Attestation, StartError> {
    let ear_key = ed25519_dalek::SigningKey::from_pkcs8_pem(&read(section.ear_key())?)
        .map_err(|e| file_error(section.ear_key(), format!("not an Ed25519 key: {e}")))?;
    let evidence_key = load_signing_key(section.evidence_key())
        .map_err(|e| file_error(section.evidence_key(), e))?;
    if evidence_key.algorithm() != SignatureAlgorithm::MlDsa65 {
        return Err(file_error(
            section.evidence_key(),
            "the evidence key must be an ML-DSA-65 key",
        ));
    }
    let policy = load_policy(runtime, section.policy())?;
    let certs =
        tls::certificates(config.tls().cert()).map_err(|e| file_error(config.tls().cert(), e))?;
    let leaf = certs
        .first()
        .ok_or_else(|| file_error(config.tls().cert(), "holds no certificate"))?;
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

fn control_plane_tpm(section: &AttestationConfig) -> Result<Option<ControlPlaneTpm>, StartError> {
    let Some(tcti) = section.tpm_tcti() else {
        return Ok(None);
    };
    if !cfg!(feature = "tpm-collect") {
        return Err(StartError::Config(
            "attestation.tpm_tcti is set, but this build has no TPM support (cargo feature `tpm-collect`)".into(),
        ));
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
        .map(|path| load_verifying_key(path).map_err(|e| file_error(path, e)))
        .collect::<Result<_, _>>()?;
    Ok(MemoryAppraisal {
        trusted_keys,
        pinned: section.memory_pins().clone(),
        mode: if section.memory_strict() {
            DriftMode::Strict
        } else {
            DriftMode::Lenient
        },
        ..MemoryAppraisal::default()
    })
}

/// The gateway's executable and its appraisal policy, hashed once at start.
fn self_regions(policy: &Path) -> Result<Vec<MeasuredRegion>, StartError> {
    let measure = |source: &dyn RegionSource| {
        report::measure(source, 0).map_err(|e| StartError::Config(format!("self-measurement: {e}")))
    };
    let policy_bytes = std::fs::read(policy).map_err(|e| file_error(policy, e))?;
    let policy_region = InMemory::new(
        "attestation-policy"
            .parse()
            .map_err(|e| StartError::Config(format!("{e}")))?,
        format!("the appraisal policy {}", policy.display()),
        policy_bytes,
        Protection::READ_ONLY,
    );
    let mut regions = vec![measure(&policy_region)?];
    let exe = Path::new("/proc/self/exe");
    if exe.exists() {
        let binary = FileRange::open(
            exe,
            0,
            None,
            "gateway-executable"
                .parse()
                .map_err(|e| StartError::Config(format!("{e}")))?,
            "the running gateway's executable".to_string(),
        )
        .map_err(|e| file_error(exe, e))?;
        regions.push(measure(&binary)?);
    }
    Ok(regions)
}
