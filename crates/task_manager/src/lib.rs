//! A single-worker background task executor with a progress registry.
//!
//! [`TaskManager`] owns exactly one worker thread fed by a crossbeam channel, so every
//! background task (renders and any other kind) runs in FIFO order, one at a time. Each task
//! has a record in a registry that request threads read as [`TaskSnapshot`]s: `PENDING` while
//! queued, `PROCESSING` while its job runs, then `COMPLETED`, `FAILED` or `CANCELLED`.
//! Jobs report progress through the [`TaskContext`] they are handed; what a job returns is
//! its outcome.
//!
//! The crate knows nothing of rendering or databases.
//!
//! ```
//! use std::sync::mpsc;
//! use task_manager::{TaskManager, TaskManagerConfig, TaskStatus};
//!
//! let tasks = TaskManager::new(TaskManagerConfig::default())?;
//! let (done, finished) = mpsc::channel();
//! tasks.submit("greet", move |ctx| {
//!     ctx.update_progress(1, 1, "greeting");
//!     done.send(()).ok();
//!     Ok(serde_json::json!({ "greeting": "hello" }))
//! })?;
//! finished.recv().ok();
//! tasks.shutdown(); // lets the running job finish and joins the worker
//! let snapshot = tasks.get_task_status("greet");
//! assert!(snapshot.is_some_and(|s| s.status == TaskStatus::Completed));
//! # Ok::<(), task_manager::TaskError>(())
//! ```
//!
//! Layout:
//! - `manager`: [`TaskManager`] (submit, cancel, query, shutdown) and its config;
//! - `worker`: the worker thread loop, panic isolation and end-of-job bookkeeping;
//! - `context`: [`TaskContext`], the job's view of its own task;
//! - `registry`: task records and the status types readers see;
//! - `shared`: the state the manager, the worker and the contexts share;
//! - `error`: [`TaskError`] and [`JobError`].

mod context;
mod error;
mod manager;
mod registry;
mod shared;
mod worker;

pub use context::TaskContext;
pub use error::{error_chain, JobError, TaskError};
pub use manager::{TaskManager, TaskManagerConfig};
pub use registry::{TaskProgress, TaskSnapshot, TaskStatus};
