//! CORS as django-cors-headers answered the editor UI: its origin everywhere, `/media/`
//! included; preflights answered; other origins get no CORS headers.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::BACKEND;
use crate::common::spawn_app_on;

const UI: &str = "http://localhost:3000";

#[test]
fn the_editor_origin_is_allowed_on_api_and_media() {
    let app = spawn_app_on(BACKEND);
    let media = app.media_root().join("projects/p/output");
    std::fs::create_dir_all(&media).unwrap();
    std::fs::write(media.join("final.mp4"), b"not really a video").unwrap();
    for path in ["/api/health/", "/media/projects/p/output/final.mp4"] {
        let response = app
            .client
            .get(app.url(path))
            .header("Origin", UI)
            .send()
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        assert_eq!(
            response.headers()["access-control-allow-origin"],
            UI,
            "{path}"
        );
        let vary = response.headers()["vary"]
            .to_str()
            .unwrap()
            .to_ascii_lowercase();
        assert!(vary.contains("origin"), "{path}: {vary}");
        assert!(response
            .headers()
            .get("access-control-allow-credentials")
            .is_none());
    }
}

#[test]
fn preflight_is_answered_for_patch_with_json() {
    let app = spawn_app_on(BACKEND);
    let response = app
        .client
        .request(reqwest::Method::OPTIONS, app.url("/api/settings/"))
        .header("Origin", UI)
        .header("Access-Control-Request-Method", "PATCH")
        .header("Access-Control-Request-Headers", "content-type")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], UI);
    let methods = headers["access-control-allow-methods"].to_str().unwrap();
    for method in ["DELETE", "GET", "PATCH", "POST"] {
        assert!(methods.contains(method), "{methods}");
    }
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("content-type"), "{allowed}");
    assert_eq!(headers["access-control-max-age"], "86400");
}

#[test]
fn other_origins_get_no_cors_headers() {
    let app = spawn_app_on(BACKEND);
    let response = app
        .client
        .get(app.url("/api/health/"))
        .header("Origin", "http://127.0.0.1:3000")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}
