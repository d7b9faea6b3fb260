//! The verdict host runtime.
//!
//! Evidence and signed messages come in, are verified natively and normalized
//! into [`claims`]; sandboxed [`policy`] components decide; every decision goes
//! into the hash-chained, signed decision [`log`], which [`replay`] re-runs.

#![forbid(unsafe_code)]

pub mod antireplay;
pub mod claims;
pub mod crypto;
pub mod digest;
pub mod ear;
pub mod evidence;
pub mod gateway;
pub mod ids;
pub mod log;
pub mod messages;
pub mod policy;
pub mod replay;
mod text_serde;
pub mod timestamp;
