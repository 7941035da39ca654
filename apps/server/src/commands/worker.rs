//! `storyflow worker`.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use api::jobs::{Worker, WorkerConfig};

use super::cache::{jobs_parser, mb_to_bytes, DEFAULT_CACHE_MAX_MB};
use super::database::DatabaseArgs;
use super::store::{MediaCacheArgs, StoreArgs};
use super::CommandResult;

#[derive(Debug, clap::Args)]
pub struct WorkerArgs {
    /// The folder the server uses (media/ and cache/chunks/): the same path, or a shared mount
    /// of it on another machine; with --store, this machine's copy of the bucket.
    #[arg(long, env = "STORYFLOW_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    /// Required: the PostgreSQL database the server queues jobs in.
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    store: StoreArgs,
    /// How this worker is named in the job table and in render results (default HOST-PID).
    #[arg(long, env = "STORYFLOW_WORKER_NAME")]
    name: Option<String>,
    /// Bound of the chunk cache (DATA_DIR/cache/chunks) in MiB.
    #[arg(long, value_name = "N", env = "STORYFLOW_CACHE_MAX_MB", default_value_t = DEFAULT_CACHE_MAX_MB)]
    cache_max_mb: u64,
    #[command(flatten)]
    media_cache: MediaCacheArgs,
    /// Chunks a render encodes at once, each by a single-thread libx264 (default: one per core).
    #[arg(long, value_name = "N", env = "STORYFLOW_JOBS", default_value_t = core_engine::default_jobs(), value_parser = jobs_parser())]
    jobs: usize,
}

#[derive(Debug, thiserror::Error)]
#[error(
    "storyflow worker takes its jobs from a PostgreSQL database: set --database-url or \
     STORYFLOW_DATABASE_URL to the server's"
)]
struct NoDatabase;

pub fn run(args: WorkerArgs) -> CommandResult {
    let url = args.database.postgres_url()?.ok_or(NoDatabase)?;
    let mut config = WorkerConfig::new(args.data_dir, url);
    config.store = args.store.config();
    if let Some(name) = args.name {
        config.name = name;
    }
    config.cache_max_bytes = mb_to_bytes(args.cache_max_mb);
    config.media_copy_max_bytes = args.media_cache.max_bytes();
    config.jobs = args.jobs;
    let worker = Worker::build(config)?;

    let stop = Arc::new(AtomicBool::new(false));
    let signals = AtomicUsize::new(0);
    let on_signal = Arc::clone(&stop);
    ctrlc::set_handler(move || {
        if signals.fetch_add(1, Ordering::AcqRel) == 0 {
            eprintln!(
                "stopping after the current job (stop again to quit now: another worker \
                 takes the job over when its lease runs out)"
            );
            on_signal.store(true, Ordering::Release);
        } else {
            std::process::exit(130);
        }
    })?;
    println!("StoryFlow worker {} waiting for jobs", worker.name());
    worker.run(&stop);
    Ok(())
}
