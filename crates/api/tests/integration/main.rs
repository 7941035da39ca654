//! The api crate's integration tests, in one test binary (one link, one executable on disk):
//! the HTTP API end to end on a real server, and the repository on a real database.

mod common;
mod support;

mod auth;
mod cors;
mod editor_api;
mod music_api;
mod narration_api;
mod original_contract;
mod render_api;
mod repository;
