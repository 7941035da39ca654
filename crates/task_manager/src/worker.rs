//! The worker thread: takes jobs off the channel one at a time, isolates panics, and records
//! how each run ended.

use std::any::Any;
use std::io;
use std::panic::{self, AssertUnwindSafe};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError};

use crate::context::TaskContext;
use crate::error::{error_chain, JobError};
use crate::registry::{Outcome, TaskStatus};
use crate::shared::Shared;

/// A job as the worker stores it: its result already turned into JSON.
pub(crate) type Job =
    Box<dyn FnOnce(&TaskContext) -> Result<serde_json::Value, JobError> + Send + 'static>;

/// A queued run of a task.
pub(crate) struct Envelope {
    pub(crate) task_id: String,
    pub(crate) generation: u64,
    pub(crate) job: Job,
}

/// Starts the worker thread. It runs until every sender of `jobs` is gone.
pub(crate) fn spawn(shared: Arc<Shared>, jobs: Receiver<Envelope>) -> io::Result<JoinHandle<()>> {
    thread::Builder::new()
        .name("storyflow-task-worker".to_owned())
        .spawn(move || run(&shared, &jobs))
}

/// How long the worker waits for a job before pruning old records anyway.
fn prune_interval(prune_after: Duration) -> Duration {
    prune_after.clamp(Duration::from_secs(1), Duration::from_secs(60))
}

fn run(shared: &Arc<Shared>, jobs: &Receiver<Envelope>) {
    let interval = prune_interval(shared.prune_after);
    loop {
        match jobs.recv_timeout(interval) {
            // After shutdown, queued jobs are drained without running.
            Ok(envelope) if shared.closing.load(Ordering::Acquire) => discard(shared, envelope),
            Ok(envelope) => {
                execute(shared, envelope);
                shared.prune();
            }
            Err(RecvTimeoutError::Timeout) => {
                shared.prune();
            }
            Err(RecvTimeoutError::Disconnected) => break,
        }
    }
    log::info!("task worker stopped");
}

fn discard(shared: &Shared, envelope: Envelope) {
    let cancelled = shared.registry.finish(
        &envelope.task_id,
        Some(envelope.generation),
        TaskStatus::Pending,
        Outcome::Cancelled(Some(
            "the task manager shut down before the task started".to_owned(),
        )),
    );
    if cancelled {
        log::info!("task {} cancelled: shutting down", envelope.task_id);
    }
}

fn execute(shared: &Arc<Shared>, envelope: Envelope) {
    let Envelope {
        task_id,
        generation,
        job,
    } = envelope;
    let Some(cancel) = shared.registry.start(&task_id, generation) else {
        log::debug!("task {task_id} skipped: cancelled or replaced before it started");
        return;
    };
    log::info!("task {task_id} started");
    let started = Instant::now();
    let context = TaskContext::new(Arc::clone(shared), task_id.clone(), generation, cancel);

    // The job's captures are dropped inside the closure call, so a panicking destructor is
    // caught too. Unwind safety: the registry is only touched through short, panic-free
    // critical sections, so nothing the job could leave half-done is shared with us.
    let outcome = match panic::catch_unwind(AssertUnwindSafe(|| job(&context))) {
        Ok(Ok(serde_json::Value::Null)) => Outcome::Completed(None),
        Ok(Ok(result)) => Outcome::Completed(Some(result)),
        Ok(Err(err)) if context.is_cancelled() => Outcome::Cancelled(Some(error_chain(&*err))),
        Ok(Err(err)) => Outcome::Failed(error_chain(&*err)),
        // Logged with every other failure, once, by `log_finished`.
        Err(payload) => Outcome::Failed(format!("task panicked: {}", panic_message(&*payload))),
    };
    shared
        .registry
        .finish(&task_id, Some(generation), TaskStatus::Processing, outcome);
    log_finished(shared, &task_id, generation, started.elapsed());
}

fn log_finished(shared: &Shared, task_id: &str, generation: u64, took: Duration) {
    let seconds = took.as_secs_f64();
    let Some(snapshot) = shared.registry.snapshot(task_id, Some(generation)) else {
        log::info!("task {task_id} finished after {seconds:.1}s (record already replaced)");
        return;
    };
    match snapshot.status {
        TaskStatus::Failed => log::error!(
            "task {task_id} failed after {seconds:.1}s: {}",
            snapshot.error.as_deref().unwrap_or("unknown error")
        ),
        TaskStatus::Cancelled => log::info!("task {task_id} cancelled after {seconds:.1}s"),
        status => log::info!("task {task_id} {status} after {seconds:.1}s"),
    }
}

/// The text a panic was raised with (`panic!("...")` gives `&str` or `String`).
fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(message) = payload.downcast_ref::<&str>() {
        (*message).to_owned()
    } else if let Some(message) = payload.downcast_ref::<String>() {
        message.clone()
    } else {
        "non-text panic payload".to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panic_message_reads_str_and_string_payloads() {
        let payload: Box<dyn Any + Send> = Box::new("static text");
        assert_eq!(panic_message(&*payload), "static text");
        let payload: Box<dyn Any + Send> = Box::new(format!("formatted {}", 42));
        assert_eq!(panic_message(&*payload), "formatted 42");
        let payload: Box<dyn Any + Send> = Box::new(7_u32);
        assert_eq!(panic_message(&*payload), "non-text panic payload");
    }

    #[test]
    fn prune_interval_is_bounded() {
        assert_eq!(prune_interval(Duration::ZERO), Duration::from_secs(1));
        assert_eq!(
            prune_interval(Duration::from_secs(5)),
            Duration::from_secs(5)
        );
        assert_eq!(
            prune_interval(Duration::from_secs(3600)),
            Duration::from_secs(60)
        );
    }
}
