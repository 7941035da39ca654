//! The suites that run on every backend, here on Postgres (see main.rs).

use crate::common::Backend;

/// The backend the suites below run on.
const BACKEND: Backend = Backend::Postgres;

#[path = "auth.rs"]
mod auth;
#[path = "cors.rs"]
mod cors;
#[path = "editor_api.rs"]
mod editor_api;
#[path = "music_api.rs"]
mod music_api;
#[path = "narration_api.rs"]
mod narration_api;
#[path = "original_contract.rs"]
mod original_contract;
#[path = "render_api.rs"]
pub(crate) mod render_api;
#[path = "repository.rs"]
mod repository;
