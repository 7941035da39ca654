//! The migrations of both backends: SQLite's, step by step over existing rows, and
//! PostgreSQL's ending in the same columns (each schema change is written once per backend, in
//! `migrations/` and `migrations-postgres/`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use api::db::{self, DbPool};
use api::models::SettingsUpdate;
use api::repository as repo;
use core_engine::text_overlay;
use core_engine::{MusicSpec, SoundSettings};
use diesel::connection::SimpleConnection;
use diesel::prelude::*;

use crate::common::Backend;

fn sqlite_db() -> (tempfile::TempDir, DbPool) {
    let dir = tempfile::tempdir().unwrap();
    let pool = Backend::Sqlite.fresh_pool(dir.path());
    (dir, pool)
}

#[test]
fn migrations_apply_to_an_empty_database_and_are_idempotent() {
    let (_dir, pool) = sqlite_db();
    db::run_migrations(&pool).unwrap();
    let mut conn = pool.get().unwrap();

    #[derive(QueryableByName)]
    struct Name {
        #[diesel(sql_type = diesel::sql_types::Text)]
        name: String,
    }
    let tables: Vec<String> = diesel::sql_query(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE '\\_%' ESCAPE '\\' \
         AND name NOT LIKE 'sqlite%' ORDER BY name",
    )
    .load::<Name>(&mut conn)
    .unwrap()
    .into_iter()
    .map(|row| row.name)
    .collect();
    assert_eq!(tables, ["global_settings", "logos", "projects", "segments"]);

    #[derive(QueryableByName)]
    struct Mode {
        #[diesel(sql_type = diesel::sql_types::Text)]
        journal_mode: String,
    }
    let mode = diesel::sql_query("PRAGMA journal_mode")
        .get_result::<Mode>(&mut conn)
        .unwrap();
    assert_eq!(mode.journal_mode, "wal");
}

/// A settings row as the first migration made it (26 columns).
const FIRST_SETTINGS_ROW: &str = "1, 'af_bella', 1.0, 'Arial', 48, '#FFFFFF', '#FFFFFF', \
     'bottom', '', NULL, 1, 1920, 1080, 30, 1.2, 1.3, 0.5, 0.3, 0, NULL, 0.15, 'bottom-right', \
     1.0, 20, '2026-01-01 00:00:00', '2026-01-01 00:00:00'";

/// A fresh database taken back to just before the migration named `*_{name}` (that one and
/// every later one reverted), holding the settings row `values`, then migrated forward again.
fn migrate_over_a_settings_row(name: &str, values: &str) -> (tempfile::TempDir, DbPool) {
    use diesel::migration::MigrationSource;
    use diesel::sqlite::Sqlite;
    use diesel_migrations::MigrationHarness;

    let (dir, pool) = sqlite_db();
    let mut pooled = pool.get().unwrap();
    let db::AnyConnection::Sqlite(conn) = &mut *pooled else {
        unreachable!("an SQLite pool")
    };
    let mut migrations = MigrationSource::<Sqlite>::migrations(&db::MIGRATIONS).unwrap();
    migrations.sort_by_key(|m| m.name().to_string());
    let first = migrations
        .iter()
        .position(|m| m.name().to_string().ends_with(name))
        .unwrap();
    for migration in migrations[first..].iter().rev() {
        conn.revert_migration(migration.as_ref()).unwrap();
    }
    conn.batch_execute(&format!("INSERT INTO global_settings VALUES ({values})"))
        .unwrap();
    drop(pooled);
    db::run_migrations(&pool).unwrap();
    (dir, pool)
}

/// The highlight colour's column comes with its default for the settings row that exists
/// when it is added, as for rows made later.
#[test]
fn the_highlight_colour_column_defaults_for_an_existing_settings_row() {
    let (_dir, pool) = migrate_over_a_settings_row("_subtitle_highlight_color", FIRST_SETTINGS_ROW);
    let mut conn = pool.get().unwrap();
    let settings = repo::get_settings(&mut conn).unwrap();
    // The migration's column default is the renderer's default colour.
    let renderer_default = text_overlay::format_hex_color(text_overlay::DEFAULT_HIGHLIGHT_COLOR);
    assert_eq!(
        settings.subtitle_highlight_color.as_deref(),
        Some(renderer_default.as_str())
    );
    let off = SettingsUpdate {
        subtitle_highlight_color: Some(None),
        ..SettingsUpdate::default()
    };
    let updated = repo::update_settings(&mut conn, &off).unwrap();
    assert_eq!(updated.subtitle_highlight_color, None);
}

/// The music and loudness columns come with the renderer's defaults for the settings row that
/// exists when they are added: no music, at its default level and ducking, loudness at the
/// default target.
#[test]
fn the_sound_columns_default_to_the_renderer_defaults_for_an_existing_settings_row() {
    let before = format!("{FIRST_SETTINGS_ROW}, '#FFD400'");
    let (_dir, pool) = migrate_over_a_settings_row("_sound", &before);
    let mut conn = pool.get().unwrap();
    let settings = repo::get_settings(&mut conn).unwrap();
    assert!(!settings.music_enabled);
    assert_eq!(settings.music_file, None);
    assert_eq!(settings.music_volume, MusicSpec::DEFAULT_VOLUME);
    assert_eq!(settings.music_ducking_db, MusicSpec::DEFAULT_DUCKING_DB);
    assert_eq!(
        settings.loudness_target_lufs,
        Some(SoundSettings::DEFAULT_LOUDNESS_TARGET_LUFS)
    );
    let level_alone = SettingsUpdate {
        loudness_target_lufs: Some(None),
        ..SettingsUpdate::default()
    };
    let updated = repo::update_settings(&mut conn, &level_alone).unwrap();
    assert_eq!(updated.loudness_target_lufs, None);
}

/// One column as both backends describe it.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord, QueryableByName)]
struct Column {
    #[diesel(sql_type = diesel::sql_types::Text)]
    table_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    column_name: String,
    #[diesel(sql_type = diesel::sql_types::Text)]
    is_nullable: String,
}

/// Every application table's columns (diesel's own bookkeeping table left out, and the job
/// queue and its chunk jobs, which only PostgreSQL has), sorted.
fn columns(backend: Backend) -> Vec<Column> {
    let dir = tempfile::tempdir().unwrap();
    let pool = backend.fresh_pool(dir.path());
    let query = match backend {
        Backend::Sqlite => {
            "SELECT m.name AS table_name, p.name AS column_name, \
                    CASE p.\"notnull\" WHEN 0 THEN 'YES' ELSE 'NO' END AS is_nullable \
             FROM sqlite_master AS m, pragma_table_info(m.name) AS p \
             WHERE m.type = 'table' AND m.name NOT LIKE '\\_%' ESCAPE '\\' \
               AND m.name NOT LIKE 'sqlite%'"
        }
        Backend::Postgres => {
            "SELECT table_name::text AS table_name, column_name::text AS column_name, \
                    is_nullable::text AS is_nullable \
             FROM information_schema.columns \
             WHERE table_schema = 'public' AND table_name NOT LIKE '\\_%' \
               AND table_name NOT IN ('jobs', 'chunk_jobs')"
        }
    };
    let mut columns = diesel::sql_query(query)
        .load::<Column>(&mut pool.get().unwrap())
        .unwrap();
    columns.sort();
    columns
}

#[test]
fn both_backends_migrate_to_the_same_columns() {
    let sqlite = columns(Backend::Sqlite);
    assert_eq!(sqlite.len(), 57, "{sqlite:#?}");
    assert_eq!(sqlite, columns(Backend::Postgres));
}

#[test]
fn postgres_migrations_are_idempotent_and_settings_take_the_renderer_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let pool = Backend::Postgres.fresh_pool(dir.path());
    db::run_migrations(&pool).unwrap();
    let settings = repo::get_settings(&mut pool.get().unwrap()).unwrap();
    assert_eq!(settings.music_volume, MusicSpec::DEFAULT_VOLUME);
    assert_eq!(
        settings.loudness_target_lufs,
        Some(SoundSettings::DEFAULT_LOUDNESS_TARGET_LUFS)
    );
}
