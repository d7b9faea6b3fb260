//! The federation gateway: mTLS service identities, signed telemetry and
//! feedback, JWS execution manifests, anti-replay, and policy decisions over
//! HTTP, every one of them in the signed decision log.
//!
//! Layers, each depending only on those after it: `routes` (one module per
//! route) → `pipeline` (admit, decide, log, respond) → `state` ← `start`
//! (building the state from [`config`]). [`Gateway`] starts and serves it.

#![warn(missing_docs, unreachable_pub)]

pub mod client;
pub mod config;
pub mod decisions;
pub mod dev;
pub mod errors;
mod facade;
mod ledger;
pub mod metrics;
mod pipeline;
pub mod policy_input;
pub mod ratelimit;
mod routes;
pub mod serve;
mod start;
mod state;
pub mod tls;

pub use errors::ErrorCode;
pub use facade::Gateway;
pub use routes::attest;
pub use start::{SelfRegion, StartError};
