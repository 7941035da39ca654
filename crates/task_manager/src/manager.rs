//! [`TaskManager`]: submit, cancel, query and shut down.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::thread::{self, JoinHandle, ThreadId};
use std::time::Duration;

use crossbeam_channel::Sender;
use serde::Serialize;

use crate::context::TaskContext;
use crate::error::{JobError, TaskError};
use crate::registry::{Registry, TaskSnapshot, TaskStatus};
use crate::shared::Shared;
use crate::worker::{self, Envelope};

/// How the [`TaskManager`] behaves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskManagerConfig {
    /// How long a finished task stays queryable before its record is pruned.
    pub prune_after: Duration,
}

impl Default for TaskManagerConfig {
    /// Finished tasks are kept for one hour.
    fn default() -> Self {
        Self {
            prune_after: Duration::from_secs(60 * 60),
        }
    }
}

struct Inner {
    shared: Arc<Shared>,
    /// `None` once shut down. Submitters hold the read lock while queueing, so a submission
    /// either lands before shutdown or is refused, never lost in between.
    jobs: RwLock<Option<Sender<Envelope>>>,
    worker: Mutex<Option<JoinHandle<()>>>,
    worker_id: ThreadId,
}

/// Runs background tasks one at a time, in submission order, on a single worker thread, and
/// keeps a queryable record of each.
///
/// Cloning is cheap: clones are handles to the same worker and registry.
#[derive(Clone)]
pub struct TaskManager {
    inner: Arc<Inner>,
}

impl TaskManager {
    /// Starts the worker thread.
    pub fn new(config: TaskManagerConfig) -> Result<Self, TaskError> {
        let shared = Arc::new(Shared {
            registry: Registry::default(),
            prune_after: config.prune_after,
            closing: AtomicBool::new(false),
        });
        let (sender, receiver) = crossbeam_channel::unbounded();
        let handle = worker::spawn(Arc::clone(&shared), receiver).map_err(TaskError::Spawn)?;
        log::info!(
            "task manager started (finished tasks kept for {:?})",
            config.prune_after
        );
        Ok(Self {
            inner: Arc::new(Inner {
                shared,
                jobs: RwLock::new(Some(sender)),
                worker_id: handle.thread().id(),
                worker: Mutex::new(Some(handle)),
            }),
        })
    }

    /// Registers `task_id` as `PENDING` and queues `job` behind every task submitted before.
    ///
    /// What the job returns is the task's outcome: `Ok(result)` ends it `COMPLETED` with
    /// `result` as JSON (`()` records none), `Err` ends it `FAILED` with the error and its
    /// sources, or `CANCELLED` if a cancel was requested, and a panic ends it `FAILED`.
    ///
    /// A finished task with the same id is replaced. Fails with
    /// [`TaskError::AlreadyActive`] while that id is pending or running, and with
    /// [`TaskError::ShutDown`] after [`shutdown`](Self::shutdown).
    pub fn submit<F, R>(&self, task_id: impl Into<String>, job: F) -> Result<(), TaskError>
    where
        F: FnOnce(&TaskContext) -> Result<R, JobError> + Send + 'static,
        R: Serialize,
    {
        let task_id = task_id.into();
        let jobs = self
            .inner
            .jobs
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(sender) = jobs.as_ref() else {
            return Err(TaskError::ShutDown);
        };
        let shared = &self.inner.shared;
        shared.prune();
        let generation = shared.registry.register(&task_id)?;
        let envelope = Envelope {
            task_id: task_id.clone(),
            generation,
            job: Box::new(move |ctx: &TaskContext| {
                let result = job(ctx)?;
                Ok(serde_json::to_value(result)?)
            }),
        };
        if sender.send(envelope).is_err() {
            // Only possible if the worker thread died, which it is built never to do.
            shared.registry.remove(&task_id, generation);
            log::error!("task {task_id} refused: the worker thread is gone");
            return Err(TaskError::ShutDown);
        }
        log::debug!("task {task_id} queued");
        Ok(())
    }

    /// Requests cancellation of `task_id` and returns its status afterwards.
    ///
    /// A `PENDING` task ends `CANCELLED` at once and its job never starts. A `PROCESSING` task
    /// stays so: its job sees [`TaskContext::is_cancelled`] and is expected to stop. Fails
    /// with [`TaskError::NotFound`] or [`TaskError::AlreadyFinished`].
    pub fn cancel_task(&self, task_id: &str) -> Result<TaskStatus, TaskError> {
        let status = self.inner.shared.registry.cancel(task_id)?;
        log::info!("task {task_id}: cancel requested (now {status})");
        Ok(status)
    }

    /// Requests cancellation of every queued and running task (e.g. before a shutdown, so a
    /// long render does not hold the process); returns how many were asked.
    pub fn cancel_all(&self) -> usize {
        let count = self.inner.shared.registry.cancel_all();
        if count > 0 {
            log::info!("cancel requested for {count} active task(s)");
        }
        count
    }

    /// A snapshot of `task_id`'s record, or `None` if unknown or pruned. Never waits for a
    /// running job.
    pub fn get_task_status(&self, task_id: &str) -> Option<TaskSnapshot> {
        self.inner.shared.registry.snapshot(task_id, None)
    }

    /// Whether [`shutdown`](Self::shutdown) has been called.
    fn is_shut_down(&self) -> bool {
        self.inner.shared.closing.load(Ordering::Acquire)
    }

    /// Stops accepting tasks, lets the running job finish, marks queued tasks `CANCELLED`
    /// without running them, and joins the worker thread.
    ///
    /// Idempotent. Called from inside a job it cannot join its own thread: it then returns at
    /// once and the worker stops after that job.
    pub fn shutdown(&self) {
        {
            let mut jobs = self
                .inner
                .jobs
                .write()
                .unwrap_or_else(PoisonError::into_inner);
            if jobs.is_some() {
                log::info!("task manager shutting down");
                self.inner.shared.closing.store(true, Ordering::Release);
            }
            // Dropping the only sender lets the worker exit once the queue is drained.
            *jobs = None;
        }
        if thread::current().id() == self.inner.worker_id {
            log::warn!("task manager shut down from a task; the worker stops after this task");
            return;
        }
        // Holding the lock across the join makes concurrent callers wait for it too.
        let mut worker = self
            .inner
            .worker
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if let Some(handle) = worker.take() {
            if handle.join().is_err() {
                log::error!("task worker thread panicked");
            }
            log::info!("task manager stopped");
        }
    }
}

impl fmt::Debug for TaskManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TaskManager")
            .field("prune_after", &self.inner.shared.prune_after)
            .field("shut_down", &self.is_shut_down())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Barrier;
    use std::time::Instant;

    use crossbeam_channel::{bounded, unbounded, Receiver};
    use serde_json::json;

    use super::*;

    /// Upper bound on any wait, so a broken test fails instead of hanging.
    const WAIT: Duration = Duration::from_secs(10);

    fn manager() -> TaskManager {
        TaskManager::new(TaskManagerConfig::default()).unwrap()
    }

    fn status(tasks: &TaskManager, task_id: &str) -> TaskSnapshot {
        tasks
            .get_task_status(task_id)
            .unwrap_or_else(|| panic!("task {task_id} is unknown"))
    }

    /// Returns once every job queued so far has run and been recorded: the worker records
    /// each outcome before it takes the next job.
    fn drain(tasks: &TaskManager) {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let (done, finished) = bounded(1);
        let id = format!("drain-{}", NEXT.fetch_add(1, Ordering::Relaxed));
        tasks
            .submit(id, move |_| {
                done.send(()).unwrap();
                Ok(())
            })
            .unwrap();
        finished.recv_timeout(WAIT).unwrap();
    }

    /// Submits a job that holds the worker until the returned sender is used, and waits
    /// until it is running.
    fn submit_blocker(tasks: &TaskManager, task_id: &str) -> crossbeam_channel::Sender<()> {
        let (started, has_started) = bounded(1);
        let (release, released) = bounded::<()>(1);
        tasks
            .submit(task_id, move |_| {
                started.send(()).unwrap();
                released.recv_timeout(WAIT)?;
                Ok(())
            })
            .unwrap();
        has_started.recv_timeout(WAIT).unwrap();
        release
    }

    fn recv<T>(receiver: &Receiver<T>) -> T {
        receiver.recv_timeout(WAIT).unwrap()
    }

    #[test]
    fn runs_jobs_one_at_a_time_in_fifo_order_on_one_thread() {
        let tasks = manager();
        let release = submit_blocker(&tasks, "gate");
        let (ran, runs) = unbounded();
        for i in 0..20 {
            let ran = ran.clone();
            tasks
                .submit(format!("job-{i}"), move |_| {
                    ran.send((i, thread::current().id())).unwrap();
                    Ok(())
                })
                .unwrap();
        }
        release.send(()).unwrap();
        let runs: Vec<_> = (0..20).map(|_| recv(&runs)).collect();
        let order: Vec<_> = runs.iter().map(|(i, _)| *i).collect();
        assert_eq!(order, (0..20).collect::<Vec<_>>());
        let worker = runs[0].1;
        assert_ne!(worker, thread::current().id());
        assert!(runs.iter().all(|(_, thread)| *thread == worker));
        tasks.shutdown();
    }

    #[test]
    fn queued_task_is_pending_behind_a_long_job() {
        let tasks = manager();
        let release = submit_blocker(&tasks, "long");
        tasks.submit("queued", |_| Ok(())).unwrap();

        let long = status(&tasks, "long");
        assert_eq!(long.status, TaskStatus::Processing);
        assert!(long.started_at.is_some());
        assert!(long.finished_at.is_none());
        let queued = status(&tasks, "queued");
        assert_eq!(queued.status, TaskStatus::Pending);
        assert!(queued.started_at.is_none());
        assert!(queued.progress.is_none());
        assert!(!queued.cancel_requested);

        release.send(()).unwrap();
        drain(&tasks);
        for id in ["long", "queued"] {
            let done = status(&tasks, id);
            assert_eq!(done.status, TaskStatus::Completed, "{id}");
            assert!(done.finished_at >= done.started_at);
            assert_eq!(done.result, None);
            assert_eq!(done.error, None);
        }
        tasks.shutdown();
    }

    #[test]
    fn progress_is_visible_from_other_threads_and_never_goes_down() {
        let tasks = manager();
        let (step_done, steps) = unbounded();
        let (go_on, go) = unbounded::<()>();
        tasks
            .submit("render", move |ctx| {
                for step in 1..=4 {
                    ctx.update_progress(step, 4, &format!("segment {step}"));
                    step_done.send(()).unwrap();
                    go.recv_timeout(WAIT)?;
                }
                ctx.update_progress_with_percentage(4, 4, "encoder lagging", 40.0);
                step_done.send(()).unwrap();
                go.recv_timeout(WAIT)?;
                Ok(json!({ "frames": 120 }))
            })
            .unwrap();

        // A watcher polls as fast as it can and checks the bar never moves back.
        let watcher = {
            let tasks = tasks.clone();
            thread::spawn(move || {
                let deadline = Instant::now() + WAIT;
                let mut last = 0;
                loop {
                    let snapshot = tasks.get_task_status("render").unwrap();
                    if let Some(progress) = &snapshot.progress {
                        assert!(progress.percentage >= last, "percentage went down");
                        last = progress.percentage;
                    }
                    if snapshot.status.is_finished() {
                        return last;
                    }
                    assert!(Instant::now() < deadline, "task never finished");
                    thread::yield_now();
                }
            })
        };

        // Another thread steps the job along and reads each update while the job waits.
        let reader = {
            let tasks = tasks.clone();
            thread::spawn(move || {
                for step in 1..=4_u32 {
                    recv(&steps);
                    let snapshot = tasks.get_task_status("render").unwrap();
                    assert_eq!(snapshot.status, TaskStatus::Processing);
                    let progress = snapshot.progress.unwrap();
                    assert_eq!((progress.current, progress.total), (step, 4));
                    assert_eq!(u32::from(progress.percentage), step * 25);
                    assert_eq!(progress.phase, format!("segment {step}"));
                    go_on.send(()).unwrap();
                }
                recv(&steps);
                let progress = tasks.get_task_status("render").unwrap().progress.unwrap();
                assert_eq!(progress.phase, "encoder lagging");
                assert_eq!(
                    progress.percentage, 100,
                    "a lower explicit percentage is ignored"
                );
                go_on.send(()).unwrap();
            })
        };

        reader.join().unwrap();
        assert_eq!(watcher.join().unwrap(), 100);
        let done = status(&tasks, "render");
        assert_eq!(done.status, TaskStatus::Completed);
        assert_eq!(done.result, Some(json!({ "frames": 120 })));
        tasks.shutdown();
    }

    #[test]
    fn detail_is_visible_while_running_and_kept_after() {
        let tasks = manager();
        let (reported, has_reported) = bounded(1);
        let (go_on, go) = bounded::<()>(1);
        tasks
            .submit("batch", move |ctx| {
                ctx.update_detail(json!({ "done": ["a"] }));
                reported.send(()).unwrap();
                go.recv_timeout(WAIT)?;
                ctx.update_detail(json!({ "done": ["a", "b"] }));
                Ok(json!({ "done": 2 }))
            })
            .unwrap();
        recv(&has_reported);
        assert_eq!(
            status(&tasks, "batch").detail,
            Some(json!({ "done": ["a"] }))
        );
        go_on.send(()).unwrap();
        drain(&tasks);
        let done = status(&tasks, "batch");
        assert_eq!(done.detail, Some(json!({ "done": ["a", "b"] })));
        assert_eq!(done.result, Some(json!({ "done": 2 })));
        tasks.shutdown();
    }

    #[test]
    fn active_ids_are_refused_and_finished_ones_resubmitted() {
        let tasks = manager();
        let release = submit_blocker(&tasks, "render_1");
        assert!(matches!(
            tasks.submit("render_1", |_| Ok(())),
            Err(TaskError::AlreadyActive(id)) if id == "render_1"
        ));
        tasks
            .submit("render_2", |_| Err::<(), _>("first attempt failed".into()))
            .unwrap();
        assert!(matches!(
            tasks.submit("render_2", |_| Ok(())),
            Err(TaskError::AlreadyActive(_))
        ));
        release.send(()).unwrap();
        drain(&tasks);

        let first = status(&tasks, "render_2");
        assert_eq!(first.status, TaskStatus::Failed);
        tasks
            .submit("render_2", |_| Ok(json!({ "attempt": 2 })))
            .unwrap();
        drain(&tasks);
        let second = status(&tasks, "render_2");
        assert_eq!(second.status, TaskStatus::Completed);
        assert_eq!(second.error, None, "the old record is replaced");
        assert_eq!(second.result, Some(json!({ "attempt": 2 })));
        assert!(second.created_at >= first.created_at);
        assert_eq!(status(&tasks, "render_1").status, TaskStatus::Completed);
        tasks.shutdown();
    }

    #[test]
    fn task_cancelled_before_start_never_runs() {
        let tasks = manager();
        let release = submit_blocker(&tasks, "long");
        let ran = Arc::new(AtomicBool::new(false));
        let ran_in_job = Arc::clone(&ran);
        tasks
            .submit("victim", move |_| {
                ran_in_job.store(true, Ordering::SeqCst);
                Ok(())
            })
            .unwrap();

        assert_eq!(tasks.cancel_task("victim").unwrap(), TaskStatus::Cancelled);
        let cancelled = status(&tasks, "victim");
        assert_eq!(cancelled.status, TaskStatus::Cancelled);
        assert!(cancelled.cancel_requested);
        assert!(cancelled.started_at.is_none());
        assert!(cancelled.finished_at.is_some());
        assert!(matches!(
            tasks.cancel_task("victim"),
            Err(TaskError::AlreadyFinished(id)) if id == "victim"
        ));
        assert!(matches!(
            tasks.cancel_task("nope"),
            Err(TaskError::NotFound(id)) if id == "nope"
        ));

        release.send(()).unwrap();
        drain(&tasks);
        assert!(!ran.load(Ordering::SeqCst));
        assert_eq!(status(&tasks, "victim").status, TaskStatus::Cancelled);
        assert!(matches!(
            tasks.cancel_task("long"),
            Err(TaskError::AlreadyFinished(_))
        ));
        tasks.shutdown();
    }

    #[test]
    fn cancel_all_reaches_running_and_queued_tasks() {
        let tasks = manager();
        let (started, has_started) = bounded(1);
        tasks
            .submit("running", move |ctx| {
                started.send(()).unwrap();
                while !ctx.is_cancelled() {
                    std::thread::yield_now();
                }
                Err::<(), JobError>("stopped".into())
            })
            .unwrap();
        recv(&has_started);
        tasks.submit("queued", |_| Ok(())).unwrap();

        assert_eq!(tasks.cancel_all(), 2);
        assert_eq!(status(&tasks, "queued").status, TaskStatus::Cancelled);
        drain(&tasks);
        assert_eq!(status(&tasks, "running").status, TaskStatus::Cancelled);
        assert_eq!(tasks.cancel_all(), 0);
        tasks.shutdown();
    }

    #[test]
    fn cancelled_task_resubmitted_while_its_old_job_is_queued_runs_only_the_new_job() {
        let tasks = manager();
        let release = submit_blocker(&tasks, "long");
        let (ran, runs) = unbounded();
        let old = ran.clone();
        tasks
            .submit("render", move |_| {
                old.send("old").unwrap();
                Ok(())
            })
            .unwrap();
        tasks.cancel_task("render").unwrap();
        tasks
            .submit("render", move |_| {
                ran.send("new").unwrap();
                Ok(())
            })
            .unwrap();
        assert_eq!(status(&tasks, "render").status, TaskStatus::Pending);

        release.send(()).unwrap();
        drain(&tasks);
        assert_eq!(runs.try_iter().collect::<Vec<_>>(), ["new"]);
        let done = status(&tasks, "render");
        assert_eq!(done.status, TaskStatus::Completed);
        assert!(!done.cancel_requested);
        tasks.shutdown();
    }

    /// Runs a job that waits for the test to cancel it, then ends the way `finish` decides,
    /// and returns what the job saw of the cancel.
    fn cancel_while_running(
        tasks: &TaskManager,
        task_id: &str,
        finish: fn(&TaskContext) -> Result<(), JobError>,
    ) -> (bool, bool) {
        let (started, has_started) = bounded(1);
        let (go_on, go) = bounded::<()>(1);
        let (saw, seen) = bounded(1);
        tasks
            .submit(task_id, move |ctx| {
                let flag = ctx.cancel_flag();
                started.send(ctx.is_cancelled()).unwrap();
                go.recv_timeout(WAIT)?;
                saw.send((ctx.is_cancelled(), flag.load(Ordering::Acquire)))
                    .unwrap();
                finish(ctx)
            })
            .unwrap();
        assert!(!recv(&has_started), "not cancelled before the request");
        assert_eq!(tasks.cancel_task(task_id).unwrap(), TaskStatus::Processing);
        let running = status(tasks, task_id);
        assert_eq!(running.status, TaskStatus::Processing);
        assert!(running.cancel_requested);
        go_on.send(()).unwrap();
        let seen = recv(&seen);
        drain(tasks);
        seen
    }

    #[test]
    fn cancel_during_run_is_observed_by_the_job() {
        let tasks = manager();

        let seen = cancel_while_running(&tasks, "errs", |_| Err("render cancelled".into()));
        assert_eq!(seen, (true, true));
        let errs = status(&tasks, "errs");
        assert_eq!(errs.status, TaskStatus::Cancelled);
        assert_eq!(errs.error.as_deref(), Some("render cancelled"));

        // A job may finish its work despite the request; then it completed.
        cancel_while_running(&tasks, "ignores", |_| Ok(()));
        let ignored = status(&tasks, "ignores");
        assert_eq!(ignored.status, TaskStatus::Completed);
        assert!(ignored.cancel_requested);
        tasks.shutdown();
    }

    #[test]
    fn panicking_job_fails_and_the_worker_keeps_serving() {
        let tasks = manager();
        tasks
            .submit("str-panic", |_| -> Result<(), JobError> {
                panic!("static boom")
            })
            .unwrap();
        tasks
            .submit("string-panic", |ctx| -> Result<(), JobError> {
                ctx.update_progress(1, 3, "before the panic");
                panic!("boom in {}", ctx.task_id())
            })
            .unwrap();
        let (ran, runs) = bounded(1);
        tasks
            .submit("after", move |_| {
                ran.send(()).unwrap();
                Ok(())
            })
            .unwrap();
        recv(&runs);
        drain(&tasks);

        let first = status(&tasks, "str-panic");
        assert_eq!(first.status, TaskStatus::Failed);
        assert_eq!(first.error.as_deref(), Some("task panicked: static boom"));
        let second = status(&tasks, "string-panic");
        assert_eq!(second.status, TaskStatus::Failed);
        assert_eq!(
            second.error.as_deref(),
            Some("task panicked: boom in string-panic")
        );
        assert_eq!(second.progress.map(|p| p.percentage), Some(33));
        assert_eq!(status(&tasks, "after").status, TaskStatus::Completed);
        tasks.shutdown();
    }

    #[derive(Debug, thiserror::Error)]
    #[error("loading project 7")]
    struct LoadError(#[source] std::io::Error);

    #[test]
    fn job_outcomes_are_recorded() {
        let tasks = manager();
        tasks
            .submit("returns-err", |_| {
                Err::<(), _>(LoadError(std::io::Error::other("database is locked")).into())
            })
            .unwrap();
        tasks
            .submit("returns-result", |_| {
                Ok(json!({ "output_url": "/media/x.mp4" }))
            })
            .unwrap();
        tasks.submit("returns-ok", |_| Ok(())).unwrap();
        drain(&tasks);

        let failed = status(&tasks, "returns-err");
        assert_eq!(failed.status, TaskStatus::Failed);
        assert_eq!(
            failed.error.as_deref(),
            Some("loading project 7: database is locked")
        );
        let completed = status(&tasks, "returns-result");
        assert_eq!(completed.status, TaskStatus::Completed);
        assert_eq!(
            completed.result,
            Some(json!({ "output_url": "/media/x.mp4" }))
        );
        assert_eq!(completed.error, None);
        let completed = status(&tasks, "returns-ok");
        assert_eq!(completed.status, TaskStatus::Completed);
        assert_eq!(completed.result, None);
        tasks.shutdown();
    }

    #[derive(Debug, thiserror::Error)]
    #[error("cannot prepare the export")]
    struct PrepareError(#[source] LoadError);

    #[test]
    fn a_failed_job_records_each_cause_of_its_chain_once() {
        let tasks = manager();
        let missing = std::env::temp_dir().join("storyflow-no-such-folder/project.json");
        let read = std::fs::read(&missing).map(drop);
        let err = PrepareError(LoadError(read.unwrap_err()));
        let causes = [
            err.to_string(),
            err.0.to_string(),
            std::error::Error::source(&err.0)
                .map(ToString::to_string)
                .unwrap(),
        ];
        tasks
            .submit("real-failure", move |_| Err::<(), _>(err.into()))
            .unwrap();
        drain(&tasks);

        let chain = status(&tasks, "real-failure").error.unwrap();
        assert_eq!(chain, causes.join(": "));
        for cause in &causes {
            assert_eq!(
                chain.matches(cause.as_str()).count(),
                1,
                "{cause} in {chain}"
            );
        }
        tasks.shutdown();
    }

    #[test]
    fn finished_tasks_are_pruned_but_running_and_queued_ones_never() {
        let tasks = TaskManager::new(TaskManagerConfig {
            prune_after: Duration::ZERO,
        })
        .unwrap();
        tasks.submit("done", |_| Ok(())).unwrap();
        tasks
            .submit("failed", |_| Err::<(), _>("nope".into()))
            .unwrap();
        // Once this runs, the worker has pruned the two before it between jobs.
        let release = submit_blocker(&tasks, "running");
        assert!(tasks.get_task_status("done").is_none());
        assert!(tasks.get_task_status("failed").is_none());

        tasks.submit("queued", |_| Ok(())).unwrap();
        tasks.submit("cancelled", |_| Ok(())).unwrap();
        tasks.cancel_task("cancelled").unwrap();
        assert_eq!(tasks.inner.shared.prune(), 1);
        assert!(tasks.get_task_status("cancelled").is_none());
        assert_eq!(status(&tasks, "running").status, TaskStatus::Processing);
        assert_eq!(status(&tasks, "queued").status, TaskStatus::Pending);
        assert_eq!(tasks.inner.shared.prune(), 0);

        release.send(()).unwrap();
        tasks.shutdown();
    }

    #[test]
    fn finished_tasks_are_kept_until_the_threshold() {
        let tasks = manager();
        tasks.submit("done", |_| Ok(())).unwrap();
        drain(&tasks);
        assert_eq!(tasks.inner.shared.prune(), 0);
        assert_eq!(status(&tasks, "done").status, TaskStatus::Completed);
        tasks.shutdown();
    }

    #[test]
    fn many_threads_submitting_at_once_each_run_exactly_once() {
        const THREADS: usize = 8;
        const PER_THREAD: usize = 25;
        let tasks = manager();
        let runs = Arc::new(Mutex::new(HashMap::<String, usize>::new()));
        let barrier = Arc::new(Barrier::new(THREADS));
        let submitters: Vec<_> = (0..THREADS)
            .map(|t| {
                let tasks = tasks.clone();
                let runs = Arc::clone(&runs);
                let barrier = Arc::clone(&barrier);
                thread::spawn(move || {
                    barrier.wait();
                    for i in 0..PER_THREAD {
                        let runs = Arc::clone(&runs);
                        tasks
                            .submit(format!("t{t}-{i}"), move |ctx| {
                                *runs
                                    .lock()
                                    .unwrap()
                                    .entry(ctx.task_id().to_owned())
                                    .or_default() += 1;
                                Ok(())
                            })
                            .unwrap();
                    }
                })
            })
            .collect();
        for submitter in submitters {
            submitter.join().unwrap();
        }
        drain(&tasks);

        let runs = runs.lock().unwrap();
        assert_eq!(runs.len(), THREADS * PER_THREAD);
        assert!(runs.values().all(|&count| count == 1));
        for t in 0..THREADS {
            for i in 0..PER_THREAD {
                let id = format!("t{t}-{i}");
                assert_eq!(status(&tasks, &id).status, TaskStatus::Completed, "{id}");
            }
        }
        tasks.shutdown();
    }

    #[test]
    fn shutdown_finishes_the_running_job_cancels_the_queue_and_joins() {
        let tasks = manager();
        let (started, has_started) = bounded(1);
        let (release, released) = bounded::<()>(1);
        tasks
            .submit("running", move |_| {
                started.send(()).unwrap();
                released.recv_timeout(WAIT)?;
                Ok(json!("finished during shutdown"))
            })
            .unwrap();
        let ran = Arc::new(AtomicBool::new(false));
        let ran_in_job = Arc::clone(&ran);
        tasks
            .submit("queued", move |_| {
                ran_in_job.store(true, Ordering::SeqCst);
                Ok(())
            })
            .unwrap();
        recv(&has_started);

        let (joined, has_joined) = bounded(1);
        let closer = tasks.clone();
        let closing = thread::spawn(move || {
            closer.shutdown();
            joined.send(()).unwrap();
        });
        let deadline = Instant::now() + WAIT;
        while !tasks.is_shut_down() {
            assert!(Instant::now() < deadline, "shutdown never began");
            thread::yield_now();
        }
        assert!(matches!(
            tasks.submit("late", |_| Ok(())),
            Err(TaskError::ShutDown)
        ));
        assert!(
            has_joined.try_recv().is_err(),
            "shutdown must wait for the running job"
        );
        assert_eq!(status(&tasks, "running").status, TaskStatus::Processing);

        release.send(()).unwrap();
        recv(&has_joined);
        closing.join().unwrap();

        let running = status(&tasks, "running");
        assert_eq!(running.status, TaskStatus::Completed);
        assert_eq!(running.result, Some(json!("finished during shutdown")));
        let queued = status(&tasks, "queued");
        assert_eq!(queued.status, TaskStatus::Cancelled);
        assert!(queued.error.unwrap().contains("shut down"));
        assert!(!ran.load(Ordering::SeqCst));
        assert!(tasks.get_task_status("late").is_none());

        tasks.shutdown(); // idempotent
        assert!(matches!(
            tasks.submit("later", |_| Ok(())),
            Err(TaskError::ShutDown)
        ));
    }

    #[test]
    fn shutdown_from_inside_a_job_does_not_deadlock() {
        let tasks = manager();
        let handle = tasks.clone();
        let (refused, was_refused) = bounded(1);
        tasks
            .submit("closer", move |_| {
                handle.shutdown();
                let late = handle.submit("late", |_| Ok(()));
                refused
                    .send(matches!(late, Err(TaskError::ShutDown)))
                    .unwrap();
                Ok(())
            })
            .unwrap();
        assert!(recv(&was_refused));
        tasks.shutdown();
        assert_eq!(status(&tasks, "closer").status, TaskStatus::Completed);
        assert!(tasks.is_shut_down());
    }

    #[test]
    fn debug_output_names_the_manager_and_context() {
        let tasks = manager();
        assert!(format!("{tasks:?}").starts_with("TaskManager"));
        let (text, texts) = bounded(1);
        tasks
            .submit("dbg", move |ctx| {
                text.send(format!("{ctx:?}")).unwrap();
                Ok(())
            })
            .unwrap();
        assert!(recv(&texts).contains("\"dbg\""));
        tasks.shutdown();
    }
}
