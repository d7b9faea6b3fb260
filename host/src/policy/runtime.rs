//! The policy runtime: one wasmtime engine, and fresh sandboxed instances.

use std::sync::{Arc, OnceLock};

use wasmtime::component::Component;

use super::bindings::policy::verdict::policy::types as wit;
use super::bindings::policy::{Policy as PolicyBindings, PolicyPre};
use super::builtin;
use super::decision::{Annotation, Decision, TrustVector};
use super::identity::{PolicyIdentity, PolicyKind};
use super::limits::{EvalFailure, Limits};
use super::rego::{self, InstrumentedRego, PrepareError, RegoModule};
use super::sandbox::{CompileError, EvalState, RuntimeConfig, RuntimeError, Sandbox, classify};
use super::tools::{RegoTools, ToolError};
use crate::claims::{Claims, DataDocument};
use crate::digest::Digest;
use crate::timestamp::Timestamp;

/// Why a policy could not be loaded. Loading never yields a policy that
/// could allow by accident: any doubt is one of these.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(&'static str),
    #[error("invalid component: {0}")]
    Compile(String),
    #[error(
        "the component imports {0}; a verdict policy gets no imports (no WASI, no host calls): \
         build it for wasm32-unknown-unknown against wit/ (world verdict:policy/policy)"
    )]
    HasImports(String),
    #[error("the component does not implement the verdict:policy world: {0}")]
    NotThePolicyWorld(String),
    #[error("Rego: {0}")]
    Rego(String),
    #[error("preparing the Rego policy failed: {0}")]
    Prepare(String),
    #[error("runtime: {0}")]
    Runtime(String),
}

/// Shared by the runtime and every policy loaded from it; the epoch ticker
/// lives as long as any of them, so deadlines keep being enforced.
struct Shared {
    sandbox: Arc<Sandbox>,
    rego: OnceLock<Result<Arc<InstrumentedRego>, String>>,
}

/// Compiles and evaluates policies. Cheap to clone; thread-safe.
#[derive(Clone)]
pub struct PolicyRuntime {
    shared: Arc<Shared>,
}

impl PolicyRuntime {
    /// A runtime with the given limits, pooling allocator and code cache.
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        let shared = Shared {
            sandbox: Arc::new(Sandbox::new(&config)?),
            rego: OnceLock::new(),
        };
        Ok(Self {
            shared: Arc::new(shared),
        })
    }

    pub fn limits(&self) -> &Limits {
        self.shared.sandbox.limits()
    }

    /// The compile-cache statistics `(hits, misses)`, when a cache is configured.
    pub fn cache_stats(&self) -> Option<(usize, usize)> {
        self.shared.sandbox.cache_stats()
    }

    /// Loads a `.wasm` component of the `verdict:policy` world.
    pub fn load_component(&self, wasm: &[u8], data: DataDocument) -> Result<Policy, LoadError> {
        let component = self.compile(wasm)?;
        let identity = self.identity(PolicyKind::Component, Digest::of(wasm), &data, None, None);
        self.policy(&component, identity, data)
    }

    /// Loads a Rego policy: parses it inside the sandbox, then snapshots the
    /// prepared engine so that every evaluation starts from it.
    pub fn load_rego(
        &self,
        module: RegoModule,
        data: DataDocument,
        entrypoint: Option<String>,
    ) -> Result<Policy, LoadError> {
        let digest = Digest::of(module.source.as_bytes());
        let name = module.name.clone();
        let instrumented = self.instrumented_rego()?;
        let snapshot = rego::prepare_snapshot(
            &self.shared.sandbox,
            &instrumented,
            module,
            &data,
            entrypoint.clone(),
        )
        .map_err(LoadError::from)?;
        let component = self.compile(&snapshot)?;
        let identity = self.identity(PolicyKind::Rego, digest, &data, entrypoint, Some(name));
        self.policy(&component, identity, data)
    }

    /// The Rego engine for queries and tests (`verdict eval --query`,
    /// `verdict test`), in this runtime's sandbox and limits.
    pub fn rego_tools(&self) -> Result<RegoTools, ToolError> {
        RegoTools::new(self.shared.sandbox.clone(), builtin::REGO_ENGINE)
    }

    fn instrumented_rego(&self) -> Result<Arc<InstrumentedRego>, LoadError> {
        self.shared
            .rego
            .get_or_init(|| {
                InstrumentedRego::new(&self.shared.sandbox, builtin::REGO_ENGINE).map(Arc::new)
            })
            .clone()
            .map_err(LoadError::Runtime)
    }

    fn identity(
        &self,
        kind: PolicyKind,
        digest: Digest,
        data: &DataDocument,
        entrypoint: Option<String>,
        module: Option<String>,
    ) -> PolicyIdentity {
        PolicyIdentity {
            kind,
            digest,
            data_digest: data.digest(),
            entrypoint,
            module,
            host: builtin::HOST_VERSION.to_string(),
            engine: builtin::ENGINE_VERSIONS.to_string(),
        }
    }

    fn compile(&self, wasm: &[u8]) -> Result<Component, LoadError> {
        self.shared.sandbox.compile(wasm).map_err(LoadError::from)
    }

    fn policy(
        &self,
        component: &Component,
        identity: PolicyIdentity,
        data: DataDocument,
    ) -> Result<Policy, LoadError> {
        let imports = self.shared.sandbox.granting_imports(component);
        if !imports.is_empty() {
            return Err(LoadError::HasImports(imports.join(", ")));
        }
        let pre = self
            .shared
            .sandbox
            .linker()
            .instantiate_pre(component)
            .map_err(|e| LoadError::NotThePolicyWorld(format!("{e:#}")))?;
        let pre =
            PolicyPre::new(pre).map_err(|e| LoadError::NotThePolicyWorld(format!("{e:#}")))?;
        Ok(Policy {
            inner: Arc::new(PolicyInner {
                pre,
                identity,
                data,
                shared: self.shared.clone(),
            }),
        })
    }
}

/// A loaded policy: compiled, linked, ready to instantiate. Cheap to clone;
/// thread-safe. Every evaluation runs in a fresh instance.
#[derive(Clone)]
pub struct Policy {
    inner: Arc<PolicyInner>,
}

struct PolicyInner {
    pre: PolicyPre<EvalState>,
    identity: PolicyIdentity,
    data: DataDocument,
    shared: Arc<Shared>,
}

/// The result of one evaluation: the decision, and when the host imposed a
/// deny, why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Evaluation {
    pub decision: Decision,
    pub failure: Option<EvalFailure>,
}

impl Evaluation {
    fn failed(failure: EvalFailure) -> Self {
        Self {
            decision: Decision::deny(failure.to_string()),
            failure: Some(failure),
        }
    }
}

impl Policy {
    pub fn identity(&self) -> &PolicyIdentity {
        &self.inner.identity
    }

    pub fn data(&self) -> &DataDocument {
        &self.inner.data
    }

    /// Evaluates `claims` as of `evaluated_at` in a fresh instance. Never
    /// fails: a trap, a limit or a malformed decision is a deny naming why.
    pub fn evaluate(&self, claims: &Claims, evaluated_at: Timestamp) -> Evaluation {
        let sandbox = &self.inner.shared.sandbox;
        let limits = sandbox.limits();
        let input_len = claims.canonical().len() + self.inner.data.text().len();
        if input_len > limits.max_input_bytes {
            return Evaluation::failed(EvalFailure::InputTooLarge {
                actual: input_len,
                limit: limits.max_input_bytes,
            });
        }
        let input = wit::Input {
            claims: claims.canonical().to_string(),
            data: self.inner.data.text().to_string(),
            evaluated_at: wit::Timestamp {
                seconds: evaluated_at.unix_seconds(),
                nanoseconds: evaluated_at.subsec_nanos(),
            },
        };
        let mut store = sandbox.store(limits.cpu_deadline);
        let instance: Result<PolicyBindings, _> = self.inner.pre.instantiate(&mut store);
        let result = match instance {
            Ok(instance) => instance.call_evaluate(&mut store, &input),
            Err(e) => return Evaluation::failed(classify(&store, limits, e, true)),
        };
        match result {
            Ok(decision) => decided(decision, limits.max_output_bytes),
            Err(e) => Evaluation::failed(classify(&store, limits, e, false)),
        }
    }
}

fn decided(d: wit::Decision, max_output: usize) -> Evaluation {
    let size: usize = d.reasons.iter().map(String::len).sum::<usize>()
        + d.annotations
            .iter()
            .map(|a| a.key.len() + a.value.len())
            .sum::<usize>();
    if size > max_output {
        return Evaluation::failed(EvalFailure::OutputTooLarge {
            actual: size,
            limit: max_output,
        });
    }
    let decision = Decision {
        allow: d.allow,
        reasons: d.reasons,
        trust_vector: d.trust_vector.map(|t| TrustVector {
            instance_identity: t.instance_identity,
            configuration: t.configuration,
            executables: t.executables,
            file_system: t.file_system,
            hardware: t.hardware,
            runtime_opaque: t.runtime_opaque,
            storage_opaque: t.storage_opaque,
            sourced_data: t.sourced_data,
        }),
        annotations: d
            .annotations
            .into_iter()
            .map(|a| Annotation {
                key: a.key,
                value: a.value,
            })
            .collect(),
    };
    Evaluation {
        decision,
        failure: None,
    }
}

impl From<CompileError> for LoadError {
    fn from(error: CompileError) -> Self {
        match error {
            CompileError::NotAComponent(why) => Self::NotAComponent(why),
            CompileError::Invalid(e) => Self::Compile(format!("{e:#}")),
        }
    }
}

impl From<PrepareError> for LoadError {
    fn from(error: PrepareError) -> Self {
        match error {
            PrepareError::Rego(message) => Self::Rego(message),
            PrepareError::Instantiate(failure) => Self::Prepare(failure.to_string()),
            PrepareError::Limit(failure) => Self::Prepare(
                failure
                    .to_string()
                    .replace("CPU deadline", "prepare deadline"),
            ),
            PrepareError::Runtime(message) => Self::Runtime(message),
        }
    }
}
