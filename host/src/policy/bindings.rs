//! Host-side bindings of the WIT worlds in `wit/`.

/// The `verdict:policy/policy` world: what every policy component exports.
pub(crate) mod policy {
    wasmtime::component::bindgen!({ path: "../wit", world: "policy" });
}

/// The host-internal `rego-engine` world: `policy` plus `prepare`.
pub(crate) mod rego {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "rego-engine",
        with: { "verdict:policy/types": super::policy::verdict::policy::types },
    });
}
