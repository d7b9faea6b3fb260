//! One module per subcommand.

pub mod attest;
pub mod demo;
pub mod eval;
pub mod keygen;
pub mod log;
pub mod new;
pub mod replay;
pub mod serve;
pub mod sign;
pub mod test;
pub mod verify;
