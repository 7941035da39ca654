//! A shared render's project writes, fenced by its job's lease: [`FencedProjectStore`].
//!
//! A worker that stalls past its lease (a paused machine) may wake while another worker runs
//! the same render again. Its render's outcome must then not reach the project row: a late
//! FAILED would stand over the new run's progress. (Its video is harmless: the same project
//! renders to the same bits, and the file is replaced whole.)

use core_engine::RenderSpec;

use super::queue::with_pg;
use super::store;
use crate::db::DbPool;
use crate::tasks::{ProjectStore, StoreError};

/// This worker no longer holds the render's job.
#[derive(Debug, thiserror::Error)]
#[error("{worker} no longer holds {task_id} (its lease ran out and another worker took it over); the project is left to that worker")]
pub struct LostJob {
    task_id: String,
    worker: String,
}

/// `inner` for reading; its writes only while `worker` still holds `task_id`.
pub struct FencedProjectStore<S> {
    pub inner: S,
    pub pool: DbPool,
    pub task_id: String,
    pub worker: String,
}

impl<S> FencedProjectStore<S> {
    /// Checked just before each write: the window left (a stall between the check and the
    /// write) is one statement long, against a lease of seconds.
    fn check(&self) -> Result<(), StoreError> {
        let holds = with_pg(&self.pool, |conn| {
            Ok(store::holds(conn, &self.task_id, &self.worker)?)
        })?;
        if holds {
            Ok(())
        } else {
            Err(LostJob {
                task_id: self.task_id.clone(),
                worker: self.worker.clone(),
            }
            .into())
        }
    }
}

impl<S: ProjectStore> ProjectStore for FencedProjectStore<S> {
    fn load_render_spec(&self, project_id: &str) -> Result<RenderSpec, StoreError> {
        self.inner.load_render_spec(project_id)
    }

    fn mark_completed(
        &self,
        project_id: &str,
        output_path: &str,
        duration: f64,
    ) -> Result<(), StoreError> {
        self.check()?;
        self.inner.mark_completed(project_id, output_path, duration)
    }

    fn mark_failed(&self, project_id: &str) -> Result<(), StoreError> {
        self.check()?;
        self.inner.mark_failed(project_id)
    }
}

impl<S> std::fmt::Debug for FencedProjectStore<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FencedProjectStore")
            .field("task_id", &self.task_id)
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}
