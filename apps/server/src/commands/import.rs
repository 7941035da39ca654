//! `storyflow import MANIFEST`: creates a project from a manifest and prints its id.

use std::path::PathBuf;

use api::storage::MediaStore;
use api::AppConfig;
use core_engine::manifest::Manifest;

use super::database::DatabaseArgs;
use super::narrate::{narrate, NarrationArgs};
use super::store::StoreArgs;
use super::CommandResult;

#[derive(Debug, clap::Args)]
pub struct ImportArgs {
    /// The manifest JSON (paths in it are relative to its folder).
    manifest: PathBuf,
    /// Folder holding media/ and the SQLite database (as for `serve`).
    #[arg(long, env = "STORYFLOW_DATA_DIR", default_value = "./data")]
    data_dir: PathBuf,
    #[command(flatten)]
    database: DatabaseArgs,
    #[command(flatten)]
    store: StoreArgs,
    #[command(flatten)]
    narration: NarrationArgs,
}

/// Segments without `audio` are narrated from their text first (see [`narrate`]).
pub fn run(args: ImportArgs) -> CommandResult {
    // A bad URL fails before the (slow) narration.
    let database_url = args.database.postgres_url()?;
    let mut manifest = Manifest::load(&args.manifest)?;
    core_engine::init()?;
    let _narrations = narrate(&mut manifest, &args.narration, &|| false)?;
    let mut config = AppConfig::new(args.data_dir);
    config.database_url = database_url;
    let media = MediaStore::open(&config.data_dir, args.store.config().as_ref())?;
    std::fs::create_dir_all(media.root())?;
    let pool = api::db::build_pool(&config.database())?;
    api::db::run_migrations(&pool)?;
    let project_id = api::import::import_manifest(&pool, &media, &manifest)?;
    println!("{project_id}");
    Ok(())
}
