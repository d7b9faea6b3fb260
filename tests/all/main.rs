//! verdict's integration tests: one binary, one module per area.

mod common;
mod rego;
mod sandbox;
