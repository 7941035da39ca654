//! A job: which task function to run on which ids, as data, so that it can wait in a database
//! table and run in another process; and [`JobRunner`], what a process needs to run any job.

use std::collections::HashSet;
use std::sync::Arc;

use core_engine::chunk_plan::ChunkKey;
use core_engine::exchange::ChunkExchange;
use core_engine::{CancelToken, PlannedRender};
use serde::{Deserialize, Serialize};
use task_manager::{JobError, TaskContext};
use tts::PiperEngine;

use super::chunks::PgChunkExchange;
use super::fence::FencedProjectStore;
use crate::db::DbPool;
use crate::narration_store::DieselNarrationStore;
use crate::render_store::DieselProjectStore;
use crate::repository;
use crate::state::PreviewSize;
use crate::storage::MediaStore;
use crate::tasks::{
    narrate_segment_task, narrate_segments_task, render_task_function, ChunkCacheConfig,
    NarrationDeps, ProjectStore, RenderDeps, Renderer, StoreError,
};

/// A background job, stored as JSON in the `jobs` table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Job {
    /// Renders a project (its status is already PROCESSING), at `preview` size if the server
    /// that queued it was told one.
    Render {
        project_id: String,
        preview: Option<PreviewSize>,
    },
    /// Narrates one segment's text.
    NarrateSegment { segment_id: String },
    /// Narrates these segments of a project, in order.
    NarrateSegments {
        project_id: String,
        segment_ids: Vec<String>,
    },
}

/// Narration from text needs a synthesiser; a process without one says so per job.
#[derive(Debug, thiserror::Error)]
#[error("narration from text is unavailable on {worker}: no text-to-speech folder")]
pub struct NoSynthesizer {
    worker: String,
}

impl Job {
    /// Runs the job's task function; what it returns is the task's outcome.
    pub fn run(
        &self,
        runner: &JobRunner,
        ctx: &TaskContext,
    ) -> Result<serde_json::Value, JobError> {
        let result = match self {
            Self::Render {
                project_id,
                preview,
            } => {
                let deps = runner.render_deps(*preview, Some((ctx.task_id(), self)))?;
                serde_json::to_value(render_task_function(project_id, ctx.task_id(), &deps, ctx)?)
            }
            Self::NarrateSegment { segment_id } => serde_json::to_value(narrate_segment_task(
                segment_id,
                &runner.narration_deps()?,
                ctx,
            )?),
            Self::NarrateSegments {
                project_id,
                segment_ids,
            } => serde_json::to_value(narrate_segments_task(
                project_id,
                segment_ids,
                &runner.narration_deps()?,
                ctx,
            )?),
        };
        Ok(result?)
    }

    /// Records that the job will never run to its end (its workers kept dying, or it could not
    /// be read): a render's project is marked FAILED, as its own failure path would have.
    pub fn abandon(&self, pool: &DbPool) {
        let Self::Render { project_id, .. } = self else {
            return;
        };
        let marked = pool
            .get()
            .map_err(repository::RepoError::from)
            .and_then(|mut conn| repository::mark_failed(&mut conn, project_id));
        if let Err(err) = marked {
            log::error!(
                "could not mark project {project_id} FAILED: {}",
                task_manager::error_chain(&err)
            );
        }
    }

    /// The project whose output folder a render writes, for cleaning up after a lost worker.
    pub fn rendered_project(&self) -> Option<&str> {
        match self {
            Self::Render { project_id, .. } => Some(project_id),
            _ => None,
        }
    }
}

/// What a process needs to run any job: the database, the media folder, the renderer and
/// its chunk cache, and the synthesiser if there is one.
pub struct JobRunner {
    pub pool: DbPool,
    pub media: MediaStore,
    pub renderer: Arc<dyn Renderer>,
    pub chunk_cache: ChunkCacheConfig,
    /// Chunks a render encodes at once.
    pub jobs: usize,
    pub tts: Option<Arc<PiperEngine>>,
    /// This process, as results and the job table name it.
    pub worker: String,
    /// With the shared queue: renders offer their chunks to idle workers (`chunks`) and write
    /// their project only while their worker holds the job (`fence`).
    pub share_chunks: bool,
}

impl JobRunner {
    /// What a render needs; `offer` is its task id and job when it may share its chunks.
    pub(super) fn render_deps(
        &self,
        preview: Option<PreviewSize>,
        offer: Option<(&str, &Job)>,
    ) -> Result<RenderDeps, serde_json::Error> {
        let rows = DieselProjectStore::new(self.pool.clone(), self.media.clone(), preview);
        let (store, exchange): (Arc<dyn ProjectStore>, Option<Arc<dyn ChunkExchange>>) =
            match offer.filter(|_| self.share_chunks) {
                Some((task_id, job)) => (
                    Arc::new(FencedProjectStore {
                        inner: rows,
                        pool: self.pool.clone(),
                        task_id: task_id.to_owned(),
                        worker: self.worker.clone(),
                    }),
                    Some(Arc::new(PgChunkExchange::new(
                        self.pool.clone(),
                        task_id,
                        &self.worker,
                        serde_json::to_string(job)?,
                    ))),
                ),
                None => (Arc::new(rows), None),
            };
        Ok(RenderDeps {
            store,
            renderer: self.renderer.clone(),
            media: self.media.clone(),
            chunk_cache: self.chunk_cache.clone(),
            jobs: self.jobs,
            worker: self.worker.clone(),
            exchange,
        })
    }

    /// A helper's part of the render `job` another worker runs (task `render`): encodes those
    /// of its chunks in `wanted` into the shared cache; returns the keys it added. The render
    /// is planned once per helper and planned again only when the project has changed (`plan`
    /// keeps the last one).
    pub(super) fn encode_for(
        &self,
        render: &str,
        job: &Job,
        wanted: &HashSet<ChunkKey>,
        plan: &mut Option<(String, PlannedRender)>,
        cancel: &CancelToken,
    ) -> Result<Vec<ChunkKey>, StoreError> {
        let Job::Render {
            project_id,
            preview,
        } = job
        else {
            return Err(
                format!("chunks were offered by a job that renders nothing: {job:?}").into(),
            );
        };
        let spec = DieselProjectStore::new(self.pool.clone(), self.media.clone(), *preview)
            .load_render_spec(project_id)?;
        let planned = match plan.take() {
            Some((id, planned)) if id == render && planned.spec() == &spec => planned,
            _ => PlannedRender::new(&spec, cancel)?,
        };
        let cache = self
            .chunk_cache
            .open()
            .ok_or("the chunk cache cannot be opened")?;
        let made = planned.encode(&cache, wanted, self.jobs, cancel);
        *plan = Some((render.to_owned(), planned));
        Ok(made?)
    }

    fn narration_deps(&self) -> Result<NarrationDeps, NoSynthesizer> {
        let engine = self.tts.clone().ok_or_else(|| NoSynthesizer {
            worker: self.worker.clone(),
        })?;
        Ok(NarrationDeps {
            store: Arc::new(DieselNarrationStore::new(self.pool.clone())),
            synthesizer: engine,
            media: self.media.clone(),
        })
    }
}

impl std::fmt::Debug for JobRunner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JobRunner")
            .field("media", &self.media)
            .field("chunk_cache", &self.chunk_cache)
            .field("jobs", &self.jobs)
            .field("worker", &self.worker)
            .field("share_chunks", &self.share_chunks)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_stored_as_tagged_json() {
        let job = Job::Render {
            project_id: "p".to_owned(),
            preview: Some(PreviewSize {
                width: 320,
                height: 180,
                fps: 15,
            }),
        };
        let json = serde_json::to_value(&job).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "kind": "render",
                "project_id": "p",
                "preview": {"width": 320, "height": 180, "fps": 15},
            })
        );
        assert_eq!(serde_json::from_value::<Job>(json).unwrap(), job);
        let batch = Job::NarrateSegments {
            project_id: "p".to_owned(),
            segment_ids: vec!["a".to_owned(), "b".to_owned()],
        };
        let text = serde_json::to_string(&batch).unwrap();
        assert_eq!(serde_json::from_str::<Job>(&text).unwrap(), batch);
        assert_eq!(batch.rendered_project(), None);
    }
}
