//! One module per subcommand; each has its clap `Args` and a `run`.

pub mod bench;
pub mod cache;
pub mod database;
pub mod import;
pub mod narrate;
pub mod render;
pub mod serve;
pub mod store;
pub mod tts;
pub mod voices;
pub mod worker;

/// Any error of a subcommand, kept with its cause chain (`Send + Sync` so that `main` can print
/// it through `anyhow`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// What a subcommand returns: any error, printed with its cause chain by `main`.
pub type CommandResult = Result<(), BoxError>;
