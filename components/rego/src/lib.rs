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
//! - `time.now_ns()` (and its older name `verdict.now_ns()`) returns the
//!   evaluation time (`input.evaluated-at` of the world) in nanoseconds since
//!   the Unix epoch: the sandbox has no clock, and the time is recorded, so
//!   replay sees the same "now".
//! - everything knowable from the source (parse errors, unknown or refused
//!   functions, unsafe variables, a missing entrypoint) fails `prepare`.
//! - a decision object is `{"allow": bool, "reasons": [string],
//!   "trust_vector": {"instance_identity": int8, ...}, "annotations": {string: any}}`;
//!   only `allow` is required.

use std::cell::RefCell;
use std::num::NonZeroU32;

use regorus::{Engine, PolicyLengthConfig, Value};

mod builtins;
mod check;
mod decision;

wit_bindgen::generate!({ path: "../../wit", world: "rego-engine" });

use decision::{allow_decision, deny, describe, reason_list, rule_decision, to_json};

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

thread_local! {
    static PREPARED: RefCell<Option<Prepared>> = const { RefCell::new(None) };
}

impl Guest for RegoEngine {
    fn prepare(
        modules: Vec<Module>,
        data: String,
        entrypoint: Option<String>,
    ) -> Result<(), String> {
        let Some(first) = modules.first() else {
            return Err("no Rego module given".into());
        };
        let (mut engine, packages) = load(&modules, &data)?;
        let convention = match entrypoint {
            Some(rule) => {
                check_entrypoint(&engine, &modules, &packages, &rule)?;
                Convention::Rule(rule)
            }
            None => default_convention(&engine, &first.name, &packages[0])?,
        };
        engine.set_input(Value::new_object());
        let mut prepared = Prepared { engine, data, convention };
        // The first evaluation schedules the rules; do it now so the snapshot
        // carries that work. Its outcome is discarded (it ran on an empty
        // input): every evaluation resets the per-evaluation state.
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

    fn query(
        modules: Vec<Module>,
        data: String,
        input: Option<String>,
        query: String,
        now: Timestamp,
    ) -> Result<QueryOutput, String> {
        builtins::set_now_ns(nanos(&now));
        let (mut engine, _) = load(&modules, &data)?;
        if let Some(input) = input {
            let value = Value::from_json_str(&input).map_err(|e| format!("input is not valid JSON: {e}"))?;
            engine.set_input(value);
        }
        engine.set_gather_prints(true);
        let results = engine.eval_query(query, false).map_err(|e| format!("{e}"))?;
        let prints = engine.take_prints().unwrap_or_default();
        let result = serde_json::to_string(&results).map_err(|e| format!("encoding the result: {e}"))?;
        Ok(QueryOutput { json: result, prints })
    }

    fn list_tests(modules: Vec<Module>) -> Result<Vec<TestCase>, String> {
        let (mut engine, _) = load(&modules, "{}")?;
        Ok(test_rules(engine.get_modules()))
    }

    fn run_test(
        modules: Vec<Module>,
        data: String,
        rule: String,
        now: Timestamp,
        coverage: bool,
    ) -> Result<TestOutcome, String> {
        builtins::set_now_ns(nanos(&now));
        let (mut engine, _) = load(&modules, &data)?;
        engine.set_gather_prints(true);
        engine.set_enable_coverage(coverage);
        let (passed, failure) = match engine.eval_rule(rule) {
            Ok(Value::Bool(true)) => (true, None),
            Ok(Value::Undefined) => (false, Some("undefined".to_string())),
            Ok(value) => (false, Some(format!("evaluated to {}", value.to_json_str().unwrap_or_default()))),
            Err(e) => (false, Some(format!("{e}"))),
        };
        let prints = engine.take_prints().unwrap_or_default();
        let coverage = if coverage { coverage_of(&engine)? } else { Vec::new() };
        Ok(TestOutcome { passed, failure, prints, coverage })
    }
}

fn nanos(at: &Timestamp) -> i64 {
    at.seconds.saturating_mul(1_000_000_000).saturating_add(i64::from(at.nanoseconds))
}

/// A line may be as long as a whole file may be: generated policies have long
/// lines, and the file-size cap still bounds the work.
const MAX_LINE: NonZeroU32 = NonZeroU32::new(1 << 20).unwrap();

/// Parses and checks `modules` with `data`: everything knowable from the
/// source is an error here. Returns the engine and each module's package.
fn load(modules: &[Module], data: &str) -> Result<(Engine, Vec<String>), String> {
    let mut engine = Engine::new();
    engine.set_rego_v0(false);
    engine.set_policy_length_config(PolicyLengthConfig { max_col: MAX_LINE, ..PolicyLengthConfig::default() });
    builtins::register(&mut engine).map_err(|e| e.to_string())?;
    let mut packages = Vec::with_capacity(modules.len());
    for module in modules {
        let package = engine
            .add_policy(module.name.clone(), module.source.clone())
            .map_err(|e| e.to_string())?;
        packages.push(package);
    }
    check::check_calls(engine.get_modules())?;
    load_data(&mut engine, data)?;
    // Analysis (unsafe variables, recursion) happens before the first
    // evaluation; a trivial query runs it now.
    engine
        .eval_query("true".into(), false)
        .map_err(|e| e.to_string())?;
    Ok((engine, packages))
}

fn test_rules(modules: &[regorus::unstable::Ref<regorus::unstable::Module>]) -> Vec<TestCase> {
    use regorus::unstable::{Rule, RuleHead};
    let mut tests: Vec<TestCase> = Vec::new();
    for module in modules {
        let Ok(package) = regorus::utils::get_path_string(&module.package.refr, Some("data")) else {
            continue;
        };
        for rule in &module.policy {
            let Rule::Spec { head: RuleHead::Compr { refr, .. }, span, .. } = rule.as_ref() else {
                continue;
            };
            let Ok(path) = regorus::utils::get_path_string(refr, Some(&package)) else {
                continue;
            };
            let is_test = path.rsplit('.').next().is_some_and(|name| name.starts_with("test_"));
            if is_test && !tests.iter().any(|t| t.rule == path) {
                let location = format!("{}:{}:{}", span.source.file(), span.line, span.col);
                tests.push(TestCase { rule: path, location });
            }
        }
    }
    tests
}

fn coverage_of(engine: &Engine) -> Result<Vec<FileCoverage>, String> {
    let report = engine.get_coverage_report().map_err(|e| e.to_string())?;
    Ok(report
        .files
        .into_iter()
        .map(|file| FileCoverage {
            path: file.path,
            covered: file.covered.into_iter().collect(),
            not_covered: file.not_covered.into_iter().collect(),
        })
        .collect())
}

impl Prepared {
    fn evaluate(&mut self, input: &Input) -> Result<Decision, String> {
        if input.data != self.data {
            self.engine.clear_data();
            load_data(&mut self.engine, &input.data)?;
            self.data = input.data.clone();
        }
        builtins::set_now_ns(nanos(&input.evaluated_at));
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

export!(RegoEngine);
