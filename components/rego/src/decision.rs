//! Turning a rule's value into a decision (the rule convention of
//! docs/policies.md).

use regorus::Value;
use serde_json::Value as Json;

use crate::verdict::policy::types::{Annotation, Decision, TrustVector};

pub fn rule_decision(rule: &str, value: &Value) -> Result<Decision, String> {
    match value {
        Value::Bool(true) => Ok(allow_decision()),
        Value::Bool(false) | Value::Undefined => Ok(deny(vec![format!("{rule} is {}", describe(value))])),
        Value::Object(_) => decision_object(rule, &to_json(value)?),
        _ => Err(format!("{rule} is neither a boolean nor a decision object")),
    }
}

pub fn describe(value: &Value) -> &'static str {
    match value {
        Value::Undefined => "undefined",
        Value::Bool(false) => "false",
        _ => "not true",
    }
}

pub fn to_json(value: &Value) -> Result<Json, String> {
    if matches!(value, Value::Undefined) {
        return Ok(Json::Array(Vec::new()));
    }
    let text = value.to_json_str().map_err(|e| e.to_string())?;
    serde_json::from_str(&text).map_err(|e| e.to_string())
}

fn decision_object(rule: &str, object: &Json) -> Result<Decision, String> {
    let allow = object
        .get("allow")
        .and_then(Json::as_bool)
        .ok_or_else(|| format!("{rule}.allow is not a boolean"))?;
    let reasons = match object.get("reasons") {
        Some(reasons) => reason_list(&format!("{rule}.reasons"), reasons)?,
        None => Vec::new(),
    };
    let trust_vector = object
        .get("trust_vector")
        .map(|tv| trust_vector(rule, tv))
        .transpose()?;
    let annotations = match object.get("annotations") {
        Some(Json::Object(map)) => map
            .iter()
            .map(|(key, value)| Annotation {
                key: key.clone(),
                value: value.as_str().map_or_else(|| value.to_string(), str::to_string),
            })
            .collect(),
        Some(_) => return Err(format!("{rule}.annotations is not an object")),
        None => Vec::new(),
    };
    Ok(Decision { allow, reasons, trust_vector, annotations })
}

pub fn reason_list(rule: &str, reasons: &Json) -> Result<Vec<String>, String> {
    let items = reasons
        .as_array()
        .ok_or_else(|| format!("{rule} is not a set or array of strings"))?;
    items
        .iter()
        .map(|r| r.as_str().map(str::to_string).ok_or_else(|| format!("{rule} holds a non-string reason")))
        .collect()
}

const TRUST_CLAIMS: [&str; 8] = [
    "instance_identity",
    "configuration",
    "executables",
    "file_system",
    "hardware",
    "runtime_opaque",
    "storage_opaque",
    "sourced_data",
];

fn trust_vector(rule: &str, value: &Json) -> Result<TrustVector, String> {
    let map = value
        .as_object()
        .ok_or_else(|| format!("{rule}.trust_vector is not an object"))?;
    if let Some(unknown) = map.keys().find(|k| !TRUST_CLAIMS.contains(&k.as_str())) {
        return Err(format!("{rule}.trust_vector has an unknown claim `{unknown}`"));
    }
    let claim = |name: &str| -> Result<i8, String> {
        match map.get(name) {
            None => Ok(0),
            Some(v) => v
                .as_i64()
                .and_then(|n| i8::try_from(n).ok())
                .ok_or_else(|| format!("{rule}.trust_vector.{name} is not an integer in [-128, 127]")),
        }
    };
    Ok(TrustVector {
        instance_identity: claim("instance_identity")?,
        configuration: claim("configuration")?,
        executables: claim("executables")?,
        file_system: claim("file_system")?,
        hardware: claim("hardware")?,
        runtime_opaque: claim("runtime_opaque")?,
        storage_opaque: claim("storage_opaque")?,
        sourced_data: claim("sourced_data")?,
    })
}

pub fn allow_decision() -> Decision {
    Decision { allow: true, reasons: Vec::new(), trust_vector: None, annotations: Vec::new() }
}

pub fn deny(reasons: Vec<String>) -> Decision {
    Decision { allow: false, reasons, trust_vector: None, annotations: Vec::new() }
}

