//! Test harness: the real application on port 0 with its own temporary data folder, served from
//! a background thread so tests can use a blocking HTTP client, on either database backend.
#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use api::bucket::StoreConfig;
use api::db::{Database, DbPool, PostgresUrl};
use api::jobs::{Worker, WorkerConfig};
use api::state::PreviewSize;
use api::storage::MediaStore;
use api::{AppConfig, Application};
use reqwest::blocking::{Client, RequestBuilder, Response};
use serde_json::Value;

/// The database a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `storyflow.sqlite3` in the data folder (the default).
    Sqlite,
    /// A fresh database on this test binary's PostgreSQL cluster.
    Postgres,
}

impl Backend {
    /// Points `config` at this backend (a new database for PostgreSQL).
    pub fn configure(self, config: &mut AppConfig) {
        config.database_url = match self {
            Self::Sqlite => None,
            Self::Postgres => Some(fresh_postgres()),
        };
    }

    /// A new, migrated database of this backend (the SQLite file in `dir`).
    pub fn fresh_pool(self, dir: &Path) -> DbPool {
        let database = match self {
            Self::Sqlite => Database::Sqlite(dir.join("test.sqlite3")),
            Self::Postgres => Database::Postgres(fresh_postgres()),
        };
        let pool = api::db::build_pool(&database).unwrap();
        api::db::run_migrations(&pool).unwrap();
        pool
    }
}

/// A new database on this test binary's PostgreSQL cluster.
fn fresh_postgres() -> PostgresUrl {
    PostgresUrl::parse(&test_cluster::fresh_database()).unwrap()
}

pub struct TestApp {
    pub address: String,
    pub data_dir: PathBuf,
    pub database: Database,
    pub client: Client,
    /// The app's API token, sent by the request helpers below (`client` sends none).
    pub token: Option<String>,
    /// Stops the server when the app is dropped, so its pool's connections close (PostgreSQL
    /// would otherwise run out of them over a whole test run).
    server: actix_web::dev::ServerHandle,
    /// With PostgreSQL, the server only queues jobs: a worker (a thread here, a `storyflow
    /// worker` process in production) runs them until the app is dropped.
    worker_stop: Option<Arc<AtomicBool>>,
    /// The bucket the server's media folder is a copy of, if any.
    pub store: Option<StoreConfig>,
    /// With a bucket, the worker's data folder: a machine of its own, sharing no folder with
    /// the server.
    pub worker_dir: Option<tempfile::TempDir>,
    /// Keeps the folder alive as long as the app; `None` when the caller owns the folder.
    _temp: Option<tempfile::TempDir>,
}

/// A fresh app with an empty SQLite database, rendering tiny previews (320x180 at 15 fps).
pub fn spawn_app() -> TestApp {
    spawn_app_on(Backend::Sqlite)
}

/// [`spawn_app`] on `backend`.
pub fn spawn_app_on(backend: Backend) -> TestApp {
    let temp = tempfile::tempdir().unwrap();
    let mut app = spawn_with(test_config_on(backend, temp.path()));
    app._temp = Some(temp);
    app
}

/// A fresh app on PostgreSQL whose media folder is a copy of `store`'s bucket; its worker
/// thread gets a data folder of its own (a machine that shares no folder with the server).
/// `configure` may change the rest of the configuration.
pub fn spawn_app_with_store(store: StoreConfig, configure: impl FnOnce(&mut AppConfig)) -> TestApp {
    let temp = tempfile::tempdir().unwrap();
    let mut config = test_config_on(Backend::Postgres, temp.path());
    config.store = Some(store);
    configure(&mut config);
    let mut app = spawn_with(config);
    app._temp = Some(temp);
    app
}

/// A fresh app on `backend` that requires `token` on every request but health.
pub fn spawn_app_with_token(backend: Backend, token: &str) -> TestApp {
    let temp = tempfile::tempdir().unwrap();
    let mut config = test_config_on(backend, temp.path());
    config.api_token = Some(token.to_owned());
    let mut app = spawn_with(config);
    app._temp = Some(temp);
    app
}

/// An app over an existing data folder (to test restarts).
pub fn spawn_app_in(data_dir: &Path) -> TestApp {
    spawn_with(test_config(data_dir))
}

/// Loopback, port 0, tiny previews, no token, SQLite.
pub fn test_config(data_dir: &Path) -> AppConfig {
    test_config_on(Backend::Sqlite, data_dir)
}

/// [`test_config`] on `backend`.
pub fn test_config_on(backend: Backend, data_dir: &Path) -> AppConfig {
    let mut config = AppConfig::new(data_dir);
    backend.configure(&mut config);
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
    let database = config.database();
    let token = config.api_token.clone();
    let store = config.store.clone();
    let worker_dir = config.store.as_ref().map(|_| tempfile::tempdir().unwrap());
    let worker_stop = config.database_url.clone().map(|url| {
        let dir = worker_dir
            .as_ref()
            .map_or(data_dir.as_path(), |dir| dir.path());
        let mut worker = WorkerConfig::new(dir, url);
        worker.tts_home = config.tts_home.clone();
        worker.store = config.store.clone();
        spawn_worker(worker)
    });
    let (sender, receiver) = mpsc::channel();
    std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            match Application::build(config) {
                Ok(app) => {
                    sender.send(Ok((app.port(), app.handle()))).unwrap();
                    app.run_until_stopped().await.unwrap();
                }
                Err(err) => sender.send(Err(err.to_string())).unwrap(),
            }
        });
    });
    let (port, handle) = receiver
        .recv_timeout(Duration::from_secs(30))
        .unwrap()
        .unwrap();
    TestApp {
        address: format!("http://127.0.0.1:{port}"),
        data_dir,
        database,
        client: Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .unwrap(),
        token,
        server: handle,
        worker_stop,
        store,
        worker_dir,
        _temp: None,
    }
}

/// Runs a job worker on a thread until the returned flag is set.
pub fn spawn_worker(config: WorkerConfig) -> Arc<AtomicBool> {
    let worker = Worker::build(config).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    std::thread::spawn(move || worker.run(&flag));
    stop
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub fn media_root(&self) -> PathBuf {
        api::storage::media_root(&self.data_dir)
    }

    /// The server's media folder (a copy of its bucket's, when it has one).
    pub fn media(&self) -> MediaStore {
        MediaStore::open(&self.data_dir, self.store.as_ref()).unwrap()
    }

    /// A second pool on the app's database, to arrange or inspect rows directly.
    pub fn pool(&self) -> DbPool {
        api::db::build_pool(&self.database).unwrap()
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

impl Drop for TestApp {
    fn drop(&mut self) {
        // Sending the stop command is synchronous; its completion need not be awaited.
        drop(self.server.stop(false));
        if let Some(stop) = &self.worker_stop {
            stop.store(true, Ordering::Release);
        }
    }
}

/// The names of the entries of `dir` (hidden temporary files included), sorted; none when it
/// does not exist.
pub fn files_in(dir: PathBuf) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .map(|entries| {
            entries
                .flatten()
                .map(|entry| entry.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    names.sort();
    names
}
