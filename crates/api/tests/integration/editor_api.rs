//! The editor's REST API over real HTTP: projects, import, segments, uploads, settings, logos
//! and the gallery, success paths and the user's mistakes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::PathBuf;
use std::time::Duration;

use api::models::ProjectStatus;
use api::repository;
use serde_json::{json, Value};

use super::BACKEND;
use crate::common::{files_in, spawn_app_on, spawn_with, test_config_on, TestApp};
use crate::support::{jpeg, multipart_body, png, png_declaring, status_json, upload, wav};

fn create_project(app: &TestApp, title: &str) -> Value {
    let (status, body) = status_json(app.post_json("/api/projects/", &json!({ "title": title })));
    assert_eq!(status, 201, "{body}");
    body
}

fn import_text(app: &TestApp, title: &str, raw_text: &str) -> Value {
    let request = json!({ "format": "text", "title": title, "raw_text": raw_text });
    let (status, body) = status_json(app.post_json("/api/projects/import/", &request));
    assert_eq!(status, 201, "{body}");
    body
}

fn set_status(app: &TestApp, project: &str, status: ProjectStatus) {
    repository::set_project_status(&mut app.pool().get().unwrap(), project, status).unwrap();
}

fn id_of(body: &Value) -> String {
    body["id"].as_str().unwrap().to_owned()
}

/// The file a `/media/...` URL names.
fn media_file(app: &TestApp, url: &Value) -> PathBuf {
    app.media_root()
        .join(url.as_str().unwrap().strip_prefix("/media/").unwrap())
}

#[test]
fn projects_are_created_listed_read_updated_and_deleted() {
    let app = spawn_app_on(BACKEND);
    let created = create_project(&app, "  First story  ");
    assert_eq!(created["title"], "First story");
    assert_eq!(created["status"], "DRAFT");
    assert_eq!(created["segment_count"], 0);
    assert_eq!(
        (
            &created["resolution_width"],
            &created["resolution_height"],
            &created["framerate"]
        ),
        (&json!(1920), &json!(1080), &json!(30))
    );
    assert!(created["created_at"].as_str().unwrap().ends_with('Z'));
    let id = id_of(&created);

    let (status, detail) = status_json(app.get(&format!("/api/projects/{id}/")));
    assert_eq!(status, 200);
    assert_eq!(detail["segments"], json!([]));
    assert_eq!(detail["output_path"], Value::Null);
    assert!(detail.get("segment_count").is_none());

    let patch = json!({ "title": "Renamed", "resolution_width": 1080, "resolution_height": 1920, "framerate": 60 });
    let (status, patched) = status_json(app.patch_json(&format!("/api/projects/{id}/"), &patch));
    assert_eq!(status, 200, "{patched}");
    assert_eq!(
        (
            &patched["title"],
            &patched["resolution_width"],
            &patched["framerate"]
        ),
        (&json!("Renamed"), &json!(1080), &json!(60))
    );
    let bad =
        json!({ "title": "", "resolution_width": 1000, "framerate": 25, "status": "COMPLETED" });
    let (status, errors) = status_json(app.patch_json(&format!("/api/projects/{id}/"), &bad));
    assert_eq!(status, 400);
    for key in ["title", "resolution", "framerate", "status"] {
        assert!(errors[key][0].is_string(), "{key}: {errors}");
    }

    // Its media folder goes with it.
    let folder = app.media_root().join(format!("projects/{id}"));
    std::fs::create_dir_all(folder.join("images")).unwrap();
    std::fs::write(folder.join("images/x.png"), png(2, 2)).unwrap();
    let response = app.delete(&format!("/api/projects/{id}/"));
    assert_eq!(response.status(), 204);
    assert!(!folder.exists());
    let (status, body) = status_json(app.get(&format!("/api/projects/{id}/")));
    assert_eq!(status, 404);
    assert!(body["error"].is_string());
    assert_eq!(app.delete(&format!("/api/projects/{id}/")).status(), 404);
}

#[test]
fn project_lists_are_paginated_newest_first() {
    let app = spawn_app_on(BACKEND);
    let (status, empty) = status_json(app.get("/api/projects/"));
    assert_eq!(status, 200);
    assert_eq!(
        empty,
        json!({ "count": 0, "next": null, "previous": null, "results": [] })
    );

    for n in 0..52 {
        create_project(&app, &format!("p{n}"));
    }
    let (_, first) = status_json(app.get("/api/projects/"));
    assert_eq!(first["count"], 52);
    assert_eq!(first["results"].as_array().unwrap().len(), 50);
    assert_eq!(first["results"][0]["title"], "p51");
    assert_eq!(first["previous"], Value::Null);
    let next = first["next"].as_str().unwrap();
    assert_eq!(next, format!("{}/api/projects/?page=2", app.address));

    let (_, second) = status_json(app.client.get(next).send().unwrap());
    let titles: Vec<&str> = second["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["p1", "p0"]);
    assert_eq!(second["next"], Value::Null);
    assert_eq!(second["previous"], format!("{}/api/projects/", app.address));

    for bad in ["3", "0", "x"] {
        let (status, _) = status_json(app.get(&format!("/api/projects/?page={bad}")));
        assert_eq!(status, 404, "page {bad}");
    }
}

#[test]
fn bad_requests_get_json_errors_not_500s() {
    let app = spawn_app_on(BACKEND);
    let url = app.url("/api/projects/");
    let send = |request: reqwest::blocking::RequestBuilder| status_json(request.send().unwrap());

    let (status, _) = send(
        app.client
            .post(&url)
            .header("Content-Type", "application/json")
            .body("{\"title\": "),
    );
    assert_eq!(status, 400);
    let (status, _) = send(
        app.client
            .post(&url)
            .header("Content-Type", "text/plain")
            .body("{\"title\":\"x\"}"),
    );
    assert_eq!(status, 415);
    let (status, _) = send(app.client.post(&url));
    assert!(status == 400 || status == 415, "{status}");
    let (status, body) = send(app.client.post(&url).json(&json!(["title"])));
    assert_eq!(status, 400);
    assert!(body["non_field_errors"].is_array());
    let (status, body) = send(app.client.post(&url).json(&json!({ "title": 7 })));
    assert_eq!(status, 400);
    assert!(body["title"][0].is_string());
    let (status, body) = send(app.client.post(&url).json(&json!({})));
    assert_eq!(
        (status, &body["title"][0]),
        (400, &json!("This field is required."))
    );
    let (status, _) = send(
        app.client
            .post(&url)
            .json(&json!({ "title": "x".repeat(256) })),
    );
    assert_eq!(status, 400);
    let huge = json!({ "title": "x".repeat(3 * 1024 * 1024) });
    let (status, _) = send(app.client.post(&url).json(&huge));
    assert_eq!(status, 413);

    let (status, _) = status_json(app.get("/api/projects/not-a-uuid/"));
    assert_eq!(status, 404);
    let (status, _) = status_json(app.get(&format!("/api/projects/{}/", uuid::Uuid::new_v4())));
    assert_eq!(status, 404);
    let (status, body) = send(app.client.put(&url).json(&json!({})));
    assert_eq!(status, 405);
    assert!(body["detail"].as_str().unwrap().contains("PUT"));
    let (status, _) = status_json(app.get("/api/segments/not-a-uuid/"));
    assert_eq!(status, 404);
}

#[test]
fn text_and_json_imports_create_projects_and_segments() {
    let app = spawn_app_on(BACKEND);
    let raw = "Text: The sun rises.\nPrompt: sunrise over hills\n---\n\
               A fox wakes up.\n----\n\n-----\nTEXT: The end.";
    let detail = import_text(&app, "Fox", raw);
    assert_eq!(detail["title"], "Fox");
    let segments = detail["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 3);
    assert_eq!(segments[0]["text_content"], "The sun rises.");
    assert_eq!(segments[0]["image_prompt"], "sunrise over hills");
    assert_eq!(segments[1]["text_content"], "A fox wakes up.");
    assert_eq!(segments[2]["sequence_index"], 2);
    assert_eq!(segments[2]["project"], detail["id"]);
    assert_eq!(segments[2]["image_file"], Value::Null);

    let request = json!({ "format": "json", "title": "J", "segments": [
        { "text_content": "one" }, { "text_content": "two", "image_prompt": "p" } ] });
    let (status, body) = status_json(app.post_json("/api/projects/import/", &request));
    assert_eq!(status, 201);
    assert_eq!(body["segments"][1]["image_prompt"], "p");

    // More segments into an existing project: the answer is all of them, in order.
    let id = id_of(&detail);
    let more = json!({ "format": "text", "raw_text": "four\n---\nfive" });
    let (status, all) =
        status_json(app.post_json(&format!("/api/projects/{id}/import-segments/"), &more));
    assert_eq!(status, 201, "{all}");
    let texts: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["text_content"].as_str().unwrap())
        .collect();
    assert_eq!(
        texts,
        [
            "The sun rises.",
            "A fox wakes up.",
            "The end.",
            "four",
            "five"
        ]
    );
    let missing = format!("/api/projects/{}/import-segments/", uuid::Uuid::new_v4());
    let (status, body) = status_json(app.post_json(&missing, &more));
    assert_eq!(status, 404);
    assert!(body["error"].is_string());

    // Every error is a list of strings under its field (the import dialog maps over them).
    let (status, errors) =
        status_json(app.post_json("/api/projects/import/", &json!({ "format": "csv" })));
    assert_eq!(status, 400);
    for (key, messages) in errors.as_object().unwrap() {
        assert!(
            messages.as_array().unwrap().iter().all(Value::is_string),
            "{key}: {errors}"
        );
    }
    assert!(errors["format"].is_array() && errors["title"].is_array());
    let bad = json!({ "format": "json", "title": "t", "segments": [{ "text_content": "" }, 5] });
    let (status, errors) = status_json(app.post_json("/api/projects/import/", &bad));
    assert_eq!(status, 400);
    assert_eq!(errors["segments"].as_array().unwrap().len(), 2);
    let empty = json!({ "format": "text", "title": "t", "raw_text": "---\n\n---" });
    let (status, errors) = status_json(app.post_json("/api/projects/import/", &empty));
    assert_eq!(status, 400);
    assert!(errors["raw_text"][0].is_string());
    // Nothing half-made.
    let (_, list) = status_json(app.get("/api/projects/"));
    assert_eq!(list["count"], 2);
}

#[test]
fn segments_are_created_edited_locked_deleted_and_reordered() {
    let app = spawn_app_on(BACKEND);
    let project = import_text(&app, "Segs", "a\n---\nb\n---\nc");
    let pid = id_of(&project);

    let (status, body) = status_json(app.get("/api/segments/"));
    assert_eq!((status, &body["count"]), (200, &json!(0)));
    let (status, list) = status_json(app.get(&format!("/api/segments/?project={pid}")));
    assert_eq!(status, 200);
    assert_eq!(list["count"], 3);
    assert_eq!(list["results"][2]["text_content"], "c");
    let (status, list) =
        status_json(app.get(&format!("/api/segments/?project={}", uuid::Uuid::new_v4())));
    assert_eq!((status, &list["count"]), (200, &json!(0)));

    let (status, created) =
        status_json(app.post_json("/api/segments/", &json!({ "project": pid })));
    assert_eq!(status, 201, "{created}");
    assert_eq!(
        (&created["sequence_index"], &created["text_content"]),
        (&json!(3), &json!(""))
    );
    let (status, _) = status_json(app.post_json("/api/segments/", &json!({})));
    assert_eq!(status, 400);
    let (status, _) = status_json(app.post_json(
        "/api/segments/",
        &json!({ "project": uuid::Uuid::new_v4() }),
    ));
    assert_eq!(status, 404);

    let sid = id_of(&created);
    let path = format!("/api/segments/{sid}/");
    let (status, edited) = status_json(app.patch_json(&path, &json!({ "text_content": "d" })));
    assert_eq!((status, &edited["text_content"]), (200, &json!("d")));
    let (status, errors) =
        status_json(app.patch_json(&path, &json!({ "text_content": 1, "sequence_index": 0 })));
    assert_eq!(status, 400);
    assert!(errors["text_content"].is_array() && errors["sequence_index"].is_array());

    // Locked: only is_locked may change.
    let (_, locked) = status_json(app.patch_json(&path, &json!({ "is_locked": true })));
    assert_eq!(locked["is_locked"], true);
    let (status, body) = status_json(app.patch_json(&path, &json!({ "text_content": "e" })));
    assert_eq!(status, 400);
    assert_eq!(
        body,
        json!({ "error": "Cannot edit a locked segment. Unlock it first." })
    );
    let (_, unlocked) = status_json(app.patch_json(&path, &json!({ "is_locked": false })));
    assert_eq!(
        (&unlocked["is_locked"], &unlocked["text_content"]),
        (&json!(false), &json!("d"))
    );

    // Reorder: exactly the project's ids.
    let ids: Vec<String> = status_json(app.get(&format!("/api/segments/?project={pid}"))).1
        ["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(id_of)
        .collect();
    let reversed: Vec<&String> = ids.iter().rev().collect();
    let (status, body) = status_json(app.post_json(
        "/api/segments/reorder/",
        &json!({ "project_id": pid, "segment_order": reversed }),
    ));
    assert_eq!(status, 200, "{body}");
    assert!(body["message"].is_string());
    assert_eq!(
        body["segments"][0],
        json!({ "id": ids[3], "sequence_index": 0 })
    );
    let other = import_text(&app, "Other", "x");
    let foreign = id_of(&other["segments"][0]);
    for order in [
        json!([ids[0], ids[1], ids[2]]),
        json!([ids[0], ids[1], ids[2], foreign]),
        json!([ids[0], ids[1], ids[2], ids[3], foreign]),
        json!([ids[0], ids[0], ids[1], ids[2]]),
        json!(["nope"]),
    ] {
        let (status, body) = status_json(app.post_json(
            "/api/segments/reorder/",
            &json!({ "project_id": pid, "segment_order": order }),
        ));
        assert_eq!(status, 400, "{order}: {body}");
    }
    let (status, _) = status_json(app.post_json(
        "/api/segments/reorder/",
        &json!({ "project_id": uuid::Uuid::new_v4(), "segment_order": [] }),
    ));
    assert_eq!(status, 404);
    let texts = |app: &TestApp| -> Vec<String> {
        status_json(app.get(&format!("/api/segments/?project={pid}"))).1["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["text_content"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(texts(&app), ["d", "c", "b", "a"]);

    // Deleting closes the gap.
    assert_eq!(app.delete(&path).status(), 204);
    assert_eq!(app.delete(&path).status(), 404);
    let (_, list) = status_json(app.get(&format!("/api/segments/?project={pid}")));
    let indexes: Vec<i64> = list["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["sequence_index"].as_i64().unwrap())
        .collect();
    assert_eq!(indexes, [0, 1, 2]);
    assert_eq!(texts(&app), ["c", "b", "a"]);
}

#[test]
fn uploads_are_checked_by_content_and_replace_files_safely() {
    let app = spawn_app_on(BACKEND);
    let project = import_text(&app, "Media", "one");
    let pid = id_of(&project);
    let sid = id_of(&project["segments"][0]);
    let image_path = format!("/api/segments/{sid}/upload-image/");
    let audio_path = format!("/api/segments/{sid}/upload-audio/");

    // The client's name never reaches the disk.
    let (status, body) = status_json(upload(
        &app,
        &image_path,
        "image",
        "../../../evil.png",
        "image/png",
        &png(16, 9),
    ));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["message"], "Image uploaded successfully");
    let first = body["image_file"].as_str().unwrap().to_owned();
    let prefix = format!("/media/projects/{pid}/images/");
    let name = first.strip_prefix(&prefix).unwrap();
    assert!(
        uuid::Uuid::parse_str(name.strip_suffix(".png").unwrap()).is_ok(),
        "{first}"
    );
    assert!(media_file(&app, &json!(first)).is_file());
    assert!(!app.data_dir.join("evil.png").exists() && !app.media_root().join("evil.png").exists());
    let served = app.get(&first);
    assert_eq!(served.status(), 200);

    // A PNG uploaded as .jpg is stored as what it is.
    let (_, body) = status_json(upload(
        &app,
        &image_path,
        "image",
        "photo.JPG",
        "image/jpeg",
        &png(8, 8),
    ));
    let second = body["image_file"].as_str().unwrap().to_owned();
    assert!(second.ends_with(".png"), "{second}");
    assert!(
        !media_file(&app, &json!(first)).exists(),
        "the replaced image is removed"
    );

    // Not an image, whatever its name says, a damaged one or one too big to decode: 400,
    // saying why, and the current image stays.
    let photo = jpeg(256, 256);
    for (name, data, why) in [
        (
            "fake.jpg",
            b"this is plain text, not a jpeg".to_vec(),
            "not a JPEG",
        ),
        (
            "cut.png",
            png(64, 64)[..60].to_vec(),
            "damaged or truncated",
        ),
        (
            "cut.jpg",
            photo[..photo.len() * 7 / 10].to_vec(),
            "damaged or truncated",
        ),
        ("huge.png", png_declaring(40_000, 40_000), "megapixels"),
    ] {
        let (status, body) = status_json(upload(
            &app,
            &image_path,
            "image",
            name,
            "image/jpeg",
            &data,
        ));
        assert_eq!(status, 400, "{name}: {body}");
        assert_eq!(body["error"], "Invalid image file");
        let details = body["details"].as_str().unwrap();
        assert!(details.contains(why), "{name}: {details}");
    }
    let (_, segment) = status_json(app.get(&format!("/api/segments/{sid}/")));
    assert_eq!(segment["image_file"], json!(second));
    assert!(media_file(&app, &json!(second)).is_file());
    let images = app.media_root().join(format!("projects/{pid}/images"));
    assert_eq!(
        files_in(images.clone()).len(),
        1,
        "no temporary files left: {:?}",
        files_in(images)
    );

    // Narration: decoded for real, duration measured.
    let (status, body) = status_json(upload(
        &app,
        &audio_path,
        "audio",
        "voice.bin",
        "application/octet-stream",
        &wav(1.0),
    ));
    assert_eq!(status, 200, "{body}");
    assert!(body["audio_file"].as_str().unwrap().ends_with(".wav"));
    let duration = body["audio_duration"].as_f64().unwrap();
    assert!((duration - 1.0).abs() < 0.01, "{duration}");
    let audio = body["audio_file"].clone();
    let mut truncated = wav(1.0);
    truncated.truncate(30);
    let (status, body) = status_json(upload(
        &app,
        &audio_path,
        "audio",
        "voice.wav",
        "audio/wav",
        &truncated,
    ));
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "Invalid audio file");
    let details = body["details"].as_str().unwrap();
    assert!(!details.contains(".upload-"), "no server paths: {details}");
    let (status, _) = status_json(upload(
        &app,
        &audio_path,
        "audio",
        "voice.wav",
        "audio/wav",
        &png(4, 4),
    ));
    assert_eq!(status, 400);
    let (_, segment) = status_json(app.get(&format!("/api/segments/{sid}/")));
    assert_eq!(segment["audio_file"], audio);
    assert!((segment["audio_duration"].as_f64().unwrap() - 1.0).abs() < 0.01);

    // Wrong field, wrong content type, unknown segment, malformed id.
    let (status, body) = status_json(upload(
        &app,
        &image_path,
        "picture",
        "a.png",
        "image/png",
        &png(4, 4),
    ));
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("No image file provided"))
    );
    let response = app
        .client
        .post(app.url(&image_path))
        .json(&json!({ "image": "x" }))
        .send()
        .unwrap();
    assert_eq!(status_json(response).0, 415);
    let (status, _) = status_json(upload(
        &app,
        &format!("/api/segments/{}/upload-image/", uuid::Uuid::new_v4()),
        "image",
        "a.png",
        "image/png",
        &png(4, 4),
    ));
    assert_eq!(status, 404);
    let (status, _) = status_json(upload(
        &app,
        "/api/segments/xyz/upload-image/",
        "image",
        "a.png",
        "image/png",
        &png(4, 4),
    ));
    assert_eq!(status, 404);
    // Other form fields are fine.
    let (header, body) = multipart_body(
        &[("note", "hello")],
        "image",
        "a.png",
        "image/png",
        &png(4, 4),
    );
    let response = app
        .client
        .post(app.url(&image_path))
        .header("Content-Type", header)
        .body(body)
        .send()
        .unwrap();
    assert_eq!(status_json(response).0, 200);

    // Locked segments keep their files.
    app.patch_json(
        &format!("/api/segments/{sid}/"),
        &json!({ "is_locked": true }),
    );
    let (status, body) = status_json(upload(
        &app,
        &image_path,
        "image",
        "a.png",
        "image/png",
        &png(4, 4),
    ));
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("Cannot modify a locked segment."))
    );
    let (status, _) = status_json(app.delete(&format!("/api/segments/{sid}/remove-image/")));
    assert_eq!(status, 400);
    app.patch_json(
        &format!("/api/segments/{sid}/"),
        &json!({ "is_locked": false }),
    );

    // Removal.
    let image_file = status_json(app.get(&format!("/api/segments/{sid}/"))).1["image_file"].clone();
    let (status, body) = status_json(app.delete(&format!("/api/segments/{sid}/remove-image/")));
    assert_eq!(status, 200);
    assert_eq!(
        (&body["id"], &body["image_file"]),
        (&json!(sid), &Value::Null)
    );
    assert!(!media_file(&app, &image_file).exists());
    let (status, body) = status_json(app.delete(&format!("/api/segments/{sid}/remove-image/")));
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("No image to remove"))
    );
    let (status, body) = status_json(app.delete(&format!("/api/segments/{sid}/remove-audio/")));
    assert_eq!(status, 200);
    assert_eq!(
        (&body["audio_file"], &body["audio_duration"]),
        (&Value::Null, &Value::Null)
    );
    assert!(!media_file(&app, &audio).exists());
    let (status, _) = status_json(app.delete(&format!("/api/segments/{sid}/remove-audio/")));
    assert_eq!(status, 400);

    // Deleting a segment removes its files.
    let (_, body) = status_json(upload(
        &app,
        &image_path,
        "image",
        "a.png",
        "image/png",
        &png(4, 4),
    ));
    let file = media_file(&app, &body["image_file"]);
    assert!(file.is_file());
    assert_eq!(app.delete(&format!("/api/segments/{sid}/")).status(), 204);
    assert!(!file.exists());
}

#[test]
fn oversized_uploads_are_refused_while_streaming() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config_on(BACKEND, dir.path());
    config.limits.image_bytes = 64 * 1024;
    config.limits.audio_bytes = 64 * 1024;
    config.limits.logo_bytes = 64 * 1024;
    config.limits.font_bytes = 64 * 1024;
    let app = spawn_with(config);
    let project = import_text(&app, "Big", "one");
    let sid = id_of(&project["segments"][0]);
    let pid = id_of(&project);

    let big = vec![0u8; 200 * 1024];
    let (status, body) = status_json(upload(
        &app,
        &format!("/api/segments/{sid}/upload-image/"),
        "image",
        "big.png",
        "image/png",
        &big,
    ));
    assert_eq!(status, 413, "{body}");
    assert!(body["error"].as_str().unwrap().contains("too large"));
    let (status, _) = status_json(upload(
        &app,
        &format!("/api/segments/{sid}/upload-audio/"),
        "audio",
        "big.wav",
        "audio/wav",
        &big,
    ));
    assert_eq!(status, 413);
    let (status, _) = status_json(upload(
        &app,
        "/api/settings/logos/",
        "file",
        "big.png",
        "image/png",
        &big,
    ));
    assert_eq!(status, 413);
    assert!(files_in(app.media_root().join(format!("projects/{pid}/images"))).is_empty());
    assert!(files_in(app.media_root().join("logos")).is_empty());
    let (status, _) = status_json(upload(
        &app,
        "/api/settings/font/upload/",
        "font",
        "big.ttf",
        "font/ttf",
        &big,
    ));
    assert_eq!(status, 413);
    assert!(files_in(app.media_root().join("fonts")).is_empty());

    // Within the limit still works on the same server.
    let (status, _) = status_json(upload(
        &app,
        &format!("/api/segments/{sid}/upload-image/"),
        "image",
        "ok.png",
        "image/png",
        &png(8, 8),
    ));
    assert_eq!(status, 200);
}

#[test]
fn render_input_cannot_change_while_processing() {
    let app = spawn_app_on(BACKEND);
    let project = import_text(&app, "Busy", "a\n---\nb");
    let pid = id_of(&project);
    let sid = id_of(&project["segments"][0]);
    let other = id_of(&project["segments"][1]);
    let (_, body) = status_json(upload(
        &app,
        &format!("/api/segments/{sid}/upload-image/"),
        "image",
        "a.png",
        "image/png",
        &png(4, 4),
    ));
    let image = media_file(&app, &body["image_file"]);
    set_status(&app, &pid, ProjectStatus::Processing);

    let conflicts = [
        app.post_json("/api/segments/", &json!({ "project": pid })),
        app.patch_json(
            &format!("/api/segments/{sid}/"),
            &json!({ "text_content": "x" }),
        ),
        app.delete(&format!("/api/segments/{sid}/")),
        upload(
            &app,
            &format!("/api/segments/{sid}/upload-image/"),
            "image",
            "a.png",
            "image/png",
            &png(4, 4),
        ),
        upload(
            &app,
            &format!("/api/segments/{sid}/upload-audio/"),
            "audio",
            "a.wav",
            "audio/wav",
            &wav(0.5),
        ),
        app.delete(&format!("/api/segments/{sid}/remove-image/")),
        app.post_json(
            "/api/segments/reorder/",
            &json!({ "project_id": pid, "segment_order": [other, sid] }),
        ),
        app.post_json(
            &format!("/api/projects/{pid}/import-segments/"),
            &json!({ "format": "text", "raw_text": "c" }),
        ),
        app.delete(&format!("/api/projects/{pid}/")),
        app.patch_json(
            &format!("/api/projects/{pid}/"),
            &json!({ "resolution_width": 1280, "resolution_height": 720 }),
        ),
    ];
    for (n, response) in conflicts.into_iter().enumerate() {
        let (status, body) = status_json(response);
        assert_eq!(status, 409, "request {n}: {body}");
        assert!(body["error"].is_string());
    }
    assert!(image.is_file());
    let (_, detail) = status_json(app.get(&format!("/api/projects/{pid}/")));
    assert_eq!(detail["segments"].as_array().unwrap().len(), 2);
    assert_eq!(detail["resolution_width"], 1920);

    // What does not change the video is still allowed.
    let (status, _) = status_json(app.patch_json(
        &format!("/api/projects/{pid}/"),
        &json!({ "title": "Still busy" }),
    ));
    assert_eq!(status, 200);
    let (status, _) = status_json(app.patch_json(
        &format!("/api/segments/{sid}/"),
        &json!({ "is_locked": true }),
    ));
    assert_eq!(status, 200);
}

#[test]
fn settings_are_read_and_validated_field_by_field() {
    let app = spawn_app_on(BACKEND);
    let (status, settings) = status_json(app.get("/api/settings/"));
    assert_eq!(status, 200);
    let expected = json!({
        "default_voice_id": "af_heart", "tts_speed": 1.0, "subtitle_font_family": "Arial",
        "subtitle_font_size": 48, "subtitle_font_color": "#FFFFFF", "subtitle_color": "#FFFFFF",
        "subtitle_position": "bottom", "subtitle_highlight_color": "#FFD400",
        "subtitle_font": "", "custom_font_file": null,
        "subtitles_enabled": true, "render_width": 1920, "render_height": 1080, "render_fps": 30,
        "ken_burns_zoom": 1.2, "zoom_intensity": 1.3, "transition_duration": 0.5,
        "inter_segment_silence": 0.3, "logo_enabled": false, "active_logo": null,
        "logo_scale": 0.15, "logo_position": "bottom-right", "logo_opacity": 1.0, "logo_margin": 20,
    });
    for (key, value) in expected.as_object().unwrap() {
        assert_eq!(&settings[key], value, "{key}");
    }
    assert!(settings["updated_at"].is_string());

    let patch = json!({ "subtitle_color": "#ff8800", "tts_speed": 1.2000000000000002,
        "render_width": 1080, "render_height": 1920, "inter_segment_silence": 0.5 });
    let (status, updated) = status_json(app.patch_json("/api/settings/", &patch));
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["subtitle_color"], "#FF8800");
    assert_eq!(updated["subtitle_font_color"], "#FF8800");
    assert_eq!(
        (&updated["render_width"], &updated["render_height"]),
        (&json!(1080), &json!(1920))
    );
    let (_, updated) =
        status_json(app.patch_json("/api/settings/", &json!({ "subtitle_font_color": "#00F" })));
    assert_eq!(
        (&updated["subtitle_color"], &updated["subtitle_font_color"]),
        (&json!("#0000FF"), &json!("#0000FF"))
    );

    let (status, updated) = status_json(app.patch_json(
        "/api/settings/",
        &json!({ "subtitle_highlight_color": "#00ff88" }),
    ));
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["subtitle_highlight_color"], "#00FF88");
    let (status, updated) = status_json(app.patch_json(
        "/api/settings/",
        &json!({ "subtitle_highlight_color": null }),
    ));
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["subtitle_highlight_color"], json!(null));
    let (_, read_back) = status_json(app.get("/api/settings/"));
    assert_eq!(read_back["subtitle_highlight_color"], json!(null));
    let (status, errors) = status_json(app.patch_json(
        "/api/settings/",
        &json!({ "subtitle_highlight_color": "gold" }),
    ));
    assert_eq!(status, 400);
    assert!(
        errors["subtitle_highlight_color"][0].is_string(),
        "{errors}"
    );

    let bad = json!({ "subtitle_font_size": 8, "render_width": 1000, "logo_opacity": 2,
        "subtitle_position": "left", "colour": "red", "zoom_intensity": "1.5", "active_logo": uuid::Uuid::new_v4() });
    let (status, errors) = status_json(app.patch_json("/api/settings/", &bad));
    assert_eq!(status, 400);
    for key in [
        "subtitle_font_size",
        "render_resolution",
        "logo_opacity",
        "subtitle_position",
        "colour",
        "zoom_intensity",
    ] {
        assert!(errors[key][0].is_string(), "{key}: {errors}");
    }
    let (status, errors) = status_json(app.patch_json(
        "/api/settings/",
        &json!({ "active_logo": uuid::Uuid::new_v4() }),
    ));
    assert_eq!(status, 400);
    assert!(errors["active_logo"][0]
        .as_str()
        .unwrap()
        .contains("does not exist"));
    // Nothing of a refused PATCH was applied.
    let (_, now) = status_json(app.get("/api/settings/"));
    assert_eq!(
        (&now["subtitle_font_size"], &now["render_width"]),
        (&json!(48), &json!(1080))
    );
    let (status, _) = status_json(app.patch_json("/api/settings/", &json!("subtitle_font_size")));
    assert_eq!(status, 400);
}

#[test]
fn logos_are_uploaded_listed_activated_and_deleted() {
    let app = spawn_app_on(BACKEND);
    let (status, logo) = status_json(upload(
        &app,
        "/api/settings/logos/",
        "file",
        "Brand Mark.png",
        "image/png",
        &png(32, 16),
    ));
    assert_eq!(status, 201, "{logo}");
    assert_eq!(logo["name"], "Brand Mark");
    let file = logo["file"].as_str().unwrap();
    assert!(
        file.starts_with("/media/logos/") && file.ends_with(".png"),
        "{file}"
    );
    assert!(media_file(&app, &logo["file"]).is_file());
    let (status, body) = status_json(upload(
        &app,
        "/api/settings/logos/",
        "file",
        "logo.png",
        "image/png",
        b"GIF89a not really",
    ));
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("Invalid image file"))
    );
    let (status, _) = status_json(upload(
        &app,
        "/api/settings/logos/",
        "logo",
        "logo.png",
        "image/png",
        &png(4, 4),
    ));
    assert_eq!(status, 400);

    let (_, second) = status_json(upload(
        &app,
        "/api/settings/logos/",
        "file",
        "second.png",
        "image/png",
        &png(4, 4),
    ));
    let (_, list) = status_json(app.get("/api/settings/logos/"));
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["second", "Brand Mark"]);

    let id = id_of(&logo);
    let (status, settings) = status_json(app.patch_json(
        "/api/settings/",
        &json!({ "active_logo": id, "logo_enabled": true }),
    ));
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["active_logo"], json!(id));

    assert_eq!(
        app.delete(&format!("/api/settings/logos/{}/", id_of(&second)))
            .status(),
        204
    );
    assert_eq!(
        status_json(app.get("/api/settings/")).1["logo_enabled"],
        true
    );
    assert_eq!(
        app.delete(&format!("/api/settings/logos/{id}/")).status(),
        204
    );
    let (_, settings) = status_json(app.get("/api/settings/"));
    assert_eq!(
        (&settings["active_logo"], &settings["logo_enabled"]),
        (&Value::Null, &json!(false))
    );
    assert!(!media_file(&app, &logo["file"]).exists());
    let (status, body) = status_json(app.delete(&format!("/api/settings/logos/{id}/")));
    assert_eq!((status, &body["error"]), (404, &json!("Logo not found.")));
}

/// The renderer's default font, a real TrueType file.
const DEJAVU: &str = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf";

#[test]
fn fonts_are_uploaded_checked_and_become_the_subtitle_font() {
    let app = spawn_app_on(BACKEND);
    let font = std::fs::read(DEJAVU).unwrap();
    let upload_font = |field: &str, filename: &str, data: &[u8]| {
        status_json(upload(
            &app,
            "/api/settings/font/upload/",
            field,
            filename,
            "font/ttf",
            data,
        ))
    };

    let (status, settings) = upload_font("font", "My Font.ttf", &font);
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["custom_font_file"], "/media/fonts/My_Font.ttf");
    let stored = app.media_root().join("fonts/My_Font.ttf");
    let subtitle_font = PathBuf::from(settings["subtitle_font"].as_str().unwrap());
    assert!(subtitle_font.is_absolute(), "{subtitle_font:?}");
    assert_eq!(
        subtitle_font.canonicalize().unwrap(),
        stored.canonicalize().unwrap()
    );
    // The whole settings object, as PATCH answers.
    assert_eq!(settings["subtitle_font_size"], 48);
    assert_eq!(std::fs::read(&stored).unwrap(), font);
    let served = app.get("/media/fonts/My_Font.ttf");
    assert_eq!(served.status(), 200);
    assert_eq!(served.bytes().unwrap().as_ref(), font.as_slice());
    let (_, read_back) = status_json(app.get("/api/settings/"));
    assert_eq!(read_back["custom_font_file"], "/media/fonts/My_Font.ttf");

    // The same name again is stored beside it, and the replaced font goes.
    let (status, settings) = upload_font("font", "My Font.ttf", &font);
    assert_eq!(status, 200, "{settings}");
    let second = settings["custom_font_file"].as_str().unwrap();
    let suffix = second
        .strip_prefix("/media/fonts/My_Font_")
        .and_then(|rest| rest.strip_suffix(".ttf"))
        .unwrap_or_else(|| panic!("{second}"));
    assert_eq!(suffix.len(), 7, "{second}");
    assert!(!stored.exists());
    assert_eq!(files_in(app.media_root().join("fonts")).len(), 1);

    // A WOFF name is accepted when the content is a font the renderer can read.
    let (status, settings) = upload_font("font", "brand.WOFF", &font);
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["custom_font_file"], "/media/fonts/brand.woff");

    let (status, body) = upload_font("font", "fake.ttf", b"\0\x01\0\0 garbage");
    assert_eq!((status, &body["error"]), (400, &json!("Invalid font file")));
    assert!(body["details"].is_string(), "{body}");
    let (status, body) = upload_font("font", "tool.exe", &font);
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("Unsupported font format"))
    );
    let (status, body) = upload_font("file", "My Font.ttf", b"not under the font field");
    assert_eq!(
        (status, &body["error"]),
        (400, &json!("No font file provided"))
    );
    // Refused uploads leave neither files nor setting changes behind.
    assert_eq!(files_in(app.media_root().join("fonts")), ["brand.woff"]);
    let (_, settings) = status_json(app.get("/api/settings/"));
    assert_eq!(settings["custom_font_file"], "/media/fonts/brand.woff");
}

#[test]
fn the_gallery_lists_streams_and_downloads_finished_videos() {
    let app = spawn_app_on(BACKEND);
    let done = import_text(&app, "My \"Best\"/Story", "a\n---\nb");
    let pid = id_of(&done);
    let unfinished = create_project(&app, "Draft");
    let video: Vec<u8> = (0..10_000u32).map(|n| (n % 251) as u8).collect();
    let output = app.media_root().join(format!("projects/{pid}/output"));
    std::fs::create_dir_all(&output).unwrap();
    std::fs::write(output.join("final.mp4"), &video).unwrap();
    let url = format!("/media/projects/{pid}/output/final.mp4");
    repository::mark_completed(&mut app.pool().get().unwrap(), &pid, &url, 7.25).unwrap();
    // COMPLETED but its file is gone: not listed.
    let lost = create_project(&app, "Lost");
    repository::mark_completed(
        &mut app.pool().get().unwrap(),
        &id_of(&lost),
        "/media/projects/x/output/final.mp4",
        3.0,
    )
    .unwrap();

    let (status, list) = status_json(app.get("/api/gallery/"));
    assert_eq!(status, 200);
    let items = list.as_array().unwrap();
    assert_eq!(items.len(), 1, "{list}");
    let item = &items[0];
    assert_eq!(
        (&item["id"], &item["segment_count"], &item["file_size"]),
        (&json!(pid), &json!(2), &json!(10_000))
    );
    assert_eq!(item["duration"], 7.25);
    assert_eq!(item["stream_url"], format!("/api/gallery/{pid}/stream/"));
    assert_eq!(
        item["download_url"],
        format!("/api/gallery/{pid}/download/")
    );
    assert_eq!(item["subtitles"], Value::Null);
    std::fs::write(output.join("final.srt"), "1\n").unwrap();
    std::fs::write(output.join("final.vtt"), "WEBVTT\n").unwrap();
    let (_, list) = status_json(app.get("/api/gallery/"));
    assert_eq!(
        list[0]["subtitles"],
        json!({
            "srt": format!("/media/projects/{pid}/output/final.srt"),
            "vtt": format!("/media/projects/{pid}/output/final.vtt"),
        })
    );

    let stream = format!("/api/gallery/{pid}/stream/");
    let whole = app.get(&stream);
    assert_eq!(whole.status(), 200);
    assert_eq!(whole.headers()["content-type"], "video/mp4");
    assert_eq!(whole.bytes().unwrap().as_ref(), video.as_slice());
    let part = app
        .client
        .get(app.url(&stream))
        .header("Range", "bytes=100-199")
        .send()
        .unwrap();
    assert_eq!(part.status(), 206);
    assert_eq!(part.headers()["content-range"], "bytes 100-199/10000");
    assert_eq!(part.bytes().unwrap().as_ref(), &video[100..200]);

    let download = app.get(&format!("/api/gallery/{pid}/download/"));
    assert_eq!(download.status(), 200);
    let disposition = download.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(disposition, "attachment; filename=\"My 'Best'_Story.mp4\"");

    for missing in [id_of(&unfinished), uuid::Uuid::new_v4().to_string()] {
        let (status, body) = status_json(app.get(&format!("/api/gallery/{missing}/stream/")));
        assert_eq!(status, 404);
        assert!(body["error"].is_string());
    }
}

#[test]
fn a_project_goes_from_text_to_ready_to_render() {
    let app = spawn_app_on(BACKEND);
    let project = import_text(
        &app,
        "Workflow",
        "Text: The sun rises over the hills.\nPrompt: sunrise\n---\n\
         Text: A fox wakes and stretches.\nPrompt: a fox\n---\nText: The day begins.",
    );
    let pid = id_of(&project);
    let segments = project["segments"].as_array().unwrap();
    assert_eq!(segments.len(), 3);
    for (n, segment) in segments.iter().enumerate() {
        let sid = id_of(segment);
        let picture = png(64 + 16 * n as u32, 36 + 9 * n as u32);
        let (status, body) = status_json(upload(
            &app,
            &format!("/api/segments/{sid}/upload-image/"),
            "image",
            &format!("scene{n}.png"),
            "image/png",
            &picture,
        ));
        assert_eq!(status, 200, "{body}");
        let (status, body) = status_json(upload(
            &app,
            &format!("/api/segments/{sid}/upload-audio/"),
            "audio",
            &format!("voice{n}.wav"),
            "audio/wav",
            &wav(1.0),
        ));
        assert_eq!(status, 200, "{body}");
    }
    let (status, _) = status_json(app.patch_json(
        "/api/settings/",
        &json!({
            "render_width": 1280, "render_height": 720, "render_fps": 24,
            "inter_segment_silence": 0.2, "transition_duration": 0.3, "subtitles_enabled": true,
        }),
    ));
    assert_eq!(status, 200);

    let (_, detail) = status_json(app.get(&format!("/api/projects/{pid}/")));
    for segment in detail["segments"].as_array().unwrap() {
        assert!(media_file(&app, &segment["image_file"]).is_file());
        assert!(media_file(&app, &segment["audio_file"]).is_file());
        assert!((segment["audio_duration"].as_f64().unwrap() - 1.0).abs() < 0.01);
    }
    let rows = repository::list_segments(&mut app.pool().get().unwrap(), &pid).unwrap();
    let missing = api::handlers::render::find_missing_media(&rows, &app.media()).unwrap();
    assert!(
        missing.images.is_empty() && missing.audio.is_empty(),
        "{missing:?}"
    );

    // The render endpoint agrees, and the video ends up in the gallery.
    let (status, body) = status_json(app.post_empty(&format!("/api/projects/{pid}/render/")));
    assert_eq!(status, 202, "{body}");
    assert_eq!(body["total_segments"], 3);
    let seen = app.poll_json(
        &format!("/api/projects/{pid}/status/"),
        Duration::from_secs(180),
        |body| matches!(body["status"].as_str(), Some("COMPLETED" | "FAILED")),
    );
    let last = seen.last().unwrap();
    assert_eq!(last["status"], "COMPLETED", "{last}");
    let (_, gallery) = status_json(app.get("/api/gallery/"));
    assert_eq!(gallery[0]["id"], json!(pid));
}
