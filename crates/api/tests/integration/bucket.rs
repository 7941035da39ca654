//! Media and chunks in an S3-compatible bucket (`--store`), against a real S3 server (moto's,
//! started by `test_cluster::s3`): the bucket's transfers, two machines' media folders kept as
//! copies of one bucket, and a render whose worker shares no folder with the server.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use api::bucket::{Bucket, StoreConfig};
use api::storage::{self, MediaKind, MediaStore};
use serde_json::{json, Value};
use test_cluster::s3::{fresh_bucket, TestBucket};

use crate::common::{spawn_app_with_store, TestApp};
use crate::support::{png, upload};

const RENDER_TIMEOUT: Duration = Duration::from_secs(120);

fn store(bucket: &TestBucket) -> StoreConfig {
    StoreConfig {
        url: bucket.url.clone(),
        options: bucket.options(),
    }
}

/// Bytes that differ from one position to the next, so a misplaced part shows.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ seed)
        .collect()
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn the_bucket_round_trips_files_and_folders() {
    let test = fresh_bucket();
    let bucket = Bucket::open(&store(&test)).unwrap();
    let dir = tempfile::tempdir().unwrap();

    // Larger than one part: the upload is a multipart one.
    let video = pattern(9 << 20, 1);
    write(&dir.path().join("video.mp4"), &video);
    bucket
        .upload(
            "media/projects/p/output/final.mp4",
            &dir.path().join("video.mp4"),
        )
        .unwrap();
    let head = bucket
        .head("media/projects/p/output/final.mp4")
        .unwrap()
        .unwrap();
    assert_eq!(head.size, video.len() as u64);
    let copy = dir.path().join("copy/final.mp4");
    let etag = bucket
        .download("media/projects/p/output/final.mp4", &copy)
        .unwrap();
    assert_eq!(etag.as_deref(), Some(head.etag.as_str()));
    assert_eq!(std::fs::read(&copy).unwrap(), video);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("copy"))
        .unwrap()
        .collect();
    assert_eq!(leftovers.len(), 1, "no temporary file is left");

    let absent = dir.path().join("absent.mp4");
    assert_eq!(bucket.download("media/nothing.mp4", &absent).unwrap(), None);
    assert!(!absent.exists());
    assert_eq!(bucket.head("media/nothing.mp4").unwrap(), None);

    // Content-keyed names are written once: a second upload keeps the first bits.
    write(&dir.path().join("one"), b"first");
    write(&dir.path().join("two"), b"second");
    bucket
        .upload_new("cache/chunks/k.mp4", &dir.path().join("one"))
        .unwrap();
    bucket
        .upload_new("cache/chunks/k.mp4", &dir.path().join("two"))
        .unwrap();
    let chunk = dir.path().join("k.mp4");
    bucket
        .download("cache/chunks/k.mp4", &chunk)
        .unwrap()
        .unwrap();
    assert_eq!(std::fs::read(&chunk).unwrap(), b"first");

    write(&dir.path().join("image"), b"jpeg");
    for name in ["a.jpg", "b.jpg"] {
        bucket
            .upload(
                &format!("media/projects/p/images/{name}"),
                &dir.path().join("image"),
            )
            .unwrap();
    }
    bucket.delete("media/projects/p/images/a.jpg").unwrap();
    bucket.delete("media/projects/p/images/a.jpg").unwrap();
    assert_eq!(bucket.delete_folder("media/projects/p").unwrap(), 2);
    assert_eq!(bucket.head("media/projects/p/images/b.jpg").unwrap(), None);
    assert!(bucket.head("cache/chunks/k.mp4").unwrap().is_some());
}

#[test]
fn two_media_folders_are_copies_of_one_bucket() {
    let test = fresh_bucket();
    let (here, there) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let server = MediaStore::open(here.path(), Some(&store(&test))).unwrap();
    let worker = MediaStore::open(there.path(), Some(&store(&test))).unwrap();

    // A narration written on the worker, with its word timings, reaches the server.
    let audio = storage::fresh_media_path("p", MediaKind::Audio, "wav");
    let words = tts::words_path(Path::new(&audio))
        .to_string_lossy()
        .into_owned();
    write(&worker.path(&words), b"[]");
    write(&worker.path(&audio), b"RIFF");
    worker.publish(&audio).unwrap();
    assert!(server.exists(&audio).unwrap());
    assert!(!server.path(&audio).exists(), "exists() fetches nothing");
    assert!(server.fetch(&audio).unwrap());
    assert_eq!(std::fs::read(server.path(&audio)).unwrap(), b"RIFF");
    assert_eq!(std::fs::read(server.path(&words)).unwrap(), b"[]");

    // A video rendered again on the worker replaces the server's copy.
    let video = storage::output_relative("p").to_string_lossy().into_owned();
    write(&worker.path(&video), b"first render");
    worker.publish_output("p").unwrap();
    assert!(server.fetch(&video).unwrap());
    assert_eq!(std::fs::read(server.path(&video)).unwrap(), b"first render");
    write(&worker.path(&video), b"second render");
    worker.publish_output("p").unwrap();
    assert_eq!(server.size(&video).unwrap(), Some(13));
    assert!(server.fetch(&video).unwrap());
    assert_eq!(
        std::fs::read(server.path(&video)).unwrap(),
        b"second render"
    );

    // Removing on one machine removes from the bucket; a machine that never had the file
    // finds it nowhere, and a removed video is not served from a stale copy.
    server.remove(&audio);
    let elsewhere = tempfile::tempdir().unwrap();
    let third = MediaStore::open(elsewhere.path(), Some(&store(&test))).unwrap();
    assert!(!third.exists(&audio).unwrap());
    assert!(!third.exists(&words).unwrap());
    worker.remove_project("p").unwrap();
    assert!(!server.fetch(&video).unwrap());
    assert!(!server.path(&video).exists());
}

#[test]
fn a_machine_s_copies_are_trimmed_least_recently_used_first() {
    let test = fresh_bucket();
    let (here, there) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let server = MediaStore::open(here.path(), Some(&store(&test))).unwrap();
    let worker = MediaStore::open(there.path(), Some(&store(&test)))
        .unwrap()
        .with_copy_bound(2500);
    let audio = storage::fresh_media_path("p", MediaKind::Audio, "wav");
    let words = tts::words_path(Path::new(&audio))
        .to_string_lossy()
        .into_owned();
    let images: Vec<String> = (0..4)
        .map(|_| storage::fresh_media_path("p", MediaKind::Image, "jpg"))
        .collect();
    write(&server.path(&words), &[b'x'; 10]);
    for relative in images.iter().chain([&audio]) {
        write(&server.path(relative), &[7; 1000]);
        server.publish(relative).unwrap();
    }
    // Only on the worker (written, not yet sent): never removed, it may be the only copy.
    let local_only = storage::fresh_media_path("p", MediaKind::Image, "png");
    write(&worker.path(&local_only), &[1; 100]);
    // Used in this order: the worker's own file, the narration, then the pictures.
    let mut when = 1_000_000;
    for relative in [&local_only, &audio].into_iter().chain(&images) {
        if relative != &local_only {
            assert!(worker.fetch(relative).unwrap());
        }
        let file = std::fs::File::options()
            .append(true)
            .open(worker.path(relative))
            .unwrap();
        file.set_modified(std::time::UNIX_EPOCH + Duration::from_secs(when))
            .unwrap();
        when += 60;
    }
    assert!(worker.path(&words).is_file());

    // 5110 bytes over a bound of 2500, the first picture spared: the narration (with its
    // word timings) and the next two pictures go.
    assert_eq!(worker.trim_copies(&[images[0].as_str()]).unwrap(), 3);
    let left: Vec<bool> = [&local_only, &audio, &words]
        .into_iter()
        .chain(&images)
        .map(|relative| worker.path(relative).is_file())
        .collect();
    assert_eq!(left, [true, false, false, true, false, false, true]);
    assert_eq!(worker.trim_copies(&[]).unwrap(), 0, "within the bound");
    assert!(worker.fetch(&audio).unwrap(), "fetched again when needed");
    assert!(worker.path(&words).is_file());
    assert_eq!(
        server.trim_copies(&[]).unwrap(),
        0,
        "no bound, nothing trimmed"
    );
}

#[test]
fn a_worker_that_shares_no_folder_with_the_server_renders_through_the_bucket() {
    let app = spawn_app_with_store(store(&fresh_bucket()), |_| {});
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo/manifest.json");
    let manifest = core_engine::manifest::Manifest::load(&manifest).unwrap();
    let project = api::import::import_manifest(&app.pool(), &app.media(), &manifest).unwrap();

    let first = render(&app, &project);
    let encoded = first["chunks_encoded"].as_u64().unwrap();
    assert!(encoded > 0, "{first}");
    let worker_dir = app.worker_dir.as_ref().unwrap().path();
    let url = first["output_path"].as_str().unwrap();
    let relative = url.strip_prefix("/media/").unwrap();
    let rendered = std::fs::read(storage::media_root(worker_dir).join(relative)).unwrap();
    assert!(
        !app.media_root().join(relative).exists(),
        "the server has no copy before it is asked for the video"
    );
    let served = app.get(url);
    assert_eq!(served.status(), 200);
    assert!(
        served.bytes().unwrap() == rendered,
        "the worker's video is served"
    );
    let gallery: Value = app.get("/api/gallery/").json().unwrap();
    assert_eq!(gallery[0]["file_size"], rendered.len() as u64, "{gallery}");
    let subtitles = &gallery[0]["subtitles"];
    assert_eq!(app.get(subtitles["vtt"].as_str().unwrap()).status(), 200);

    // The worker's own chunk cache is gone (another machine, say): the bucket's chunks serve.
    std::fs::remove_dir_all(storage::chunk_cache_dir(worker_dir)).unwrap();
    std::fs::remove_dir_all(storage::media_root(worker_dir)).unwrap();
    let second = render(&app, &project);
    assert_eq!(second["chunks_encoded"], 0, "{second}");
    assert_eq!(second["chunks_reused"].as_u64(), Some(encoded), "{second}");
    // The server's copy of the first video is replaced by the second (its mvhd dates differ).
    let rerendered = std::fs::read(storage::media_root(worker_dir).join(relative)).unwrap();
    assert!(
        app.get(url).bytes().unwrap() == rerendered,
        "the new video is served"
    );
}

#[test]
fn a_narration_made_on_the_worker_is_served_by_the_server() {
    let app = spawn_app_with_store(store(&fresh_bucket()), |_| {});
    let request = json!({
        "format": "json", "title": "Narrated",
        "segments": [{ "text_content": "The keeper counted the storms." }],
    });
    let created: Value = app
        .post_json("/api/projects/import/", &request)
        .json()
        .unwrap();
    let segment = created["segments"][0]["id"].as_str().unwrap();

    let started: Value = app
        .post_empty(&format!("/api/segments/{segment}/generate-audio/"))
        .json()
        .unwrap();
    let task_id = started["task_id"].as_str().unwrap();
    let task = app
        .poll_json(
            &format!("/api/tasks/{task_id}/status/"),
            RENDER_TIMEOUT,
            |task| matches!(task["status"].as_str(), Some("COMPLETED" | "FAILED")),
        )
        .pop()
        .unwrap();
    assert_eq!(task["status"], "COMPLETED", "{task}");
    let narrated: Value = app
        .get(&format!("/api/segments/{segment}/"))
        .json()
        .unwrap();
    let url = narrated["audio_file"].as_str().unwrap();
    let relative = url.strip_prefix("/media/").unwrap();
    assert!(
        !app.media_root().join(relative).exists(),
        "written on the worker"
    );
    let audio = app.get(url);
    assert_eq!(audio.status(), 200);
    assert_eq!(&audio.bytes().unwrap()[..4], b"RIFF");
    let words: Value = app.get(&url.replace(".wav", ".words.json")).json().unwrap();
    assert_eq!(words.as_array().unwrap().len(), 5, "{words}");
}

#[test]
fn the_server_trims_its_copies_and_fetches_them_again_when_asked() {
    let pictures = [png(64, 36), png(48, 27)];
    let room = pictures.iter().map(Vec::len).max().unwrap() as u64;
    let app = spawn_app_with_store(store(&fresh_bucket()), |config| {
        config.media_copy_max_bytes = room;
        config.trim_every = Duration::from_millis(100);
    });
    let request = json!({
        "format": "json", "title": "Pictures",
        "segments": [{ "text_content": "One." }, { "text_content": "Two." }],
    });
    let created: Value = app
        .post_json("/api/projects/import/", &request)
        .json()
        .unwrap();
    let urls: Vec<String> = pictures
        .iter()
        .enumerate()
        .map(|(i, picture)| {
            let segment = created["segments"][i]["id"].as_str().unwrap();
            let path = format!("/api/segments/{segment}/upload-image/");
            let response = upload(&app, &path, "image", "p.png", "image/png", picture);
            assert_eq!(response.status(), 200);
            let body: Value = response.json().unwrap();
            body["image_file"].as_str().unwrap().to_owned()
        })
        .collect();
    let local = |url: &str| app.media_root().join(url.strip_prefix("/media/").unwrap());

    // Both are in the bucket; room for one: the least recently used copy goes.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while local(&urls[0]).exists() {
        assert!(std::time::Instant::now() < deadline, "never trimmed");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(local(&urls[1]).exists());
    let served = app.get(&urls[0]);
    assert_eq!(served.status(), 200);
    assert!(
        served.bytes().unwrap() == pictures[0],
        "fetched again from the bucket"
    );
}

/// Renders `project` and returns the task's result once it has COMPLETED.
fn render(app: &TestApp, project: &str) -> Value {
    let started = app.post_empty(&format!("/api/projects/{project}/render/"));
    assert_eq!(started.status(), 202);
    let tasks = app.poll_json(
        &format!("/api/tasks/render_{project}/status/"),
        RENDER_TIMEOUT,
        |task| matches!(task["status"].as_str(), Some("COMPLETED" | "FAILED")),
    );
    let task = tasks.last().unwrap();
    assert_eq!(task["status"], "COMPLETED", "{task}");
    task["result"].clone()
}
