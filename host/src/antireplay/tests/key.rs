use std::collections::HashSet;

use crate::antireplay::Namespace;
use crate::antireplay::key::encode;

use super::{nonce, tenant};

#[test]
fn layout_is_length_prefixed() {
    let ns = Namespace::new("telemetry").unwrap();
    assert_eq!(
        encode(Some(&ns), &tenant("tenant-a"), &nonce("abc:def-12")),
        "verdict:nonce:9:telemetry:8:tenant-a:10:abc:def-12"
    );
    assert_eq!(
        encode(None, &tenant("t"), &nonce("nonce-0001")),
        "verdict:nonce:0::1:t:10:nonce-0001"
    );
}

#[test]
fn colons_in_nonces_cannot_forge_another_key() {
    // Triples that plain `:`-joining could confuse, plus namespace variants.
    let a = Namespace::new("a").unwrap();
    let a1 = Namespace::new("a1").unwrap();
    let triples = [
        (None, "t", "1:t:10:nonce"),
        (None, "t", "1:t:10:nonc"),
        (Some(&a), "t", "nonce-0001"),
        (Some(&a1), "t", "nonce-0001"),
        (None, "a", "1:t:10:nonce-0001"),
        (None, "t", "nonce-0001"),
        (None, "t.1", "nonce-0001"),
        (None, "t", "1:nonce-0001"),
        (Some(&a), "1", "t:nonce-0001"),
    ];
    let keys: HashSet<String> = triples
        .iter()
        .map(|(ns, t, n)| encode(*ns, &tenant(t), &nonce(n)))
        .collect();
    assert_eq!(keys.len(), triples.len());
}

#[test]
fn namespaces_reject_separators_and_bad_lengths() {
    for good in [
        "telemetry",
        "feedback",
        "manifest",
        "a",
        "x_y-2",
        &"n".repeat(64),
    ] {
        assert!(Namespace::new(good).is_ok(), "{good:?}");
    }
    for bad in ["", "a:b", "Telemetry", "a b", "é", &"n".repeat(65)] {
        let err = Namespace::new(bad).unwrap_err();
        assert_eq!(err.kind, "nonce namespace");
    }
}
