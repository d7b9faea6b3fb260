//! The built-in policies, their data and examples, compiled into the binary
//! so `verdict demo` and `verdict serve --dev` work from nothing.

pub const ISOLATION_REGO: &str = include_str!("../policies/isolation.rego");
pub const ISOLATION_DATA: &str = include_str!("../examples/isolation/data.json");
pub const FEEDBACK_REGO: &str = include_str!("../policies/feedback.rego");
pub const FEEDBACK_DATA: &str = include_str!("../examples/feedback/data.json");

pub const FEEDBACK_EXAMPLES: [(&str, &str); 2] = [
    (
        "accept.json",
        include_str!("../examples/feedback/accept.json"),
    ),
    (
        "reject.json",
        include_str!("../examples/feedback/reject.json"),
    ),
];

pub const ISOLATION_EXAMPLES: [(&str, &str); 2] = [
    (
        "accept.json",
        include_str!("../examples/isolation/accept.json"),
    ),
    (
        "reject.json",
        include_str!("../examples/isolation/reject.json"),
    ),
];
