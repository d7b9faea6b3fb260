//! The policy runtime: sandboxed evaluation of policy components.
//!
//! Every policy is a WebAssembly component of the `verdict:policy` world
//! (`wit/policy.wit`), which has no imports. Rego policies run inside the Rego
//! engine component. Each evaluation gets a fresh instance, a CPU deadline and
//! a memory cap; any failure is a deny.

mod bindings;
pub mod builtin;
pub mod decision;
pub mod identity;
mod limits;
mod rego;
mod runtime;
mod sandbox;
mod tools;

pub use decision::{Annotation, Decision, TrustVector};
pub use identity::{PolicyIdentity, PolicyKind};
pub use limits::{EvalFailure, Limits};
pub use rego::RegoModule;
pub use runtime::{Evaluation, LoadError, Policy, PolicyRuntime};
pub use sandbox::{RuntimeConfig, RuntimeError, default_cache_dir};
pub use tools::{FileCoverage, QueryOutput, RegoTools, TestCase, TestOutcome, ToolError};
