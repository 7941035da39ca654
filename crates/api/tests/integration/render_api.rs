//! The render REST API over real HTTP, with tiny real renders of the demo fixture.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::sync::{Arc, Barrier};
use std::time::Duration;

use api::models::{ProjectStatus, SettingsUpdate};
use api::repository;
use serde_json::{json, Value};

use super::BACKEND;
use crate::common::{spawn_app_on, Backend, TestApp};
use crate::support::{png, status_json, upload};

const RENDER_TIMEOUT: Duration = Duration::from_secs(120);

fn demo_manifest() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo/manifest.json")
}

pub(crate) fn import_demo(app: &TestApp) -> String {
    let manifest = core_engine::manifest::Manifest::load(&demo_manifest()).unwrap();
    api::import::import_manifest(&app.pool(), &app.media(), &manifest).unwrap()
}

pub(crate) fn status_path(project: &str) -> String {
    format!("/api/projects/{project}/status/")
}

pub(crate) fn wait_until_finished(app: &TestApp, project: &str) -> Vec<Value> {
    app.poll_json(&status_path(project), RENDER_TIMEOUT, |body| {
        matches!(body["status"].as_str(), Some("COMPLETED" | "FAILED"))
    })
}

fn percentages(bodies: &[Value]) -> Vec<u64> {
    bodies
        .iter()
        .filter_map(|body| body["progress"]["percentage"].as_u64())
        .collect()
}

pub(crate) fn project_row(app: &TestApp, project: &str) -> api::models::Project {
    repository::get_project(&mut app.pool().get().unwrap(), project).unwrap()
}

/// The duration the render task recorded for the project's video.
fn last_duration(app: &TestApp, project: &str) -> f64 {
    project_row(app, project).output_duration.unwrap()
}

fn output_dir(app: &TestApp, project: &str) -> PathBuf {
    app.media_root().join(format!("projects/{project}/output"))
}

fn hidden_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.path())
                .filter(|path| core_engine::is_temporary_output(path))
                .collect()
        })
        .unwrap_or_default()
}

/// On PostgreSQL: the worker's own connections, status polling and the outcome's columns, end
/// to end.
#[test]
fn render_completes_and_serves_the_video() {
    let app = spawn_app_on(BACKEND);
    let project = import_demo(&app);

    let started = app.post_empty(&format!("/api/projects/{project}/render/"));
    assert_eq!(started.status(), 202);
    let body: Value = started.json().unwrap();
    assert_eq!(body["task_id"], format!("render_{project}"));
    assert_eq!(body["project_id"], project.as_str());
    assert_eq!(body["status"], "PROCESSING");
    assert_eq!(body["total_segments"], 4);

    let again = app.post_empty(&format!("/api/projects/{project}/render/"));
    assert_eq!(again.status(), 409);

    let bodies = wait_until_finished(&app, &project);
    let last = bodies.last().unwrap();
    assert_eq!(last["status"], "COMPLETED", "{last}");
    let seen = percentages(&bodies);
    assert!(seen.windows(2).all(|w| w[0] <= w[1]), "{seen:?}");
    assert_eq!(seen.last(), Some(&100));
    let url = format!("/media/projects/{project}/output/final.mp4");
    assert_eq!(last["output_url"], url.as_str());
    assert_eq!(last["progress"]["current_phase"], "Export complete");

    // A worker records the task's outcome just after the project's.
    let tasks = app.poll_json(
        &format!("/api/tasks/render_{project}/status/"),
        RENDER_TIMEOUT,
        |task| task["status"] != "PROCESSING",
    );
    let task = tasks.last().unwrap();
    assert_eq!(task["status"], "COMPLETED", "{task}");
    let result = &task["result"];
    assert_eq!(result["chunks_reused"], 0, "{task}");
    assert!(result["chunks_encoded"].as_u64().unwrap() > 0, "{task}");
    let worker = result["worker"].as_str().unwrap();
    assert!(!worker.is_empty());
    match BACKEND {
        Backend::Postgres => assert_eq!(task["worker"], worker, "{task}"),
        Backend::Sqlite => assert!(task.get("worker").is_none(), "{task}"),
    }

    let row = project_row(&app, &project);
    assert_eq!(row.status, ProjectStatus::Completed);
    assert_eq!(row.output_path.as_deref(), Some(url.as_str()));

    let video = app.get(&url);
    assert_eq!(video.status(), 200);
    assert_eq!(video.headers()["content-type"], "video/mp4");
    let bytes = video.bytes().unwrap();
    assert!(bytes.len() > 1000);
    assert_eq!(&bytes[4..8], b"ftyp");

    // The editor's Download on a reopened project prefixes output_path with /media/ again.
    let doubled = app.get(&format!("/media/{url}"));
    assert_eq!(doubled.status(), 200);
    assert_eq!(doubled.bytes().unwrap(), bytes);

    let gallery: Value = app.get("/api/gallery/").json().unwrap();
    let duration = gallery[0]["duration"].as_f64().unwrap();
    assert!(
        (duration - last_duration(&app, &project)).abs() < 1e-9,
        "{gallery}"
    );

    let ranged = app
        .client
        .get(app.url(&format!("{url}?t=123")))
        .header("Range", "bytes=100-199")
        .send()
        .unwrap();
    assert_eq!(ranged.status(), 206);
    assert_eq!(
        ranged.headers()["content-range"],
        format!("bytes 100-199/{}", bytes.len()).as_str()
    );
    assert_eq!(ranged.bytes().unwrap(), bytes.slice(100..200));

    let task: Value = app
        .get(&format!("/api/tasks/render_{project}/status/"))
        .json()
        .unwrap();
    assert_eq!(task["status"], "COMPLETED");
    assert_eq!(task["result"]["output_path"], url.as_str());
    assert!(task["result"]["file_size"].as_u64().unwrap() > 0);
    assert!(hidden_files(&output_dir(&app, &project)).is_empty());
}

/// The keys in the app's chunk cache.
fn cached_chunks(app: &TestApp) -> Vec<String> {
    let cache = core_engine::chunk_cache::ChunkCache::open(
        api::storage::chunk_cache_dir(&app.data_dir),
        core_engine::chunk_cache::DEFAULT_MAX_BYTES,
    )
    .unwrap();
    let mut keys: Vec<String> = cache
        .entries()
        .unwrap()
        .into_iter()
        .map(|entry| entry.key.to_string())
        .collect();
    keys.sort();
    keys
}

#[test]

fn deleting_a_project_releases_the_chunks_only_it_used() {
    let app = spawn_app_on(BACKEND);
    // Same pictures, narration and text: the two projects share every chunk.
    let (first, second) = (import_demo(&app), import_demo(&app));
    for project in [&first, &second] {
        let started = app.post_empty(&format!("/api/projects/{project}/render/"));
        assert_eq!(started.status(), 202);
        let last = wait_until_finished(&app, project).pop().unwrap();
        assert_eq!(last["status"], "COMPLETED", "{last}");
    }
    let chunks = cached_chunks(&app);
    assert!(!chunks.is_empty());

    assert_eq!(app.delete(&format!("/api/projects/{first}/")).status(), 204);
    assert_eq!(
        cached_chunks(&app),
        chunks,
        "the second project still uses them"
    );
    assert_eq!(
        app.delete(&format!("/api/projects/{second}/")).status(),
        204
    );
    assert_eq!(cached_chunks(&app), Vec::<String>::new());
}

/// With PostgreSQL the one click that wins also queues exactly one job, which a worker runs.
#[test]
fn concurrent_render_clicks_start_exactly_one_render() {
    let app = spawn_app_on(BACKEND);
    let project = import_demo(&app);
    let path = app.url(&format!("/api/projects/{project}/render/"));
    let barrier = Arc::new(Barrier::new(20));
    let statuses: Vec<u16> = (0..20)
        .map(|_| {
            let (barrier, path, client) = (barrier.clone(), path.clone(), app.client.clone());
            std::thread::spawn(move || {
                barrier.wait();
                client.post(&path).send().unwrap().status().as_u16()
            })
        })
        .collect::<Vec<_>>()
        .into_iter()
        .map(|handle| handle.join().unwrap())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 202).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
    let last = wait_until_finished(&app, &project).pop().unwrap();
    assert_eq!(last["status"], "COMPLETED", "{last}");
}

#[test]
fn corrupt_image_fails_with_reason_and_the_next_render_still_completes() {
    let app = spawn_app_on(BACKEND);
    let broken = import_demo(&app);
    let healthy = import_demo(&app);
    let segments = repository::list_segments(&mut app.pool().get().unwrap(), &broken).unwrap();
    let image = app
        .media_root()
        .join(segments[1].image_file.as_ref().unwrap());
    std::fs::write(&image, b"this is not an image at all").unwrap();

    assert_eq!(
        app.post_empty(&format!("/api/projects/{broken}/render/"))
            .status(),
        202
    );
    assert_eq!(
        app.post_empty(&format!("/api/projects/{healthy}/render/"))
            .status(),
        202
    );

    let failed = wait_until_finished(&app, &broken).pop().unwrap();
    assert_eq!(failed["status"], "FAILED", "{failed}");
    let reason = failed["error"].as_str().unwrap();
    assert!(reason.contains("segment 2"), "{reason}");
    assert_eq!(failed["output_url"], Value::Null);
    assert_eq!(project_row(&app, &broken).status, ProjectStatus::Failed);
    assert!(!output_dir(&app, &broken).join("final.mp4").exists());
    assert!(hidden_files(&output_dir(&app, &broken)).is_empty());

    let done = wait_until_finished(&app, &healthy).pop().unwrap();
    assert_eq!(done["status"], "COMPLETED", "{done}");
}

#[test]
fn a_damaged_picture_fails_the_render_and_keeps_the_last_good_video() {
    let app = spawn_app_on(BACKEND);
    let project = import_demo(&app);
    let render = format!("/api/projects/{project}/render/");
    assert_eq!(app.post_empty(&render).status(), 202);
    let done = wait_until_finished(&app, &project).pop().unwrap();
    assert_eq!(done["status"], "COMPLETED", "{done}");
    let video = output_dir(&app, &project).join("final.mp4");
    let good = std::fs::read(&video).unwrap();

    // The first segment's JPEG cut short: its header still reads, its scan does not.
    let segments = repository::list_segments(&mut app.pool().get().unwrap(), &project).unwrap();
    let image = app
        .media_root()
        .join(segments[0].image_file.as_ref().unwrap());
    let bytes = std::fs::read(&image).unwrap();
    std::fs::write(&image, &bytes[..bytes.len() * 2 / 3]).unwrap();

    assert_eq!(app.post_empty(&render).status(), 202);
    let failed = wait_until_finished(&app, &project).pop().unwrap();
    assert_eq!(failed["status"], "FAILED", "{failed}");
    let reason = failed["error"].as_str().unwrap();
    let file_name = image.file_name().unwrap().to_string_lossy();
    for part in ["segment 1", file_name.as_ref(), "damaged or truncated"] {
        assert!(reason.contains(part), "{part:?} missing from {reason}");
    }
    assert_eq!(
        std::fs::read(&video).unwrap(),
        good,
        "the last good video stays"
    );
    assert!(hidden_files(&output_dir(&app, &project)).is_empty());
}

/// With PostgreSQL the cancel crosses processes: the server marks the job, the worker reads it
/// with its next progress report and stops the render.
#[test]
fn cancel_mid_render_fails_the_project_and_leaves_no_file() {
    let app = spawn_app_on(BACKEND);
    let project = import_demo(&app);
    assert_eq!(
        app.post_empty(&format!("/api/projects/{project}/render/"))
            .status(),
        202
    );
    // Running, not just queued: the cancel must reach the render itself.
    app.poll_json(&status_path(&project), RENDER_TIMEOUT, |body| {
        body["status"] == "PROCESSING"
            && body["progress"]["current_phase"]
                .as_str()
                .is_some_and(|phase| !phase.starts_with("Queued"))
    });

    let asked = std::time::Instant::now();
    let cancelled = app.post_empty(&format!("/api/projects/{project}/cancel-render/"));
    assert_eq!(cancelled.status(), 200);
    eprintln!("{BACKEND:?}: cancel answered after {:?}", asked.elapsed());
    let body: Value = cancelled.json().unwrap();
    assert_eq!(body["status"], "CANCELLING");
    let status: Value = app.get(&status_path(&project)).json().unwrap();
    assert_eq!(status["status"], "FAILED");

    // The answer waits for the render to stop, so the task has ended by now.
    let task: Value = app
        .get(&format!("/api/tasks/render_{project}/status/"))
        .json()
        .unwrap();
    assert_eq!(task["status"], "CANCELLED", "{task}");
    assert_eq!(project_row(&app, &project).status, ProjectStatus::Failed);
    let status: Value = app.get(&status_path(&project)).json().unwrap();
    assert_eq!(status["status"], "FAILED");
    assert_eq!(status["error"], "Cancelled by user");
    assert!(!output_dir(&app, &project).join("final.mp4").exists());
    assert!(hidden_files(&output_dir(&app, &project)).is_empty());

    let not_rendering = app.post_empty(&format!("/api/projects/{project}/cancel-render/"));
    assert_eq!(not_rendering.status(), 409);
}

#[test]
fn render_right_after_the_cancel_answer_starts_a_new_render() {
    let app = spawn_app_on(BACKEND);
    let project = import_demo(&app);
    let render = format!("/api/projects/{project}/render/");
    assert_eq!(app.post_empty(&render).status(), 202);
    app.poll_json(&status_path(&project), RENDER_TIMEOUT, |body| {
        body["status"] == "PROCESSING" && !body["progress"].is_null()
    });

    let cancelled = app.post_empty(&format!("/api/projects/{project}/cancel-render/"));
    assert_eq!(cancelled.status(), 200);
    // The answer comes once the render has stopped and cleaned up after itself.
    assert!(hidden_files(&output_dir(&app, &project)).is_empty());
    assert_eq!(project_row(&app, &project).status, ProjectStatus::Failed);
    assert_eq!(app.post_empty(&render).status(), 202);

    let bodies = wait_until_finished(&app, &project);
    assert_eq!(bodies.last().unwrap()["status"], "COMPLETED");
}

#[test]
fn render_refuses_bad_ids_empty_projects_and_missing_media() {
    let app = spawn_app_on(BACKEND);
    assert_eq!(
        app.post_empty("/api/projects/not-a-uuid/render/").status(),
        404
    );
    let unknown = "/api/projects/00000000-0000-4000-8000-000000000000/render/";
    assert_eq!(app.post_empty(unknown).status(), 404);
    assert_eq!(
        app.get("/api/projects/00000000-0000-4000-8000-000000000000/status/")
            .status(),
        404
    );
    assert_eq!(app.get("/api/tasks/render_nothing/status/").status(), 404);

    let empty = repository::create_project(&mut app.pool().get().unwrap(), "Empty").unwrap();
    let response = app.post_empty(&format!("/api/projects/{}/render/", empty.id));
    assert_eq!(response.status(), 400);
    let body: Value = response.json().unwrap();
    assert!(body["message"].as_str().unwrap().contains("no segments"));

    let project = import_demo(&app);
    let mut conn = app.pool().get().unwrap();
    let segments = repository::list_segments(&mut conn, &project).unwrap();
    repository::set_segment_image(&mut conn, &segments[0].id, None).unwrap();
    let audio = app
        .media_root()
        .join(segments[2].audio_file.as_ref().unwrap());
    std::fs::remove_file(audio).unwrap();
    let response = app.post_empty(&format!("/api/projects/{project}/render/"));
    assert_eq!(response.status(), 400);
    let body: Value = response.json().unwrap();
    assert_eq!(body["missing_images"], json!([segments[0].id]));
    assert_eq!(body["missing_audio"], json!([segments[2].id]));
    assert!(body["message"].is_string());
    assert_eq!(project_row(&app, &project).status, ProjectStatus::Draft);

    let status: Value = app.get(&status_path(&project)).json().unwrap();
    assert_eq!(
        status,
        json!({"project_id": project, "status": "DRAFT", "progress": null, "output_url": null,
               "subtitles": null})
    );
}

#[test]
fn media_never_serves_outside_the_media_root() {
    let app = spawn_app_on(BACKEND);
    import_demo(&app);
    std::fs::write(app.data_dir.join("secret.txt"), b"secret").unwrap();
    for path in [
        "/media/../secret.txt",
        "/media/%2e%2e/secret.txt",
        "/media/%2E%2E/storyflow.sqlite3",
        "/media/projects/%2e%2e/%2e%2e/secret.txt",
        "/media/..%2fsecret.txt",
        "/media/%2fetc%2fpasswd",
        "/media/projects/..%5c..%5csecret.txt",
    ] {
        let response = app.get(path);
        assert_eq!(response.status(), 404, "{path}");
    }
}

#[test]
fn health_reports_gstreamer() {
    let app = spawn_app_on(BACKEND);
    let body: Value = app.get("/api/health/").json().unwrap();
    assert_eq!(body["status"], "ok");
    assert!(
        body["gstreamer"].as_str().unwrap().contains("GStreamer"),
        "{body}"
    );
}

/// A project with text, a custom font and a logo, all set through the API, renders with no
/// warning; its subtitle sidecars sit next to the video, are listed by status, task and
/// gallery, and serve the cues.
#[test]
fn subtitles_font_and_logo_render_and_sidecars_are_listed_and_served() {
    let app = spawn_app_on(BACKEND);
    let project = import_demo(&app);
    let font = std::fs::read("/usr/share/fonts/truetype/dejavu/DejaVuSerif.ttf").unwrap();
    let (status, body) = status_json(upload(
        &app,
        "/api/settings/font/upload/",
        "font",
        "Serif.ttf",
        "font/ttf",
        &font,
    ));
    assert_eq!(status, 200, "{body}");
    let (status, logo) = status_json(upload(
        &app,
        "/api/settings/logos/",
        "file",
        "mark.png",
        "image/png",
        &png(40, 20),
    ));
    assert_eq!(status, 201, "{logo}");
    let (status, body) = status_json(app.patch_json(
        "/api/settings/",
        &json!({
            "logo_enabled": true, "active_logo": logo["id"], "logo_scale": 0.2,
            "logo_position": "top-left", "logo_opacity": 0.8, "logo_margin": 10,
            "subtitle_color": "#FF0", "subtitle_font_size": 60, "subtitle_position": "top",
            "transition_duration": 0.25,
        }),
    ));
    assert_eq!(status, 200, "{body}");

    assert_eq!(
        app.post_empty(&format!("/api/projects/{project}/render/"))
            .status(),
        202
    );
    let last = wait_until_finished(&app, &project).pop().unwrap();
    assert_eq!(last["status"], "COMPLETED", "{last}");
    let expected = json!({
        "srt": format!("/media/projects/{project}/output/final.srt"),
        "vtt": format!("/media/projects/{project}/output/final.vtt"),
    });
    assert_eq!(last["subtitles"], expected);
    let out = output_dir(&app, &project);
    assert!(out.join("final.srt").is_file() && out.join("final.vtt").is_file());

    let task: Value = app
        .get(&format!("/api/tasks/render_{project}/status/"))
        .json()
        .unwrap();
    assert_eq!(task["result"]["subtitles"], expected);
    // The font and the logo were both usable: nothing fell back or was left out (the demo's
    // small fourth picture may still be reported as enlarged).
    let warnings = task["result"]["warnings"].as_array().unwrap();
    assert!(
        warnings.iter().all(|warning| {
            let warning = warning.as_str().unwrap();
            !warning.contains("logo") && !warning.contains("font")
        }),
        "{warnings:?}"
    );

    let (_, gallery) = status_json(app.get("/api/gallery/"));
    assert_eq!(gallery[0]["id"], json!(project));
    assert_eq!(gallery[0]["subtitles"], expected);

    // Served under /media/, both files hold the same cues: every narration word, in order.
    let narration: Vec<String> = core_engine::manifest::Manifest::load(&demo_manifest())
        .unwrap()
        .to_spec()
        .unwrap()
        .segments
        .iter()
        .flat_map(|segment| segment.text.split_whitespace().map(str::to_owned))
        .collect();
    let fetch = |url: &Value| {
        let response = app.get(url.as_str().unwrap());
        assert_eq!(response.status(), 200);
        response.text().unwrap()
    };
    let srt = core_engine::subtitles::parse_srt(&fetch(&expected["srt"])).unwrap();
    let vtt = core_engine::subtitles::parse_vtt(&fetch(&expected["vtt"])).unwrap();
    assert_eq!(srt, vtt);
    let words: Vec<&str> = srt
        .iter()
        .flat_map(|cue| cue.text.split_whitespace())
        .collect();
    assert_eq!(words, narration);
    assert_eq!(srt[0].start, 0.0);
    assert!(srt.windows(2).all(|w| w[0].end <= w[1].start), "{srt:?}");
}

#[test]
fn settings_the_renderer_cannot_use_are_refused_before_rendering() {
    let app = spawn_app_on(BACKEND);
    let project = import_demo(&app);
    let render = || status_json(app.post_empty(&format!("/api/projects/{project}/render/")));
    // PATCH refuses these; they can only come from elsewhere (an older version, a hand edit).
    for (changes, named) in [
        (
            SettingsUpdate {
                subtitle_color: Some("#GG0000".into()),
                ..SettingsUpdate::default()
            },
            "subtitle_color",
        ),
        (
            SettingsUpdate {
                zoom_intensity: Some(2.5),
                ..SettingsUpdate::default()
            },
            "zoom_intensity 2.5 must be from 1 to 2",
        ),
    ] {
        let mut conn = app.pool().get().unwrap();
        let saved = repository::get_settings(&mut conn).unwrap();
        repository::update_settings(&mut conn, &changes).unwrap();
        let (status, body) = render();
        assert_eq!(status, 400, "{body}");
        let message = body["message"].as_str().unwrap();
        assert!(
            message.starts_with("Cannot render with the current settings: "),
            "{message}"
        );
        assert!(message.contains(named), "{message}");
        assert_eq!(body["error"], body["message"]);
        assert_eq!(
            (&body["missing_images"], &body["missing_audio"]),
            (&json!([]), &json!([]))
        );
        assert_eq!(project_row(&app, &project).status, ProjectStatus::Draft);
        assert_eq!(
            app.get(&format!("/api/tasks/render_{project}/status/"))
                .status(),
            404
        );
        let restore = SettingsUpdate {
            subtitle_color: Some(saved.subtitle_color),
            zoom_intensity: Some(saved.zoom_intensity),
            ..SettingsUpdate::default()
        };
        repository::update_settings(&mut conn, &restore).unwrap();
    }
    // Off, the subtitle style is not used, so it is no reason to refuse.
    let mut conn = app.pool().get().unwrap();
    let off = SettingsUpdate {
        subtitles_enabled: Some(false),
        subtitle_color: Some("#GG0000".into()),
        ..SettingsUpdate::default()
    };
    repository::update_settings(&mut conn, &off).unwrap();
    let (status, body) = render();
    assert_eq!(status, 202, "{body}");
    let last = wait_until_finished(&app, &project).pop().unwrap();
    assert_eq!(last["status"], "COMPLETED", "{last}");
    // Sidecars are written whenever there is text, burned in or not.
    assert!(last["subtitles"].is_object(), "{last}");
}
