//! Where a user of the editor would notice, the server answers as the original Django backend
//! (`dananjayahbi/storyFlow`, `backend/api/views.py`, `serializers.py`, `parsers.py`) did:
//! lenient imports, its text format, its title limit, the uploaded font's family, and 404 for
//! an id that names nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{json, Value};

use super::BACKEND;
use crate::common::{spawn_app_on, TestApp};
use crate::support::{status_json, upload};

fn import(app: &TestApp, request: &Value) -> (u16, Value) {
    status_json(app.post_json("/api/projects/import/", request))
}

fn text_import(app: &TestApp, raw_text: &str) -> (u16, Value) {
    import(
        app,
        &json!({ "format": "text", "title": "Story", "raw_text": raw_text }),
    )
}

/// `(text_content, image_prompt)` of each segment, checking they are numbered 0, 1, ...
fn segments_of(detail: &Value) -> Vec<(String, String)> {
    let segments = detail["segments"].as_array().unwrap();
    segments
        .iter()
        .enumerate()
        .map(|(index, segment)| {
            assert_eq!(segment["sequence_index"], index, "{detail}");
            (
                segment["text_content"].as_str().unwrap().to_owned(),
                segment["image_prompt"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

fn pair(text: &str, prompt: &str) -> (String, String) {
    (text.to_owned(), prompt.to_owned())
}

fn project_count(app: &TestApp) -> Value {
    status_json(app.get("/api/projects/")).1["count"].clone()
}

#[test]
fn json_import_ignores_keys_it_does_not_use() {
    let app = spawn_app_on(BACKEND);
    // A story as another tool exports it: its own numbering and extra fields.
    let story = json!({
        "format": "json", "title": "The Fox", "author": "A. Writer", "version": 2,
        "segments": [
            { "sequence_index": 7, "text_content": "The sun rises.", "mood": "calm",
              "image_prompt": "sunrise", "duration": 4.5 },
            { "sequence_index": 3, "text_content": "A fox wakes up.", "tags": ["fox"] },
        ],
    });
    let (status, detail) = import(&app, &story);
    assert_eq!(status, 201, "{detail}");
    assert_eq!(
        segments_of(&detail),
        [
            pair("The sun rises.", "sunrise"),
            pair("A fox wakes up.", "")
        ]
    );

    // import-segments alike, with `format` defaulting to json as in the original.
    let id = detail["id"].as_str().unwrap();
    let more = json!({ "segments": [{ "text_content": "The end.", "sequence_index": 0 }],
                       "title": "ignored here" });
    let (status, all) =
        status_json(app.post_json(&format!("/api/projects/{id}/import-segments/"), &more));
    assert_eq!(status, 201, "{all}");
    assert_eq!(all[2]["text_content"], "The end.");
    assert_eq!(all[2]["sequence_index"], 2);

    // Settings PATCHes still refuse a key they do not know: a typo must not do nothing.
    let (status, errors) =
        status_json(app.patch_json("/api/settings/", &json!({ "subtitle_colour": "#FFFFFF" })));
    assert_eq!(status, 400);
    assert_eq!(errors["subtitle_colour"], json!(["Unknown field."]));
}

#[test]
fn text_import_reads_blocks_as_the_original_parser_does() {
    let app = spawn_app_on(BACKEND);
    let raw = "Scene one\n\
               Text: The sun rises\n\
               \x20 text:   over the hills.  \n\
               PROMPT: sunrise\n\
               Prompt: wide shot\n\
               ---\n\
               Once upon a time,\n  there was a fox.\n\
               -----\n\
               \n   \n\
               ---\n\
               Text: No picture yet.\n\
               \x20 --- \n\
               Text : is not a label\n\
               ---";
    let (status, detail) = text_import(&app, raw);
    assert_eq!(status, 201, "{detail}");
    assert_eq!(
        segments_of(&detail),
        [
            pair("The sun rises over the hills.", "sunrise wide shot"),
            pair("Once upon a time,\nthere was a fox.", ""),
            pair("No picture yet.", ""),
        ]
    );

    // Windows line breaks separate blocks too.
    let (status, detail) = text_import(&app, "Text: a\r\nPrompt: p\r\n---\r\nText: b\r\n");
    assert_eq!(status, 201, "{detail}");
    assert_eq!(segments_of(&detail), [pair("a", "p"), pair("b", "")]);

    // A prompt without narration, an empty Text:, nothing at all: field-keyed 400s, as the
    // import dialog reads them, and nothing is created.
    let before = project_count(&app);
    for (raw, message) in [
        (
            "Text: a\n---\n\n---\nPrompt: just a picture",
            "Block 2 has a Prompt: line but no Text: line.",
        ),
        ("Text:\nPrompt: p", "Block 1 has an empty Text: value."),
        (
            "---\n   \n---",
            "No segments found: separate blocks with a line of three or more hyphens.",
        ),
    ] {
        let (status, errors) = text_import(&app, raw);
        assert_eq!(status, 400, "{raw:?}: {errors}");
        assert_eq!(errors, json!({ "raw_text": [message] }), "{raw:?}");
    }
    assert_eq!(project_count(&app), before);
}

#[test]
fn import_titles_longer_than_200_characters_are_refused() {
    let app = spawn_app_on(BACKEND);
    let request = |title: &str| json!({ "format": "text", "title": title, "raw_text": "a" });
    let (status, errors) = import(&app, &request(&"é".repeat(201)));
    assert_eq!(status, 400, "{errors}");
    assert_eq!(
        errors,
        json!({ "title": ["Ensure this field has no more than 200 characters."] })
    );
    // Counted after trimming, in characters.
    let (status, detail) = import(&app, &request(&format!("  {}  ", "é".repeat(200))));
    assert_eq!(status, 201, "{detail}");
    assert_eq!(detail["title"].as_str().unwrap().chars().count(), 200);
    // A project made directly keeps the model's 255.
    let (status, _) =
        status_json(app.post_json("/api/projects/", &json!({ "title": "x".repeat(255) })));
    assert_eq!(status, 201);
}

#[test]
fn an_uploaded_font_names_the_subtitle_font_family() {
    let app = spawn_app_on(BACKEND);
    let (_, before) = status_json(app.get("/api/settings/"));
    assert_eq!(before["subtitle_font_family"], "Arial");
    let font = std::fs::read("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf").unwrap();
    // The family comes from the font's name table, not from the file's name.
    let (status, settings) = status_json(upload(
        &app,
        "/api/settings/font/upload/",
        "font",
        "brand-font.ttf",
        "font/ttf",
        &font,
    ));
    assert_eq!(status, 200, "{settings}");
    assert_eq!(settings["subtitle_font_family"], "DejaVu Sans");
    let (_, read_back) = status_json(app.get("/api/settings/"));
    assert_eq!(read_back["subtitle_font_family"], "DejaVu Sans");
    assert_eq!(read_back["custom_font_file"], "/media/fonts/brand-font.ttf");
}

#[test]
fn malformed_ids_are_the_same_404_as_unknown_ones() {
    let app = spawn_app_on(BACKEND);
    let unknown = uuid::Uuid::new_v4();
    for (malformed, known_shape) in [
        ("/api/projects/99999/", format!("/api/projects/{unknown}/")),
        (
            "/api/projects/99999/status/",
            format!("/api/projects/{unknown}/status/"),
        ),
        (
            "/api/segments/not-a-uuid/",
            format!("/api/segments/{unknown}/"),
        ),
        (
            "/api/gallery/not-a-uuid/stream/",
            format!("/api/gallery/{unknown}/stream/"),
        ),
        (
            "/api/tasks/not-a-task/status/",
            format!("/api/tasks/render_{unknown}/status/"),
        ),
    ] {
        let (status, body) = status_json(app.get(malformed));
        let (unknown_status, unknown_body) = status_json(app.get(&known_shape));
        assert_eq!((status, unknown_status), (404, 404), "{malformed}: {body}");
        assert_eq!(body, unknown_body, "{malformed}");
    }
    for (malformed, body) in [
        ("/api/projects/99999/render/", None),
        ("/api/segments/not-a-uuid/generate-audio/", None),
        ("/api/projects/99999/", Some(json!({ "title": "x" }))),
    ] {
        let response = match body {
            None => app.post_empty(malformed),
            Some(body) => app.patch_json(malformed, &body),
        };
        assert_eq!(response.status(), 404, "{malformed}");
    }
    assert_eq!(app.delete("/api/segments/not-a-uuid/").status(), 404);
}

#[test]
fn segments_listed_without_a_project_are_an_empty_page() {
    let app = spawn_app_on(BACKEND);
    text_import(&app, "a\n---\nb");
    let empty = json!({ "count": 0, "next": null, "previous": null, "results": [] });
    for path in [
        "/api/segments/".to_owned(),
        "/api/segments/?project=not-a-uuid".to_owned(),
        format!("/api/segments/?project={}", uuid::Uuid::new_v4()),
    ] {
        let (status, page) = status_json(app.get(&path));
        assert_eq!((status, &page), (200, &empty), "{path}");
    }
}
