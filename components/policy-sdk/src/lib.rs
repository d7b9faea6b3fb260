//! Write a verdict policy in Rust.
//!
//! A policy is a type implementing [`Policy`], exported with
//! [`export_policy!`](crate::export_policy). Build the crate as a `cdylib` for
//! `wasm32-unknown-unknown`; the host's build wraps it into a component of the
//! `verdict:policy` world. The world has no imports, so a policy has no clock,
//! randomness, filesystem or network: it is a pure function of its [`Input`].
//!
//! ```ignore
//! struct MyPolicy;
//! impl policy_sdk::Policy for MyPolicy {
//!     fn evaluate(input: policy_sdk::Input) -> policy_sdk::Decision {
//!         let claims = match policy_sdk::Claims::parse(&input) { Ok(c) => c, Err(d) => return d };
//!         let mut checks = policy_sdk::Checks::new();
//!         checks.require(claims.claim("/checks/signature") == Some(&true.into()), "signature check did not pass");
//!         checks.into_decision()
//!     }
//! }
//! policy_sdk::export_policy!(MyPolicy with_types_in policy_sdk::bindings);
//! ```

/// Generated bindings of the `verdict:policy` world.
pub mod bindings {
    wit_bindgen::generate!({
        path: "../../wit",
        world: "policy",
        pub_export_macro: true,
        export_macro_name: "export_policy",
        default_bindings_module: "policy_sdk::bindings",
    });
}

pub use bindings::verdict::policy::types::{Annotation, Timestamp, TrustVector};
pub use bindings::{Decision, Guest as Policy, Input, export_policy};
pub use serde_json::Value;

/// The parsed claims and data documents of one [`Input`].
pub struct Claims {
    pub claims: Value,
    pub data: Value,
}

impl Claims {
    /// Parses both documents. On malformed JSON returns the deny to give back,
    /// naming which document is wrong: the policy fails closed.
    pub fn parse(input: &Input) -> Result<Self, Decision> {
        let claims = serde_json::from_str(&input.claims)
            .map_err(|e| Decision::deny([format!("claims are not valid JSON: {e}")]))?;
        let data = serde_json::from_str(&input.data)
            .map_err(|e| Decision::deny([format!("data is not valid JSON: {e}")]))?;
        Ok(Self { claims, data })
    }

    /// The claim at a JSON pointer (RFC 6901), such as `/feedback/tenant_id`.
    pub fn claim(&self, pointer: &str) -> Option<&Value> {
        self.claims.pointer(pointer)
    }

    /// A string claim, or `None` when absent or not a string.
    pub fn str(&self, pointer: &str) -> Option<&str> {
        self.claim(pointer).and_then(Value::as_str)
    }

    /// The data document's value at a JSON pointer.
    pub fn data(&self, pointer: &str) -> Option<&Value> {
        self.data.pointer(pointer)
    }
}

/// Collects the reasons a policy denies. It allows only when every
/// requirement held, so a check that is forgotten cannot turn into an allow.
#[derive(Default)]
pub struct Checks {
    reasons: Vec<String>,
}

impl Checks {
    pub fn new() -> Self {
        Self::default()
    }

    /// Records `reason` unless `holds`.
    pub fn require(&mut self, holds: bool, reason: impl Into<String>) {
        if !holds {
            self.reasons.push(reason.into());
        }
    }

    /// Allow when no requirement failed, otherwise deny with every reason.
    pub fn into_decision(self) -> Decision {
        if self.reasons.is_empty() {
            Decision::allow()
        } else {
            Decision::deny(self.reasons)
        }
    }
}

impl Decision {
    /// An allow with no reasons, trust vector or annotations.
    pub fn allow() -> Self {
        Self { allow: true, reasons: Vec::new(), trust_vector: None, annotations: Vec::new() }
    }

    /// A deny with the given reasons.
    pub fn deny<I: IntoIterator<Item = S>, S: Into<String>>(reasons: I) -> Self {
        Self {
            allow: false,
            reasons: reasons.into_iter().map(Into::into).collect(),
            trust_vector: None,
            annotations: Vec::new(),
        }
    }
}
