//! The policy runtime: one wasmtime engine, and fresh sandboxed instances.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker};
use wasmtime::{
    Cache, CacheConfig, Config, Enabled, Engine, InstanceAllocationStrategy,
    PoolingAllocationConfig, ResourceLimiter, Store, Trap,
};

use super::bindings::policy::verdict::policy::types as wit;
use super::bindings::policy::{Policy as PolicyBindings, PolicyPre};
use super::builtin;
use super::decision::{Annotation, Decision, TrustVector};
use super::identity::{PolicyIdentity, PolicyKind};
use super::limits::{EvalFailure, Limits};
use super::rego::{self, InstrumentedRego, RegoModule};
use crate::claims::{Claims, DataDocument};
use crate::digest::Digest;
use crate::timestamp::Timestamp;

/// How to build a [`PolicyRuntime`].
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    pub limits: Limits,
    /// Where compiled code is cached, keyed by the component's content and the
    /// engine's configuration; `None` compiles every time.
    pub cache_dir: Option<PathBuf>,
    /// How many policy instances may be live at once (pooling allocator slots).
    pub max_instances: u32,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        Self {
            limits: Limits::default(),
            cache_dir: default_cache_dir(),
            max_instances: 128,
        }
    }
}

/// `$VERDICT_CACHE_DIR`, else `$XDG_CACHE_HOME/verdict`, else `~/.cache/verdict`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("VERDICT_CACHE_DIR") {
        return Some(dir.into());
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("verdict"))
}

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

/// Why a runtime could not be created.
#[derive(Debug, thiserror::Error)]
#[error("cannot create the policy runtime: {0}")]
pub struct RuntimeError(String);

/// Shared by the runtime and every policy loaded from it; the epoch ticker
/// lives as long as any of them, so deadlines keep being enforced.
struct Shared {
    engine: Engine,
    linker: Linker<EvalState>,
    limits: Limits,
    cache: Option<Cache>,
    rego: OnceLock<Result<Arc<InstrumentedRego>, String>>,
    _ticker: EpochTicker,
}

/// Compiles and evaluates policies. Cheap to clone; thread-safe.
#[derive(Clone)]
pub struct PolicyRuntime {
    shared: Arc<Shared>,
}

impl PolicyRuntime {
    /// A runtime with the given limits, pooling allocator and code cache.
    pub fn new(config: RuntimeConfig) -> Result<Self, RuntimeError> {
        let (engine_config, cache) = engine_config(&config)?;
        let engine = Engine::new(&engine_config).map_err(|e| RuntimeError(e.to_string()))?;
        let ticker = EpochTicker::start(engine.clone(), config.limits.tick)?;
        let mut linker = Linker::new(&engine);
        // The world `use`s this interface's types; a types-only instance
        // carries no functions, hence no authority.
        linker
            .instance(TYPES_INTERFACE)
            .map_err(|e| RuntimeError(e.to_string()))?;
        let shared = Shared {
            linker,
            engine,
            cache,
            limits: config.limits,
            rego: OnceLock::new(),
            _ticker: ticker,
        };
        Ok(Self {
            shared: Arc::new(shared),
        })
    }

    pub fn limits(&self) -> &Limits {
        &self.shared.limits
    }

    /// The compile-cache statistics `(hits, misses)`, when a cache is configured.
    pub fn cache_stats(&self) -> Option<(usize, usize)> {
        self.shared
            .cache
            .as_ref()
            .map(|c| (c.cache_hits(), c.cache_misses()))
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
        let snapshot =
            rego::prepare_snapshot(self, &instrumented, module, &data, entrypoint.clone())?;
        let component = self.compile(&snapshot)?;
        let identity = self.identity(PolicyKind::Rego, digest, &data, entrypoint, Some(name));
        self.policy(&component, identity, data)
    }

    fn instrumented_rego(&self) -> Result<Arc<InstrumentedRego>, LoadError> {
        self.shared
            .rego
            .get_or_init(|| InstrumentedRego::new(self, builtin::REGO_ENGINE).map(Arc::new))
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

    pub(crate) fn compile(&self, wasm: &[u8]) -> Result<Component, LoadError> {
        match wasm.get(4..8) {
            _ if !wasm.starts_with(b"\0asm") => {
                return Err(LoadError::NotAComponent("no \\0asm magic"));
            }
            Some([1, 0, 0, 0]) => {
                return Err(LoadError::NotAComponent(
                    "this is a core module; wrap it with wit-component (host/build.rs shows how)",
                ));
            }
            _ => {}
        }
        Component::new(&self.shared.engine, wasm).map_err(|e| LoadError::Compile(format!("{e:#}")))
    }

    fn policy(
        &self,
        component: &Component,
        identity: PolicyIdentity,
        data: DataDocument,
    ) -> Result<Policy, LoadError> {
        let engine = &self.shared.engine;
        let imports: Vec<String> = component
            .component_type()
            .imports(engine)
            .filter(|(_, item)| !is_types_only(engine, &item.ty))
            .map(|(name, _)| format!("`{name}`"))
            .collect();
        if !imports.is_empty() {
            return Err(LoadError::HasImports(imports.join(", ")));
        }
        let pre = self
            .shared
            .linker
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

    pub(crate) fn linker(&self) -> &Linker<EvalState> {
        &self.shared.linker
    }

    /// A store bounded by the memory cap and the given deadline.
    pub(crate) fn store(&self, deadline: Duration) -> Store<EvalState> {
        new_store(&self.shared, deadline)
    }
}

/// The interface whose types the policy world uses.
const TYPES_INTERFACE: &str = "verdict:policy/types@0.1.0";

/// An imported instance that only defines types grants nothing.
fn is_types_only(engine: &Engine, item: &ComponentItem) -> bool {
    match item {
        ComponentItem::ComponentInstance(instance) => instance
            .exports(engine)
            .all(|(_, export)| matches!(export.ty, ComponentItem::Type(_))),
        ComponentItem::Type(_) => true,
        _ => false,
    }
}

fn engine_config(config: &RuntimeConfig) -> Result<(Config, Option<Cache>), RuntimeError> {
    let mut cfg = Config::new();
    cfg.epoch_interruption(true);
    let mut pool = PoolingAllocationConfig::default();
    let slots = config.max_instances.max(1);
    pool.total_component_instances(slots)
        .total_core_instances(slots)
        .total_memories(slots)
        .total_tables(slots)
        .max_memory_size(config.limits.memory_bytes)
        .max_component_instance_size(1 << 20)
        .max_core_instance_size(1 << 20);
    // Every evaluation is a fresh instance of a multi-MiB memory image; by
    // default each slot is reset with madvise and every touched page faults
    // again. Where the kernel can report dirty pages (Linux >= 6.7), keep slot
    // memory resident and restore only the dirty pages: the same isolation
    // (a reused slot is reset to the image), no faults (BENCHMARKS.md).
    if PoolingAllocationConfig::is_pagemap_scan_available() {
        pool.linear_memory_keep_resident(config.limits.memory_bytes)
            .table_keep_resident(1 << 20)
            .pagemap_scan(Enabled::Yes);
    }
    cfg.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    let cache = match &config.cache_dir {
        Some(dir) => {
            let mut cache = CacheConfig::new();
            cache.with_directory(dir.join("wasmtime"));
            Some(
                Cache::new(cache)
                    .map_err(|e| RuntimeError(format!("code cache in {}: {e}", dir.display())))?,
            )
        }
        None => None,
    };
    cfg.cache(cache.clone());
    Ok((cfg, cache))
}

fn new_store(shared: &Shared, deadline: Duration) -> Store<EvalState> {
    let mut store = Store::new(
        &shared.engine,
        EvalState {
            limiter: MemoryLimiter {
                max: shared.limits.memory_bytes,
                denied: false,
            },
        },
    );
    store.limiter(|state| &mut state.limiter);
    store.set_epoch_deadline(shared.limits.ticks(deadline));
    store.epoch_deadline_trap();
    store
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
        let shared = &self.inner.shared;
        let limits = &shared.limits;
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
        let mut store = new_store(shared, limits.cpu_deadline);
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

/// Names the limit an error stems from; otherwise reports the trap.
pub(crate) fn classify(
    store: &Store<EvalState>,
    limits: &Limits,
    error: wasmtime::Error,
    instantiating: bool,
) -> EvalFailure {
    if store.data().limiter.denied {
        return EvalFailure::Memory(limits.memory_bytes);
    }
    match error.downcast_ref::<Trap>() {
        Some(Trap::Interrupt) => EvalFailure::CpuDeadline(limits.cpu_deadline),
        Some(trap) => EvalFailure::Trap(trap.to_string()),
        None if instantiating => EvalFailure::Instantiate(format!("{error:#}")),
        None => EvalFailure::Trap(format!("{error:#}")),
    }
}

/// Per-store state: only the memory limiter. Policies get no host state.
pub(crate) struct EvalState {
    limiter: MemoryLimiter,
}

/// Caps linear memory and remembers whether it refused to grow, so an abort
/// that follows is reported as the memory limit rather than a bare trap.
struct MemoryLimiter {
    max: usize,
    denied: bool,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let allowed = desired <= self.max;
        self.denied |= !allowed;
        Ok(allowed)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _max: Option<usize>,
    ) -> wasmtime::Result<bool> {
        Ok(desired <= 1 << 20)
    }
}

/// Advances the engine's epoch every tick, for deadlines. Stops when dropped.
struct EpochTicker {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
}

impl EpochTicker {
    fn start(engine: Engine, tick: Duration) -> Result<Self, RuntimeError> {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let handle = thread::Builder::new()
            .name("verdict-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .map_err(|e| RuntimeError(format!("starting the epoch ticker: {e}")))?;
        Ok(Self {
            stop,
            handle: Some(handle),
        })
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(handle) = self.handle.take() {
            let _ = handle.join();
        }
    }
}
