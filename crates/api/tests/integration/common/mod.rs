//! Test harness: the real application on port 0 with its own temporary data folder, served from
//! a background thread so tests can use a blocking HTTP client.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use api::db::DbPool;
use api::state::PreviewSize;
use api::{AppConfig, Application};
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::Value;

pub struct TestApp {
    pub address: String,
    pub data_dir: PathBuf,
    pub client: Client,
    /// The app's API token, sent by the request helpers below (`client` sends none).
    pub token: Option<String>,
    /// Keeps the folder alive as long as the app; `None` when the caller owns the folder.
    _temp: Option<tempfile::TempDir>,
}

/// A fresh app with an empty database, rendering tiny previews (320x180 at 15 fps).
pub fn spawn_app() -> TestApp {
    let temp = tempfile::tempdir().unwrap();
    let mut app = spawn_app_in(temp.path());
    app._temp = Some(temp);
    app
}

/// A fresh app that requires `token` on every request but health.
pub fn spawn_app_with_token(token: &str) -> TestApp {
    let temp = tempfile::tempdir().unwrap();
    let mut config = test_config(temp.path());
    config.api_token = Some(token.to_owned());
    let mut app = spawn_with(config);
    app._temp = Some(temp);
    app
}

/// An app over an existing data folder (to test restarts).
pub fn spawn_app_in(data_dir: &Path) -> TestApp {
    spawn_with(test_config(data_dir))
}

/// Loopback, port 0, tiny previews, no token.
pub fn test_config(data_dir: &Path) -> AppConfig {
    let mut config = AppConfig::new(data_dir);
    config.bind = "127.0.0.1:0".to_owned();
    config.preview = Some(PreviewSize {
        width: 320,
        height: 180,
        fps: 15,
    });
    config
}

pub fn spawn_with(config: AppConfig) -> TestApp {
    let data_dir = config.data_dir.clone();
    let token = config.api_token.clone();
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            match Application::build(config) {
                Ok(app) => {
                    sender.send(Ok(app.port())).unwrap();
                    app.run_until_stopped().await.unwrap();
                }
                Err(err) => sender.send(Err(err.to_string())).unwrap(),
            }
        });
    });
    let port = receiver
        .recv_timeout(Duration::from_secs(30))
        .unwrap()
        .unwrap();
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        data_dir,
        client: Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
        token,
        _temp: None,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn media_root(&self) -> PathBuf {
        self.data_dir.join("media")
    }

    /// A second pool on the app's database, to arrange or inspect rows directly.
    pub fn pool(&self) -> DbPool {
        api::db::build_pool(&self.data_dir.join("storyflow.sqlite3")).unwrap()
    }

    /// A request to `path` carrying the app's token, if it has one.
    pub fn request(&self, method: reqwest::Method, path: &str) -> RequestBuilder {
        let request = self.client.request(method, self.url(path));
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    pub fn get(&self, path: &str) -> Response {
        self.request(reqwest::Method::GET, path).send().unwrap()
    }

    pub fn post_empty(&self, path: &str) -> Response {
        self.request(reqwest::Method::POST, path).send().unwrap()
    }

    pub fn post_json(&self, path: &str, body: &Value) -> Response {
        self.request(reqwest::Method::POST, path)
            .json(body)
            .send()
            .unwrap()
    }

    pub fn patch_json(&self, path: &str, body: &Value) -> Response {
        self.request(reqwest::Method::PATCH, path)
            .json(body)
            .send()
            .unwrap()
    }

    pub fn delete(&self, path: &str) -> Response {
        self.request(reqwest::Method::DELETE, path).send().unwrap()
    }

    /// Polls `GET path` until `done` holds for the JSON body, returning every body seen.
    pub fn poll_json(
        &self,
        path: &str,
        timeout: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Vec<Value> {
        let deadline = Instant::now() + timeout;
        let mut seen = Vec::new();
        loop {
            let body: Value = self.get(path).json().unwrap();
            let finished = done(&body);
            seen.push(body);
            if finished {
                return seen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out polling {path}: {seen:?}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
