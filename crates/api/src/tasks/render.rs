//! The render task.
//!
//! `render_task_function` is the seed task's Rust form. Where the Django original deferred its
//! imports to dodge a circular import, this function reaches the database, the renderer and the
//! task registry only through the traits below: `api` owns the traits, the real
//! implementations (`DieselProjectStore`, `CoreEngineRenderer`, `TaskContext`) are plugged in by
//! the render handler, and the unit tests plug in fakes. What it returns is the task's outcome.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use core_engine::chunk_cache::ChunkCache;
use core_engine::exchange::ChunkExchange;
use core_engine::remote::RemoteChunks;
use core_engine::{CancelToken, Progress, RenderError, RenderOptions, RenderOutput, RenderSpec};
use serde::Serialize;
use task_manager::error_chain;

use super::{ProgressSink, StoreError};
use crate::storage::{self, MediaStore, SubtitleUrls};

/// The database as the render task sees it. Every call re-reads by id on the calling (worker)
/// thread, so no model instance ever crosses from a request thread.
pub trait ProjectStore: Send + Sync {
    /// Loads the project, its segments in `sequence_index` order and the settings, as a spec.
    fn load_render_spec(&self, project_id: &str) -> Result<RenderSpec, StoreError>;
    /// Sets status COMPLETED, `output_path` and the video's duration in seconds (only those
    /// columns and `updated_at`).
    fn mark_completed(
        &self,
        project_id: &str,
        output_path: &str,
        duration: f64,
    ) -> Result<(), StoreError>;
    /// Sets status FAILED (only that column and `updated_at`).
    fn mark_failed(&self, project_id: &str) -> Result<(), StoreError>;
}

/// Produces the video file.
pub trait Renderer: Send + Sync {
    fn render(
        &self,
        spec: &RenderSpec,
        output: &Path,
        options: &RenderOptions,
        on_progress: &mut dyn FnMut(&Progress),
        cancel: &CancelToken,
    ) -> Result<RenderOutput, RenderError>;
}

/// The real renderer.
#[derive(Debug, Clone, Copy, Default)]
pub struct CoreEngineRenderer;

impl Renderer for CoreEngineRenderer {
    fn render(
        &self,
        spec: &RenderSpec,
        output: &Path,
        options: &RenderOptions,
        on_progress: &mut dyn FnMut(&Progress),
        cancel: &CancelToken,
    ) -> Result<RenderOutput, RenderError> {
        core_engine::render_with(spec, output, options, on_progress, cancel)
            .map(|(output, _)| output)
    }
}

/// The server's cache of encoded chunks, shared by every project's renders: where it is
/// (see `storage::chunk_cache_dir`), how many bytes it may keep, and the bucket it is a copy
/// of, if any.
#[derive(Debug, Clone)]
pub struct ChunkCacheConfig {
    pub dir: PathBuf,
    pub max_bytes: u64,
    pub remote: Option<Arc<dyn RemoteChunks>>,
}

impl ChunkCacheConfig {
    /// The cache, or `None` when its folder cannot be made (logged): without the cache a
    /// render is slower, not wrong.
    pub fn open(&self) -> Option<ChunkCache> {
        ChunkCache::open(&self.dir, self.max_bytes)
            .map(|cache| match &self.remote {
                Some(remote) => cache.with_remote(Arc::clone(remote)),
                None => cache,
            })
            .inspect_err(|err| {
                log::warn!("rendering without the chunk cache: {}", error_chain(err));
            })
            .ok()
    }

    /// Drops the chunks only `project_id`'s renders used (blocking file I/O). A failure is
    /// logged: the chunks are then merely evicted later, as the least recently used.
    pub fn release_project(&self, project_id: &str) {
        let released = ChunkCache::open(&self.dir, self.max_bytes)
            .and_then(|cache| cache.release_owner(project_id));
        match released {
            Ok(0) => {}
            Ok(count) => log::info!("project {project_id}: {count} cached chunk(s) released"),
            Err(err) => log::warn!(
                "project {project_id}: cannot release its cached chunks: {}",
                error_chain(&err)
            ),
        }
    }
}

/// What the render task needs besides ids.
#[derive(Clone)]
pub struct RenderDeps {
    pub store: Arc<dyn ProjectStore>,
    pub renderer: Arc<dyn Renderer>,
    pub media: MediaStore,
    pub chunk_cache: ChunkCacheConfig,
    /// Chunks encoded at once.
    pub jobs: usize,
    /// Who renders, as the result names it (see `jobs::worker_name`).
    pub worker: String,
    /// Helpers that may encode some of the chunks (other workers, through the job table).
    pub exchange: Option<Arc<dyn ChunkExchange>>,
}

impl std::fmt::Debug for RenderDeps {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RenderDeps")
            .field("media", &self.media)
            .field("chunk_cache", &self.chunk_cache)
            .field("jobs", &self.jobs)
            .field("worker", &self.worker)
            .finish_non_exhaustive()
    }
}

/// The task result recorded in the registry on success.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RenderResult {
    pub output_path: String,
    pub duration: f64,
    pub file_size: u64,
    /// The subtitle sidecars' URLs; `None` when the project has no text.
    pub subtitles: Option<SubtitleUrls>,
    pub warnings: Vec<String>,
    /// The video's chunks taken from the shared chunk cache.
    pub chunks_reused: usize,
    /// The chunks this render encoded (and added to the cache).
    pub chunks_encoded: usize,
    /// The chunks other workers encoded for it.
    pub chunks_by_helpers: usize,
    /// Those workers, and how many chunks each finished.
    pub helpers: Vec<HelperShare>,
    /// The process that rendered it (planned, encoded the rest, spliced).
    pub worker: String,
}

/// A helper's share of a render.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HelperShare {
    pub worker: String,
    pub chunks: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum RenderTaskError {
    #[error("could not load project {project_id} for rendering")]
    Load {
        project_id: String,
        #[source]
        source: StoreError,
    },
    #[error("could not create the output folder {path}")]
    OutputDir {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("render failed")]
    Render(#[from] RenderError),
    #[error("the video was rendered but sending it to the bucket failed")]
    Publish(#[source] std::io::Error),
    #[error("the video was rendered but recording it in the database failed")]
    Record(#[source] StoreError),
}

impl RenderTaskError {
    pub fn is_cancelled(&self) -> bool {
        matches!(self, Self::Render(RenderError::Cancelled))
    }
}

/// The registry id of a project's render task: deterministic, so status lookups need no map.
pub fn render_task_id(project_id: &str) -> String {
    format!("render_{project_id}")
}

/// Renders one project on the worker thread and records the outcome in the database; what it
/// returns is the task's outcome in the registry. Never panics on a failed render, and a
/// failure to record a failure is logged, not propagated.
pub fn render_task_function(
    project_id: &str,
    task_id: &str,
    deps: &RenderDeps,
    sink: &dyn ProgressSink,
) -> Result<RenderResult, RenderTaskError> {
    log::info!("render task {task_id}: starting project {project_id}");
    let outcome = run_render(project_id, deps, sink);
    match &outcome {
        Ok(result) => log::info!(
            "render task {task_id}: done, {:.2} s, {} bytes",
            result.duration,
            result.file_size
        ),
        Err(err) => {
            record_failure(project_id, deps);
            remove_temporary_outputs(&storage::output_dir(deps.media.root(), project_id));
            // A failure is logged, with its whole chain, by the task worker that runs every
            // kind of task; saying it here too would log each failed render twice.
            if err.is_cancelled() {
                log::warn!("render task {task_id}: cancelled by user");
            }
        }
    }
    outcome
}

fn run_render(
    project_id: &str,
    deps: &RenderDeps,
    sink: &dyn ProgressSink,
) -> Result<RenderResult, RenderTaskError> {
    let spec = deps
        .store
        .load_render_spec(project_id)
        .map_err(|source| RenderTaskError::Load {
            project_id: project_id.to_owned(),
            source,
        })?;
    let output = storage::output_file(deps.media.root(), project_id);
    let dir = storage::output_dir(deps.media.root(), project_id);
    std::fs::create_dir_all(&dir)
        .map_err(|source| RenderTaskError::OutputDir { path: dir, source })?;

    let mut on_progress = |progress: &Progress| {
        sink.update_progress(
            progress.current_segment,
            progress.total_segments,
            &progress.phase,
            progress.percentage,
        );
    };
    let cancel = CancelToken::from_flag(sink.cancel_flag());
    let options = RenderOptions {
        cache: deps.chunk_cache.open(),
        // So that deleting the project can release the chunks only it used.
        owner: Some(project_id.to_owned()),
        jobs: deps.jobs,
        exchange: deps.exchange.clone(),
    };
    let rendered = deps
        .renderer
        .render(&spec, &output, &options, &mut on_progress, &cancel)?;

    // Before the project reads COMPLETED, so that whoever serves it finds the video.
    deps.media
        .publish_output(project_id)
        .map_err(RenderTaskError::Publish)?;
    let url = storage::output_url(project_id);
    deps.store
        .mark_completed(project_id, &url, rendered.duration)
        .map_err(RenderTaskError::Record)?;
    Ok(RenderResult {
        output_path: url,
        duration: rendered.duration,
        file_size: rendered.file_size,
        subtitles: storage::subtitle_urls(&deps.media, project_id),
        warnings: rendered.warnings,
        chunks_reused: rendered.chunks.reused,
        chunks_encoded: rendered.chunks.encoded,
        chunks_by_helpers: rendered.chunks.by_helpers,
        helpers: rendered
            .chunks
            .helpers
            .into_iter()
            .map(|(worker, chunks)| HelperShare { worker, chunks })
            .collect(),
        worker: deps.worker.clone(),
    })
}

/// Marks the project FAILED; if the database is down too, that is logged and swallowed so the
/// original failure still reaches the task registry.
fn record_failure(project_id: &str, deps: &RenderDeps) {
    if let Err(err) = deps.store.mark_failed(project_id) {
        log::error!(
            "could not mark project {project_id} FAILED: {}",
            error_chain(err.as_ref())
        );
    }
}

/// Deletes the renderer's temporary files in an output folder (after a failure, or left by a
/// process that died mid-render).
pub fn remove_temporary_outputs(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for path in entries.flatten().map(|entry| entry.path()) {
        if core_engine::is_temporary_output(&path) {
            match std::fs::remove_file(&path) {
                Ok(()) => log::warn!("removed temporary output {}", path.display()),
                Err(err) => log::error!("cannot remove {}: {err}", path.display()),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::Ordering;
    use std::sync::Mutex;

    use core_engine::SegmentSpec;

    use super::*;
    use crate::tasks::test_support::{FakeSink, ProgressCall};

    #[derive(Debug, Clone, PartialEq)]
    enum StoreCall {
        Load(String),
        Completed(String, String, f64),
        Failed(String),
    }

    #[derive(Default)]
    struct FakeStore {
        calls: Mutex<Vec<StoreCall>>,
        fail_load: bool,
        fail_writes: bool,
        spec: RenderSpec,
    }

    impl FakeStore {
        fn calls(&self) -> Vec<StoreCall> {
            self.calls.lock().unwrap().clone()
        }

        fn record(&self, call: StoreCall) -> Result<(), StoreError> {
            self.calls.lock().unwrap().push(call);
            Ok(())
        }
    }

    impl ProjectStore for FakeStore {
        fn load_render_spec(&self, project_id: &str) -> Result<RenderSpec, StoreError> {
            self.record(StoreCall::Load(project_id.to_owned()))?;
            if self.fail_load {
                return Err("no such project".into());
            }
            Ok(self.spec.clone())
        }

        fn mark_completed(
            &self,
            project_id: &str,
            output_path: &str,
            duration: f64,
        ) -> Result<(), StoreError> {
            let call = StoreCall::Completed(project_id.into(), output_path.into(), duration);
            self.record(call)?;
            if self.fail_writes {
                return Err("database is locked".into());
            }
            Ok(())
        }

        fn mark_failed(&self, project_id: &str) -> Result<(), StoreError> {
            self.record(StoreCall::Failed(project_id.into()))?;
            if self.fail_writes {
                return Err("database is unavailable".into());
            }
            Ok(())
        }
    }

    enum Outcome {
        Succeed,
        Fail,
        /// Spins until cancelled, the way the real renderer honours the token.
        WaitForCancel,
    }

    /// What a render was given besides the spec.
    #[derive(Debug, Clone, PartialEq)]
    struct RenderCall {
        output: PathBuf,
        cache_dir: Option<PathBuf>,
        owner: Option<String>,
        jobs: usize,
    }

    struct FakeRenderer {
        outcome: Outcome,
        calls: Mutex<Vec<RenderCall>>,
    }

    impl FakeRenderer {
        fn new(outcome: Outcome) -> Self {
            Self {
                outcome,
                calls: Mutex::new(Vec::new()),
            }
        }

        fn outputs(&self) -> Vec<PathBuf> {
            let calls = self.calls.lock().unwrap();
            calls.iter().map(|call| call.output.clone()).collect()
        }
    }

    impl Renderer for FakeRenderer {
        fn render(
            &self,
            _spec: &RenderSpec,
            output: &Path,
            options: &RenderOptions,
            on_progress: &mut dyn FnMut(&Progress),
            cancel: &CancelToken,
        ) -> Result<RenderOutput, RenderError> {
            self.calls.lock().unwrap().push(RenderCall {
                output: output.to_path_buf(),
                cache_dir: options
                    .cache
                    .as_ref()
                    .map(|cache| cache.dir().to_path_buf()),
                owner: options.owner.clone(),
                jobs: options.jobs,
            });
            for (segment, percentage) in [(1, 25.0), (2, 60.0)] {
                on_progress(&Progress {
                    current_segment: segment,
                    total_segments: 2,
                    phase: format!("Rendering segment {segment}/2"),
                    encoded_frames: 0,
                    total_frames: 0,
                    percentage,
                });
            }
            match self.outcome {
                Outcome::Succeed => Ok(RenderOutput {
                    output_path: output.to_path_buf(),
                    duration: 4.5,
                    file_size: 1234,
                    frames: 135,
                    subtitles: None,
                    warnings: vec!["logo missing".into()],
                    chunks: core_engine::ChunkCounts {
                        reused: 2,
                        encoded: 3,
                        by_helpers: 1,
                        helpers: vec![("helper-1".into(), 1)],
                    },
                }),
                Outcome::Fail => Err(RenderError::Verification("no audio stream".into())),
                Outcome::WaitForCancel => {
                    while !cancel.is_cancelled() {
                        std::thread::yield_now();
                    }
                    Err(RenderError::Cancelled)
                }
            }
        }
    }

    const PROJECT: &str = "8f0c3b5e-8a43-4bd5-9d6a-2f1f7a0c9e11";

    fn deps(
        store: FakeStore,
        renderer: FakeRenderer,
    ) -> (
        RenderDeps,
        Arc<FakeStore>,
        Arc<FakeRenderer>,
        tempfile::TempDir,
    ) {
        let media = tempfile::tempdir().unwrap();
        let store = Arc::new(store);
        let renderer = Arc::new(renderer);
        let deps = RenderDeps {
            store: store.clone(),
            renderer: renderer.clone(),
            media: MediaStore::local(media.path()),
            chunk_cache: ChunkCacheConfig {
                dir: media.path().join("chunks"),
                max_bytes: 1 << 20,
                remote: None,
            },
            jobs: 3,
            worker: "test-worker".to_owned(),
            exchange: None,
        };
        (deps, store, renderer, media)
    }

    #[test]
    fn task_id_follows_the_render_convention() {
        assert_eq!(render_task_id(PROJECT), format!("render_{PROJECT}"));
    }

    #[test]
    fn success_records_exactly_the_completion_and_the_task_result() {
        let (deps, store, renderer, media) =
            deps(FakeStore::default(), FakeRenderer::new(Outcome::Succeed));
        let sink = FakeSink::default();
        // What the real renderer leaves next to the video when the segments have text.
        let out = media.path().join(format!("projects/{PROJECT}/output"));
        std::fs::create_dir_all(&out).unwrap();
        for name in ["final.srt", "final.vtt"] {
            std::fs::write(out.join(name), "cues").unwrap();
        }

        let result = render_task_function(PROJECT, "render_x", &deps, &sink).unwrap();

        let url = format!("/media/projects/{PROJECT}/output/final.mp4");
        assert_eq!(
            store.calls(),
            vec![
                StoreCall::Load(PROJECT.into()),
                StoreCall::Completed(PROJECT.into(), url.clone(), 4.5),
            ]
        );
        assert_eq!(
            renderer.outputs(),
            vec![media
                .path()
                .join(format!("projects/{PROJECT}/output/final.mp4"))]
        );
        assert!(media
            .path()
            .join(format!("projects/{PROJECT}/output"))
            .is_dir());
        let expected = serde_json::json!({
            "output_path": url,
            "duration": 4.5,
            "file_size": 1234,
            "subtitles": {
                "srt": format!("/media/projects/{PROJECT}/output/final.srt"),
                "vtt": format!("/media/projects/{PROJECT}/output/final.vtt"),
            },
            "warnings": ["logo missing"],
            "chunks_reused": 2,
            "chunks_encoded": 3,
            "chunks_by_helpers": 1,
            "helpers": [{"worker": "helper-1", "chunks": 1}],
            "worker": "test-worker",
        });
        assert_eq!(serde_json::to_value(&result).unwrap(), expected);
    }

    #[test]
    fn renders_use_the_chunk_cache_for_the_project_with_the_configured_jobs() {
        let (deps, _, renderer, media) =
            deps(FakeStore::default(), FakeRenderer::new(Outcome::Succeed));
        render_task_function(PROJECT, "render_x", &deps, &FakeSink::default()).unwrap();
        assert_eq!(
            *renderer.calls.lock().unwrap(),
            vec![RenderCall {
                output: storage::output_file(media.path(), PROJECT),
                cache_dir: Some(media.path().join("chunks")),
                owner: Some(PROJECT.to_owned()),
                jobs: 3,
            }]
        );
    }

    #[test]
    fn a_cache_folder_that_cannot_be_made_renders_without_the_cache() {
        let (mut deps, _, renderer, media) =
            deps(FakeStore::default(), FakeRenderer::new(Outcome::Succeed));
        let blocker = media.path().join("a file");
        std::fs::write(&blocker, "not a folder").unwrap();
        deps.chunk_cache.dir = blocker.join("chunks");
        render_task_function(PROJECT, "render_x", &deps, &FakeSink::default()).unwrap();
        let calls = renderer.calls.lock().unwrap();
        assert_eq!(calls[0].cache_dir, None);
        assert_eq!(calls[0].owner.as_deref(), Some(PROJECT));
    }

    #[test]
    fn a_render_without_text_reports_no_subtitles() {
        let (deps, ..) = deps(FakeStore::default(), FakeRenderer::new(Outcome::Succeed));
        let result = render_task_function(PROJECT, "render_x", &deps, &FakeSink::default());
        assert_eq!(result.unwrap().subtitles, None);
    }

    #[test]
    fn progress_is_forwarded_with_segment_total_phase_and_percentage() {
        let (deps, ..) = deps(FakeStore::default(), FakeRenderer::new(Outcome::Succeed));
        let sink = FakeSink::default();
        render_task_function(PROJECT, "render_x", &deps, &sink).unwrap();
        assert_eq!(
            *sink.calls.lock().unwrap(),
            vec![
                ProgressCall(1, 2, "Rendering segment 1/2".into(), 25.0),
                ProgressCall(2, 2, "Rendering segment 2/2".into(), 60.0),
            ]
        );
    }

    #[test]
    fn render_error_marks_project_failed_and_task_failed_with_reason() {
        let (deps, store, ..) = deps(FakeStore::default(), FakeRenderer::new(Outcome::Fail));
        let sink = FakeSink::default();

        let err = render_task_function(PROJECT, "render_x", &deps, &sink).unwrap_err();

        assert!(matches!(
            err,
            RenderTaskError::Render(RenderError::Verification(_))
        ));
        assert_eq!(
            store.calls(),
            vec![
                StoreCall::Load(PROJECT.into()),
                StoreCall::Failed(PROJECT.into())
            ]
        );
        let message = error_chain(&err);
        assert!(message.starts_with("render failed: "), "{message}");
        assert!(message.contains("no audio stream"), "{message}");
    }

    #[test]
    fn database_down_during_the_failure_path_is_swallowed() {
        let store = FakeStore {
            fail_writes: true,
            ..FakeStore::default()
        };
        let (deps, store, ..) = deps(store, FakeRenderer::new(Outcome::Fail));
        let sink = FakeSink::default();

        let err = render_task_function(PROJECT, "render_x", &deps, &sink).unwrap_err();

        assert!(matches!(err, RenderTaskError::Render(_)));
        assert_eq!(
            store.calls().last(),
            Some(&StoreCall::Failed(PROJECT.into()))
        );
    }

    #[test]
    fn failure_to_record_success_fails_the_task() {
        let store = FakeStore {
            fail_writes: true,
            ..FakeStore::default()
        };
        let (deps, store, ..) = deps(store, FakeRenderer::new(Outcome::Succeed));
        let sink = FakeSink::default();

        let err = render_task_function(PROJECT, "render_x", &deps, &sink).unwrap_err();

        assert!(matches!(err, RenderTaskError::Record(_)));
        assert_eq!(
            store.calls().last(),
            Some(&StoreCall::Failed(PROJECT.into()))
        );
        assert!(error_chain(&err).contains("database is locked"), "{err:?}");
    }

    #[test]
    fn unknown_project_fails_without_rendering() {
        let store = FakeStore {
            fail_load: true,
            ..FakeStore::default()
        };
        let (deps, _, renderer, _media) = deps(store, FakeRenderer::new(Outcome::Succeed));
        let sink = FakeSink::default();
        let err = render_task_function(PROJECT, "render_x", &deps, &sink).unwrap_err();
        assert!(matches!(err, RenderTaskError::Load { .. }));
        assert!(renderer.outputs().is_empty());
        assert!(error_chain(&err).contains("no such project"), "{err:?}");
    }

    #[test]
    fn cancel_flag_reaches_the_renderer_and_the_error_says_cancelled() {
        let (deps, store, ..) = deps(
            FakeStore::default(),
            FakeRenderer::new(Outcome::WaitForCancel),
        );
        let sink = Arc::new(FakeSink::default());
        let flag = sink.cancel_flag();
        let canceller = std::thread::spawn(move || flag.store(true, Ordering::SeqCst));

        let err = render_task_function(PROJECT, "render_x", &deps, sink.as_ref()).unwrap_err();
        canceller.join().unwrap();

        assert!(err.is_cancelled());
        assert_eq!(
            store.calls().last(),
            Some(&StoreCall::Failed(PROJECT.into()))
        );
    }

    #[test]
    fn a_real_render_failure_names_each_cause_once() {
        let media = tempfile::tempdir().unwrap();
        let image = media.path().join("missing.jpg");
        let audio = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo/audio/01.wav");
        let store = FakeStore {
            spec: RenderSpec {
                segments: vec![SegmentSpec::new(0, &image, audio, "")],
                ..RenderSpec::default()
            },
            ..FakeStore::default()
        };
        let (deps, ..) = deps(store, FakeRenderer::new(Outcome::Succeed));
        let deps = RenderDeps {
            renderer: Arc::new(CoreEngineRenderer),
            ..deps
        };

        let err =
            render_task_function(PROJECT, "render_x", &deps, &FakeSink::default()).unwrap_err();

        let RenderTaskError::Render(cause) = &err else {
            panic!("not a render failure: {err:?}");
        };
        assert!(
            matches!(cause, RenderError::MissingFile { path, .. } if *path == image),
            "{cause:?}"
        );
        let chain = error_chain(&err);
        for message in [err.to_string(), cause.to_string()] {
            assert_eq!(chain.matches(&message).count(), 1, "{message} in {chain}");
        }
        assert_eq!(chain, format!("render failed: {cause}"));
    }

    #[test]
    fn the_error_chain_names_every_cause() {
        let err = RenderTaskError::Record("disk I/O error".into());
        assert_eq!(
            error_chain(&err),
            "the video was rendered but recording it in the database failed: disk I/O error"
        );
    }
}
