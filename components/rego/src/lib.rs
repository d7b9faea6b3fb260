//! The Rego engine component: regorus, inside the sandbox.
//!
//! The host calls `prepare` once with the policy's modules, data and entrypoint,
//! then snapshots the instance (wizer). Every evaluation runs in a fresh
//! instance of that snapshot, so the policy is parsed and analysed once and no
//! state survives from one evaluation to the next.
//!
//! Rule convention (docs/policies.md):
//! - with an entrypoint, its value decides: `true` allows; `false` or undefined
//!   denies; an object is a decision object (below); anything else is an error.
//! - without one, the first module's package decides through its `decision`
//!   rule (a decision object) if it declares one, otherwise through `allow`
//!   (boolean) and, when declared, `deny` (a set of reason strings): the policy
//!   allows only when `allow` is true and `deny` is empty.
//! - `verdict.now_ns()` returns the evaluation time (`input.evaluated-at` of
//!   the world) in nanoseconds since the Unix epoch: the sandbox has no clock,
//!   and the time is recorded, so replay sees the same "now".
//! - a decision object is `{"allow": bool, "reasons": [string],
//!   "trust_vector": {"instance_identity": int8, ...}, "annotations": {string: any}}`;
//!   only `allow` is required.

use std::cell::RefCell;
use std::sync::atomic::{AtomicI64, Ordering};

use regorus::{Engine, Value};
use serde_json::Value as Json;

wit_bindgen::generate!({ path: "../../wit", world: "rego-engine" });

use verdict::policy::types::{Annotation, TrustVector};

struct RegoEngine;

/// How the policy's rules become a decision, fixed at `prepare`.
enum Convention {
    Rule(String),
    AllowDeny { allow: String, deny: Option<String> },
}

struct Prepared {
    engine: Engine,
    data: String,
    convention: Convention,
}

/// The current evaluation's time, for `verdict.now_ns()`.
static EVALUATED_AT_NS: AtomicI64 = AtomicI64::new(0);

thread_local! {
    static PREPARED: RefCell<Option<Prepared>> = const { RefCell::new(None) };
}

impl Guest for RegoEngine {
    fn prepare(
        modules: Vec<Module>,
        data: String,
        entrypoint: Option<String>,
    ) -> Result<(), String> {
        let mut engine = Engine::new();
        engine.set_rego_v0(false);
        let now_ns = |_: Vec<Value>| Ok(Value::from(EVALUATED_AT_NS.load(Ordering::Relaxed)));
        engine
            .add_extension("verdict.now_ns".into(), 0, Box::new(now_ns))
            .map_err(|e| e.to_string())?;
        let mut packages = Vec::with_capacity(modules.len());
        for module in &modules {
            let package = engine
                .add_policy(module.name.clone(), module.source.clone())
                .map_err(|e| e.to_string())?;
            packages.push(package);
        }
        let Some(first) = modules.first() else {
            return Err("no Rego module given".into());
        };
        load_data(&mut engine, &data)?;
        let convention = match entrypoint {
            Some(rule) => {
                check_entrypoint(&engine, &modules, &packages, &rule)?;
                Convention::Rule(rule)
            }
            None => default_convention(&engine, &first.name, &packages[0])?,
        };
        let mut prepared = Prepared { engine, data, convention };
        // The first evaluation analyses and schedules the rules; do it now so
        // the snapshot carries that work. Its outcome is discarded: every
        // evaluation resets the interpreter's per-evaluation state.
        prepared.engine.set_input(Value::new_object());
        let _ = prepared.decide();
        PREPARED.with_borrow_mut(|p| *p = Some(prepared));
        Ok(())
    }

    fn evaluate(input: Input) -> Decision {
        PREPARED.with_borrow_mut(|prepared| match prepared {
            Some(p) => p.evaluate(&input).unwrap_or_else(|reason| deny(vec![reason])),
            None => deny(vec!["the Rego engine was not prepared".into()]),
        })
    }
}

impl Prepared {
    fn evaluate(&mut self, input: &Input) -> Result<Decision, String> {
        if input.data != self.data {
            self.engine.clear_data();
            load_data(&mut self.engine, &input.data)?;
            self.data = input.data.clone();
        }
        let at = &input.evaluated_at;
        let nanos = at.seconds.saturating_mul(1_000_000_000).saturating_add(i64::from(at.nanoseconds));
        EVALUATED_AT_NS.store(nanos, Ordering::Relaxed);
        let claims = Value::from_json_str(&input.claims)
            .map_err(|e| format!("claims are not valid JSON: {e}"))?;
        self.engine.set_input(claims);
        self.decide()
    }

    fn decide(&mut self) -> Result<Decision, String> {
        match &self.convention {
            Convention::Rule(rule) => {
                let value = eval(&mut self.engine, rule)?;
                rule_decision(rule, &value)
            }
            Convention::AllowDeny { allow, deny: deny_rule } => {
                let allowed = eval(&mut self.engine, allow)?;
                let mut reasons = match deny_rule {
                    Some(rule) => reason_list(rule, &to_json(&eval(&mut self.engine, rule)?)?)?,
                    None => Vec::new(),
                };
                match allowed {
                    Value::Bool(true) if reasons.is_empty() => Ok(allow_decision()),
                    Value::Bool(true) => Ok(deny(reasons)),
                    Value::Bool(false) | Value::Undefined => {
                        if reasons.is_empty() {
                            reasons.push(format!("{allow} is {}", describe(&allowed)));
                        }
                        Ok(deny(reasons))
                    }
                    _ => Err(format!("{allow} is not a boolean")),
                }
            }
        }
    }
}

fn eval(engine: &mut Engine, rule: &str) -> Result<Value, String> {
    engine
        .eval_rule(rule.to_string())
        .map_err(|e| format!("evaluating {rule}: {e}"))
}

fn load_data(engine: &mut Engine, data: &str) -> Result<(), String> {
    let value = Value::from_json_str(data).map_err(|e| format!("data is not valid JSON: {e}"))?;
    if !matches!(value, Value::Object(_)) {
        return Err("data is not a JSON object".into());
    }
    engine.add_data(value).map_err(|e| format!("loading data: {e}"))
}

/// `rule` must be `data.<package>.<rule>` for a package and rule that exist.
fn check_entrypoint(
    engine: &Engine,
    modules: &[Module],
    packages: &[String],
    rule: &str,
) -> Result<(), String> {
    for (module, package) in modules.iter().zip(packages) {
        if let Some(name) = rule.strip_prefix(package.as_str()).and_then(|r| r.strip_prefix('.')) {
            if declares(engine, &module.name, name) {
                return Ok(());
            }
        }
    }
    Err(format!(
        "entrypoint {rule} names no rule of the loaded packages ({})",
        packages.join(", ")
    ))
}

fn declares(engine: &Engine, module: &str, rule: &str) -> bool {
    engine.has_declared_rule_rooted_at(module, rule).unwrap_or(false)
}

fn default_convention(engine: &Engine, module: &str, package: &str) -> Result<Convention, String> {
    if declares(engine, module, "decision") {
        return Ok(Convention::Rule(format!("{package}.decision")));
    }
    if !declares(engine, module, "allow") {
        return Err(format!(
            "{package} declares neither `decision` nor `allow`: name an entrypoint"
        ));
    }
    let deny = declares(engine, module, "deny").then(|| format!("{package}.deny"));
    Ok(Convention::AllowDeny { allow: format!("{package}.allow"), deny })
}

fn rule_decision(rule: &str, value: &Value) -> Result<Decision, String> {
    match value {
        Value::Bool(true) => Ok(allow_decision()),
        Value::Bool(false) | Value::Undefined => Ok(deny(vec![format!("{rule} is {}", describe(value))])),
        Value::Object(_) => decision_object(rule, &to_json(value)?),
        _ => Err(format!("{rule} is neither a boolean nor a decision object")),
    }
}

fn describe(value: &Value) -> &'static str {
    match value {
        Value::Undefined => "undefined",
        Value::Bool(false) => "false",
        _ => "not true",
    }
}

fn to_json(value: &Value) -> Result<Json, String> {
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

fn reason_list(rule: &str, reasons: &Json) -> Result<Vec<String>, String> {
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

fn allow_decision() -> Decision {
    Decision { allow: true, reasons: Vec::new(), trust_vector: None, annotations: Vec::new() }
}

fn deny(reasons: Vec<String>) -> Decision {
    Decision { allow: false, reasons, trust_vector: None, annotations: Vec::new() }
}

export!(RegoEngine);
