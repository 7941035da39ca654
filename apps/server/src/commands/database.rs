//! `--database-url`, shared by the commands that open the database.

use api::db::{DbError, PostgresUrl};

#[derive(Debug, clap::Args)]
pub struct DatabaseArgs {
    /// A PostgreSQL server (postgres://USER:PASSWORD@HOST:PORT/NAME) instead of the SQLite file
    /// in the data folder; media stay in the data folder. Prefer the environment variable for
    /// a URL with a password: a command line is visible to other local users.
    #[arg(
        long,
        value_name = "URL",
        env = "STORYFLOW_DATABASE_URL",
        hide_env_values = true
    )]
    database_url: Option<String>,
}

impl DatabaseArgs {
    /// The checked URL. Parsed here rather than by clap, whose error would echo the value
    /// (password included).
    pub fn postgres_url(&self) -> Result<Option<PostgresUrl>, DbError> {
        self.database_url
            .as_deref()
            .map(PostgresUrl::parse)
            .transpose()
    }
}
