//! Test fixture for the sandbox: `claims.action` picks the misbehaviour.
//!
//! - `loop`: never returns (the CPU deadline must stop it);
//! - `alloc`: allocates without bound (the memory cap must stop it);
//! - `trap`: panics, which aborts (a trap);
//! - `big-output`: returns `claims.size` bytes of reasons;
//! - `count`: increments a global and reports it (fresh instances see 1);
//! - anything else: allows.

use std::sync::atomic::{AtomicU64, Ordering};

use policy_sdk::{Annotation, Claims, Decision, Input, Policy, Value};

static CALLS: AtomicU64 = AtomicU64::new(0);

struct Misbehave;

impl Policy for Misbehave {
    fn evaluate(input: Input) -> Decision {
        let claims = match Claims::parse(&input) {
            Ok(c) => c,
            Err(deny) => return deny,
        };
        match claims.str("/action").unwrap_or("") {
            "loop" => spin(),
            "alloc" => hoard(),
            "trap" => panic!("asked to trap"),
            "big-output" => {
                let size = claims.claim("/size").and_then(Value::as_u64).unwrap_or(0) as usize;
                Decision::deny(["x".repeat(size)])
            }
            "count" => {
                let calls = CALLS.fetch_add(1, Ordering::Relaxed) + 1;
                let mut d = Decision::allow();
                d.annotations.push(Annotation { key: "calls".into(), value: calls.to_string() });
                d
            }
            _ => Decision::allow(),
        }
    }
}

fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

/// Reserves memory without touching it, so the memory cap (not the CPU
/// deadline spent filling pages) is what stops it, however loaded the host.
fn hoard() -> Decision {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        chunks.push(std::hint::black_box(Vec::with_capacity(1 << 20)));
    }
}

policy_sdk::export_policy!(Misbehave with_types_in policy_sdk::bindings);
