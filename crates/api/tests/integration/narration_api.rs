//! Narration from text over real HTTP, with real synthesis by the voice `scripts/setup.sh`
//! installs: voices, a segment's and a project's narration as tasks, the voice test, and what
//! happens when TTS is missing or broken. On both backends: with PostgreSQL the narrations run
//! in a worker through the job queue.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::time::Duration;

use serde_json::{json, Value};

use super::BACKEND;
use crate::common::{spawn_app_on, spawn_with, test_config_on, TestApp};
use crate::support::status_json;

const TASK_TIMEOUT: Duration = Duration::from_secs(120);

/// A project imported from `texts` (one segment each); returns its id and segment ids.
fn project_with(app: &TestApp, texts: &[&str]) -> (String, Vec<String>) {
    let segments: Vec<Value> = texts.iter().map(|t| json!({ "text_content": t })).collect();
    let request = json!({ "format": "json", "title": "Narrated", "segments": segments });
    let (status, body) = status_json(app.post_json("/api/projects/import/", &request));
    assert_eq!(status, 201, "{body}");
    let ids = body["segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    (body["id"].as_str().unwrap().to_owned(), ids)
}

fn wait_for_task(app: &TestApp, task_id: &str) -> Value {
    app.poll_json(
        &format!("/api/tasks/{task_id}/status/"),
        TASK_TIMEOUT,
        |task| matches!(task["status"].as_str(), Some("COMPLETED" | "FAILED")),
    )
    .pop()
    .unwrap()
}

fn generate(app: &TestApp, segment: &str) -> (u16, Value) {
    status_json(app.post_empty(&format!("/api/segments/{segment}/generate-audio/")))
}

fn segment(app: &TestApp, id: &str) -> Value {
    status_json(app.get(&format!("/api/segments/{id}/"))).1
}

/// Seconds of a 16-bit PCM WAV, and whether it holds more than near-silence.
fn wav_facts(bytes: &[u8]) -> (f64, bool) {
    assert_eq!(&bytes[..4], b"RIFF");
    let rate = u32::from_le_bytes(bytes[24..28].try_into().unwrap());
    let samples: Vec<i16> = bytes[44..]
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    let rms =
        (samples.iter().map(|&s| f64::from(s).powi(2)).sum::<f64>() / samples.len() as f64).sqrt();
    (samples.len() as f64 / f64::from(rate), rms > 300.0)
}

#[test]
fn voices_list_the_installed_default_voice() {
    let app = spawn_app_on(BACKEND);
    let (status, voices) = status_json(app.get("/api/settings/voices/"));
    assert_eq!(status, 200);
    let voice = |id: &str| {
        voices
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["id"] == id)
            .unwrap_or_else(|| panic!("{id} is not listed: {voices}"))
            .clone()
    };
    let joe = voice("en_US-joe-medium");
    assert_eq!(joe["name"], "Joe");
    assert_eq!(joe["accent"], "US");
    assert_eq!(
        (&joe["gender"], &joe["language"]),
        (&json!("Male"), &json!("en-US"))
    );
    let heart = voice("af_heart");
    assert_eq!(heart["name"], "Heart");
    assert_eq!(
        (&heart["gender"], &heart["language"]),
        (&json!("Female"), &json!("en-US"))
    );
}

#[test]
fn a_segment_is_narrated_by_a_task_and_speed_is_honoured() {
    let app = spawn_app_on(BACKEND);
    let text = "The lighthouse keeper counted 1987 storms. Each one, he said, was different.";
    let (_, segments) = project_with(&app, &[text]);
    let sid = &segments[0];

    let (status, body) = generate(&app, sid);
    assert_eq!(status, 202, "{body}");
    let task_id = body["task_id"].as_str().unwrap();
    let hex = task_id.strip_prefix(&format!("tts_{sid}_")).unwrap();
    assert!(hex.len() == 8 && hex.chars().all(|c| c.is_ascii_hexdigit()));
    assert_eq!(body["status"], "PENDING");

    let task = wait_for_task(&app, task_id);
    assert_eq!(task["status"], "COMPLETED", "{task}");
    // Fresh settings name the default voice, which is installed: no warning.
    assert_eq!(task["result"]["warnings"], json!([]), "{task}");
    assert_eq!(task["completed_segments"][0]["segment_id"], sid.as_str());
    assert_eq!(task["completed_segments"][0]["voice"], "af_heart");

    let narrated = segment(&app, sid);
    let url = narrated["audio_file"].as_str().unwrap().to_owned();
    // The word timings sit beside the clip: one per word of the text, in order.
    let words_url = url.replace(".wav", ".words.json");
    let (status, words) = status_json(app.get(&words_url));
    assert_eq!(status, 200, "{words_url}");
    let spoken: Vec<&str> = words
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["word"].as_str().unwrap())
        .collect();
    assert_eq!(spoken, text.split_whitespace().collect::<Vec<_>>());
    let normal = narrated["audio_duration"].as_f64().unwrap();
    assert!(
        (3.0..12.0).contains(&normal),
        "{normal} s for two sentences"
    );
    let (seconds, audible) = wav_facts(&app.get(&url).bytes().unwrap());
    assert!((seconds - normal).abs() < 0.01 && audible);

    let (status, _) = status_json(app.patch_json("/api/settings/", &json!({ "tts_speed": 2.0 })));
    assert_eq!(status, 200);
    let (_, body) = generate(&app, sid);
    let task = wait_for_task(&app, body["task_id"].as_str().unwrap());
    assert_eq!(task["status"], "COMPLETED", "{task}");
    let fast = segment(&app, sid);
    let quick = fast["audio_duration"].as_f64().unwrap();
    assert!(
        quick < normal * 0.8,
        "speed 2.0 gave {quick} s against {normal} s"
    );
    assert_eq!(
        app.get(&url).status(),
        404,
        "the previous narration is removed"
    );
    assert_eq!(app.get(&words_url).status(), 404, "and its word timings");
    let folder = app.media_root().join(
        Path::new(
            fast["audio_file"]
                .as_str()
                .unwrap()
                .trim_start_matches("/media/"),
        )
        .parent()
        .unwrap(),
    );
    assert_eq!(
        std::fs::read_dir(folder).unwrap().count(),
        2,
        "one clip and its word timings, no leftovers"
    );
}

#[test]
fn a_kokoro_voice_that_is_not_installed_falls_back_by_gender() {
    let app = spawn_app_on(BACKEND);
    let (_, segments) = project_with(&app, &["A short line."]);
    let patch = json!({ "default_voice_id": "am_adam" });
    let (status, settings) = status_json(app.patch_json("/api/settings/", &patch));
    assert_eq!(status, 200, "{settings}");
    // The editor's picker is shown the voice that will really speak.
    assert_eq!(settings["default_voice_id"], "en_US-joe-medium");
    let (_, body) = generate(&app, &segments[0]);
    let task = wait_for_task(&app, body["task_id"].as_str().unwrap());
    assert_eq!(task["status"], "COMPLETED", "{task}");
    assert_eq!(task["completed_segments"][0]["voice"], "en_US-joe-medium");
    assert_eq!(
        task["result"]["warnings"],
        json!(["voice `am_adam` is not installed; used `en_US-joe-medium` instead"])
    );
}

#[test]
fn bad_segment_requests_are_refused_with_reasons() {
    let app = spawn_app_on(BACKEND);
    let long = "word ".repeat(1100);
    let (_, segments) = project_with(&app, &["Locked text.", "Fine.", &long]);
    let (status, _) = status_json(app.patch_json(
        &format!("/api/segments/{}/", segments[0]),
        &json!({ "is_locked": true }),
    ));
    assert_eq!(status, 200);
    assert_eq!(generate(&app, &segments[0]).0, 409);
    let (status, body) = generate(&app, &segments[2]);
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("5000"), "{body}");
    let (status, _) = status_json(app.patch_json(
        &format!("/api/segments/{}/", segments[1]),
        &json!({ "text_content": "   " }),
    ));
    assert_eq!(status, 200);
    let (status, body) = generate(&app, &segments[1]);
    assert_eq!(status, 400, "{body}");
    assert_eq!(generate(&app, &uuid::Uuid::new_v4().to_string()).0, 404);
    assert_eq!(generate(&app, "not-a-uuid").0, 404);
}

#[test]
fn a_project_is_narrated_in_one_batch_that_skips_what_it_should() {
    let app = spawn_app_on(BACKEND);
    let (project, segments) = project_with(
        &app,
        &["First, a short line.", "Locked away.", "Third, and last."],
    );
    let (status, _) = status_json(app.patch_json(
        &format!("/api/segments/{}/", segments[1]),
        &json!({ "is_locked": true }),
    ));
    assert_eq!(status, 200);
    let path = format!("/api/projects/{project}/generate-all-audio/");
    let options = json!({ "skip_locked": true, "force_regenerate": false });
    let (status, body) = status_json(app.post_json(&path, &options));
    assert_eq!(status, 202, "{body}");
    assert_eq!(
        (
            &body["segments_to_process"],
            &body["skipped_locked"],
            &body["total_segments"]
        ),
        (&json!(2), &json!(1), &json!(3))
    );
    let task_id = body["task_id"].as_str().unwrap();
    assert!(task_id.starts_with(&format!("tts_batch_{project}_")));
    let task = wait_for_task(&app, task_id);
    assert_eq!(task["status"], "COMPLETED", "{task}");
    let done: Vec<&str> = task["completed_segments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["segment_id"].as_str().unwrap())
        .collect();
    assert_eq!(done, [segments[0].as_str(), segments[2].as_str()]);
    assert_eq!(task["errors"], json!([]));
    assert!(segment(&app, &segments[1])["audio_file"].is_null());

    // Nothing left to do: still a task the editor can poll, finished at once.
    let (status, body) = status_json(app.post_json(&path, &options));
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["segments_to_process"], 0);
    assert_eq!(body["skipped_existing"], 2);
    let task = wait_for_task(&app, body["task_id"].as_str().unwrap());
    assert_eq!(task["status"], "COMPLETED");
    assert_eq!(task["completed_segments"], json!([]));
}

#[test]
fn the_voice_test_answers_with_a_wav() {
    let app = spawn_app_on(BACKEND);
    let path = "/api/settings/tts-test/";
    let response = app.post_json(
        path,
        &json!({ "text": "Testing, one, two.", "voice": "af_bella", "speed": 1.0 }),
    );
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "audio/wav");
    let (seconds, audible) = wav_facts(&response.bytes().unwrap());
    assert!(seconds > 0.5 && audible, "{seconds}");

    let (status, body) = status_json(app.post_json(path, &json!({ "text": " " })));
    assert_eq!((status, &body["error"]), (400, &json!("text is required")));
    let (status, body) = status_json(app.post_json(path, &json!({ "text": "x".repeat(501) })));
    assert_eq!(status, 400);
    assert!(body["error"].as_str().unwrap().contains("500"), "{body}");
    let (status, _) = status_json(app.post_json(path, &json!({ "text": "Hi.", "speed": 3.0 })));
    assert_eq!(status, 400);
}

#[test]
fn text_the_voice_cannot_speak_fails_clearly_and_keeps_the_old_narration() {
    let app = spawn_app_on(BACKEND);
    let (_, segments) = project_with(&app, &["Hello there.", "你好，世界。"]);
    let (_, body) = generate(&app, &segments[1]);
    let task = wait_for_task(&app, body["task_id"].as_str().unwrap());
    // Best effort or a clear failure, never a crash: either way the server keeps serving.
    if task["status"] == "FAILED" {
        assert!(
            task["errors"][0]["error"].as_str().unwrap().len() > 10,
            "{task}"
        );
        assert!(segment(&app, &segments[1])["audio_file"].is_null());
    }
    let (_, body) = generate(&app, &segments[0]);
    assert_eq!(
        wait_for_task(&app, body["task_id"].as_str().unwrap())["status"],
        "COMPLETED"
    );
}

#[test]
fn without_tts_the_endpoints_say_how_to_install_it_and_the_rest_works() {
    let empty = tempfile::tempdir().unwrap();
    let data = tempfile::tempdir().unwrap();
    let mut config = test_config_on(BACKEND, data.path());
    config.tts_home = Some(tts::TtsHome::new(empty.path()));
    let app = spawn_with(config);
    let (_, segments) = project_with(&app, &["Hello."]);
    let (status, body) = generate(&app, &segments[0]);
    assert_eq!(status, 503, "{body}");
    assert!(
        body["error"].as_str().unwrap().contains("scripts/setup.sh"),
        "{body}"
    );
    let (status, voices) = status_json(app.get("/api/settings/voices/"));
    assert_eq!((status, voices), (200, json!([])));
    let response = app.post_json("/api/settings/tts-test/", &json!({ "text": "Hi." }));
    assert_eq!(response.status(), 503);
    assert_eq!(app.get("/api/projects/").status(), 200);
}

#[test]
fn a_corrupt_voice_fails_the_task_with_its_reason_and_keeps_the_old_narration() {
    let installed = tts::TtsHome::from_env().unwrap();
    let home = tempfile::tempdir().unwrap();
    let broken = tts::TtsHome::new(home.path());
    let library = broken.runtime_library();
    std::fs::create_dir_all(library.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(installed.runtime_library(), &library).unwrap();
    std::fs::create_dir_all(broken.voices_dir()).unwrap();
    let voice = "en_US-joe-medium";
    std::fs::copy(
        installed.voices_dir().join(format!("{voice}.onnx.json")),
        broken.voices_dir().join(format!("{voice}.onnx.json")),
    )
    .unwrap();
    std::fs::write(
        broken.voices_dir().join(format!("{voice}.onnx")),
        b"not a model",
    )
    .unwrap();

    let data = tempfile::tempdir().unwrap();
    let mut config = test_config_on(BACKEND, data.path());
    config.tts_home = Some(broken);
    let app = spawn_with(config);
    let (_, segments) = project_with(&app, &["Hello."]);
    let narration = crate::support::wav(1.0);
    let (status, _) = status_json(crate::support::upload(
        &app,
        &format!("/api/segments/{}/upload-audio/", segments[0]),
        "audio",
        "voice.wav",
        "audio/wav",
        &narration,
    ));
    assert_eq!(status, 200);
    let before = segment(&app, &segments[0])["audio_file"].clone();

    let (status, body) = generate(&app, &segments[0]);
    assert_eq!(status, 202, "{body}");
    let task = wait_for_task(&app, body["task_id"].as_str().unwrap());
    assert_eq!(task["status"], "FAILED", "{task}");
    let reason = task["errors"][0]["error"].as_str().unwrap();
    assert!(
        reason.contains(voice) && reason.contains("setup.sh"),
        "{reason}"
    );
    assert_eq!(segment(&app, &segments[0])["audio_file"], before);
    assert_eq!(app.get("/api/projects/").status(), 200);
}
