//! The one encoding of (namespace, tenant, nonce) into a store key.
//!
//! Layout: `verdict:nonce:<len>:<namespace>:<len>:<tenant>:<len>:<nonce>`,
//! each `<len>` the decimal byte length of the component that follows, and
//! an absent namespace encoded as the empty component `0:`. For example
//! `verdict:nonce:9:telemetry:8:tenant-a:10:abc:def-12`.
//!
//! Why length prefixes: a [`Nonce`] may contain `:`, so plain
//! `ns:tenant:nonce` joining would rely on every other component never
//! containing `:` now or later. A length-prefixed component is self-delimiting
//! whatever its bytes, so the encoding is injective: two different triples
//! never share a key. The key stays human-readable for operators.

use std::fmt::Write as _;

use crate::ids::{Nonce, TenantId};

use super::Namespace;

/// The fixed prefix of every key, so nonce keys are easy to find in a
/// shared Redis.
pub(crate) const PREFIX: &str = "verdict:nonce:";

/// Encodes (namespace, tenant, nonce) as described in the module docs.
pub(crate) fn encode(namespace: Option<&Namespace>, tenant: &TenantId, nonce: &Nonce) -> String {
    let ns = namespace.map_or("", Namespace::as_str);
    let mut key = String::with_capacity(
        PREFIX.len() + ns.len() + tenant.as_str().len() + nonce.as_str().len() + 12,
    );
    key.push_str(PREFIX);
    for component in [ns, tenant.as_str(), nonce.as_str()] {
        // Writing to a String cannot fail.
        let _ = write!(key, "{}:", component.len());
        key.push_str(component);
        key.push(':');
    }
    key.pop(); // the trailing ':'
    key
}
