//! The job's view of its own task.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crate::shared::Shared;

/// Handed to a job on the worker thread: reports its progress and tells it whether a cancel
/// was requested. The job's outcome is what it returns (see [`TaskManager::submit`]).
///
/// Everything here speaks for this one run of the task, so a resubmission under the same id
/// is never affected.
///
/// [`TaskManager::submit`]: crate::TaskManager::submit
pub struct TaskContext {
    shared: Arc<Shared>,
    task_id: String,
    generation: u64,
    cancel: Arc<AtomicBool>,
}

impl TaskContext {
    pub(crate) fn new(
        shared: Arc<Shared>,
        task_id: String,
        generation: u64,
        cancel: Arc<AtomicBool>,
    ) -> Self {
        Self {
            shared,
            task_id,
            generation,
            cancel,
        }
    }

    /// The id the task was submitted with.
    pub fn task_id(&self) -> &str {
        &self.task_id
    }

    /// Reports `current` of `total` steps done in `phase`; the percentage is derived from
    /// `current / total` (and never goes down during the run).
    pub fn update_progress(&self, current: u32, total: u32, phase: &str) {
        self.progress(current, total, phase, None);
    }

    /// Like [`update_progress`](Self::update_progress) with an explicit percentage (0–100,
    /// clamped; lower than one already reported is ignored).
    pub fn update_progress_with_percentage(
        &self,
        current: u32,
        total: u32,
        phase: &str,
        percentage: f64,
    ) {
        self.progress(current, total, phase, Some(percentage));
    }

    /// Reports what the job has done so far besides its progress (e.g. the items a batch has
    /// finished), for readers of [`TaskSnapshot::detail`](crate::TaskSnapshot::detail);
    /// each call replaces the last.
    pub fn update_detail(&self, detail: serde_json::Value) {
        self.shared
            .registry
            .update_detail(&self.task_id, self.generation, detail);
    }

    /// Whether a cancel has been requested for this task.
    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Acquire)
    }

    /// The task's cooperative cancel flag, to hand to code that polls it (e.g. a renderer).
    pub fn cancel_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.cancel)
    }

    fn progress(&self, current: u32, total: u32, phase: &str, percentage: Option<f64>) {
        self.shared.registry.update_progress(
            &self.task_id,
            Some(self.generation),
            current,
            total,
            phase,
            percentage,
        );
    }
}

impl fmt::Debug for TaskContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskContext")
            .field("task_id", &self.task_id)
            .field("generation", &self.generation)
            .field("cancelled", &self.is_cancelled())
            .finish_non_exhaustive()
    }
}
