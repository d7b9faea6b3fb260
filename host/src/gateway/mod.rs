//! The federation gateway: mTLS service identities, signed telemetry and
//! feedback, JWS execution manifests, anti-replay, and policy decisions over
//! HTTP, every one of them in the signed decision log.

pub mod client;
pub mod config;
pub mod decisions;
pub mod dev;
pub mod errors;
pub mod metrics;
pub mod ratelimit;
pub mod routes;
pub mod serve;
pub mod start;
pub mod tls;

pub use routes::attest;
