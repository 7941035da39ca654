//! Errors of the task manager itself, and the error type jobs return.

use std::error::Error;

/// What a job returns when it fails: any error, kept with its source chain.
///
/// The worker records the error's message followed by its sources as the task's error.
pub type JobError = Box<dyn Error + Send + Sync + 'static>;

/// Why the task manager refused a request.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    /// A task with this id is still `PENDING` or `PROCESSING`.
    #[error("task {0} is already pending or running")]
    AlreadyActive(String),
    /// No task with this id is known (never submitted, or already pruned).
    #[error("no task with id {0}")]
    NotFound(String),
    /// The task has already completed, failed or been cancelled.
    #[error("task {0} has already finished")]
    AlreadyFinished(String),
    /// [`TaskManager::shutdown`](crate::TaskManager::shutdown) has been called.
    #[error("the task manager has shut down")]
    ShutDown,
    /// The worker thread could not be started.
    #[error("cannot start the task worker thread")]
    Spawn(#[source] std::io::Error),
}

/// An error's message followed by its sources, `": "`-separated: the one formatter for a
/// cause chain, used for task errors and by the library crates above this one.
///
/// It relies on the workspace's convention that an error never repeats its source in its own
/// message (the source is only reachable through `source()`), so each cause is printed once.
pub fn error_chain(err: &(dyn Error + 'static)) -> String {
    let mut causes = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    causes.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    enum Outer {
        #[error("loading project")]
        Load(#[source] Middle),
    }

    #[derive(Debug, thiserror::Error)]
    #[error("reading segments")]
    struct Middle(#[source] std::io::Error);

    #[test]
    fn error_chain_lists_every_source() {
        let err = Outer::Load(Middle(std::io::Error::other("disk on fire")));
        assert_eq!(
            error_chain(&err),
            "loading project: reading segments: disk on fire"
        );
    }

    #[test]
    fn error_chain_of_boxed_job_error() {
        let err: JobError = "plain message".into();
        assert_eq!(error_chain(&*err), "plain message");
    }

    #[test]
    fn task_errors_name_the_task() {
        assert_eq!(
            TaskError::AlreadyActive("render_1".into()).to_string(),
            "task render_1 is already pending or running"
        );
        assert_eq!(
            TaskError::NotFound("x".into()).to_string(),
            "no task with id x"
        );
        assert_eq!(
            TaskError::AlreadyFinished("x".into()).to_string(),
            "task x has already finished"
        );
        assert_eq!(
            error_chain(&TaskError::Spawn(std::io::Error::other("no threads"))),
            "cannot start the task worker thread: no threads"
        );
    }
}
