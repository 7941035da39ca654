//! The API token: none configured, the API is open as before; configured, every request but
//! health needs `Authorization: Bearer <token>` (CORS preflights are answered first); bound
//! beyond loopback, the server will not start without one.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use api::auth::TokenError;
use api::{Application, StartupError};
use reqwest::Method;
use serde_json::{json, Value};

use super::BACKEND;
use crate::common::{spawn_app_on, spawn_app_with_token, spawn_with, test_config_on};

const TOKEN: &str = "s3cret-token-for-tests-0123456789";
const UI: &str = "http://localhost:3000";

fn assert_401(response: reqwest::blocking::Response, challenge: &str) {
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], challenge);
    let body: Value = response.json().unwrap();
    let message = body["error"].as_str().unwrap();
    assert!(!message.contains(TOKEN), "{message}");
}

#[test]
fn without_a_token_configured_requests_need_none() {
    let app = spawn_app_on(BACKEND);
    assert_eq!(app.get("/api/projects/").status(), 200);
    // A client that sends a token anyway is not refused for it.
    let response = app
        .client
        .get(app.url("/api/projects/"))
        .bearer_auth("whatever")
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
}

#[test]
fn a_request_without_the_token_is_401_with_a_json_error_and_a_challenge() {
    let app = spawn_app_with_token(BACKEND, TOKEN);
    let response = app.client.get(app.url("/api/projects/")).send().unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["www-authenticate"], "Bearer");
    let body: Value = response.json().unwrap();
    assert_eq!(
        body,
        json!({"error": "Authentication required: send the API token as `Authorization: Bearer <token>`."})
    );
    // Unknown paths too: without the token nothing tells what exists.
    let response = app.client.get(app.url("/api/nothing/")).send().unwrap();
    assert_401(response, "Bearer");
}

#[test]
fn a_wrong_token_or_another_scheme_is_401() {
    let app = spawn_app_with_token(BACKEND, TOKEN);
    let wrong = [
        format!("Bearer {TOKEN}x"),
        format!("Bearer {}", &TOKEN[1..]),
        "Bearer wrong".to_owned(),
    ];
    for header in wrong {
        let response = app
            .client
            .post(app.url("/api/projects/"))
            .header("Authorization", header)
            .json(&json!({"title": "Nope"}))
            .send()
            .unwrap();
        assert_401(response, "Bearer error=\"invalid_token\"");
    }
    let response = app
        .client
        .get(app.url("/api/projects/"))
        .basic_auth("user", Some(TOKEN))
        .send()
        .unwrap();
    assert_401(response, "Bearer");
    // Nothing was created by the refused POSTs.
    let list: Value = app.get("/api/projects/").json().unwrap();
    assert_eq!(list["count"], 0);
}

#[test]
fn the_right_token_opens_the_api_and_the_media() {
    let app = spawn_app_with_token(BACKEND, TOKEN);
    let response = app.post_json("/api/projects/", &json!({"title": "Fox"}));
    assert_eq!(response.status(), 201);
    assert_eq!(app.get("/api/projects/").status(), 200);
    // The scheme is case-insensitive.
    let response = app
        .client
        .get(app.url("/api/settings/"))
        .header("Authorization", format!("bearer {TOKEN}"))
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);

    let media = app.media_root().join("projects/p/output");
    std::fs::create_dir_all(&media).unwrap();
    std::fs::write(media.join("final.mp4"), b"not really a video").unwrap();
    let path = "/media/projects/p/output/final.mp4";
    assert_eq!(app.get(path).status(), 200);
    let response = app.client.get(app.url(path)).send().unwrap();
    assert_401(response, "Bearer");
}

#[test]
fn health_needs_no_token() {
    let app = spawn_app_with_token(BACKEND, TOKEN);
    let response = app.client.get(app.url("/api/health/")).send().unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().unwrap();
    assert_eq!(body["status"], "ok");
}

#[test]
fn preflights_are_answered_without_the_token() {
    let app = spawn_app_with_token(BACKEND, TOKEN);
    let response = app
        .client
        .request(Method::OPTIONS, app.url("/api/projects/"))
        .header("Origin", UI)
        .header("Access-Control-Request-Method", "POST")
        .header(
            "Access-Control-Request-Headers",
            "authorization, content-type",
        )
        .send()
        .unwrap();
    assert_eq!(response.status(), 200);
    let headers = response.headers();
    assert_eq!(headers["access-control-allow-origin"], UI);
    let allowed = headers["access-control-allow-headers"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(allowed.contains("authorization"), "{allowed}");
}

#[test]
fn a_401_carries_cors_headers_so_the_editor_can_read_it() {
    let app = spawn_app_with_token(BACKEND, TOKEN);
    let response = app
        .client
        .get(app.url("/api/projects/"))
        .header("Origin", UI)
        .send()
        .unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(response.headers()["access-control-allow-origin"], UI);
    let vary = response.headers()["vary"]
        .to_str()
        .unwrap()
        .to_ascii_lowercase();
    assert!(vary.contains("origin"), "{vary}");
}

#[test]
fn a_public_bind_without_a_token_is_refused_before_anything_is_made() {
    for bind in ["0.0.0.0:0", "[::]:0"] {
        let temp = tempfile::tempdir().unwrap();
        let data_dir = temp.path().join("data");
        let mut config = test_config_on(BACKEND, &data_dir);
        config.bind = bind.to_owned();
        let err = Application::build(config).unwrap_err();
        assert!(
            matches!(&err, StartupError::TokenRequired { bind: b, .. } if b == bind),
            "{err:?}"
        );
        let message = err.to_string();
        for hint in ["--api-token", "STORYFLOW_API_TOKEN", "127.0.0.1"] {
            assert!(message.contains(hint), "{message}");
        }
        assert!(!data_dir.exists(), "{bind}: the data folder was created");
    }
}

#[test]
fn a_public_bind_with_a_token_starts_and_requires_it() {
    let temp = tempfile::tempdir().unwrap();
    let mut config = test_config_on(BACKEND, temp.path());
    config.bind = "0.0.0.0:0".to_owned();
    config.api_token = Some(TOKEN.to_owned());
    let app = spawn_with(config);
    assert_eq!(app.get("/api/projects/").status(), 200);
    let response = app.client.get(app.url("/api/projects/")).send().unwrap();
    assert_401(response, "Bearer");
}

#[test]
fn a_short_token_is_refused_at_startup_even_on_loopback() {
    let temp = tempfile::tempdir().unwrap();
    let mut config = test_config_on(BACKEND, temp.path());
    config.api_token = Some("short".to_owned());
    let err = Application::build(config).unwrap_err();
    assert!(
        matches!(
            err,
            StartupError::ApiToken(TokenError::TooShort { chars: 5 })
        ),
        "{err:?}"
    );
}
