//! Rego development tools, inside the sandbox: evaluate a query (`verdict
//! eval --query`, as `opa eval`) and run `test_*` rules (`verdict test`, as
//! `opa test`).
//!
//! Every call runs in a fresh instance of the Rego engine component, under
//! the prepare deadline and the memory cap, with the same builtins (and the
//! same refusals) as a policy loaded for evaluation. `print()` output is
//! returned to the caller, never mixed into a decision.

use std::sync::Arc;

use wasmtime::component::Component;

use super::bindings::policy::verdict::policy::types as wit;
use super::bindings::rego::{Module, RegoEngine};
use super::limits::EvalFailure;
use super::rego::RegoModule;
use super::sandbox::{CompileError, EvalState, Sandbox, classify};
use crate::claims::DataDocument;
use crate::timestamp::Timestamp;

/// Why a query or a test could not run.
#[derive(Debug, thiserror::Error)]
pub enum ToolError {
    /// The modules do not load (parse error, unknown or refused function,
    /// unsafe variable), or the query is invalid: the engine's message,
    /// naming file:line:column.
    #[error("{0}")]
    Rego(String),
    /// The engine hit a limit or trapped.
    #[error("the Rego engine failed: {0}")]
    Sandbox(#[source] EvalFailure),
    /// The engine component could not be compiled or bound.
    #[error("the Rego engine could not be started: {0}")]
    Engine(String),
}

impl From<CompileError> for ToolError {
    fn from(error: CompileError) -> Self {
        Self::Engine(format!("{error:#}"))
    }
}

/// A query's value and what it printed.
#[derive(Clone, Debug, PartialEq)]
pub struct QueryOutput {
    /// One object per solution: `{"expressions": [{"value", "text",
    /// "location"}], "bindings": {...}}`; an empty array when undefined.
    pub result: serde_json::Value,
    /// `print()` lines, each prefixed with `file:line:`.
    pub prints: Vec<String>,
}

/// A `test_*` rule found in the modules.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestCase {
    /// Its full path, e.g. `data.feedback_test.test_allows_a_member`.
    pub rule: String,
    /// Where it is declared: `file:line:column`.
    pub location: String,
}

/// Lines of one module executed (or not) during a test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileCoverage {
    pub path: String,
    pub covered: Vec<u32>,
    pub not_covered: Vec<u32>,
}

/// The outcome of one test.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TestOutcome {
    /// True only when the rule evaluated to `true`.
    pub passed: bool,
    /// Why not: the value it had instead, `undefined`, or the error.
    pub failure: Option<String>,
    pub prints: Vec<String>,
    /// Empty unless coverage was asked for.
    pub coverage: Vec<FileCoverage>,
}

/// The Rego engine, compiled, for queries and tests. Cheap to clone.
#[derive(Clone)]
pub struct RegoTools {
    sandbox: Arc<Sandbox>,
    component: Component,
}

impl RegoTools {
    pub(crate) fn new(sandbox: Arc<Sandbox>, engine_wasm: &[u8]) -> Result<Self, ToolError> {
        let component = sandbox.compile(engine_wasm)?;
        Ok(Self { sandbox, component })
    }

    /// Evaluates `query` against `modules`, `data` and `input` as of `now`.
    pub fn query(
        &self,
        modules: &[RegoModule],
        data: &DataDocument,
        input: Option<&str>,
        query: &str,
        now: Timestamp,
    ) -> Result<QueryOutput, ToolError> {
        let output = self.call(|engine, store| {
            engine.call_query(
                store,
                &wit_modules(modules),
                data.text(),
                input,
                query,
                wit_time(now),
            )
        })?;
        let result = serde_json::from_str::<serde_json::Value>(&output.json)
            .map_err(|e| ToolError::Engine(format!("the engine's result is not JSON: {e}")))?;
        Ok(QueryOutput {
            result: result
                .get("result")
                .cloned()
                .unwrap_or(serde_json::json!([])),
            prints: output.prints,
        })
    }

    /// The `test_*` rules of `modules`, in source order.
    pub fn list_tests(&self, modules: &[RegoModule]) -> Result<Vec<TestCase>, ToolError> {
        let tests =
            self.call(|engine, store| engine.call_list_tests(store, &wit_modules(modules)))?;
        Ok(tests
            .into_iter()
            .map(|t| TestCase {
                rule: t.rule,
                location: t.location,
            })
            .collect())
    }

    /// Runs one test rule in a fresh instance.
    pub fn run_test(
        &self,
        modules: &[RegoModule],
        data: &DataDocument,
        rule: &str,
        now: Timestamp,
        coverage: bool,
    ) -> Result<TestOutcome, ToolError> {
        let outcome = self.call(|engine, store| {
            engine.call_run_test(
                store,
                &wit_modules(modules),
                data.text(),
                rule,
                wit_time(now),
                coverage,
            )
        })?;
        Ok(TestOutcome {
            passed: outcome.passed,
            failure: outcome.failure,
            prints: outcome.prints,
            coverage: outcome
                .coverage
                .into_iter()
                .map(|f| FileCoverage {
                    path: f.path,
                    covered: f.covered,
                    not_covered: f.not_covered,
                })
                .collect(),
        })
    }

    /// Instantiates the engine afresh and makes one call.
    fn call<T>(
        &self,
        call: impl FnOnce(
            &RegoEngine,
            &mut wasmtime::Store<EvalState>,
        ) -> wasmtime::Result<Result<T, String>>,
    ) -> Result<T, ToolError> {
        let limits = self.sandbox.limits();
        let mut store = self.sandbox.store(limits.prepare_deadline);
        let engine = RegoEngine::instantiate(&mut store, &self.component, self.sandbox.linker())
            .map_err(|e| ToolError::Sandbox(classify(&store, limits, e, true)))?;
        call(&engine, &mut store)
            .map_err(|e| ToolError::Sandbox(classify(&store, limits, e, false)))?
            .map_err(ToolError::Rego)
    }
}

fn wit_modules(modules: &[RegoModule]) -> Vec<Module> {
    modules
        .iter()
        .map(|m| Module {
            name: m.name.clone(),
            source: m.source.clone(),
        })
        .collect()
}

fn wit_time(at: Timestamp) -> wit::Timestamp {
    wit::Timestamp {
        seconds: at.unix_seconds(),
        nanoseconds: at.subsec_nanos(),
    }
}
