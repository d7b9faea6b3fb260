//! verdict's integration tests: one binary, one module per area.

mod cli;
mod common;
mod evidence;
mod gateway;
mod log;
mod rego;
mod rego_cli;
mod rego_tools;
mod replay;
mod sandbox;
mod twins;
