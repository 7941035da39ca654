//! HTTP handlers, one module per resource. `configure` mounts them all.

use actix_web::web;

use crate::db::AnyConnection;
use crate::errors::ApiError;
use crate::jobs::{JobQueue, QueueError};
use crate::repository::RepoError;
use crate::state::AppState;

pub mod fonts;
pub mod gallery;
pub mod health;
pub mod logos;
pub mod media;
pub mod music;
pub mod narration;
pub mod projects;
pub mod render;
pub mod segments;
pub mod settings;
pub mod support;
pub mod tasks;
pub mod uploads;

/// Mounts every route of the API on an actix `App`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    render::configure(cfg);
    tasks::configure(cfg);
    media::configure(cfg);
    projects::configure(cfg);
    segments::configure(cfg);
    uploads::configure(cfg);
    settings::configure(cfg);
    logos::configure(cfg);
    fonts::configure(cfg);
    music::configure(cfg);
    narration::configure(cfg);
    gallery::configure(cfg);
}

/// Runs repository work (typed `RepoError`) through `support::with_conn`, so handlers never
/// block the async workers on the database.
pub async fn with_db<T, F>(state: &AppState, work: F) -> Result<T, ApiError>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, RepoError> + Send + 'static,
    T: Send + 'static,
{
    support::with_conn(state, move |conn| work(conn).map_err(ApiError::from)).await
}

/// Runs a job-queue call off the async workers (with shared jobs it reaches the database);
/// the queue's own error is the caller's to map.
pub async fn with_queue<T, F>(state: &AppState, work: F) -> Result<Result<T, QueueError>, ApiError>
where
    F: FnOnce(&JobQueue) -> Result<T, QueueError> + Send + 'static,
    T: Send + 'static,
{
    let queue = state.queue.clone();
    Ok(web::block(move || work(&queue)).await?)
}
