//! `storyflow bench --cluster N --database-url URL [--projects K]`: how long K renders queued
//! at once take with N `storyflow worker` processes sharing the queue, against one worker.
//!
//! K photo projects (`--segments` photographs each, rotated and mirrored per project and with
//! texts of their own, so that no two share a chunk) are imported into a fresh database made on the server `URL` points at,
//! once per worker count, with a fresh data folder. The workers are child processes of this
//! binary and are started (and wait for jobs) before the clock starts; the bench then queues
//! every render as `storyflow serve` does and stops the clock when the last one ends. Each
//! project renders at `--width`x`--height`@`--fps` with the database's default settings.
//! Prints one JSON object; each render's worker and chunk counts are in it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use api::db::{self, Database, PostgresUrl};
use api::jobs::{Job, JobQueue};
use api::state::PreviewSize;
use api::storage::MediaStore;
use core_engine::benchmark::write_mirrored_picture;
use core_engine::manifest::Manifest;
use serde_json::{json, Value};
use task_manager::TaskStatus;

use super::common::{project, round, BenchArgs};
use crate::commands::{BoxError, CommandResult};

/// How often the bench looks at the renders' statuses.
const POLL: Duration = Duration::from_millis(100);

pub fn run(args: &BenchArgs, workers: usize) -> CommandResult {
    let admin = args.database.postgres_url()?.ok_or(
        "--cluster needs --database-url: a PostgreSQL server where this user may create \
         databases (scripts/cluster-demo.sh --bench starts one)",
    )?;
    if workers == 0 || args.projects == 0 {
        return Err("--cluster and --projects must be above zero".into());
    }
    let dir = tempfile::tempdir()?;
    let manifests = (0..args.projects)
        .map(|k| write_manifest(args, &dir.path().join(format!("project-{k}")), k))
        .collect::<Result<Vec<_>, _>>()?;
    let mut counts = vec![1];
    if workers > 1 {
        counts.push(workers);
    }
    let mut runs = Vec::new();
    for count in counts {
        eprintln!(
            "cluster bench: {} project(s) on {count} worker(s)",
            manifests.len()
        );
        runs.push(timed_run(&admin, &manifests, count, args)?);
    }
    let one = runs[0]["wall_seconds"].as_f64().unwrap_or(f64::NAN);
    let many = runs[runs.len() - 1]["wall_seconds"]
        .as_f64()
        .unwrap_or(f64::NAN);
    println!(
        "{}",
        json!({
            "projects": args.projects,
            "segments": args.segments,
            "seconds_per_segment": args.seconds,
            "size": format!("{}x{}@{}", args.width, args.height, args.fps),
            "jobs_per_worker": args.jobs,
            "cores": std::thread::available_parallelism().map_or(1, |n| n.get()),
            "workers": workers,
            "one_worker_wall_seconds": round(one, 3),
            "n_workers_wall_seconds": round(many, 3),
            "speedup": round(one / many, 3),
            "runs": runs,
        })
    );
    Ok(())
}

/// Writes project `k` as a manifest in `dir`: the photo project with its pictures rotated by
/// `k` places, mirrored for every other round of rotations, and its texts marked with `k`, so
/// that projects share no chunk (up to twice as many projects as the project has distinct
/// pictures).
fn write_manifest(args: &BenchArgs, dir: &Path, k: usize) -> Result<PathBuf, BoxError> {
    std::fs::create_dir_all(dir)?;
    let spec = project(args, "photos", dir)?;
    let mut pictures: Vec<PathBuf> = spec.segments.iter().map(|s| s.image.clone()).collect();
    pictures.sort();
    pictures.dedup();
    let distinct = pictures.len().max(1);
    if (k / distinct) % 2 == 1 {
        for (i, picture) in pictures.iter_mut().enumerate() {
            let mirrored = dir.join(format!("mirrored-{i}.jpg"));
            write_mirrored_picture(picture, &mirrored)?;
            *picture = mirrored;
        }
    }
    let segments: Vec<Value> = spec
        .segments
        .iter()
        .enumerate()
        .map(|(i, segment)| {
            json!({
                "text_content": format!("Project {k}. {}", segment.text),
                "image": pictures[(i + k) % distinct],
                "audio": segment.audio,
            })
        })
        .collect();
    let manifest = dir.join("manifest.json");
    let body = json!({ "title": format!("Cluster bench {k}"), "segments": segments });
    std::fs::write(&manifest, serde_json::to_vec_pretty(&body)?)?;
    Ok(manifest)
}

/// One timed run with `workers` workers, in a database of its own that is dropped after.
fn timed_run(
    admin: &PostgresUrl,
    manifests: &[PathBuf],
    workers: usize,
    args: &BenchArgs,
) -> Result<Value, BoxError> {
    let name = format!("storyflow_bench_{}_{workers}", std::process::id());
    let url = db::create_database(admin, &name)?;
    let outcome = render_all(&url, manifests, workers, args);
    if let Err(err) = db::drop_database(admin, &name) {
        eprintln!("cluster bench: cannot drop database {name}: {err}");
    }
    outcome
}

/// A worker child, killed and reaped when dropped.
struct WorkerProcess(Child);

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn render_all(
    url: &PostgresUrl,
    manifests: &[PathBuf],
    workers: usize,
    args: &BenchArgs,
) -> Result<Value, BoxError> {
    let data = tempfile::tempdir()?;
    let media = MediaStore::local(api::storage::media_root(data.path()));
    std::fs::create_dir_all(media.root())?;
    let pool = db::build_pool(&Database::Postgres(url.clone()))?;
    db::run_migrations(&pool)?;
    let projects = manifests
        .iter()
        .map(|manifest| {
            let manifest = Manifest::load(manifest)?;
            Ok(api::import::import_manifest(&pool, &media, &manifest)?)
        })
        .collect::<Result<Vec<String>, BoxError>>()?;
    let _workers = (0..workers)
        .map(|i| start_worker(&format!("bench-{i}"), data.path(), url, args.jobs))
        .collect::<Result<Vec<_>, _>>()?;

    let queue = JobQueue::Shared {
        pool: pool.clone(),
        retention: Duration::from_secs(3600),
    };
    let preview = PreviewSize {
        width: args.width,
        height: args.height,
        fps: args.fps,
    };
    let started = Instant::now();
    for project in &projects {
        let mut conn = pool.get()?;
        if !api::repository::try_start_render(&mut conn, project)? {
            return Err(format!("project {project} cannot start rendering").into());
        }
        let job = Job::Render {
            project_id: project.clone(),
            preview: Some(preview),
        };
        queue.submit(&api::tasks::render_task_id(project), job)?;
    }
    let mut renders = Vec::new();
    for project in &projects {
        let task_id = api::tasks::render_task_id(project);
        let snapshot = loop {
            let snapshot = queue
                .status(&task_id)?
                .ok_or_else(|| format!("render {task_id} vanished from the queue"))?;
            if snapshot.task.status.is_finished() {
                break snapshot;
            }
            std::thread::sleep(POLL);
        };
        if snapshot.task.status != TaskStatus::Completed {
            return Err(format!(
                "render {task_id} ended {}: {}",
                snapshot.task.status,
                snapshot.task.error.unwrap_or_default()
            )
            .into());
        }
        let result = snapshot.task.result.unwrap_or_default();
        let seconds = match (snapshot.task.started_at, snapshot.task.finished_at) {
            (Some(start), Some(end)) => (end - start).num_milliseconds() as f64 / 1000.0,
            _ => f64::NAN,
        };
        renders.push(json!({
            "project": project,
            "worker": result["worker"],
            "chunks_encoded": result["chunks_encoded"],
            "chunks_reused": result["chunks_reused"],
            "chunks_by_helpers": result["chunks_by_helpers"],
            "helpers": result["helpers"],
            "duration": result["duration"],
            "render_seconds": round(seconds, 3),
        }));
    }
    let wall = started.elapsed().as_secs_f64();
    Ok(json!({
        "workers": workers,
        "wall_seconds": round(wall, 3),
        "renders": renders,
    }))
}

/// Starts `storyflow worker` and returns once it waits for jobs.
fn start_worker(
    name: &str,
    data_dir: &Path,
    url: &PostgresUrl,
    jobs: usize,
) -> Result<WorkerProcess, BoxError> {
    let mut child = WorkerProcess(
        Command::new(std::env::current_exe()?)
            .args(["worker", "--name", name, "--jobs", &jobs.to_string()])
            .arg("--data-dir")
            .arg(data_dir)
            .env("STORYFLOW_DATABASE_URL", url.as_str())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?,
    );
    let stdout = child
        .0
        .stdout
        .take()
        .ok_or("the worker's output is not piped")?;
    let mut line = String::new();
    BufReader::new(stdout).read_line(&mut line)?;
    if !line.contains("waiting for jobs") {
        return Err(format!("worker {name} did not start: {line:?}").into());
    }
    Ok(child)
}
