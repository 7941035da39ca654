//! Application start-up: configuration, the shared state handlers see (`state`), and an
//! `Application::build` that prepares the data folder, database and worker, then binds (port 0
//! in tests) so callers learn the real port before serving. A bind address reachable beyond
//! this machine is refused unless an API token is configured (see `auth`).

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::dev::Server;
use actix_web::http::{header, StatusCode};
use actix_web::{error, middleware, web, HttpRequest, HttpResponse};
use serde_json::json;
use task_manager::{TaskManager, TaskManagerConfig};
use tts::{PiperEngine, TtsHome};

use crate::jobs::{worker_name, JobQueue, JobRunner};

use crate::auth::{self, ApiToken, TokenError};
use crate::bucket::{BucketError, StoreConfig};
use crate::db::{self, Database, DbPool, PostgresUrl};
use crate::errors::ApiError;
use crate::handlers;
use crate::repository;
use crate::state::{AppState, PreviewSize, UploadLimits};
use crate::storage::{self, MediaStore};
use crate::tasks::{ChunkCacheConfig, CoreEngineRenderer};

#[derive(Clone)]
pub struct AppConfig {
    /// `host:port` (a host name is resolved); port 0 picks a free one (tests).
    pub bind: String,
    /// When set, every request but `GET /api/health/` must carry `Authorization: Bearer
    /// <token>`, on loopback too. Required when `bind` reaches beyond loopback. At least
    /// [`auth::MIN_TOKEN_CHARS`] visible ASCII characters: an empty or shorter one is refused
    /// at start-up, never taken for "no token".
    pub api_token: Option<String>,
    /// Holds `media/` and, unless `database_url` is set, `storyflow.sqlite3`.
    pub data_dir: PathBuf,
    /// A PostgreSQL server instead of the SQLite file in the data folder.
    pub database_url: Option<PostgresUrl>,
    /// A bucket holding media and chunks, of which the data folder keeps a copy (for workers
    /// on machines that share no folder with the server).
    pub store: Option<StoreConfig>,
    /// Origins allowed by CORS; others get no CORS headers at all.
    pub cors_origins: Vec<String>,
    pub limits: UploadLimits,
    pub preview: Option<PreviewSize>,
    /// Finished task records are forgotten after this long.
    pub task_retention: Duration,
    /// Where the text-to-speech runtime and voices are (`None`: narration from text is
    /// unavailable and its endpoints answer 503).
    pub tts_home: Option<TtsHome>,
    /// Bound of the chunk cache (in [`chunk_cache_dir`](Self::chunk_cache_dir)), in bytes.
    pub cache_max_bytes: u64,
    /// With `store`: bound of this machine's copies of the bucket's media, in bytes. Kept by
    /// each render as it starts, and, on PostgreSQL (where this server renders nothing),
    /// every `trim_every`.
    pub media_copy_max_bytes: u64,
    pub trim_every: Duration,
    /// Chunks a render encodes at once.
    pub jobs: usize,
}

impl AppConfig {
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        Self {
            bind: "127.0.0.1:8000".to_owned(),
            api_token: None,
            data_dir: data_dir.into(),
            database_url: None,
            store: None,
            cors_origins: vec!["http://localhost:3000".to_owned()],
            limits: UploadLimits::default(),
            preview: None,
            task_retention: Duration::from_secs(3600),
            tts_home: TtsHome::from_env(),
            cache_max_bytes: core_engine::chunk_cache::DEFAULT_MAX_BYTES,
            media_copy_max_bytes: storage::DEFAULT_COPY_MAX_BYTES,
            trim_every: TRIM_EVERY,
            jobs: core_engine::default_jobs(),
        }
    }

    /// The configured token, checked.
    fn api_token(&self) -> Result<Option<ApiToken>, StartupError> {
        self.api_token
            .as_deref()
            .map(ApiToken::new)
            .transpose()
            .map_err(StartupError::ApiToken)
    }

    /// The PostgreSQL server if one is configured, otherwise `storyflow.sqlite3` in the data
    /// folder.
    pub fn database(&self) -> Database {
        match &self.database_url {
            Some(url) => Database::Postgres(url.clone()),
            None => Database::Sqlite(self.data_dir.join("storyflow.sqlite3")),
        }
    }

    pub fn media_root(&self) -> PathBuf {
        storage::media_root(&self.data_dir)
    }

    pub fn chunk_cache_dir(&self) -> PathBuf {
        storage::chunk_cache_dir(&self.data_dir)
    }
}

/// Written by hand so that the token never shows in a log or a panic message.
impl std::fmt::Debug for AppConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AppConfig")
            .field("bind", &self.bind)
            .field("api_token", &self.api_token.as_ref().map(|_| "<redacted>"))
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url)
            .field("store", &self.store.as_ref().map(|store| &store.url))
            .field("cors_origins", &self.cors_origins)
            .field("limits", &self.limits)
            .field("preview", &self.preview)
            .field("task_retention", &self.task_retention)
            .field("tts_home", &self.tts_home)
            .field("cache_max_bytes", &self.cache_max_bytes)
            .field("jobs", &self.jobs)
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum StartupError {
    #[error("unusable API token (--api-token / STORYFLOW_API_TOKEN)")]
    ApiToken(#[source] TokenError),
    #[error(
        "{bind}{} is reachable beyond this machine, so an API token is required: set one with \
         --api-token or STORYFLOW_API_TOKEN (at least {} characters), or bind a loopback \
         address such as 127.0.0.1:8000",
        resolved_as(bind, address),
        auth::MIN_TOKEN_CHARS
    )]
    TokenRequired { bind: String, address: SocketAddr },
    #[error("media store")]
    Store(#[from] BucketError),
    #[error("cannot create data folder {path}")]
    DataDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("database")]
    Database(#[from] db::DbError),
    #[error("recovering interrupted renders")]
    Recovery(#[from] repository::RepoError),
    #[error("task manager")]
    Tasks(#[from] task_manager::TaskError),
    #[error("job queue")]
    Jobs(#[source] crate::jobs::QueueError),
    #[error("cannot listen on {bind}")]
    Bind {
        bind: String,
        source: std::io::Error,
    },
}

/// Names the address a host name resolved to (`localhost` could be mapped anywhere).
fn resolved_as(bind: &str, address: &SocketAddr) -> String {
    if bind.parse::<SocketAddr>().is_ok() {
        String::new()
    } else {
        format!(" (as {address})")
    }
}

/// A built, bound, not yet running server.
pub struct Application {
    port: u16,
    server: Server,
    queue: JobQueue,
    /// The media copies to trim every so often, and how often (with a bucket on PostgreSQL).
    trim: Option<(MediaStore, Duration)>,
}

impl std::fmt::Debug for Application {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Application")
            .field("port", &self.port)
            .finish_non_exhaustive()
    }
}

impl Application {
    pub fn build(mut config: AppConfig) -> Result<Self, StartupError> {
        // Checked before anything is created or bound, so a refused start leaves no trace.
        let token = config.api_token()?;
        let addresses = resolve(&config.bind)?;
        if token.is_some() {
            log::info!("API token required on every request but GET /api/health/");
        } else if let Some(&address) = addresses.iter().find(|address| !auth::is_loopback(address))
        {
            return Err(StartupError::TokenRequired {
                bind: config.bind,
                address,
            });
        }

        // Relative to the working directory at start-up, once: nothing later depends on it.
        config.data_dir =
            std::path::absolute(&config.data_dir).map_err(|source| StartupError::DataDir {
                path: config.data_dir.clone(),
                source,
            })?;
        log::info!("data folder: {}", config.data_dir.display());
        let media = MediaStore::open(&config.data_dir, config.store.as_ref())?
            .with_copy_bound(config.media_copy_max_bytes);
        if let Some(url) = media.bucket_url() {
            log::info!("media and chunks: copies of {url}");
        }
        let media_root = config.media_root();
        for dir in [&config.data_dir, &media_root] {
            std::fs::create_dir_all(dir).map_err(|source| StartupError::DataDir {
                path: dir.clone(),
                source,
            })?;
        }
        let database = config.database();
        log::info!("database: {database}");
        let pool = db::build_pool(&database)?;
        db::run_migrations(&pool)?;
        match config.database_url {
            None => recover_interrupted(&pool, &media_root)?,
            // Renders in progress belong to the workers (one that died is found by its lease
            // running out); only a render whose job was never queued is this server's.
            Some(_) => {
                let orphans = crate::jobs::with_pg(&pool, |conn| {
                    Ok(crate::jobs::store::fail_orphaned_renders(conn)?)
                })
                .map_err(StartupError::Jobs)?;
                for id in orphans {
                    log::warn!("project {id} was left rendering with no job queued; marked FAILED");
                }
            }
        }

        let renderer_status = core_engine::init()
            .and_then(|version| core_engine::check_elements().map(|()| version))
            .map_err(|err| err.to_string());
        match &renderer_status {
            Ok(version) => log::info!("renderer ready ({version})"),
            Err(reason) => log::error!("renderer unavailable, renders will be refused: {reason}"),
        }

        let chunk_cache = ChunkCacheConfig {
            dir: config.chunk_cache_dir(),
            max_bytes: config.cache_max_bytes,
            remote: media.chunk_remote(),
        };
        log::info!("chunk cache: {}", chunk_cache.dir.display());
        let tts = config.tts_home.map(|home| Arc::new(PiperEngine::new(home)));
        match tts.as_deref().map(PiperEngine::installed_voices) {
            Some(Ok(voices)) => log::info!("text to speech ready ({} voice(s))", voices.len()),
            Some(Err(err)) => log::warn!("narration from text is unavailable: {err}"),
            None => log::warn!("narration from text is unavailable: no TTS folder (set HOME)"),
        }

        let queue = match config.database_url {
            None => JobQueue::InProcess {
                tasks: TaskManager::new(TaskManagerConfig {
                    prune_after: config.task_retention,
                })?,
                runner: Arc::new(JobRunner {
                    pool: pool.clone(),
                    media: media.clone(),
                    renderer: Arc::new(CoreEngineRenderer),
                    chunk_cache: chunk_cache.clone(),
                    jobs: config.jobs,
                    tts: tts.clone(),
                    worker: worker_name(),
                    share_chunks: false,
                }),
            },
            Some(_) => {
                log::info!("renders and narrations are queued for `storyflow worker` processes");
                JobQueue::Shared {
                    pool: pool.clone(),
                    retention: config.task_retention,
                }
            }
        };
        let trim = (config.database_url.is_some() && media.bucket_url().is_some())
            .then(|| (media.clone(), config.trim_every));
        let state = AppState {
            pool,
            media,
            queue: queue.clone(),
            limits: config.limits,
            preview: config.preview,
            chunk_cache,
            renderer_status,
            tts,
        };

        // The addresses checked above, not the name again: it could resolve differently now.
        let listener =
            TcpListener::bind(addresses.as_slice()).map_err(|source| StartupError::Bind {
                bind: config.bind.clone(),
                source,
            })?;
        let port = listener
            .local_addr()
            .map_err(|source| StartupError::Bind {
                bind: config.bind.clone(),
                source,
            })?
            .port();
        let server = serve(listener, state, config.cors_origins, token).map_err(|source| {
            StartupError::Bind {
                bind: config.bind.clone(),
                source,
            }
        })?;
        Ok(Self {
            port,
            server,
            queue,
            trim,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle to stop the server from elsewhere (tests, signal handlers).
    pub fn handle(&self) -> actix_web::dev::ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped (Ctrl-C included), then cancels whatever task its
    /// in-process worker is running and joins it, so no render is left half-written (shared
    /// jobs carry on in their workers).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let trimming = self
            .trim
            .map(|(media, every)| actix_web::rt::spawn(trim_copies_every(media, every)));
        let result = self.server.await;
        if let Some(trimming) = trimming {
            trimming.abort();
        }
        let queue = self.queue;
        let joined = web::block(move || queue.shutdown()).await;
        if let Err(err) = joined {
            log::error!("task manager shutdown failed: {err}");
        }
        result
    }
}

/// How often a server on PostgreSQL with a bucket trims its copies of media.
const TRIM_EVERY: Duration = Duration::from_secs(60);

/// Keeps the server's copies of the bucket's media (uploads it sent, videos it served) within
/// their bound. Only where this server renders nothing: a trim never spares a running render's
/// files but at the render's own start.
async fn trim_copies_every(media: MediaStore, every: Duration) {
    let mut ticks = actix_web::rt::time::interval(every);
    loop {
        ticks.tick().await;
        let media = media.clone();
        match web::block(move || media.trim_copies(&[])).await {
            Ok(Ok(_)) => {}
            Ok(Err(err)) => log::warn!("cannot trim the media copies: {err}"),
            Err(err) => log::warn!("cannot trim the media copies: {err}"),
        }
    }
}

/// Every address `bind` names (a host name may resolve to several).
fn resolve(bind: &str) -> Result<Vec<SocketAddr>, StartupError> {
    let failed = |source| StartupError::Bind {
        bind: bind.to_owned(),
        source,
    };
    let addresses: Vec<SocketAddr> = bind.to_socket_addrs().map_err(failed)?.collect();
    if addresses.is_empty() {
        return Err(failed(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the name resolves to no address",
        )));
    }
    Ok(addresses)
}

fn serve(
    listener: TcpListener,
    state: AppState,
    cors_origins: Vec<String>,
    token: Option<ApiToken>,
) -> std::io::Result<Server> {
    let state = web::Data::new(state);
    let server = actix_web::HttpServer::new(move || {
        let token = token.clone();
        // The last `wrap` is the outermost: the token is checked inside CORS (see `auth`).
        actix_web::App::new()
            .wrap(middleware::from_fn(move |req, next| {
                auth::require_token(token.clone(), req, next)
            }))
            .wrap(cors(&cors_origins))
            .wrap(middleware::Logger::new("%r %s %Dms"))
            .app_data(state.clone())
            .app_data(json_config())
            .app_data(web::PathConfig::default().error_handler(|err, _| {
                ApiError::BadRequest(format!("Invalid path: {err}")).into()
            }))
            .app_data(web::QueryConfig::default().error_handler(|err, _| {
                ApiError::BadRequest(format!("Invalid query string: {err}")).into()
            }))
            .configure(handlers::configure)
            .default_service(web::to(not_found))
    })
    .listen(listener)?
    .run();
    Ok(server)
}

/// The UI's origin is allowed everywhere, `/media/` included (it fetches the video
/// cross-origin); the header list mirrors django-cors-headers so preflights match.
fn cors(origins: &[String]) -> Cors {
    let cors = origins
        .iter()
        .fold(Cors::default(), |cors, origin| cors.allowed_origin(origin));
    cors.allowed_methods(["DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT"])
        .allowed_headers([
            header::ACCEPT,
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::USER_AGENT,
            header::HeaderName::from_static("x-csrftoken"),
            header::HeaderName::from_static("x-requested-with"),
        ])
        .max_age(86_400)
        // A foreign origin is served like any client, just without CORS headers.
        .block_on_origin_mismatch(false)
}

fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(2 * 1024 * 1024)
        .error_handler(|err, _req: &HttpRequest| {
            let api_error = match &err {
                error::JsonPayloadError::ContentType => ApiError::UnsupportedMediaType(
                    "Expected Content-Type: application/json.".into(),
                ),
                error::JsonPayloadError::Overflow { .. }
                | error::JsonPayloadError::OverflowKnownLength { .. } => {
                    ApiError::PayloadTooLarge("Request body is too large.".into())
                }
                other => ApiError::BadRequest(format!("Malformed JSON: {other}")),
            };
            api_error.into()
        })
}

async fn not_found(req: HttpRequest) -> HttpResponse {
    HttpResponse::build(StatusCode::NOT_FOUND)
        .json(json!({ "detail": "Not found.", "path": req.path() }))
}

/// A previous process that died mid-render leaves its project PROCESSING and maybe a
/// temporary video; neither may outlive a restart.
fn recover_interrupted(pool: &DbPool, media_root: &Path) -> Result<(), StartupError> {
    let mut conn = pool.get().map_err(db::DbError::from)?;
    for id in repository::recover_interrupted(&mut conn)? {
        log::warn!("project {id} was left rendering by a previous run; marked FAILED");
    }
    remove_temporary_outputs(media_root);
    Ok(())
}

fn remove_temporary_outputs(media_root: &Path) {
    let Ok(projects) = std::fs::read_dir(storage::projects_dir(media_root)) else {
        return;
    };
    for project in projects.flatten() {
        let id = project.file_name().to_string_lossy().into_owned();
        crate::tasks::remove_temporary_outputs(&storage::output_dir(media_root, &id));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chunk_cache_is_in_the_data_folder_and_bounded_by_default() {
        let config = AppConfig::new("/srv/storyflow");
        assert_eq!(
            config.chunk_cache_dir(),
            PathBuf::from("/srv/storyflow/cache/chunks")
        );
        assert_eq!(
            config.cache_max_bytes,
            core_engine::chunk_cache::DEFAULT_MAX_BYTES
        );
        assert!(config.jobs >= 1);
    }

    #[test]
    fn debug_output_never_shows_the_token() {
        let mut config = AppConfig::new("/srv/storyflow");
        config.api_token = Some("0123456789abcdef-secret".to_owned());
        let shown = format!("{config:?}");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[test]
    fn a_host_name_is_resolved_to_every_address_it_names() {
        let addresses = resolve("localhost:0").unwrap();
        assert!(addresses.iter().all(auth::is_loopback), "{addresses:?}");
        assert!(matches!(
            resolve("no port here"),
            Err(StartupError::Bind { .. })
        ));
    }

    #[test]
    fn the_refusal_names_the_resolved_address_only_for_a_host_name() {
        let address: SocketAddr = "10.0.0.1:8000".parse().unwrap();
        let refusal = |bind: &str| {
            StartupError::TokenRequired {
                bind: bind.to_owned(),
                address,
            }
            .to_string()
        };
        assert!(refusal("10.0.0.1:8000").starts_with("10.0.0.1:8000 is reachable"));
        assert!(refusal("storyflow.lan:8000")
            .starts_with("storyflow.lan:8000 (as 10.0.0.1:8000) is reachable"));
    }

    #[test]
    fn short_tokens_are_refused_with_a_typed_error() {
        let mut config = AppConfig::new("/srv/storyflow");
        config.api_token = Some(String::new());
        assert!(matches!(
            config.api_token(),
            Err(StartupError::ApiToken(TokenError::TooShort { chars: 0 }))
        ));
        config.api_token = Some("0123456789abcdef".to_owned());
        assert!(config.api_token().unwrap().is_some());
        config.api_token = None;
        assert!(config.api_token().unwrap().is_none());
    }
}
