//! The builtins verdict adds to or replaces in regorus, and the ones it refuses.
//!
//! - `time.now_ns()` and `verdict.now_ns()` return the recorded evaluation
//!   time: there is no clock in the sandbox, and replay must see the same "now".
//! - `time.*` (submodule `time`) are provided here because regorus's link
//!   chrono's JavaScript clock on wasm32, which the import-free world forbids.
//! - `net.cidr_*` are provided here because regorus's need its `std` feature
//!   (which brings an OS random generator the sandbox cannot have).
//! - `strings.count` and `json.is_valid` replace regorus's, which disagree with
//!   OPA (overlapping matches; a trap on an empty substring; an error on a
//!   non-string).
//! - Effectful or random builtins are refused when the policy is loaded.

use core::net::IpAddr;
use std::sync::atomic::{AtomicI64, Ordering};

use anyhow::{Result, bail};
use ipnet::IpNet;
use regorus::{Engine, Value};

mod time;

/// The current evaluation's time in nanoseconds since the Unix epoch.
static EVALUATED_AT_NS: AtomicI64 = AtomicI64::new(0);

/// Sets what `time.now_ns()` returns until the next call.
pub fn set_now_ns(nanos: i64) {
    EVALUATED_AT_NS.store(nanos, Ordering::Relaxed);
}

/// Builtins that would give a policy ambient authority or make its decisions
/// irreproducible, with why. Calling one is a load error.
pub const REFUSED: &[(&str, &str)] = &[
    (
        "rand.intn",
        "it is random: a replay could not reproduce the decision",
    ),
    (
        "uuid.rfc4122",
        "it is random: a replay could not reproduce the decision",
    ),
    ("http.send", "it reaches the network; the sandbox has none"),
    (
        "net.lookup_ip_addr",
        "it reaches the network (DNS); the sandbox has none",
    ),
    (
        "opa.runtime",
        "it reads the host's environment and configuration",
    ),
];

/// The builtins this module adds, by name and argument count.
pub const PROVIDED: &[(&str, u8)] = &[
    ("time.now_ns", 0),
    ("verdict.now_ns", 0),
    ("net.cidr_contains", 2),
    ("net.cidr_intersects", 2),
    ("net.cidr_is_valid", 1),
    ("net.cidr_overlap", 2),
    ("strings.count", 2),
    ("json.is_valid", 1),
    ("crypto.hmac.equal", 2),
    ("time.parse_rfc3339_ns", 1),
    ("time.parse_ns", 2),
    ("time.parse_duration_ns", 1),
    ("time.date", 1),
    ("time.clock", 1),
    ("time.weekday", 1),
    ("time.format", 1),
    ("time.add_date", 4),
    ("time.diff", 2),
];

/// Registers every builtin of [`PROVIDED`] with `engine`.
pub fn register(engine: &mut Engine) -> Result<()> {
    for &(name, nargs) in PROVIDED {
        let function: fn(&[Value]) -> Result<Value> = match name {
            "time.now_ns" | "verdict.now_ns" => {
                |_| Ok(Value::from(EVALUATED_AT_NS.load(Ordering::Relaxed)))
            }
            "net.cidr_contains" | "net.cidr_overlap" => cidr_contains,
            "net.cidr_intersects" => cidr_intersects,
            "net.cidr_is_valid" => {
                |args| Ok(Value::from(string(args, 0)?.parse::<IpNet>().is_ok()))
            }
            "strings.count" => strings_count,
            "json.is_valid" => json_is_valid,
            "crypto.hmac.equal" => hmac_equal,
            "time.parse_rfc3339_ns" => time::parse_rfc3339_ns,
            "time.parse_ns" => time::parse_ns,
            "time.parse_duration_ns" => time::parse_duration_ns,
            "time.date" => time::date,
            "time.clock" => time::clock,
            "time.weekday" => time::weekday,
            "time.format" => time::format,
            "time.add_date" => time::add_date,
            "time.diff" => time::diff,
            _ => bail!("no implementation for {name}"),
        };
        engine.add_extension(
            name.into(),
            nargs,
            Box::new(move |args: Vec<Value>| function(&args)),
        )?;
    }
    Ok(())
}

fn string(args: &[Value], index: usize) -> Result<&str> {
    match args.get(index) {
        Some(Value::String(s)) => Ok(s.as_ref()),
        Some(_) => bail!("operand {} must be a string", index + 1),
        None => bail!("missing operand {}", index + 1),
    }
}

/// A CIDR, or a single address as the network holding only itself.
fn network(text: &str) -> Result<IpNet> {
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net);
    }
    match text.parse::<IpAddr>() {
        Ok(addr) => Ok(IpNet::from(addr)),
        Err(_) => bail!("invalid CIDR or IP address `{text}`"),
    }
}

/// `net.cidr_contains(cidr, cidr_or_ip)`: OPA requires the first operand to
/// be a CIDR.
fn cidr_contains(args: &[Value]) -> Result<Value> {
    let Ok(outer) = string(args, 0)?.parse::<IpNet>() else {
        bail!("net.cidr_contains: invalid CIDR `{}`", string(args, 0)?);
    };
    let inner = network(string(args, 1)?)?;
    Ok(Value::from(outer.contains(&inner)))
}

fn cidr_intersects(args: &[Value]) -> Result<Value> {
    let a = string(args, 0)?.parse::<IpNet>().map_err(|_| {
        anyhow::anyhow!(
            "net.cidr_intersects: invalid CIDR `{}`",
            string(args, 0).unwrap_or_default()
        )
    })?;
    let b = string(args, 1)?.parse::<IpNet>().map_err(|_| {
        anyhow::anyhow!(
            "net.cidr_intersects: invalid CIDR `{}`",
            string(args, 1).unwrap_or_default()
        )
    })?;
    // Two prefixes intersect exactly when one contains the other.
    Ok(Value::from(a.contains(&b) || b.contains(&a)))
}

/// Go's `strings.Count`: non-overlapping occurrences; an empty substring
/// counts the positions between characters (characters + 1).
fn strings_count(args: &[Value]) -> Result<Value> {
    let haystack = string(args, 0)?;
    let needle = string(args, 1)?;
    let count = if needle.is_empty() {
        haystack.chars().count() + 1
    } else {
        haystack.matches(needle).count()
    };
    Ok(Value::from(count))
}

/// OPA's `json.is_valid`: false for anything but a string holding JSON.
fn json_is_valid(args: &[Value]) -> Result<Value> {
    let valid = match args.first() {
        Some(Value::String(text)) => serde_json::from_str::<serde_json::Value>(text).is_ok(),
        _ => false,
    };
    Ok(Value::from(valid))
}

/// Compares two MACs without an early exit, so the time taken does not
/// reveal how long a matching prefix is.
fn hmac_equal(args: &[Value]) -> Result<Value> {
    let (a, b) = (string(args, 0)?.as_bytes(), string(args, 1)?.as_bytes());
    let differ = a.len() != b.len() || a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) != 0;
    Ok(Value::from(!differ))
}
