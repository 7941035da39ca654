//! `storyflow serve`.

use std::path::PathBuf;

use api::state::PreviewSize;
use api::{AppConfig, Application};

use super::cache::{jobs_parser, mb_to_bytes, DEFAULT_CACHE_MAX_MB};
use super::database::DatabaseArgs;
use super::store::{MediaCacheArgs, StoreArgs};
use super::CommandResult;

#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Address to listen on (a local single-user app: loopback by default; any other address
    /// needs --api-token).
    #[arg(long, env = "STORYFLOW_BIND", default_value = "127.0.0.1:8000")]
    bind: String,
    /// Token every request but GET /api/health/ must carry as `Authorization: Bearer TOKEN`
    /// (at least 16 visible ASCII characters). Prefer the environment variable: a command
    /// line is visible to other local users.
    #[arg(
        long,
        value_name = "TOKEN",
        env = "STORYFLOW_API_TOKEN",
        hide_env_values = true
    )]
    api_token: Option<String>,
    /// Folder holding media/ and the SQLite database (unless --database-url is set).
    #[arg(long, env = "STORYFLOW_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    media_cache: MediaCacheArgs,
    /// Origins allowed by CORS (comma-separated).
    #[arg(
        long,
        env = "STORYFLOW_CORS_ORIGINS",
        value_delimiter = ',',
        default_value = "http://localhost:3000"
    )]
    cors_origin: Vec<String>,
    /// Render every project at WIDTHxHEIGHT@FPS instead of the settings' size (quick previews).
    #[arg(long, env = "STORYFLOW_PREVIEW", value_parser = parse_preview)]
    preview: Option<PreviewSize>,
    /// Bound of the chunk cache (DATA_DIR/cache/chunks) in MiB; the least recently used
    /// chunks go first.
    #[arg(long, value_name = "N", env = "STORYFLOW_CACHE_MAX_MB", default_value_t = DEFAULT_CACHE_MAX_MB)]
    cache_max_mb: u64,
    /// Chunks a render encodes at once, each by a single-thread libx264 (default: one per core).
    #[arg(long, value_name = "N", env = "STORYFLOW_JOBS", default_value_t = core_engine::default_jobs(), value_parser = jobs_parser())]
    jobs: usize,
}

fn parse_preview(raw: &str) -> Result<PreviewSize, String> {
    let invalid = || format!("'{raw}' is not WIDTHxHEIGHT@FPS, e.g. 640x360@15");
    let (size, fps) = raw.split_once('@').ok_or_else(invalid)?;
    let (width, height) = size.split_once('x').ok_or_else(invalid)?;
    let number = |text: &str| text.parse::<u32>().ok().filter(|n| *n > 0);
    match (number(width), number(height), number(fps)) {
        (Some(width), Some(height), Some(fps)) if width % 2 == 0 && height % 2 == 0 => {
            Ok(PreviewSize { width, height, fps })
        }
        _ => Err(invalid()),
    }
}

pub fn run(args: ServeArgs) -> CommandResult {
    let cors_origins = args.cors_origins();
    let mut config = AppConfig::new(args.data_dir);
    config.database_url = args.database.postgres_url()?;
    config.store = args.store.config();
    config.media_copy_max_bytes = args.media_cache.max_bytes();
    config.bind = args.bind;
    config.api_token = args.api_token;
    config.cors_origins = cors_origins;
    config.preview = args.preview;
    config.cache_max_bytes = mb_to_bytes(args.cache_max_mb);
    config.jobs = args.jobs;
    actix_web::rt::System::new().block_on(async move {
        let app = Application::build(config.clone())?;
        let host = config
            .bind
            .rsplit_once(':')
            .map_or("127.0.0.1", |(host, _)| host);
        let token_note = if config.api_token.is_some() {
            ", API token required"
        } else {
            ""
        };
        // The URL as Display shows it: without its password.
        let database_note = match &config.database_url {
            Some(url) => format!(", database {url}"),
            None => String::new(),
        };
        println!(
            "StoryFlow listening on http://{host}:{} (data in {}{database_note}{token_note})",
            app.port(),
            config.data_dir.display()
        );
        app.run_until_stopped().await?;
        log::info!("server stopped");
        Ok(())
    })
}

impl ServeArgs {
    fn cors_origins(&self) -> Vec<String> {
        self.cors_origin
            .iter()
            .map(|origin| origin.trim().to_owned())
            .filter(|origin| !origin.is_empty())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn preview_sizes_parse() {
        assert_eq!(
            parse_preview("640x360@15").unwrap(),
            PreviewSize {
                width: 640,
                height: 360,
                fps: 15
            }
        );
        for bad in ["640x360", "640@15", "0x360@15", "641x360@15", "axb@c"] {
            assert!(parse_preview(bad).is_err(), "{bad}");
        }
    }
}
