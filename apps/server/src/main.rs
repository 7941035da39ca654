//! `storyflow`: the StoryFlow render engine's command line.

mod allocator;
mod commands;

use clap::{Parser, Subcommand};

#[derive(Debug, Parser)]
#[command(name = "storyflow", version, about = "StoryFlow render engine")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the REST API the editor UI talks to.
    Serve(commands::serve::ServeArgs),
    /// Run renders and narrations queued in a PostgreSQL database by `serve` (any number of
    /// workers, on any machines that share the data folder).
    Worker(commands::worker::WorkerArgs),
    /// Create a project from a manifest (copies its images and narration into the data folder).
    Import(commands::import::ImportArgs),
    /// Render a project manifest to an MP4 file, with a progress bar.
    Render(commands::render::RenderArgs),
    /// Measure render speed against x264 alone, and peak memory, on a synthetic project
    /// (`--tts`: narration synthesis speed and memory instead).
    Bench(commands::bench::BenchArgs),
    /// List the installed text-to-speech voices.
    Voices(commands::voices::VoicesArgs),
    /// Speak a text into a WAV file with an installed voice.
    Tts(commands::tts::TtsArgs),
}

fn main() {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    allocator::return_large_blocks_to_the_system();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve(args) => commands::serve::run(args),
        Command::Worker(args) => commands::worker::run(args),
        Command::Import(args) => commands::import::run(args),
        Command::Render(args) => commands::render::run(args),
        Command::Bench(args) => commands::bench::run(args),
        Command::Voices(args) => commands::voices::run(args),
        Command::Tts(args) => commands::tts::run(args),
    };
    if let Err(err) = result {
        eprintln!("error: {:#}", anyhow::Error::from_boxed(err));
        std::process::exit(1);
    }
}
