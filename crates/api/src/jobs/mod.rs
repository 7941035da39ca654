//! Background jobs beyond one process: what a job is (`job`), where it is queued (`queue`: the
//! in-process worker with SQLite, the shared `jobs` table with PostgreSQL), that table
//! (`store`), the chunks of a running render offered to idle workers (`chunks`), a shared
//! render's project writes fenced by its lease (`fence`), and the `storyflow worker` process
//! that claims jobs and chunks (`worker`).
//!
//! A job runs the same task functions (`tasks`) on the same one-job-at-a-time `task_manager`
//! executor wherever it runs; only where its progress, cancel request and outcome live differs.

pub mod chunks;
mod fence;
mod job;
mod queue;
pub mod store;
mod worker;

pub use fence::{FencedProjectStore, LostJob};
pub use job::{Job, JobRunner};
pub use queue::{with_pg, JobQueue, JobSnapshot, QueueError};
pub use worker::{worker_name, Worker, WorkerConfig, WorkerError};

use std::time::Duration;

/// How long a worker's claim on a job lasts unless renewed. A worker renews it with every
/// progress report, so a job whose worker died (kill -9, power loss) is taken over once this
/// has passed since its last report.
pub const LEASE: Duration = Duration::from_secs(10);
/// How often a worker reports progress (and renews its lease, and reads cancel requests):
/// progress reaches `GET .../status/` within this, a cancel reaches the job within this.
pub const REPORT_EVERY: Duration = Duration::from_millis(250);
/// How often an idle worker looks for a job.
pub const POLL_EVERY: Duration = Duration::from_millis(500);
/// A job whose worker was lost this many times is failed rather than handed out again: it may
/// be what kills them.
pub const MAX_ATTEMPTS: i32 = 3;
