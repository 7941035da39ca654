//! Task records and the status types readers see.
//!
//! The registry is a `HashMap` behind a mutex that is only ever held for a few field updates,
//! never while a job runs, so status readers never wait on a job.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::error::TaskError;

/// Where a task is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum TaskStatus {
    /// Queued; its job has not started.
    Pending,
    /// Its job is running on the worker thread.
    Processing,
    /// The job finished successfully.
    Completed,
    /// The job failed, returned an error or panicked.
    Failed,
    /// Cancelled before it started, or the job acknowledged a cancel request.
    Cancelled,
}

impl TaskStatus {
    /// Whether the task is done (completed, failed or cancelled) and will not change again.
    pub fn is_finished(self) -> bool {
        matches!(self, Self::Completed | Self::Failed | Self::Cancelled)
    }

    /// Every status, in life order.
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::Processing,
        Self::Completed,
        Self::Failed,
        Self::Cancelled,
    ];

    /// The status whose wire name is `name` (as stored by a shared job queue).
    pub fn from_wire(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|status| status.as_str() == name)
    }

    /// The wire name: `PENDING`, `PROCESSING`, `COMPLETED`, `FAILED` or `CANCELLED`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "PENDING",
            Self::Processing => "PROCESSING",
            Self::Completed => "COMPLETED",
            Self::Failed => "FAILED",
            Self::Cancelled => "CANCELLED",
        }
    }
}

impl fmt::Display for TaskStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The last progress a running job reported.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TaskProgress {
    /// Steps done (e.g. the segment being rendered).
    pub current: u32,
    /// Steps in all.
    pub total: u32,
    /// 0–100; never goes down during one run of the task.
    pub percentage: u8,
    /// What the job is doing, for humans.
    pub phase: String,
}

/// A point-in-time copy of a task's record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TaskSnapshot {
    /// The id the task was submitted with.
    pub task_id: String,
    /// Where the task is in its life.
    pub status: TaskStatus,
    /// `None` until the job first reports progress.
    pub progress: Option<TaskProgress>,
    /// What the job returned when it completed.
    pub result: Option<serde_json::Value>,
    /// What the running job last reported besides its progress (e.g. the items a batch has
    /// finished so far); kept after it ends.
    pub detail: Option<serde_json::Value>,
    /// Why the task failed (or, for some cancellations, how it stopped).
    pub error: Option<String>,
    /// Whether a cancel was requested.
    pub cancel_requested: bool,
    /// When the task was submitted.
    pub created_at: DateTime<Utc>,
    /// When its job started.
    pub started_at: Option<DateTime<Utc>>,
    /// When it reached a finished status.
    pub finished_at: Option<DateTime<Utc>>,
}

/// How a run ends.
#[derive(Debug)]
pub(crate) enum Outcome {
    Completed(Option<serde_json::Value>),
    Failed(String),
    Cancelled(Option<String>),
}

impl Outcome {
    fn status(&self) -> TaskStatus {
        match self {
            Self::Completed(_) => TaskStatus::Completed,
            Self::Failed(_) => TaskStatus::Failed,
            Self::Cancelled(_) => TaskStatus::Cancelled,
        }
    }
}

/// One submission of a task id. Each has its own generation so that stale callers (a queued
/// job whose task was cancelled and resubmitted, a context outliving its run) can't touch a
/// newer record under the same id.
#[derive(Debug)]
struct TaskRecord {
    generation: u64,
    status: TaskStatus,
    progress: Option<TaskProgress>,
    result: Option<serde_json::Value>,
    detail: Option<serde_json::Value>,
    error: Option<String>,
    cancel: Arc<AtomicBool>,
    created_at: DateTime<Utc>,
    started_at: Option<DateTime<Utc>>,
    finished_at: Option<DateTime<Utc>>,
    /// Monotonic twin of `finished_at`, so pruning ignores wall-clock jumps.
    finished_instant: Option<Instant>,
}

impl TaskRecord {
    fn snapshot(&self, task_id: &str) -> TaskSnapshot {
        TaskSnapshot {
            task_id: task_id.to_owned(),
            status: self.status,
            progress: self.progress.clone(),
            result: self.result.clone(),
            detail: self.detail.clone(),
            error: self.error.clone(),
            cancel_requested: self.cancel.load(Ordering::Acquire),
            created_at: self.created_at,
            started_at: self.started_at,
            finished_at: self.finished_at,
        }
    }

    fn finish(&mut self, outcome: Outcome) {
        self.status = outcome.status();
        match outcome {
            Outcome::Completed(result) => self.result = result,
            Outcome::Failed(error) => self.error = Some(error),
            Outcome::Cancelled(error) => self.error = error,
        }
        self.finished_at = Some(Utc::now());
        self.finished_instant = Some(Instant::now());
    }
}

#[derive(Debug, Default)]
struct Tasks {
    records: HashMap<String, TaskRecord>,
    next_generation: u64,
}

impl Tasks {
    /// The record for `task_id`, if it is the run `generation` names (`None`: the current run).
    fn run_mut(&mut self, task_id: &str, generation: Option<u64>) -> Option<&mut TaskRecord> {
        self.records
            .get_mut(task_id)
            .filter(|record| generation.is_none_or(|g| g == record.generation))
    }
}

/// All task records, keyed by task id.
#[derive(Debug, Default)]
pub(crate) struct Registry {
    tasks: Mutex<Tasks>,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Tasks> {
        // Nothing panics while holding this lock, but a poisoned map is still consistent
        // field by field, so keep serving rather than cascade the panic.
        self.tasks.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a `PENDING` record for a new run, replacing a finished one; returns its generation.
    pub(crate) fn register(&self, task_id: &str) -> Result<u64, TaskError> {
        let mut tasks = self.lock();
        if tasks
            .records
            .get(task_id)
            .is_some_and(|record| !record.status.is_finished())
        {
            return Err(TaskError::AlreadyActive(task_id.to_owned()));
        }
        let generation = tasks.next_generation;
        tasks.next_generation += 1;
        tasks.records.insert(
            task_id.to_owned(),
            TaskRecord {
                generation,
                status: TaskStatus::Pending,
                progress: None,
                result: None,
                detail: None,
                error: None,
                cancel: Arc::new(AtomicBool::new(false)),
                created_at: Utc::now(),
                started_at: None,
                finished_at: None,
                finished_instant: None,
            },
        );
        Ok(generation)
    }

    /// Forgets a run that could not be queued after all.
    pub(crate) fn remove(&self, task_id: &str, generation: u64) {
        let mut tasks = self.lock();
        if tasks.run_mut(task_id, Some(generation)).is_some() {
            tasks.records.remove(task_id);
        }
    }

    /// Marks a `PENDING` run `PROCESSING` and hands back its cancel flag; `None` if the run
    /// was cancelled, replaced or pruned meanwhile and must not start.
    pub(crate) fn start(&self, task_id: &str, generation: u64) -> Option<Arc<AtomicBool>> {
        let mut tasks = self.lock();
        let record = tasks.run_mut(task_id, Some(generation))?;
        if record.status != TaskStatus::Pending {
            return None;
        }
        record.status = TaskStatus::Processing;
        record.started_at = Some(Utc::now());
        Some(Arc::clone(&record.cancel))
    }

    /// Records progress of a `PROCESSING` run. `percentage` overrides the one derived from
    /// `current / total`; either way the stored percentage never goes down. Returns whether
    /// the update applied.
    pub(crate) fn update_progress(
        &self,
        task_id: &str,
        generation: Option<u64>,
        current: u32,
        total: u32,
        phase: &str,
        percentage: Option<f64>,
    ) -> bool {
        let mut tasks = self.lock();
        let Some(record) = tasks.run_mut(task_id, generation) else {
            return false;
        };
        if record.status != TaskStatus::Processing {
            return false;
        }
        let reported =
            percentage.map_or_else(|| derived_percentage(current, total), clamp_percentage);
        let previous = record.progress.as_ref().map_or(0, |p| p.percentage);
        record.progress = Some(TaskProgress {
            current,
            total,
            percentage: reported.max(previous),
            phase: phase.to_owned(),
        });
        true
    }

    /// Records what a `PROCESSING` run reports besides progress. Returns whether it applied.
    pub(crate) fn update_detail(
        &self,
        task_id: &str,
        generation: u64,
        detail: serde_json::Value,
    ) -> bool {
        let mut tasks = self.lock();
        match tasks.run_mut(task_id, Some(generation)) {
            Some(record) if record.status == TaskStatus::Processing => {
                record.detail = Some(detail);
                true
            }
            _ => false,
        }
    }

    /// Ends a run that is in status `from`. Returns whether it applied: the first outcome of
    /// a run wins, later ones (and ones for other runs) are ignored.
    pub(crate) fn finish(
        &self,
        task_id: &str,
        generation: Option<u64>,
        from: TaskStatus,
        outcome: Outcome,
    ) -> bool {
        let mut tasks = self.lock();
        match tasks.run_mut(task_id, generation) {
            Some(record) if record.status == from => {
                record.finish(outcome);
                true
            }
            _ => false,
        }
    }

    /// Requests cancellation of the current run: a `PENDING` one ends `CANCELLED` at once (its
    /// job will never start), a `PROCESSING` one gets its cooperative flag set. Returns the
    /// status after the request.
    pub(crate) fn cancel(&self, task_id: &str) -> Result<TaskStatus, TaskError> {
        let mut tasks = self.lock();
        let record = tasks
            .run_mut(task_id, None)
            .ok_or_else(|| TaskError::NotFound(task_id.to_owned()))?;
        match record.status {
            TaskStatus::Pending => {
                record.cancel.store(true, Ordering::Release);
                record.finish(Outcome::Cancelled(None));
            }
            TaskStatus::Processing => record.cancel.store(true, Ordering::Release),
            TaskStatus::Completed | TaskStatus::Failed | TaskStatus::Cancelled => {
                return Err(TaskError::AlreadyFinished(task_id.to_owned()));
            }
        }
        Ok(record.status)
    }

    /// Requests cancellation of every task not yet finished; returns how many were asked.
    pub(crate) fn cancel_all(&self) -> usize {
        let active: Vec<String> = {
            let tasks = self.lock();
            tasks
                .records
                .iter()
                .filter(|(_, record)| !record.status.is_finished())
                .map(|(id, _)| id.clone())
                .collect()
        };
        active.iter().filter(|id| self.cancel(id).is_ok()).count()
    }

    /// A copy of the record of `task_id` (`generation`: only if it is that run).
    pub(crate) fn snapshot(&self, task_id: &str, generation: Option<u64>) -> Option<TaskSnapshot> {
        self.lock()
            .run_mut(task_id, generation)
            .map(|record| record.snapshot(task_id))
    }

    /// Removes records that finished at least `older_than` ago; returns how many.
    pub(crate) fn prune(&self, older_than: Duration) -> usize {
        let mut tasks = self.lock();
        let before = tasks.records.len();
        tasks.records.retain(|_, record| {
            !record.status.is_finished()
                || record
                    .finished_instant
                    .is_none_or(|at| at.elapsed() < older_than)
        });
        before - tasks.records.len()
    }
}

/// `current / total` as a whole percentage, rounded down so 100 means really done.
fn derived_percentage(current: u32, total: u32) -> u8 {
    if total == 0 {
        return 0;
    }
    let percent = u64::from(current.min(total)) * 100 / u64::from(total);
    u8::try_from(percent).unwrap_or(100)
}

/// An explicit percentage clamped to 0–100 and rounded down; NaN counts as 0.
fn clamp_percentage(percentage: f64) -> u8 {
    if percentage.is_nan() {
        return 0;
    }
    // After the clamp and floor the value is a whole number in 0..=100, so the cast is exact.
    percentage.clamp(0.0, 100.0).floor() as u8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn running(registry: &Registry, task_id: &str) -> u64 {
        let generation = registry.register(task_id).unwrap();
        registry.start(task_id, generation).unwrap();
        generation
    }

    #[test]
    fn derived_percentage_floors_and_guards_zero_total() {
        assert_eq!(derived_percentage(0, 0), 0);
        assert_eq!(derived_percentage(5, 0), 0);
        assert_eq!(derived_percentage(0, 3), 0);
        assert_eq!(derived_percentage(1, 3), 33);
        assert_eq!(derived_percentage(2, 3), 66);
        assert_eq!(derived_percentage(3, 3), 100);
        assert_eq!(derived_percentage(7, 3), 100);
        assert_eq!(derived_percentage(u32::MAX - 1, u32::MAX), 99);
    }

    #[test]
    fn explicit_percentage_is_clamped() {
        assert_eq!(clamp_percentage(-5.0), 0);
        assert_eq!(clamp_percentage(42.9), 42);
        assert_eq!(clamp_percentage(99.99), 99);
        assert_eq!(clamp_percentage(100.0), 100);
        assert_eq!(clamp_percentage(250.0), 100);
        assert_eq!(clamp_percentage(f64::INFINITY), 100);
        assert_eq!(clamp_percentage(f64::NAN), 0);
    }

    #[test]
    fn progress_never_goes_down_within_a_run() {
        let registry = Registry::default();
        running(&registry, "t");
        assert!(registry.update_progress("t", None, 1, 2, "half", None));
        assert!(registry.update_progress("t", None, 1, 4, "rescaled", None));
        let progress = registry.snapshot("t", None).unwrap().progress.unwrap();
        assert_eq!(
            progress,
            TaskProgress {
                current: 1,
                total: 4,
                percentage: 50,
                phase: "rescaled".into()
            }
        );
        assert!(registry.update_progress("t", None, 3, 4, "explicit", Some(80.0)));
        assert!(registry.update_progress("t", None, 3, 4, "lower", Some(10.0)));
        let progress = registry.snapshot("t", None).unwrap().progress.unwrap();
        assert_eq!(progress.percentage, 80);
        assert_eq!(progress.phase, "lower");
    }

    #[test]
    fn progress_only_applies_while_processing() {
        let registry = Registry::default();
        let generation = registry.register("t").unwrap();
        assert!(!registry.update_progress("t", None, 1, 2, "queued", None));
        assert!(registry.snapshot("t", None).unwrap().progress.is_none());
        registry.start("t", generation).unwrap();
        assert!(registry.finish("t", None, TaskStatus::Processing, Outcome::Completed(None)));
        assert!(!registry.update_progress("t", None, 2, 2, "late", None));
        assert!(!registry.update_progress("missing", None, 1, 1, "x", None));
        assert!(registry.snapshot("t", None).unwrap().progress.is_none());
    }

    #[test]
    fn first_outcome_of_a_run_wins() {
        let registry = Registry::default();
        running(&registry, "t");
        let result = serde_json::json!({"ok": true});
        assert!(registry.finish(
            "t",
            None,
            TaskStatus::Processing,
            Outcome::Completed(Some(result.clone()))
        ));
        assert!(!registry.finish(
            "t",
            None,
            TaskStatus::Processing,
            Outcome::Failed("x".into())
        ));
        let snapshot = registry.snapshot("t", None).unwrap();
        assert_eq!(snapshot.status, TaskStatus::Completed);
        assert_eq!(snapshot.result, Some(result));
        assert_eq!(snapshot.error, None);
        assert!(snapshot.finished_at.is_some());
    }

    #[test]
    fn stale_generations_cannot_touch_a_newer_run() {
        let registry = Registry::default();
        let old = running(&registry, "t");
        assert!(registry.finish(
            "t",
            Some(old),
            TaskStatus::Processing,
            Outcome::Completed(None)
        ));
        let new = registry.register("t").unwrap();
        assert_ne!(old, new);
        assert!(registry.start("t", old).is_none());
        assert!(!registry.finish(
            "t",
            Some(old),
            TaskStatus::Pending,
            Outcome::Cancelled(None)
        ));
        registry.remove("t", old);
        assert_eq!(
            registry.snapshot("t", None).unwrap().status,
            TaskStatus::Pending
        );
        assert!(registry.snapshot("t", Some(old)).is_none());
        registry.remove("t", new);
        assert!(registry.snapshot("t", None).is_none());
    }

    #[test]
    fn cancel_depends_on_status() {
        let registry = Registry::default();
        assert!(matches!(registry.cancel("nope"), Err(TaskError::NotFound(id)) if id == "nope"));

        let queued = registry.register("queued").unwrap();
        assert_eq!(registry.cancel("queued").unwrap(), TaskStatus::Cancelled);
        assert!(registry.start("queued", queued).is_none());
        let snapshot = registry.snapshot("queued", None).unwrap();
        assert!(snapshot.cancel_requested);
        assert!(snapshot.started_at.is_none());
        assert!(matches!(
            registry.cancel("queued"),
            Err(TaskError::AlreadyFinished(_))
        ));

        let generation = registry.register("running").unwrap();
        let flag = registry.start("running", generation).unwrap();
        assert_eq!(registry.cancel("running").unwrap(), TaskStatus::Processing);
        assert!(flag.load(Ordering::Acquire));
        assert!(registry.snapshot("running", None).unwrap().cancel_requested);
    }

    #[test]
    fn prune_removes_only_old_finished_records() {
        let registry = Registry::default();
        registry.register("queued").unwrap();
        running(&registry, "running");
        running(&registry, "done");
        registry.finish(
            "done",
            None,
            TaskStatus::Processing,
            Outcome::Failed("x".into()),
        );

        assert_eq!(registry.prune(Duration::from_secs(3600)), 0);
        assert!(registry.snapshot("done", None).is_some());

        assert_eq!(registry.prune(Duration::ZERO), 1);
        assert!(registry.snapshot("done", None).is_none());
        assert!(registry.snapshot("queued", None).is_some());
        assert!(registry.snapshot("running", None).is_some());
    }

    #[test]
    fn wire_names_read_back() {
        for status in TaskStatus::ALL {
            assert_eq!(TaskStatus::from_wire(status.as_str()), Some(status));
        }
        assert_eq!(TaskStatus::from_wire("pending"), None);
    }

    #[test]
    fn snapshot_serialises_with_wire_names() {
        let registry = Registry::default();
        registry.register("render_1").unwrap();
        let json = serde_json::to_value(registry.snapshot("render_1", None).unwrap()).unwrap();
        assert_eq!(json["task_id"], "render_1");
        assert_eq!(json["status"], "PENDING");
        assert_eq!(json["progress"], serde_json::Value::Null);
        assert_eq!(json["cancel_requested"], false);
        assert!(json["created_at"].is_string());
        for status in [
            TaskStatus::Pending,
            TaskStatus::Processing,
            TaskStatus::Completed,
            TaskStatus::Failed,
            TaskStatus::Cancelled,
        ] {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
            assert_eq!(status.to_string(), status.as_str());
        }
    }
}
