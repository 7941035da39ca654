//! The `jobs` table (PostgreSQL only): queueing, claiming under a lease, reporting, cancelling
//! and finishing a job. Every time is the database's clock in UTC (`timezone('UTC', now())`),
//! so workers on several machines agree on when a lease runs out whatever their own clocks say.
//!
//! Claims take the oldest claimable row with `FOR UPDATE SKIP LOCKED`: workers polling at
//! once each get a different job, or none, and never wait on each other's locks. Every write a
//! worker makes is conditional on its name still holding the row, so a worker that lost its
//! lease (it stalled past it and another took over) cannot overwrite the new owner's record.

use std::time::Duration;

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::result::Error as DieselError;
use diesel::sql_types::{Double, Integer, Nullable, Text};
use task_manager::{TaskProgress, TaskSnapshot, TaskStatus};

use super::MAX_ATTEMPTS;
use crate::schema::jobs;
use crate::tasks::render_task_id;

/// One row of the table.
#[derive(Debug, Clone, PartialEq, QueryableByName)]
#[diesel(table_name = jobs)]
pub struct JobRow {
    pub task_id: String,
    pub job: String,
    pub status: String,
    pub cancel_requested: bool,
    pub progress_current: Option<i32>,
    pub progress_total: Option<i32>,
    pub progress_percentage: Option<i32>,
    pub progress_phase: Option<String>,
    pub detail: Option<String>,
    pub result: Option<String>,
    pub error: Option<String>,
    pub worker: Option<String>,
    pub lease_expires_at: Option<NaiveDateTime>,
    pub attempts: i32,
    pub created_at: NaiveDateTime,
    pub started_at: Option<NaiveDateTime>,
    pub finished_at: Option<NaiveDateTime>,
}

impl JobRow {
    /// The row as the task registry would show it. A status or JSON the application did not
    /// write (edited by hand) shows as what it can be read as.
    pub fn snapshot(&self) -> TaskSnapshot {
        let json = |text: &Option<String>| {
            text.as_deref()
                .and_then(|text| serde_json::from_str(text).ok())
        };
        let utc = |time: NaiveDateTime| DateTime::<Utc>::from_naive_utc_and_offset(time, Utc);
        let progress = match (
            self.progress_current,
            self.progress_total,
            self.progress_percentage,
            &self.progress_phase,
        ) {
            (Some(current), Some(total), Some(percentage), Some(phase)) => Some(TaskProgress {
                current: u32::try_from(current).unwrap_or(0),
                total: u32::try_from(total).unwrap_or(0),
                percentage: u8::try_from(percentage.clamp(0, 100)).unwrap_or(0),
                phase: phase.clone(),
            }),
            _ => None,
        };
        TaskSnapshot {
            task_id: self.task_id.clone(),
            status: TaskStatus::from_wire(&self.status).unwrap_or(TaskStatus::Failed),
            progress,
            result: json(&self.result),
            detail: json(&self.detail),
            error: self.error.clone(),
            cancel_requested: self.cancel_requested,
            created_at: utc(self.created_at),
            started_at: self.started_at.map(utc),
            finished_at: self.finished_at.map(utc),
        }
    }
}

/// The database's clock, in UTC without a zone, as the table stores times.
const NOW: &str = "timezone('UTC', now())";

/// Statuses of a job that is not finished.
const ACTIVE: &str = "('PENDING', 'PROCESSING')";

/// Queues `job` under `task_id`, replacing a finished job of that id. `false` when a job of
/// that id is still pending or running (nothing is written then).
pub fn insert(conn: &mut PgConnection, task_id: &str, job: &str) -> Result<bool, DieselError> {
    let inserted = diesel::sql_query(format!(
        "INSERT INTO jobs (task_id, job, status, created_at) VALUES ($1, $2, 'PENDING', {NOW}) \
         ON CONFLICT (task_id) DO UPDATE SET job = EXCLUDED.job, status = 'PENDING', \
             cancel_requested = FALSE, progress_current = NULL, progress_total = NULL, \
             progress_percentage = NULL, progress_phase = NULL, detail = NULL, result = NULL, \
             error = NULL, worker = NULL, lease_expires_at = NULL, attempts = 0, \
             created_at = EXCLUDED.created_at, started_at = NULL, finished_at = NULL \
         WHERE jobs.status NOT IN {ACTIVE}"
    ))
    .bind::<Text, _>(task_id)
    .bind::<Text, _>(job)
    .execute(conn)?;
    Ok(inserted == 1)
}

pub fn get(conn: &mut PgConnection, task_id: &str) -> Result<Option<JobRow>, DieselError> {
    diesel::sql_query("SELECT * FROM jobs WHERE task_id = $1")
        .bind::<Text, _>(task_id)
        .get_result(conn)
        .optional()
}

/// Asks `task_id` to stop: a pending job is CANCELLED at once (no worker will take it), a
/// running one keeps PROCESSING until its worker reads the request (within
/// [`super::REPORT_EVERY`]) and its job stops. `None` when no active job has that id.
pub fn request_cancel(
    conn: &mut PgConnection,
    task_id: &str,
) -> Result<Option<JobRow>, DieselError> {
    diesel::sql_query(format!(
        "UPDATE jobs SET cancel_requested = TRUE, \
             finished_at = CASE status WHEN 'PENDING' THEN {NOW} ELSE finished_at END, \
             status = CASE status WHEN 'PENDING' THEN 'CANCELLED' ELSE status END \
         WHERE task_id = $1 AND status IN {ACTIVE} RETURNING *"
    ))
    .bind::<Text, _>(task_id)
    .get_result(conn)
    .optional()
}

/// Claims the oldest job that is pending or whose worker's lease ran out, for `worker`, until
/// `lease` from now. A job taken over keeps its progress and cancel request.
pub fn claim(
    conn: &mut PgConnection,
    worker: &str,
    lease: Duration,
) -> Result<Option<JobRow>, DieselError> {
    diesel::sql_query(format!(
        "UPDATE jobs SET status = 'PROCESSING', worker = $1, attempts = attempts + 1, \
             lease_expires_at = {NOW} + make_interval(secs => $2), \
             started_at = COALESCE(started_at, {NOW}) \
         WHERE task_id = ( \
             SELECT task_id FROM jobs \
             WHERE status = 'PENDING' \
                OR (status = 'PROCESSING' AND lease_expires_at < {NOW} AND attempts < $3) \
             ORDER BY created_at LIMIT 1 FOR UPDATE SKIP LOCKED) \
         RETURNING *"
    ))
    .bind::<Text, _>(worker)
    .bind::<Double, _>(lease.as_secs_f64())
    .bind::<Integer, _>(MAX_ATTEMPTS)
    .get_result(conn)
    .optional()
}

/// Fails the running jobs whose lease ran out after [`MAX_ATTEMPTS`] claims; returns them.
pub fn fail_exhausted(conn: &mut PgConnection) -> Result<Vec<JobRow>, DieselError> {
    diesel::sql_query(format!(
        "UPDATE jobs SET status = 'FAILED', finished_at = {NOW}, lease_expires_at = NULL, \
             error = 'its worker stopped (killed or lost) ' || attempts || ' times; \
                      not retried again' \
         WHERE status = 'PROCESSING' AND lease_expires_at < {NOW} AND attempts >= $1 \
         RETURNING *"
    ))
    .bind::<Integer, _>(MAX_ATTEMPTS)
    .load(conn)
}

/// Records the running job's progress and detail and renews `worker`'s lease; returns whether
/// a cancel was requested, or `None` when `worker` no longer holds the job. The percentage
/// never goes down, even when a job taken over starts again from the beginning.
pub fn report(
    conn: &mut PgConnection,
    task_id: &str,
    worker: &str,
    lease: Duration,
    snapshot: &TaskSnapshot,
) -> Result<Option<bool>, DieselError> {
    #[derive(QueryableByName)]
    struct Cancel {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        cancel_requested: bool,
    }
    let progress = snapshot.progress.as_ref();
    let cancel: Option<Cancel> = diesel::sql_query(format!(
        "UPDATE jobs SET lease_expires_at = {NOW} + make_interval(secs => $3), \
             progress_current = COALESCE($4, progress_current), \
             progress_total = COALESCE($5, progress_total), \
             progress_percentage = GREATEST($6, progress_percentage), \
             progress_phase = COALESCE($7, progress_phase), \
             detail = COALESCE($8, detail) \
         WHERE task_id = $1 AND worker = $2 AND status = 'PROCESSING' \
         RETURNING cancel_requested"
    ))
    .bind::<Text, _>(task_id)
    .bind::<Text, _>(worker)
    .bind::<Double, _>(lease.as_secs_f64())
    .bind::<Nullable<Integer>, _>(progress.map(|p| saturate(p.current)))
    .bind::<Nullable<Integer>, _>(progress.map(|p| saturate(p.total)))
    .bind::<Nullable<Integer>, _>(progress.map(|p| i32::from(p.percentage)))
    .bind::<Nullable<Text>, _>(progress.map(|p| p.phase.as_str()))
    .bind::<Nullable<Text>, _>(snapshot.detail.as_ref().map(ToString::to_string))
    .get_result(conn)
    .optional()?;
    Ok(cancel.map(|row| row.cancel_requested))
}

/// Whether `worker` still holds the running job `task_id`.
pub fn holds(conn: &mut PgConnection, task_id: &str, worker: &str) -> Result<bool, DieselError> {
    #[derive(QueryableByName)]
    struct Held {
        #[diesel(sql_type = diesel::sql_types::Bool)]
        held: bool,
    }
    let row: Held = diesel::sql_query(
        "SELECT EXISTS (SELECT 1 FROM jobs \
             WHERE task_id = $1 AND worker = $2 AND status = 'PROCESSING') AS held",
    )
    .bind::<Text, _>(task_id)
    .bind::<Text, _>(worker)
    .get_result(conn)?;
    Ok(row.held)
}

/// Records how the job ended, if `worker` still holds it; `false` if it does not.
pub fn finish(
    conn: &mut PgConnection,
    worker: &str,
    snapshot: &TaskSnapshot,
) -> Result<bool, DieselError> {
    let progress = snapshot.progress.as_ref();
    let finished = diesel::sql_query(format!(
        "UPDATE jobs SET status = $3, result = $4, error = $5, \
             detail = COALESCE($6, detail), \
             progress_current = COALESCE($7, progress_current), \
             progress_total = COALESCE($8, progress_total), \
             progress_percentage = COALESCE($9, progress_percentage), \
             progress_phase = COALESCE($10, progress_phase), \
             finished_at = {NOW}, lease_expires_at = NULL \
         WHERE task_id = $1 AND worker = $2 AND status = 'PROCESSING'"
    ))
    .bind::<Text, _>(&snapshot.task_id)
    .bind::<Text, _>(worker)
    .bind::<Text, _>(snapshot.status.as_str())
    .bind::<Nullable<Text>, _>(snapshot.result.as_ref().map(ToString::to_string))
    .bind::<Nullable<Text>, _>(snapshot.error.as_deref())
    .bind::<Nullable<Text>, _>(snapshot.detail.as_ref().map(ToString::to_string))
    .bind::<Nullable<Integer>, _>(progress.map(|p| saturate(p.current)))
    .bind::<Nullable<Integer>, _>(progress.map(|p| saturate(p.total)))
    .bind::<Nullable<Integer>, _>(progress.map(|p| i32::from(p.percentage)))
    .bind::<Nullable<Text>, _>(progress.map(|p| p.phase.as_str()))
    .execute(conn)?;
    Ok(finished == 1)
}

/// Deletes the jobs that finished more than `older_than` ago; returns how many.
pub fn prune(conn: &mut PgConnection, older_than: Duration) -> Result<usize, DieselError> {
    diesel::sql_query(format!(
        "DELETE FROM jobs WHERE status NOT IN {ACTIVE} \
             AND finished_at < {NOW} - make_interval(secs => $1)"
    ))
    .bind::<Double, _>(older_than.as_secs_f64())
    .execute(conn)
}

/// At server start-up: projects left PROCESSING with no live render job (the server that
/// marked them died before queueing the job) become FAILED, as SQLite's start-up recovery
/// does for its in-process renders. Returns their ids. Not run by workers: a server marks a
/// project PROCESSING just before it queues its job.
pub fn fail_orphaned_renders(conn: &mut PgConnection) -> Result<Vec<String>, DieselError> {
    #[derive(QueryableByName)]
    struct Id {
        #[diesel(sql_type = Text)]
        id: String,
    }
    let ids: Vec<Id> = diesel::sql_query(format!(
        "UPDATE projects SET status = 'FAILED', updated_at = {NOW} \
         WHERE status = 'PROCESSING' AND NOT EXISTS ( \
             SELECT 1 FROM jobs WHERE jobs.task_id = $1 || projects.id \
                 AND jobs.status IN {ACTIVE}) \
         RETURNING id"
    ))
    .bind::<Text, _>(render_task_id(""))
    .load(conn)?;
    Ok(ids.into_iter().map(|row| row.id).collect())
}

fn saturate(count: u32) -> i32 {
    i32::try_from(count).unwrap_or(i32::MAX)
}
