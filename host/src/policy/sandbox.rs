//! The sandbox every policy runs in: one wasmtime engine (pooling allocator,
//! code cache, epoch interruption), a linker that grants nothing, and stores
//! bounded by a memory cap and a deadline.
//!
//! Both the policy runtime (`runtime.rs`) and the Rego preparation
//! (`rego.rs`) build on this module; it depends on neither.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, Linker};
use wasmtime::{
    Cache, CacheConfig, Config, Enabled, Engine, InstanceAllocationStrategy,
    PoolingAllocationConfig, ResourceLimiter, Store, Trap,
};

use super::limits::{EvalFailure, Limits};

/// How to build a [`PolicyRuntime`](super::PolicyRuntime).
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

/// Why a runtime could not be created.
#[derive(Debug, thiserror::Error)]
#[error("cannot create the policy runtime: {0}")]
pub struct RuntimeError(String);

/// Why bytes could not be compiled into a component.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CompileError {
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(&'static str),
    #[error("invalid component: {0:#}")]
    Invalid(#[source] wasmtime::Error),
}

/// The engine, linker and limits, plus the epoch ticker that enforces
/// deadlines for as long as the sandbox lives.
pub(crate) struct Sandbox {
    engine: Engine,
    linker: Linker<EvalState>,
    limits: Limits,
    cache: Option<Cache>,
    _ticker: EpochTicker,
}

impl Sandbox {
    pub(crate) fn new(config: &RuntimeConfig) -> Result<Self, RuntimeError> {
        let (engine_config, cache) = engine_config(config)?;
        let engine = Engine::new(&engine_config).map_err(|e| RuntimeError(e.to_string()))?;
        let ticker = EpochTicker::start(engine.clone(), config.limits.tick)?;
        let mut linker = Linker::new(&engine);
        // The world `use`s this interface's types; a types-only instance
        // carries no functions, hence no authority.
        linker
            .instance(TYPES_INTERFACE)
            .map_err(|e| RuntimeError(e.to_string()))?;
        Ok(Self {
            engine,
            linker,
            limits: config.limits.clone(),
            cache,
            _ticker: ticker,
        })
    }

    pub(crate) fn limits(&self) -> &Limits {
        &self.limits
    }

    pub(crate) fn linker(&self) -> &Linker<EvalState> {
        &self.linker
    }

    /// The compile-cache statistics `(hits, misses)`, when a cache is configured.
    pub(crate) fn cache_stats(&self) -> Option<(usize, usize)> {
        self.cache
            .as_ref()
            .map(|c| (c.cache_hits(), c.cache_misses()))
    }

    /// Compiles a component; a core module or non-wasm bytes are refused
    /// with a hint rather than wasmtime's generic error.
    pub(crate) fn compile(&self, wasm: &[u8]) -> Result<Component, CompileError> {
        match wasm.get(4..8) {
            _ if !wasm.starts_with(b"\0asm") => {
                return Err(CompileError::NotAComponent("no \\0asm magic"));
            }
            Some([1, 0, 0, 0]) => {
                return Err(CompileError::NotAComponent(
                    "this is a core module; wrap it with wit-component (host/build.rs shows how)",
                ));
            }
            _ => {}
        }
        Component::new(&self.engine, wasm).map_err(CompileError::Invalid)
    }

    /// The component's imports that would grant something (anything but
    /// types-only instances), as `` `name` ``.
    pub(crate) fn granting_imports(&self, component: &Component) -> Vec<String> {
        component
            .component_type()
            .imports(&self.engine)
            .filter(|(_, item)| !is_types_only(&self.engine, &item.ty))
            .map(|(name, _)| format!("`{name}`"))
            .collect()
    }

    /// A store bounded by the memory cap and the given deadline.
    pub(crate) fn store(&self, deadline: Duration) -> Store<EvalState> {
        let mut store = Store::new(
            &self.engine,
            EvalState {
                limiter: MemoryLimiter {
                    max: self.limits.memory_bytes,
                    denied: false,
                },
            },
        );
        store.limiter(|state| &mut state.limiter);
        store.set_epoch_deadline(self.limits.ticks(deadline));
        store.epoch_deadline_trap();
        store
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
