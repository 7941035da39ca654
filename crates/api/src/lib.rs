//! StoryFlow's REST backend as a library: the data layer (SQLite or PostgreSQL), the HTTP
//! handlers the editor UI speaks to, the background tasks (renders, narration from text) that
//! tie the database, the renderer (`core_engine`), the synthesiser (`tts`) and the executor
//! (`task_manager`) together through traits, and where those tasks run (`jobs`: the server's
//! own worker thread, or `storyflow worker` processes sharing a PostgreSQL job queue), and
//! where media live (`storage`: the data folder, a copy of a `bucket` when there is one).

pub mod app;
pub mod auth;
pub mod bucket;
pub mod db;
pub mod errors;
pub mod handlers;
pub mod import;
pub mod import_text;
pub mod jobs;
pub mod models;
pub mod narration_store;
pub mod render_store;
pub mod repository;
pub mod schema;
pub mod state;
pub mod storage;
pub mod tasks;
pub mod validation;
pub mod views;

pub use app::{AppConfig, Application, StartupError};
pub use errors::ApiError;
pub use state::AppState;
