//! `storyflow worker`: claims jobs from the shared `jobs` table and runs them, one at a time,
//! on the same `task_manager` executor and task functions the server's in-process worker uses.
//!
//! While a job runs, the worker copies its progress to the table every
//! [`REPORT_EVERY`](super::REPORT_EVERY), which also renews its lease and reads the cancel
//! request. A worker that dies stops renewing; once its lease has run out another worker
//! claims the job and runs it again from the start, reusing every chunk already in the cache.
//! A worker with no job to claim helps a running render: it encodes some of the chunks the
//! render offered (`chunks`) into the shared cache.

use std::collections::HashSet;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use chrono::Utc;
use core_engine::chunk_plan::ChunkKey;
use core_engine::{CancelToken, PlannedRender};
use task_manager::{error_chain, TaskManager, TaskManagerConfig, TaskSnapshot, TaskStatus};
use tts::{PiperEngine, TtsHome};

use super::chunks;
use super::job::{Job, JobRunner};
use super::queue::{with_pg, QueueError};
use super::store::{self, JobRow};
use super::{LEASE, POLL_EVERY, REPORT_EVERY};
use crate::bucket::{BucketError, StoreConfig};
use crate::db::{self, Database, DbError, DbPool, PostgresUrl};
use crate::storage::{self, MediaStore};
use crate::tasks::{remove_temporary_outputs, ChunkCacheConfig, CoreEngineRenderer};

/// How long after its job returns the executor is given to record the outcome, before the
/// worker looks again.
const OUTCOME_WAIT: Duration = Duration::from_millis(2);

/// How a worker is set up.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Holds `media/` and `cache/chunks/`: the same folder as the server's (a shared mount
    /// when the worker runs on another machine), or this machine's copy of `store`'s.
    pub data_dir: PathBuf,
    pub database_url: PostgresUrl,
    /// The bucket media and chunks live in, when machines share no folder.
    pub store: Option<StoreConfig>,
    /// How the job table and results name this worker.
    pub name: String,
    /// Where the text-to-speech runtime and voices are (`None`: narration jobs fail here).
    pub tts_home: Option<TtsHome>,
    /// Bound of the chunk cache, in bytes.
    pub cache_max_bytes: u64,
    /// With `store`: bound of this machine's copies of the bucket's media, in bytes.
    pub media_copy_max_bytes: u64,
    /// Chunks a render encodes at once.
    pub jobs: usize,
    /// How long a claim lasts unless renewed ([`LEASE`]; shorter in tests).
    pub lease: Duration,
}

impl WorkerConfig {
    pub fn new(data_dir: impl Into<PathBuf>, database_url: PostgresUrl) -> Self {
        Self {
            data_dir: data_dir.into(),
            database_url,
            store: None,
            name: worker_name(),
            tts_home: TtsHome::from_env(),
            cache_max_bytes: core_engine::chunk_cache::DEFAULT_MAX_BYTES,
            media_copy_max_bytes: storage::DEFAULT_COPY_MAX_BYTES,
            jobs: core_engine::default_jobs(),
            lease: LEASE,
        }
    }
}

/// `HOST-PID`: unique among live workers, and says where to look.
pub fn worker_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|name| name.trim().to_owned())
        .ok()
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "localhost".to_owned());
    format!("{host}-{}", std::process::id())
}

#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    #[error("cannot create data folder {path}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database")]
    Database(#[from] DbError),
    #[error("media store")]
    Store(#[from] BucketError),
    #[error("the renderer is unavailable: {0}")]
    Renderer(String),
    #[error("task manager")]
    Tasks(#[from] task_manager::TaskError),
}

/// A worker process's state: its database pool, its executor and what its jobs need.
pub struct Worker {
    pool: DbPool,
    tasks: TaskManager,
    runner: Arc<JobRunner>,
    lease: Duration,
    /// The last render this worker helped, as planned: its next batch of the same render
    /// skips the planning.
    plan: Mutex<Option<(String, PlannedRender)>>,
}

impl Worker {
    /// Opens the database (migrating it if this worker is the first to start), checks the
    /// renderer and starts the executor.
    pub fn build(config: WorkerConfig) -> Result<Self, WorkerError> {
        let data_dir =
            std::path::absolute(&config.data_dir).map_err(|source| WorkerError::DataDir {
                path: config.data_dir.clone(),
                source,
            })?;
        let media = MediaStore::open(&data_dir, config.store.as_ref())?
            .with_copy_bound(config.media_copy_max_bytes);
        std::fs::create_dir_all(media.root()).map_err(|source| WorkerError::DataDir {
            path: media.root().to_path_buf(),
            source,
        })?;
        let database = Database::Postgres(config.database_url);
        log::info!(
            "worker {}: data folder {}, database {database}{}",
            config.name,
            data_dir.display(),
            media
                .bucket_url()
                .map(|url| format!(", media and chunks copied from {url}"))
                .unwrap_or_default()
        );
        let pool = db::build_worker_pool(&database, config.jobs)?;
        db::run_migrations(&pool)?;
        let version = core_engine::init()
            .and_then(|version| core_engine::check_elements().map(|()| version))
            .map_err(|err| WorkerError::Renderer(error_chain(&err)))?;
        log::info!("renderer ready ({version})");
        let tts = config.tts_home.map(|home| Arc::new(PiperEngine::new(home)));
        if tts.is_none() {
            log::warn!("narration jobs will fail here: no TTS folder (set HOME)");
        }
        let runner = JobRunner {
            pool: pool.clone(),
            renderer: Arc::new(CoreEngineRenderer),
            chunk_cache: ChunkCacheConfig {
                dir: storage::chunk_cache_dir(&data_dir),
                max_bytes: config.cache_max_bytes,
                remote: media.chunk_remote(),
            },
            media,
            jobs: config.jobs,
            tts,
            worker: config.name,
            share_chunks: true,
        };
        Ok(Self {
            pool,
            tasks: TaskManager::new(TaskManagerConfig::default())?,
            runner: Arc::new(runner),
            lease: config.lease,
            plan: Mutex::new(None),
        })
    }

    pub fn name(&self) -> &str {
        &self.runner.worker
    }

    /// Claims and runs jobs until `stop` is set, then returns once the job in hand is done. A
    /// database that cannot be reached is logged and tried again.
    pub fn run(&self, stop: &AtomicBool) {
        log::info!("worker {} waiting for jobs", self.name());
        while !stop.load(Ordering::Acquire) {
            match self.run_next() {
                Ok(true) => {}
                Ok(false) => std::thread::sleep(POLL_EVERY),
                Err(err) => {
                    log::error!("job queue: {}", error_chain(&err));
                    std::thread::sleep(POLL_EVERY);
                }
            }
        }
        self.tasks.shutdown();
        log::info!("worker {} stopped", self.name());
    }

    /// Claims one job and runs it to its end, or else helps a running render with some of its
    /// chunks; `false` when there was neither.
    pub fn run_next(&self) -> Result<bool, QueueError> {
        for row in with_pg(&self.pool, |conn| Ok(store::fail_exhausted(conn)?))? {
            log::error!(
                "job {} failed: {}",
                row.task_id,
                row.error.as_deref().unwrap_or("")
            );
            if let Ok(job) = serde_json::from_str::<Job>(&row.job) {
                job.abandon(&self.pool);
            }
            if let Err(err) = with_pg(&self.pool, |conn| {
                Ok(chunks::withdraw(conn, &row.task_id, self.name())?)
            }) {
                log::warn!(
                    "job {}: cannot withdraw its chunks: {}",
                    row.task_id,
                    error_chain(&err)
                );
            }
        }
        let claimed = with_pg(&self.pool, |conn| {
            Ok(store::claim(conn, self.name(), self.lease)?)
        })?;
        let Some(row) = claimed else {
            return self.help();
        };
        self.run_claimed(row);
        Ok(true)
    }

    /// With no job to claim: takes some chunks a running render offered and encodes them into
    /// the shared cache; `false` when none was offered.
    fn help(&self) -> Result<bool, QueueError> {
        let claimed = with_pg(&self.pool, |conn| {
            Ok(chunks::claim(
                conn,
                self.name(),
                self.lease,
                self.runner.jobs,
            )?)
        })?;
        let Some(first) = claimed.first() else {
            return Ok(false);
        };
        let render = first.render_task_id.clone();
        let keys: Vec<String> = claimed.iter().map(|c| c.chunk_key.clone()).collect();
        log::info!("helping render {render} with {} chunk(s)", keys.len());
        let made = match serde_json::from_str::<Job>(&first.job) {
            Ok(job) => self.encode_chunks(&render, &job, &keys),
            Err(err) => {
                log::error!("render {render} offered chunks with an unreadable job: {err}");
                Vec::new()
            }
        };
        let left: Vec<String> = keys.iter().filter(|k| !made.contains(k)).cloned().collect();
        let finished = with_pg(&self.pool, |conn| {
            Ok(chunks::finish(conn, &render, self.name(), &made, &left)?)
        });
        if let Err(err) = finished {
            // The render takes them back when the lease runs out; those made are in the cache.
            log::warn!(
                "render {render}: cannot record chunks: {}",
                error_chain(&err)
            );
        }
        if made.is_empty() {
            // Failing here (a folder not mounted, say): not at once again, so as not to take
            // and hand back every chunk of the render before its own encoders reach them.
            std::thread::sleep(POLL_EVERY);
        }
        Ok(true)
    }

    /// Encodes `keys` of the render `job` on a thread while this one renews the lease on them
    /// (and stops the encode if the render withdrew them); the keys made.
    fn encode_chunks(&self, render: &str, job: &Job, keys: &[String]) -> Vec<String> {
        let wanted: HashSet<ChunkKey> = keys.iter().filter_map(|k| ChunkKey::parse(k)).collect();
        let cancel = CancelToken::new();
        let outcome = std::thread::scope(|scope| {
            let encode = scope.spawn(|| {
                let mut plan = self.plan.lock().unwrap_or_else(PoisonError::into_inner);
                self.runner
                    .encode_for(render, job, &wanted, &mut plan, &cancel)
            });
            while !encode.is_finished() {
                std::thread::sleep(REPORT_EVERY);
                let held = with_pg(&self.pool, |conn| {
                    Ok(chunks::renew(conn, render, self.name(), keys, self.lease)?)
                });
                match held {
                    Ok(0) if !cancel.is_cancelled() => {
                        log::info!("render {render} withdrew its chunks; stopping");
                        cancel.cancel();
                    }
                    Ok(_) => {}
                    Err(err) => log::warn!(
                        "render {render}: cannot renew the chunks' lease: {}",
                        error_chain(&err)
                    ),
                }
            }
            encode.join()
        });
        match outcome {
            Ok(Ok(made)) => made.iter().map(ToString::to_string).collect(),
            Ok(Err(err)) if cancel.is_cancelled() => {
                log::debug!(
                    "render {render}: chunks stopped: {}",
                    error_chain(err.as_ref())
                );
                Vec::new()
            }
            Ok(Err(err)) => {
                log::warn!(
                    "render {render}: cannot encode its chunks here: {}",
                    error_chain(err.as_ref())
                );
                Vec::new()
            }
            Err(_) => {
                log::error!("render {render}: encoding its chunks panicked");
                Vec::new()
            }
        }
    }

    fn run_claimed(&self, row: JobRow) {
        let task_id = row.task_id.clone();
        let job = match serde_json::from_str::<Job>(&row.job) {
            Ok(job) => job,
            Err(err) => {
                self.record(&failed(&task_id, format!("unreadable job: {err}")));
                return;
            }
        };
        if row.attempts > 1 {
            log::warn!(
                "job {task_id}: taking it over (attempt {}), its last worker stopped reporting",
                row.attempts
            );
            // Whoever held it is gone: the temporary files it left are nobody's now.
            if let Some(project) = job.rendered_project() {
                remove_temporary_outputs(&storage::output_dir(self.runner.media.root(), project));
            }
        } else {
            log::info!("job {task_id} claimed");
        }
        let cancelled_already = row.cancel_requested;
        let runner = Arc::clone(&self.runner);
        let abandoned = job.clone();
        // Dropped when the job returns or panics, which wakes `follow` at once.
        let (running, ended) = mpsc::sync_channel::<()>(0);
        let submitted = self.tasks.submit(task_id.clone(), move |ctx| {
            let _running = running;
            if cancelled_already {
                ctx.cancel_flag().store(true, Ordering::Release);
            }
            job.run(&runner, ctx)
        });
        match submitted {
            Ok(()) => self.follow(&task_id, &ended),
            Err(err) => {
                self.record(&failed(&task_id, error_chain(&err)));
                abandoned.abandon(&self.pool);
            }
        }
    }

    /// Copies the running job's progress to the table until it ends, passing on a cancel
    /// request; then records its outcome.
    fn follow(&self, task_id: &str, ended: &mpsc::Receiver<()>) {
        let mut holding = true;
        loop {
            if let Err(RecvTimeoutError::Disconnected) = ended.recv_timeout(REPORT_EVERY) {
                // The executor records the outcome right after the job returns.
                std::thread::sleep(OUTCOME_WAIT);
            }
            let Some(snapshot) = self.tasks.get_task_status(task_id) else {
                return;
            };
            if snapshot.status.is_finished() {
                if holding {
                    self.record(&snapshot);
                } else {
                    log::warn!(
                        "job {task_id} ended here as {} after another worker took it over; \
                         that worker's outcome stands",
                        snapshot.status
                    );
                }
                return;
            }
            if !holding {
                continue;
            }
            let reported = with_pg(&self.pool, |conn| {
                Ok(store::report(
                    conn,
                    task_id,
                    self.name(),
                    self.lease,
                    &snapshot,
                )?)
            });
            match reported {
                Ok(Some(true)) if !snapshot.cancel_requested => {
                    log::info!("job {task_id}: cancel requested");
                    if let Err(err) = self.tasks.cancel_task(task_id) {
                        log::debug!("job {task_id}: {err}");
                    }
                }
                Ok(Some(_)) => {}
                Ok(None) => {
                    holding = false;
                    log::error!(
                        "job {task_id}: this worker's lease ran out and another worker took \
                         the job over; letting it finish here without recording it"
                    );
                }
                Err(err) => log::warn!(
                    "job {task_id}: cannot report progress: {}",
                    error_chain(&err)
                ),
            }
        }
    }

    /// Writes a finished job's outcome, trying again for as long as the lease would have
    /// lasted if the database is briefly unreachable.
    fn record(&self, snapshot: &TaskSnapshot) {
        let tries = (self.lease.as_millis() / POLL_EVERY.as_millis()).max(1);
        for _ in 0..tries {
            match with_pg(&self.pool, |conn| {
                Ok(store::finish(conn, self.name(), snapshot)?)
            }) {
                Ok(true) => {
                    log::info!("job {} recorded {}", snapshot.task_id, snapshot.status);
                    return;
                }
                Ok(false) => {
                    log::warn!(
                        "job {} ended as {}, but another worker holds it now",
                        snapshot.task_id,
                        snapshot.status
                    );
                    return;
                }
                Err(err) => {
                    log::warn!(
                        "job {}: cannot record its outcome yet: {}",
                        snapshot.task_id,
                        error_chain(&err)
                    );
                    std::thread::sleep(POLL_EVERY);
                }
            }
        }
        log::error!(
            "job {}: outcome {} not recorded; another worker will run it again",
            snapshot.task_id,
            snapshot.status
        );
    }
}

/// The record of a job that failed before it could run.
fn failed(task_id: &str, error: String) -> TaskSnapshot {
    TaskSnapshot {
        task_id: task_id.to_owned(),
        status: TaskStatus::Failed,
        progress: None,
        result: None,
        detail: None,
        error: Some(error),
        cancel_requested: false,
        created_at: Utc::now(),
        started_at: None,
        finished_at: Some(Utc::now()),
    }
}

impl std::fmt::Debug for Worker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Worker")
            .field("runner", &self.runner)
            .field("lease", &self.lease)
            .finish_non_exhaustive()
    }
}
