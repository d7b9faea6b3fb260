//! Resource limits on one policy evaluation.

use std::time::Duration;

/// Limits applied to every evaluation (and, with `prepare_deadline`, to
/// preparing a Rego policy). Hitting one is a deny whose reason names it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Wall-clock CPU deadline of one evaluation, enforced by epoch
    /// interruption: an evaluation is stopped after at most this long.
    pub cpu_deadline: Duration,
    /// Epoch tick: the deadline's granularity. An evaluation may be stopped up
    /// to one tick before `cpu_deadline`, never after it.
    pub tick: Duration,
    /// Deadline for preparing a Rego policy (parsing and analysis) before it
    /// is snapshotted; a load error when exceeded.
    pub prepare_deadline: Duration,
    /// Cap on a policy instance's linear memory, in bytes.
    pub memory_bytes: usize,
    /// Cap on the input handed to a policy: claims plus data, in bytes.
    pub max_input_bytes: usize,
    /// Cap on a decision's size: reasons and annotations, in bytes.
    pub max_output_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            cpu_deadline: Duration::from_millis(50),
            tick: Duration::from_millis(10),
            prepare_deadline: Duration::from_secs(10),
            memory_bytes: 64 << 20,
            max_input_bytes: 1 << 20,
            max_output_bytes: 64 << 10,
        }
    }
}

impl Limits {
    /// Epoch ticks for `deadline`, rounded down so the deadline is never
    /// exceeded, and at least one.
    pub(crate) fn ticks(&self, deadline: Duration) -> u64 {
        let tick = self.tick.as_nanos().max(1);
        u64::try_from(deadline.as_nanos() / tick)
            .unwrap_or(u64::MAX)
            .max(1)
    }
}

/// Which limit an evaluation hit, or how else the host failed closed.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EvalFailure {
    #[error("policy exceeded its CPU deadline of {0:?}")]
    CpuDeadline(Duration),
    #[error("policy exceeded its memory limit of {0} bytes")]
    Memory(usize),
    #[error("policy input of {actual} bytes exceeds the limit of {limit} bytes")]
    InputTooLarge { actual: usize, limit: usize },
    #[error("policy output of {actual} bytes exceeds the limit of {limit} bytes")]
    OutputTooLarge { actual: usize, limit: usize },
    #[error("policy trapped: {0}")]
    Trap(String),
    #[error("policy could not be instantiated: {0}")]
    Instantiate(String),
}
