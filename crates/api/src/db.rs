//! The SQLite connection pool and the embedded migrations.
//!
//! Every pooled connection runs in WAL mode with a generous busy timeout, so the render worker
//! and the request threads wait for each other instead of failing with "database is locked",
//! and with foreign keys on, so deleting a project cascades to its segments.

use std::path::{Path, PathBuf};
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::r2d2::{ConnectionManager, CustomizeConnection, Pool, PooledConnection};
use diesel::sqlite::SqliteConnection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

pub type DbPool = Pool<ConnectionManager<SqliteConnection>>;
pub type DbConnection = PooledConnection<ConnectionManager<SqliteConnection>>;

/// The SQL migrations under `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");

/// Enough connections for every actix worker plus the render worker on a small machine.
const POOL_SIZE: u32 = 16;
/// How long SQLite waits for another connection's write lock before giving up.
const BUSY_TIMEOUT_MS: u32 = 15_000;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database path {0} is not valid UTF-8")]
    InvalidPath(PathBuf),
    #[error("database connection pool")]
    Pool(#[from] r2d2::Error),
    #[error("running database migrations")]
    Migration(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// Applies the per-connection settings every time the pool opens a connection.
#[derive(Debug, Clone, Copy)]
struct SqlitePragmas;

impl CustomizeConnection<SqliteConnection, diesel::r2d2::Error> for SqlitePragmas {
    fn on_acquire(&self, conn: &mut SqliteConnection) -> Result<(), diesel::r2d2::Error> {
        // busy_timeout comes first so that switching to WAL also waits for other connections.
        conn.batch_execute(&format!(
            "PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};
             PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA foreign_keys = ON;"
        ))
        .map_err(diesel::r2d2::Error::QueryError)
    }
}

/// Opens (creating if needed) the database file and returns a pool over it.
pub fn build_pool(database_path: &Path) -> Result<DbPool, DbError> {
    let url = database_path
        .to_str()
        .ok_or_else(|| DbError::InvalidPath(database_path.to_path_buf()))?;
    let pool = Pool::builder()
        .max_size(POOL_SIZE)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(30))
        .connection_customizer(Box::new(SqlitePragmas))
        .build(ConnectionManager::<SqliteConnection>::new(url))?;
    Ok(pool)
}

/// Brings the schema up to date; a no-op when nothing is pending.
pub fn run_migrations(pool: &DbPool) -> Result<(), DbError> {
    let mut conn = pool.get()?;
    let applied = conn
        .run_pending_migrations(MIGRATIONS)
        .map_err(DbError::Migration)?;
    for version in applied {
        log::info!("applied database migration {version}");
    }
    Ok(())
}
