//! `/metrics`: requests by route and status, decision latency.

use std::sync::Mutex;
use std::time::Duration;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    route: &'static str,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PolicyLabels {
    policy: &'static str,
}

/// The gateway's metrics.
pub struct Metrics {
    registry: Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    decision_seconds: Family<PolicyLabels, Histogram>,
}

impl Default for Metrics {
    fn default() -> Self {
        let requests = Family::<RequestLabels, Counter>::default();
        // 10 µs to ~0.3 s: policy evaluations are microseconds, deadlines 50 ms.
        let decision_seconds = Family::<PolicyLabels, Histogram>::new_with_constructor(|| {
            Histogram::new(exponential_buckets(1e-5, 2.0, 16))
        });
        let mut registry = Registry::default();
        registry.register(
            "verdict_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "verdict_decision_seconds",
            "Sandboxed policy evaluation time",
            decision_seconds.clone(),
        );
        Self {
            registry: Mutex::new(registry),
            requests,
            decision_seconds,
        }
    }
}

impl Metrics {
    /// Counts a response of `route` with `status`.
    pub fn request(&self, route: &'static str, status: u16) {
        self.requests
            .get_or_create(&RequestLabels { route, status })
            .inc();
    }

    /// Records how long the policy `policy` took to decide.
    pub fn decision(&self, policy: &'static str, took: Duration) {
        self.decision_seconds
            .get_or_create(&PolicyLabels { policy })
            .observe(took.as_secs_f64());
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut text = String::new();
        if let Ok(registry) = self.registry.lock() {
            let _ = encode(&mut text, &registry);
        }
        text
    }
}
