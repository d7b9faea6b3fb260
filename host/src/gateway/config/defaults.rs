//! The value of every optional setting when the config file leaves it out.
//! (The `unwrap`s run at compile time.)

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::num::{NonZeroU32, NonZeroU64, NonZeroUsize};

/// `listen`: the mTLS listener, loopback only.
pub const LISTEN: SocketAddr = SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 8443));

/// `replay.max_age_secs`: how old a signed request may be.
pub const REPLAY_MAX_AGE_SECS: NonZeroU64 = NonZeroU64::new(300).unwrap();

/// `replay.future_skew_secs`: how far in the future a request's timestamp may
/// be, to allow for clock skew.
pub const REPLAY_FUTURE_SKEW_SECS: u64 = 30;

/// `replay.retention_secs`: how long a seen nonce is remembered.
pub const REPLAY_RETENTION_SECS: u64 = 900;

/// `limits.max_body_bytes`: 1 MiB.
pub const MAX_BODY_BYTES: NonZeroUsize = NonZeroUsize::new(1 << 20).unwrap();

/// `limits.rate_per_identity_per_sec`: sustained requests per second per
/// service identity.
pub const RATE_PER_IDENTITY_PER_SEC: NonZeroU32 = NonZeroU32::new(200).unwrap();

/// `limits.burst`: requests a service identity may send at once before the
/// sustained rate applies.
pub const BURST: NonZeroU32 = NonZeroU32::new(400).unwrap();
