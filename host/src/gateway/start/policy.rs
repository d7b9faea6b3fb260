//! Loading a policy named by the config into the sandbox.

use crate::claims::DataDocument;
use crate::gateway::config::{PolicyConfig, PolicyFormat};
use crate::policy::{Policy, PolicyRuntime, RegoModule};

use super::error::{StartError, read, read_bytes};

/// Loads the policy `config` names (Rego or component) with its data.
pub(super) fn load_policy(
    runtime: &PolicyRuntime,
    config: &PolicyConfig,
) -> Result<Policy, StartError> {
    let path = config.path();
    let data = match config.data() {
        Some(data) => {
            DataDocument::from_json(&read(data)?).map_err(|source| StartError::PolicyData {
                path: data.to_path_buf(),
                source,
            })?
        }
        None => DataDocument::empty(),
    };
    let entrypoint = config.entrypoint().map(|e| e.as_str().to_string());
    let loaded = match config.format() {
        PolicyFormat::Rego => {
            let name = path.file_name().map_or_else(
                || "policy.rego".into(),
                |n| n.to_string_lossy().into_owned(),
            );
            runtime.load_rego(
                RegoModule {
                    name,
                    source: read(path)?,
                },
                data,
                entrypoint,
            )
        }
        PolicyFormat::Component => runtime.load_component(&read_bytes(path)?, data),
    };
    loaded.map_err(|source| StartError::Policy {
        path: path.to_path_buf(),
        source,
    })
}
