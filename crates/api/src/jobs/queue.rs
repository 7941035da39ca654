//! Where the handlers send jobs and read them back: [`JobQueue`].

use std::sync::Arc;
use std::time::Duration;

use diesel::pg::PgConnection;
use task_manager::{TaskError, TaskManager, TaskSnapshot, TaskStatus};

use super::job::{Job, JobRunner};
use super::store;
use crate::db::{AnyConnection, DbPool};

#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// Unknown id, still active, already finished, shut down: as the in-process executor says.
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error("job queue database")]
    Database(#[from] diesel::result::Error),
    #[error("job queue database connection")]
    Pool(#[from] r2d2::Error),
    #[error("the shared job queue needs PostgreSQL")]
    NotPostgres,
    #[error("cannot store the job")]
    Encode(#[from] serde_json::Error),
}

/// A task's record and, with shared jobs, the worker holding it (or that held it last).
#[derive(Debug, Clone, PartialEq)]
pub struct JobSnapshot {
    pub task: TaskSnapshot,
    pub worker: Option<String>,
}

/// The jobs of this server. Cheap to clone.
#[derive(Clone)]
pub enum JobQueue {
    /// SQLite: the server's own worker thread runs every job, one at a time, and its
    /// registry holds their records.
    InProcess {
        tasks: TaskManager,
        runner: Arc<JobRunner>,
    },
    /// PostgreSQL: jobs wait in the `jobs` table until a `storyflow worker` claims one; their
    /// records, progress and cancel requests live there too. Finished jobs are deleted after
    /// `retention`.
    Shared { pool: DbPool, retention: Duration },
}

impl JobQueue {
    /// Queues `job` as `task_id`; a finished task of that id is replaced.
    /// [`TaskError::AlreadyActive`] while one is pending or running.
    ///
    /// Blocking (it may reach the database): handlers call it through `web::block`.
    pub fn submit(&self, task_id: &str, job: Job) -> Result<(), QueueError> {
        match self {
            Self::InProcess { tasks, runner } => {
                let runner = Arc::clone(runner);
                tasks.submit(task_id, move |ctx| job.run(&runner, ctx))?;
            }
            Self::Shared { pool, retention } => {
                let text = serde_json::to_string(&job)?;
                with_pg(pool, |conn| {
                    let pruned = store::prune(conn, *retention)?;
                    if pruned > 0 {
                        log::debug!("{pruned} finished job(s) deleted");
                    }
                    if !store::insert(conn, task_id, &text)? {
                        return Err(TaskError::AlreadyActive(task_id.to_owned()).into());
                    }
                    log::info!("job {task_id} queued for the workers");
                    Ok(())
                })?;
            }
        }
        Ok(())
    }

    /// The task's record, or `None` if unknown (or finished long enough ago to be forgotten).
    pub fn status(&self, task_id: &str) -> Result<Option<JobSnapshot>, QueueError> {
        match self {
            Self::InProcess { tasks, .. } => Ok(tasks
                .get_task_status(task_id)
                .map(|task| JobSnapshot { task, worker: None })),
            Self::Shared { pool, .. } => with_pg(pool, |conn| {
                Ok(store::get(conn, task_id)?.map(|row| JobSnapshot {
                    task: row.snapshot(),
                    worker: row.worker,
                }))
            }),
        }
    }

    /// Asks the task to stop; its status afterwards (`CANCELLED` if it had not started,
    /// `PROCESSING` while its job winds down). [`TaskError::NotFound`] or
    /// [`TaskError::AlreadyFinished`] otherwise.
    pub fn cancel(&self, task_id: &str) -> Result<TaskStatus, QueueError> {
        match self {
            Self::InProcess { tasks, .. } => Ok(tasks.cancel_task(task_id)?),
            Self::Shared { pool, .. } => with_pg(pool, |conn| {
                if let Some(row) = store::request_cancel(conn, task_id)? {
                    log::info!("job {task_id}: cancel requested (now {})", row.status);
                    return Ok(row.snapshot().status);
                }
                Err(match store::get(conn, task_id)? {
                    Some(_) => TaskError::AlreadyFinished(task_id.to_owned()),
                    None => TaskError::NotFound(task_id.to_owned()),
                }
                .into())
            }),
        }
    }

    /// At server shutdown: the in-process worker's jobs are cancelled and it is joined, so no
    /// render is left half-written. Shared jobs belong to the workers and carry on.
    pub fn shutdown(&self) {
        if let Self::InProcess { tasks, .. } = self {
            tasks.cancel_all();
            tasks.shutdown();
        }
    }
}

/// Runs `work` on a PostgreSQL connection from `pool` ([`QueueError::NotPostgres`] on SQLite).
pub fn with_pg<T>(
    pool: &DbPool,
    work: impl FnOnce(&mut PgConnection) -> Result<T, QueueError>,
) -> Result<T, QueueError> {
    let mut conn = pool.get()?;
    match &mut *conn {
        AnyConnection::Postgresql(pg) => work(pg),
        AnyConnection::Sqlite(_) => Err(QueueError::NotPostgres),
    }
}

impl std::fmt::Debug for JobQueue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InProcess { runner, .. } => f
                .debug_struct("JobQueue::InProcess")
                .field("runner", runner)
                .finish_non_exhaustive(),
            Self::Shared { retention, .. } => f
                .debug_struct("JobQueue::Shared")
                .field("retention", retention)
                .finish_non_exhaustive(),
        }
    }
}
