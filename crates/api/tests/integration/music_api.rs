//! Background music and loudness over real HTTP: the music upload (checked by decoding),
//! replacement and removal, the sound settings' validation, and a render that mixes music.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use core_engine::spec::{LOUDNESS_TARGET, MIN_MUSIC_SECONDS, MUSIC_DUCKING, MUSIC_VOLUME};
use core_engine::{MusicSpec, SoundSettings};
use serde_json::{json, Value};

use super::BACKEND;
use crate::common::{files_in, spawn_app_on, spawn_with, test_config_on, TestApp};
use crate::support::{png, status_json, upload, wav};

const MUSIC: &str = "/api/settings/music/";

fn upload_music(app: &TestApp, filename: &str, data: &[u8]) -> (u16, Value) {
    status_json(upload(app, MUSIC, "music", filename, "audio/wav", data))
}

fn settings(app: &TestApp) -> Value {
    let (status, body) = status_json(app.get("/api/settings/"));
    assert_eq!(status, 200, "{body}");
    body
}

/// Every entry of the media root's music folder, hidden temporary files included.
fn music_folder(app: &TestApp) -> Vec<String> {
    files_in(app.media_root().join("music"))
}

/// The file a `/media/music/...` URL names, by its name in the music folder.
fn music_name(url: &Value) -> String {
    url.as_str()
        .unwrap()
        .strip_prefix("/media/music/")
        .unwrap()
        .to_owned()
}

fn media_file(app: &TestApp, url: &Value) -> PathBuf {
    app.media_root().join(format!("music/{}", music_name(url)))
}

#[test]
fn music_is_uploaded_replaced_and_removed() {
    let app = spawn_app_on(BACKEND);
    let defaults = settings(&app);
    assert_eq!(defaults["music_enabled"], false);
    assert_eq!(defaults["music_file"], Value::Null);
    assert_eq!(defaults["music_volume"], MusicSpec::DEFAULT_VOLUME);
    assert_eq!(defaults["music_ducking_db"], MusicSpec::DEFAULT_DUCKING_DB);
    assert_eq!(
        defaults["loudness_target_lufs"],
        SoundSettings::DEFAULT_LOUDNESS_TARGET_LUFS
    );

    let first = wav(MIN_MUSIC_SECONDS + 0.5);
    let (status, body) = upload_music(&app, "Theme Song.wav", &first);
    assert_eq!(status, 200, "{body}");
    let url = body["music_file"].clone();
    assert!(url.as_str().unwrap().ends_with(".wav"), "{url}");
    let stem = music_name(&url).strip_suffix(".wav").unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&stem).is_ok(), "{url}");
    assert_eq!(settings(&app)["music_file"], url);
    // Uploading stores the music; whether it plays is a setting of its own.
    assert_eq!(body["music_enabled"], false);
    assert_eq!(std::fs::read(media_file(&app, &url)).unwrap(), first);
    let served = app.get(url.as_str().unwrap());
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().unwrap(), first);

    // A second upload replaces the first, whose file goes.
    let second = wav(MIN_MUSIC_SECONDS * 3.0);
    let (status, body) = upload_music(&app, "other.wav", &second);
    assert_eq!(status, 200, "{body}");
    let replaced = body["music_file"].clone();
    assert_ne!(replaced, url);
    assert_eq!(music_folder(&app), [music_name(&replaced)]);

    let (status, body) = status_json(app.delete(MUSIC));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["music_file"], Value::Null);
    assert_eq!(settings(&app)["music_file"], Value::Null);
    assert!(music_folder(&app).is_empty());
    // With no music stored, DELETE answers the settings as they are.
    let (status, body) = status_json(app.delete(MUSIC));
    assert_eq!((status, &body["music_file"]), (200, &Value::Null));
}

#[test]
fn music_that_is_not_usable_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config_on(BACKEND, dir.path());
    config.limits.music_bytes = 64 * 1024;
    let app = spawn_with(config);
    let (status, body) = upload_music(&app, "kept.wav", &wav(MIN_MUSIC_SECONDS + 0.5));
    assert_eq!(status, 200, "{body}");
    let kept = music_folder(&app);
    let before = settings(&app);

    let refusals = [
        (
            "junk.mp3",
            b"this is not music at all".to_vec(),
            400,
            "Invalid audio file",
        ),
        (
            "short.wav",
            wav(MIN_MUSIC_SECONDS / 2.0),
            400,
            "Music too short",
        ),
        (
            "song.txt",
            wav(MIN_MUSIC_SECONDS + 0.5),
            400,
            "Unsupported music format",
        ),
        (
            "song",
            wav(MIN_MUSIC_SECONDS + 0.5),
            400,
            "Unsupported music format",
        ),
        ("big.wav", vec![0u8; 200 * 1024], 413, "File too large"),
    ];
    for (filename, data, expected, error) in refusals {
        let (status, body) = upload_music(&app, filename, &data);
        assert_eq!(status, expected, "{filename}: {body}");
        assert!(
            body["error"].as_str().unwrap().starts_with(error),
            "{filename}: {body}"
        );
        assert_eq!(settings(&app), before, "{filename}");
        assert_eq!(music_folder(&app), kept, "{filename}");
    }
    let (status, body) = status_json(upload(
        &app,
        MUSIC,
        "file",
        "theme.wav",
        "audio/wav",
        &wav(2.0),
    ));
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "No music file provided");
    assert_eq!(music_folder(&app), kept);
}

#[test]
fn sound_settings_are_validated_and_stored() {
    let app = spawn_app_on(BACKEND);
    let before = settings(&app);
    let refusals = [
        ("music_volume", json!(MUSIC_VOLUME.max + 0.5)),
        ("music_volume", json!(MUSIC_VOLUME.min - 0.1)),
        ("music_ducking_db", json!(MUSIC_DUCKING.max + 1.0)),
        ("music_ducking_db", json!(MUSIC_DUCKING.min - 1.0)),
        ("loudness_target_lufs", json!(LOUDNESS_TARGET.max + 4.0)),
        ("loudness_target_lufs", json!(LOUDNESS_TARGET.min - 1.0)),
        ("loudness_target_lufs", json!("-16")),
        ("music_enabled", json!("yes")),
        ("music_file", json!(null)),
    ];
    for (field, value) in refusals {
        // Beside a valid field, which is not applied either.
        let body = json!({ field: value, "logo_opacity": 0.5 });
        let (status, errors) = status_json(app.patch_json("/api/settings/", &body));
        assert_eq!(status, 400, "{body}: {errors}");
        let fields: Vec<&String> = errors.as_object().unwrap().keys().collect();
        assert_eq!(fields, [field], "{body}: {errors}");
    }
    assert_eq!(settings(&app), before);

    let body = json!({
        "music_enabled": true, "music_volume": 0.6, "music_ducking_db": 18,
        "loudness_target_lufs": null,
    });
    let (status, updated) = status_json(app.patch_json("/api/settings/", &body));
    assert_eq!(status, 200, "{updated}");
    let stored = settings(&app);
    assert_eq!(stored["music_enabled"], true);
    assert_eq!(stored["music_volume"], 0.6);
    assert_eq!(stored["music_ducking_db"], 18.0);
    assert_eq!(stored["loudness_target_lufs"], Value::Null);

    // The editor's own PATCHes, which know nothing of sound, leave it alone.
    let (status, updated) =
        status_json(app.patch_json("/api/settings/", &json!({ "subtitle_font_size": 52 })));
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["loudness_target_lufs"], Value::Null);
    assert_eq!(updated["music_volume"], 0.6);
    let (status, updated) =
        status_json(app.patch_json("/api/settings/", &json!({ "loudness_target_lufs": -23 })));
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["loudness_target_lufs"], -23.0);
}

#[test]
fn a_render_with_music_completes() {
    let app = spawn_app_on(BACKEND);
    let request = json!({ "format": "text", "title": "Tune", "raw_text": "One line." });
    let (status, project) = status_json(app.post_json("/api/projects/import/", &request));
    assert_eq!(status, 201, "{project}");
    let project = project["id"].as_str().unwrap().to_owned();
    let segments: Value = app
        .get(&format!("/api/segments/?project={project}"))
        .json()
        .unwrap();
    let segment = segments["results"][0]["id"].as_str().unwrap().to_owned();
    let files = [
        ("upload-image", "image", "one.png", png(64, 36)),
        ("upload-audio", "audio", "one.wav", wav(1.0)),
    ];
    for (endpoint, field, filename, data) in files {
        let path = format!("/api/segments/{segment}/{endpoint}/");
        let (status, body) = status_json(upload(&app, &path, field, filename, "", &data));
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = upload_music(&app, "theme.wav", &wav(MIN_MUSIC_SECONDS + 0.5));
    assert_eq!(status, 200, "{body}");
    let body = json!({ "music_enabled": true, "music_volume": 0.5, "loudness_target_lufs": -20 });
    let (status, body) = status_json(app.patch_json("/api/settings/", &body));
    assert_eq!(status, 200, "{body}");

    let started = app.post_empty(&format!("/api/projects/{project}/render/"));
    assert_eq!(started.status(), 202);
    let bodies = app.poll_json(
        &format!("/api/projects/{project}/status/"),
        Duration::from_secs(120),
        |body| matches!(body["status"].as_str(), Some("COMPLETED" | "FAILED")),
    );
    let last = bodies.last().unwrap();
    assert_eq!(last["status"], "COMPLETED", "{last}");
}
