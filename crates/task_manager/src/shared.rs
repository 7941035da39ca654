//! The state the task manager's handles, its worker thread and every [`TaskContext`] share:
//! its own module, so that `manager`, `worker` and `context` each depend on it rather than on
//! one another.
//!
//! [`TaskContext`]: crate::TaskContext

use std::sync::atomic::AtomicBool;
use std::time::Duration;

use crate::registry::Registry;

/// State shared by the handles, the worker thread and every
/// [`TaskContext`](crate::TaskContext).
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) registry: Registry,
    pub(crate) prune_after: Duration,
    /// Set by `shutdown`; the worker then drains the queue without running it.
    pub(crate) closing: AtomicBool,
}

impl Shared {
    pub(crate) fn prune(&self) -> usize {
        let pruned = self.registry.prune(self.prune_after);
        if pruned > 0 {
            log::debug!("pruned {pruned} finished task(s)");
        }
        pruned
    }
}
