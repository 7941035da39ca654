//! Scale-out as it is deployed: one `storyflow serve` and three `storyflow worker` processes on
//! one PostgreSQL database and one shared data folder. Three projects render at once; the worker
//! holding one of them is killed with SIGKILL mid-render; all three still complete (the lost
//! one taken over once its lease runs out). Then one more project renders alone, its chunks
//! shared by the two live workers. Each video decodes to exactly the frames and sound of the
//! same project rendered by an embedded (SQLite) server.
//!
//! Then the same without a shared folder: a server and two workers each with a data folder of
//! their own, media and chunks in an S3 bucket (moto's server, `test_cluster::s3`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use core_engine::benchmark::decoded_digest;
use serde_json::Value;

use crate::support::{demo_manifest, import, serve_with, start, KillOnDrop};

const WORKERS: usize = 3;
/// Small enough to keep the test quick, large enough that a render lasts a few seconds, so
/// the kill lands mid-render.
const PREVIEW: &str = "640x360@30";
/// A lost job is taken over within its lease (10 s) and a poll; the issue allows 30 s.
const TAKEOVER_LIMIT: Duration = Duration::from_secs(30);
const RENDER_TIMEOUT: Duration = Duration::from_secs(180);

/// The demo with every segment's text changed, so it shares with the demo only the chunks
/// without captions (its media are the demo's, by absolute path).
fn edited_demo_manifest(dir: &Path) -> PathBuf {
    let demo = demo_manifest();
    let mut manifest: Value = serde_json::from_slice(&std::fs::read(&demo).unwrap()).unwrap();
    let base = demo.parent().unwrap();
    for segment in manifest["segments"].as_array_mut().unwrap() {
        let text = segment["text_content"].as_str().unwrap();
        segment["text_content"] = Value::from(format!("Told again: {text}"));
        for key in ["image", "audio"] {
            let relative = segment[key].as_str().unwrap();
            segment[key] = Value::from(base.join(relative).to_str().unwrap());
        }
    }
    let path = dir.join("edited.json");
    std::fs::write(&path, serde_json::to_vec(&manifest).unwrap()).unwrap();
    path
}

fn get(url: &str) -> Value {
    reqwest::blocking::get(url).unwrap().json().unwrap()
}

fn start_render(address: &str, project: &str) {
    let response = reqwest::blocking::Client::new()
        .post(format!("{address}/api/projects/{project}/render/"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 202);
}

fn task(address: &str, project: &str) -> Value {
    get(&format!("{address}/api/tasks/render_{project}/status/"))
}

/// Waits until the project's render task has ended; its last status.
fn wait_for_task(address: &str, project: &str) -> Value {
    let deadline = Instant::now() + RENDER_TIMEOUT;
    loop {
        let task = task(address, project);
        if !matches!(task["status"].as_str(), Some("PENDING" | "PROCESSING")) {
            return task;
        }
        assert!(Instant::now() < deadline, "render never ended: {task}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn output_file(data_dir: &Path, project: &str) -> PathBuf {
    data_dir.join(format!("media/projects/{project}/output/final.mp4"))
}

/// `storyflow worker` with the environment `env` (the database URL, and the bucket's).
fn worker(name: &str, data_dir: &Path, env: &[(&str, &str)]) -> KillOnDrop {
    let (child, line) = start(&["worker", "--name", name], data_dir, env);
    assert!(line.contains(&format!("worker {name} waiting")), "{line:?}");
    child
}

#[test]
fn three_workers_render_three_projects_survive_a_kill_9_and_share_one_project() {
    let url = test_cluster::fresh_database();
    let env = [("STORYFLOW_DATABASE_URL", url.as_str())];
    let shared = tempfile::tempdir().unwrap();
    let projects: Vec<String> = (0..3)
        .map(|_| import(&demo_manifest(), shared.path(), &env))
        .collect();
    let (_server, address, _) =
        serve_with("127.0.0.1:0", shared.path(), &["--preview", PREVIEW], &env);
    let mut workers: Vec<(String, Option<KillOnDrop>)> = (0..WORKERS)
        .map(|i| {
            let name = format!("w{i}");
            let child = worker(&name, shared.path(), &env);
            (name, Some(child))
        })
        .collect();

    for project in &projects {
        start_render(&address, project);
    }
    // The first render a worker is running, with progress beyond its start.
    let deadline = Instant::now() + RENDER_TIMEOUT;
    let (victim_project, victim) = loop {
        let running = projects.iter().find_map(|project| {
            let task = task(&address, project);
            let started = task["status"] == "PROCESSING"
                && task["progress"]["percentage"].as_u64().unwrap_or(0) > 0;
            started.then(|| (project.clone(), task["worker"].as_str().unwrap().to_owned()))
        });
        if let Some(found) = running {
            break found;
        }
        assert!(Instant::now() < deadline, "no render started");
        std::thread::sleep(Duration::from_millis(20));
    };
    let killed_at = Instant::now();
    let slot = workers
        .iter_mut()
        .find(|(name, _)| *name == victim)
        .unwrap();
    drop(slot.1.take()); // SIGKILL, reaped
    let state = get(&format!("{address}/api/projects/{victim_project}/status/"));
    assert_eq!(
        state["status"], "PROCESSING",
        "killed after it finished: {state}"
    );

    // Taken over once the lease ran out, by a live worker.
    let deadline = killed_at + TAKEOVER_LIMIT;
    let taken_by = loop {
        let task = task(&address, &victim_project);
        let holder = task["worker"].as_str().unwrap_or_default().to_owned();
        if holder != victim {
            break holder;
        }
        assert!(Instant::now() < deadline, "not taken over: {task}");
        std::thread::sleep(Duration::from_millis(100));
    };
    eprintln!(
        "{victim} killed; its job taken over by {taken_by} after {:?}",
        killed_at.elapsed()
    );

    let mut encoded_by = Vec::new();
    for project in &projects {
        let task = wait_for_task(&address, project);
        assert_eq!(task["status"], "COMPLETED", "{task}");
        let result = &task["result"];
        assert_ne!(result["worker"], victim.as_str(), "{task}");
        encoded_by.push(format!(
            "{}: {} reused, {} encoded",
            result["worker"], result["chunks_reused"], result["chunks_encoded"]
        ));
        let state = get(&format!("{address}/api/projects/{project}/status/"));
        assert_eq!(state["status"], "COMPLETED", "{state}");
    }
    eprintln!("chunks: {encoded_by:?}");

    // One project across the two live workers: the one that claims it offers its chunks, the
    // idle one encodes some of them.
    let manifests = tempfile::tempdir().unwrap();
    let edited = edited_demo_manifest(manifests.path());
    let solo = import(&edited, shared.path(), &env);
    start_render(&address, &solo);
    let solo_task = wait_for_task(&address, &solo);
    assert_eq!(solo_task["status"], "COMPLETED", "{solo_task}");
    let result = &solo_task["result"];
    eprintln!("one project, two workers: {result}");
    let helped = result["chunks_by_helpers"].as_u64().unwrap();
    assert!(helped > 0, "no chunk came from the idle worker: {result}");
    let helpers = result["helpers"].as_array().unwrap();
    assert_eq!(helpers.len(), 1, "{result}");
    assert_ne!(helpers[0]["worker"], result["worker"], "{result}");
    assert_eq!(helpers[0]["chunks"].as_u64(), Some(helped), "{result}");

    // The same projects on an embedded server: the references.
    let embedded = tempfile::tempdir().unwrap();
    let reference_project = import(&demo_manifest(), embedded.path(), &[]);
    let reference_solo = import(&edited, embedded.path(), &[]);
    let (_embedded_server, embedded_address, _) =
        serve_with("127.0.0.1:0", embedded.path(), &["--preview", PREVIEW], &[]);
    let mut references = Vec::new();
    for project in [&reference_project, &reference_solo] {
        start_render(&embedded_address, project);
        let task = wait_for_task(&embedded_address, project);
        assert_eq!(task["status"], "COMPLETED", "{task}");
        let digest = decoded_digest(&output_file(embedded.path(), project)).unwrap();
        assert!(!digest.frames.is_empty());
        assert!(digest.audio.is_some());
        references.push(digest);
    }
    for project in &projects {
        let digest = decoded_digest(&output_file(shared.path(), project)).unwrap();
        assert_eq!(references[0].difference(&digest), None, "project {project}");
    }
    let digest = decoded_digest(&output_file(shared.path(), &solo)).unwrap();
    assert_eq!(references[1].difference(&digest), None, "the shared render");
}

#[test]
fn a_server_and_two_workers_that_share_no_folder_render_through_a_bucket() {
    let url = test_cluster::fresh_database();
    let bucket = test_cluster::s3::fresh_bucket();
    let aws = bucket.env();
    let mut env = vec![
        ("STORYFLOW_DATABASE_URL", url.as_str()),
        ("STORYFLOW_STORE", bucket.url.as_str()),
    ];
    env.extend(aws.iter().map(|(name, value)| (*name, value.as_str())));
    let machines: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    let server_dir = machines[0].path();
    let project = import(&demo_manifest(), server_dir, &env);
    let (_server, address, _) =
        serve_with("127.0.0.1:0", server_dir, &["--preview", PREVIEW], &env);
    let _workers: Vec<KillOnDrop> = machines[1..]
        .iter()
        .enumerate()
        .map(|(i, dir)| worker(&format!("m{i}"), dir.path(), &env))
        .collect();

    start_render(&address, &project);
    let task = wait_for_task(&address, &project);
    assert_eq!(task["status"], "COMPLETED", "{task}");
    let result = &task["result"];
    eprintln!("through the bucket: {result}");
    assert!(
        result["chunks_by_helpers"].as_u64().unwrap() > 0,
        "no chunk came from the other machine: {result}"
    );
    let owner = result["worker"].as_str().unwrap();
    let owner_dir = machines[1 + usize::from(owner == "m1")].path();
    let rendered = std::fs::read(output_file(owner_dir, &project)).unwrap();
    assert!(!output_file(server_dir, &project).exists());

    let url = format!("{address}{}", result["output_path"].as_str().unwrap());
    let served = reqwest::blocking::get(url).unwrap().bytes().unwrap();
    assert!(served == rendered, "the server serves the worker's video");
    let digest = decoded_digest(&output_file(server_dir, &project)).unwrap();
    assert!(!digest.frames.is_empty() && digest.audio.is_some());
}
