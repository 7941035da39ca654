//! The api crate's integration tests, in one test binary (one link, one executable on disk):
//! the HTTP API end to end on a real server, and the repository on a real database.
//!
//! The suites in `sqlite.rs` and `postgres.rs` are compiled once per database backend, so each
//! of their tests runs on both (`sqlite::…` and `postgres::…`); PostgreSQL is a throwaway
//! cluster this binary starts (the `test_cluster` crate). Only `data_folder` (restarts on
//! SQLite) and the PostgreSQL-specific `jobs` and `bucket` run on one backend.
// Compiling those suites twice, once per backend, is the point.
#![allow(clippy::duplicate_mod)]

mod common;
mod support;

mod bucket;
mod data_folder;
mod jobs;
mod migrations;
mod postgres;
mod sqlite;
