//! The database: SQLite (the embedded default, one file in the data folder) or PostgreSQL (a
//! `postgres://` URL), behind one connection type, [`AnyConnection`], so the repository has one
//! code path for both. Each backend has its own migrations folder (see docs/architecture.md).
//!
//! Every pooled SQLite connection runs in WAL mode with a generous busy timeout, so the render
//! worker and the request threads wait for each other instead of failing with "database is
//! locked", and with foreign keys on, so deleting a project cascades to its segments.

use std::path::PathBuf;
use std::time::Duration;

use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::pg::PgConnection;
use diesel::r2d2::{Pool, PooledConnection, R2D2Connection};
use diesel::result::Error as DieselError;
use diesel::sqlite::SqliteConnection;
use diesel::Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};

/// A connection to either backend. Repository functions take this; code that must differ per
/// backend (transactions that lock for writing, `ON CONFLICT`) matches on it.
#[derive(diesel::MultiConnection)]
pub enum AnyConnection {
    Sqlite(SqliteConnection),
    Postgresql(PgConnection),
}

/// The backend only (the inner connections have no `Debug`).
impl std::fmt::Debug for AnyConnection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(_) => f.write_str("AnyConnection::Sqlite"),
            Self::Postgresql(_) => f.write_str("AnyConnection::Postgresql"),
        }
    }
}

pub type DbPool = Pool<ConnectionManager>;
pub type DbConnection = PooledConnection<ConnectionManager>;

/// The SQLite migrations under `migrations/`, compiled into the binary.
pub const MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations");
/// The same schema for PostgreSQL, under `migrations-postgres/`.
pub const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../../migrations-postgres");

/// Enough connections for every actix worker plus the render worker on a small machine.
const POOL_SIZE: u32 = 16;
/// How long SQLite waits for another connection's write lock before giving up.
const BUSY_TIMEOUT_MS: u32 = 15_000;
/// The PostgreSQL advisory lock every writing transaction holds (an arbitrary constant:
/// "sf" in ASCII), the counterpart of SQLite's single write lock.
const WRITE_LOCK_KEY: i64 = 0x7366;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("database path {0} is not valid UTF-8")]
    InvalidPath(PathBuf),
    /// The URL itself is not echoed: it may hold a password.
    #[error("the database URL must start with postgres:// or postgresql://")]
    UnsupportedUrl,
    #[error("database connection pool")]
    Pool(#[from] r2d2::Error),
    #[error("running database migrations")]
    Migration(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
    #[error("connecting to the database server")]
    Connect(#[from] diesel::ConnectionError),
    #[error("{0:?} is not a database name this program makes (lower-case letters, digits, _)")]
    DatabaseName(String),
    #[error("creating or dropping a database")]
    Admin(#[from] DieselError),
}

/// A PostgreSQL connection URL. Its password never shows in `Display` or `Debug`, so it can be
/// logged; [`as_str`](Self::as_str) is for connecting only.
#[derive(Clone, PartialEq, Eq)]
pub struct PostgresUrl(String);

impl PostgresUrl {
    pub fn parse(url: &str) -> Result<Self, DbError> {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Self(url.to_owned()))
        } else {
            Err(DbError::UnsupportedUrl)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The same server and credentials, database `name`.
    pub fn with_database(&self, name: &str) -> Self {
        let (scheme, rest) = self.0.split_once("://").unwrap_or(("postgres", &self.0));
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let query = tail.find('?').map_or("", |start| &tail[start..]);
        Self(format!("{scheme}://{authority}/{name}{query}"))
    }
}

/// Creates database `name` on the server `admin` points at (its user needs the right to) and
/// returns its URL: for benchmarks and demos that want a database of their own.
pub fn create_database(admin: &PostgresUrl, name: &str) -> Result<PostgresUrl, DbError> {
    admin_statement(admin, "CREATE", name)?;
    Ok(admin.with_database(name))
}

/// Drops database `name` (made by [`create_database`]) on the server `admin` points at.
pub fn drop_database(admin: &PostgresUrl, name: &str) -> Result<(), DbError> {
    admin_statement(admin, "DROP", name)
}

fn admin_statement(admin: &PostgresUrl, verb: &str, name: &str) -> Result<(), DbError> {
    let valid = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !valid {
        return Err(DbError::DatabaseName(name.to_owned()));
    }
    let mut conn = PgConnection::establish(admin.as_str())?;
    // Checked above to be a plain identifier: nothing to quote.
    conn.batch_execute(&format!("{verb} DATABASE {name}"))?;
    Ok(())
}

/// The URL with the password of its user info and any `password=` parameter replaced by `***`.
impl std::fmt::Display for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (scheme, rest) = self.0.split_once("://").unwrap_or(("", &self.0));
        let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, tail) = rest.split_at(authority_end);
        let authority = match authority.rsplit_once('@') {
            Some((user_info, host)) => match user_info.split_once(':') {
                Some((user, _password)) => format!("{user}:***@{host}"),
                None => authority.to_owned(),
            },
            None => authority.to_owned(),
        };
        let tail = match tail.split_once('?') {
            Some((path, query)) => {
                let params: Vec<String> = query
                    .split('&')
                    .map(|param| match param.split_once('=') {
                        Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                            format!("{key}=***")
                        }
                        _ => param.to_owned(),
                    })
                    .collect();
                format!("{path}?{}", params.join("&"))
            }
            None => tail.to_owned(),
        };
        write!(f, "{scheme}://{authority}{tail}")
    }
}

impl std::fmt::Debug for PostgresUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PostgresUrl({self})")
    }
}

/// Where the rows live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Database {
    /// An SQLite file, created when missing.
    Sqlite(PathBuf),
    Postgres(PostgresUrl),
}

/// For logs: the file, or the URL without its password.
impl std::fmt::Display for Database {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Sqlite(path) => write!(f, "SQLite {}", path.display()),
            Self::Postgres(url) => write!(f, "PostgreSQL {url}"),
        }
    }
}

/// Opens connections of the configured backend (diesel's own manager would try every backend
/// in turn and hide the real reason a PostgreSQL connection failed).
#[derive(Debug, Clone)]
pub struct ConnectionManager {
    target: Target,
}

/// What the manager connects to, checked once by [`build_pool`].
#[derive(Debug, Clone)]
enum Target {
    /// The SQLite file's path as UTF-8, which is what SQLite takes.
    Sqlite(String),
    Postgres(PostgresUrl),
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = AnyConnection;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<AnyConnection, Self::Error> {
        match &self.target {
            Target::Sqlite(path) => {
                let mut conn = SqliteConnection::establish(path)?;
                // busy_timeout comes first so that switching to WAL also waits for others.
                conn.batch_execute(&format!(
                    "PRAGMA busy_timeout = {BUSY_TIMEOUT_MS};
                     PRAGMA journal_mode = WAL;
                     PRAGMA synchronous = NORMAL;
                     PRAGMA foreign_keys = ON;"
                ))?;
                Ok(AnyConnection::Sqlite(conn))
            }
            Target::Postgres(url) => Ok(AnyConnection::Postgresql(PgConnection::establish(
                url.as_str(),
            )?)),
        }
    }

    fn is_valid(&self, conn: &mut AnyConnection) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut AnyConnection) -> bool {
        std::thread::panicking() || conn.is_broken()
    }
}

/// Opens (creating an SQLite file if needed) the database and returns a pool over it.
pub fn build_pool(database: &Database) -> Result<DbPool, DbError> {
    build_pool_of(database, POOL_SIZE)
}

/// [`build_pool`] for a worker whose render runs `jobs` encoder threads, each of which holds a
/// connection while it takes a chunk: room for them all besides the job's own.
pub fn build_worker_pool(database: &Database, jobs: usize) -> Result<DbPool, DbError> {
    let needed = u32::try_from(jobs).unwrap_or(u32::MAX).saturating_add(4);
    build_pool_of(database, POOL_SIZE.max(needed))
}

fn build_pool_of(database: &Database, size: u32) -> Result<DbPool, DbError> {
    let target = match database {
        Database::Sqlite(path) => Target::Sqlite(
            path.to_str()
                .ok_or_else(|| DbError::InvalidPath(path.clone()))?
                .to_owned(),
        ),
        Database::Postgres(url) => Target::Postgres(url.clone()),
    };
    let pool = Pool::builder()
        .max_size(size)
        .min_idle(Some(1))
        .connection_timeout(Duration::from_secs(30))
        .build(ConnectionManager { target })?;
    Ok(pool)
}

/// Brings the schema up to date; a no-op when nothing is pending.
pub fn run_migrations(pool: &DbPool) -> Result<(), DbError> {
    let mut conn = pool.get()?;
    let applied = match &mut *conn {
        AnyConnection::Sqlite(conn) => conn.run_pending_migrations(MIGRATIONS),
        AnyConnection::Postgresql(conn) => conn.run_pending_migrations(POSTGRES_MIGRATIONS),
    }
    .map_err(DbError::Migration)?;
    for version in applied {
        log::info!("applied database migration {version}");
    }
    Ok(())
}

/// Evaluates `$body` with `$inner` bound to the concrete connection inside `$conn`: for the
/// statements diesel builds only for a concrete backend (`ON CONFLICT`, multi-row `INSERT`,
/// `RETURNING` a `Selectable` row). The body is the same for both; only its types differ.
macro_rules! on_backend {
    ($conn:expr, |$inner:ident| $body:expr) => {
        match $conn {
            $crate::db::AnyConnection::Sqlite($inner) => $body,
            $crate::db::AnyConnection::Postgresql($inner) => $body,
        }
    };
}
pub(crate) use on_backend;

/// Runs `work` in a transaction that holds the database's write lock from its start, so a
/// read-check-write sequence cannot interleave with another writer: SQLite's `BEGIN IMMEDIATE`
/// (a concurrent writer waits through the busy timeout), on PostgreSQL an advisory lock all
/// writers share. Must not be nested in another transaction (SQLite refuses).
pub fn write_transaction<T, E, F>(conn: &mut AnyConnection, work: F) -> Result<T, E>
where
    F: FnOnce(&mut AnyConnection) -> Result<T, E>,
    E: From<DieselError>,
{
    match conn {
        AnyConnection::Sqlite(sqlite) => {
            AnsiTransactionManager::begin_transaction_sql(sqlite, "BEGIN IMMEDIATE")?
        }
        AnyConnection::Postgresql(_) => AnyConnection::begin_transaction(conn)?,
    }
    let outcome = lock_for_writing(conn)
        .map_err(E::from)
        .and_then(|()| work(&mut *conn));
    match outcome {
        Ok(value) => {
            AnyConnection::commit_transaction(conn)?;
            Ok(value)
        }
        Err(error) => match AnyConnection::rollback_transaction(conn) {
            Ok(()) | Err(DieselError::BrokenTransactionManager) => Err(error),
            Err(rollback_error) => Err(rollback_error.into()),
        },
    }
}

fn lock_for_writing(conn: &mut AnyConnection) -> Result<(), DieselError> {
    match conn {
        AnyConnection::Sqlite(_) => Ok(()),
        AnyConnection::Postgresql(pg) => {
            pg.batch_execute(&format!("SELECT pg_advisory_xact_lock({WRITE_LOCK_KEY})"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_urls_are_shown_without_their_password() {
        let shown = |url: &str| PostgresUrl::parse(url).unwrap().to_string();
        assert_eq!(
            shown("postgres://story:s3cret@db.example:5432/flow?sslmode=require"),
            "postgres://story:***@db.example:5432/flow?sslmode=require"
        );
        assert_eq!(
            shown("postgresql://story@localhost/flow?password=s3cret&port=5433"),
            "postgresql://story@localhost/flow?password=***&port=5433"
        );
        assert_eq!(
            shown("postgres:///flow?host=/run/postgresql"),
            "postgres:///flow?host=/run/postgresql"
        );
        let debug = format!("{:?}", PostgresUrl::parse("postgres://a:pw@h/d").unwrap());
        assert!(!debug.contains("pw"), "{debug}");
    }

    #[test]
    fn another_database_on_the_same_server_keeps_the_credentials_and_options() {
        let url = PostgresUrl::parse("postgres://u:pw@h:5432/flow?sslmode=require").unwrap();
        assert_eq!(
            url.with_database("bench_1").as_str(),
            "postgres://u:pw@h:5432/bench_1?sslmode=require"
        );
        let bare = PostgresUrl::parse("postgresql://u@h").unwrap();
        assert_eq!(bare.with_database("b").as_str(), "postgresql://u@h/b");
        assert!(matches!(
            create_database(&bare, "x; DROP TABLE y"),
            Err(DbError::DatabaseName(_))
        ));
    }

    #[test]
    fn only_postgres_urls_are_accepted() {
        assert!(PostgresUrl::parse("postgresql://h/d").is_ok());
        for url in ["mysql://a:pw@h/d", "storyflow.sqlite3", "sqlite://x"] {
            let err = PostgresUrl::parse(url).unwrap_err().to_string();
            assert!(!err.contains("pw"), "{err}");
        }
    }
}
