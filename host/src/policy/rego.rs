//! Rego policies: parsed inside the sandbox, then pre-initialized.
//!
//! The Rego engine component exports `prepare`. For each policy the host
//! instantiates an instrumented copy, calls `prepare` (under the prepare
//! deadline and the memory cap), and snapshots the instance with wizer. The
//! snapshot is a component whose initial memory already holds the parsed and
//! analysed policy. Evaluations start fresh instances of it, so no state
//! carries over between them. (`prepare` stays exported: wizer 48 removes the
//! core export of the same name and leaves the component invalid otherwise;
//! the host only ever calls `evaluate` on a snapshot.)

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use wasmtime::Store;
use wasmtime::component::{Component, Instance, Lift, WasmList};
use wasmtime_wizer::Wizer;
use wasmtime_wizer::{ComponentContext, ComponentInstanceState};

use super::bindings::rego::{Module, RegoEngine};
use super::limits::EvalFailure;
use super::sandbox::{EvalState, Sandbox, classify};
use crate::claims::DataDocument;

/// The exported function wizer treats as the initializer.
const PREPARE: &str = "prepare";

/// One Rego module: the name used in error messages, and its source.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegoModule {
    pub name: String,
    pub source: String,
}

/// Why a Rego policy could not be prepared.
#[derive(Debug, thiserror::Error)]
pub(crate) enum PrepareError {
    /// The engine refused the policy (parse error, unknown rule, ...): its message.
    #[error("Rego: {0}")]
    Rego(String),
    /// Instantiating the engine failed.
    #[error("instantiating the Rego engine: {0}")]
    Instantiate(#[source] EvalFailure),
    /// `prepare` hit a limit or trapped.
    #[error("preparing the Rego policy failed: {0}")]
    Limit(#[source] EvalFailure),
    /// The host side failed (bindings, snapshot).
    #[error("runtime: {0}")]
    Runtime(String),
}

/// The Rego engine component, instrumented for snapshotting and compiled.
pub(crate) struct InstrumentedRego {
    wizer: Wizer,
    context: ComponentContext<'static>,
    component: Component,
}

impl InstrumentedRego {
    pub(crate) fn new(sandbox: &Sandbox, engine_wasm: &'static [u8]) -> Result<Self, String> {
        let mut wizer = Wizer::new();
        wizer.init_func(PREPARE).keep_init_func(true);
        let (context, instrumented) = wizer
            .instrument_component(engine_wasm)
            .map_err(|e| format!("instrumenting the Rego engine: {e:#}"))?;
        let component = sandbox.compile(&instrumented).map_err(|e| e.to_string())?;
        Ok(Self {
            wizer,
            context,
            component,
        })
    }
}

/// Prepares `module` in a fresh instrumented instance and returns the snapshot.
pub(crate) fn prepare_snapshot(
    sandbox: &Sandbox,
    rego: &InstrumentedRego,
    module: RegoModule,
    data: &DataDocument,
    entrypoint: Option<String>,
) -> Result<Vec<u8>, PrepareError> {
    let limits = sandbox.limits();
    let mut store = sandbox.store(limits.prepare_deadline);
    let instance = sandbox
        .linker()
        .instantiate(&mut store, &rego.component)
        .map_err(|e| PrepareError::Instantiate(classify(&store, limits, e, true)))?;
    let engine = RegoEngine::new(&mut store, &instance)
        .map_err(|e| PrepareError::Runtime(format!("{e:#}")))?;
    let modules = [Module {
        name: module.name,
        source: module.source,
    }];
    engine
        .call_prepare(&mut store, &modules, data.text(), entrypoint.as_deref())
        .map_err(|e| PrepareError::Limit(classify(&store, limits, e, false)))?
        .map_err(PrepareError::Rego)?;

    let mut state = SyncInstance {
        store: &mut store,
        instance,
        error: None,
    };
    let snapshot = poll_ready(rego.wizer.snapshot_component(&rego.context, &mut state))
        .ok_or_else(|| PrepareError::Runtime("the snapshot did not complete synchronously".into()))?
        .map_err(|e| PrepareError::Runtime(format!("snapshotting the prepared policy: {e:#}")))?;
    match state.error {
        Some(error) => Err(PrepareError::Runtime(format!(
            "snapshotting the prepared policy: {error}"
        ))),
        None => Ok(snapshot),
    }
}

/// Polls a future that never waits (every call below is synchronous) once.
fn poll_ready<F: Future>(future: F) -> Option<F::Output> {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(output) => Some(output),
        Poll::Pending => None,
    }
}

/// Lets wizer read an instance's globals and memory through synchronous calls,
/// so the evaluation engine needs no async support. A failed call is recorded
/// rather than panicking; the caller discards the snapshot then.
struct SyncInstance<'a> {
    store: &'a mut Store<EvalState>,
    instance: Instance,
    error: Option<String>,
}

impl SyncInstance<'_> {
    fn call<R: Lift + 'static, Out: Default>(
        &mut self,
        interface: &str,
        func: &str,
        use_result: impl FnOnce(&Store<EvalState>, R) -> Out,
    ) -> Out {
        match self.try_call(interface, func) {
            Ok(value) => use_result(self.store, value),
            Err(error) => {
                self.error
                    .get_or_insert(format!("{interface}#{func}: {error:#}"));
                Out::default()
            }
        }
    }

    fn try_call<R: Lift + 'static>(&mut self, interface: &str, func: &str) -> wasmtime::Result<R> {
        let (_, iface) = self
            .instance
            .get_export(&mut *self.store, None, interface)
            .ok_or_else(|| wasmtime::format_err!("no export {interface}"))?;
        let (_, export) = self
            .instance
            .get_export(&mut *self.store, Some(&iface), func)
            .ok_or_else(|| wasmtime::format_err!("no export {func}"))?;
        let typed = self
            .instance
            .get_typed_func::<(), (R,)>(&mut *self.store, export)?;
        Ok(typed.call(&mut *self.store, ())?.0)
    }
}

impl ComponentInstanceState for SyncInstance<'_> {
    async fn call_func_ret_list_u8(
        &mut self,
        instance: &str,
        func: &str,
        contents: impl FnOnce(&[u8]) + Send,
    ) {
        self.call(instance, func, |store, list: WasmList<u8>| {
            contents(list.as_le_slice(store))
        })
    }

    async fn call_func_ret_s32(&mut self, instance: &str, func: &str) -> i32 {
        self.call(instance, func, |_, v: i32| v)
    }

    async fn call_func_ret_s64(&mut self, instance: &str, func: &str) -> i64 {
        self.call(instance, func, |_, v: i64| v)
    }

    async fn call_func_ret_f32(&mut self, instance: &str, func: &str) -> u32 {
        self.call(instance, func, |_, v: f32| v.to_bits())
    }

    async fn call_func_ret_f64(&mut self, instance: &str, func: &str) -> u64 {
        self.call(instance, func, |_, v: f64| v.to_bits())
    }
}
