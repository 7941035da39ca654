//! `storyflow render MANIFEST --output FILE`: render a project file to MP4 from the shell.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use core_engine::chunk_cache::ChunkCache;
use core_engine::manifest::Manifest;
use core_engine::{CancelToken, MusicSpec, RenderOptions};
use indicatif::{ProgressBar, ProgressStyle};

use super::cache::{jobs_parser, mb_to_bytes, user_cache_dir, DEFAULT_CACHE_MAX_MB};
use super::narrate::{narrate, NarrationArgs};
use super::{BoxError, CommandResult};

#[derive(Debug, clap::Args)]
pub struct RenderArgs {
    /// Project manifest (JSON); its image and audio paths are relative to its folder.
    pub manifest: PathBuf,
    /// The MP4 to write (replaced only once the new one is complete and verified).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Output width in pixels (overrides the manifest).
    #[arg(long)]
    pub width: Option<u32>,
    /// Output height in pixels (overrides the manifest).
    #[arg(long)]
    pub height: Option<u32>,
    /// Frames per second (overrides the manifest).
    #[arg(long)]
    pub fps: Option<u32>,
    /// x264 speed preset, e.g. ultrafast, veryfast (default), medium.
    #[arg(long)]
    pub preset: Option<String>,
    /// Background music under the whole video (overrides the manifest's `music_file`; its
    /// `music_volume` and `music_ducking_db` still apply, else their defaults).
    #[arg(long, value_name = "FILE")]
    pub music: Option<PathBuf>,
    /// Keep encoded chunks in DIR, so that a re-render encodes only what changed (default:
    /// `$XDG_CACHE_HOME/storyflow/chunks`, else `~/.cache/storyflow/chunks`).
    #[arg(long, value_name = "DIR")]
    pub cache_dir: Option<PathBuf>,
    /// Encode every chunk, reading and keeping none.
    #[arg(long, conflicts_with = "cache_dir")]
    pub no_cache: bool,
    /// Bound of the chunk cache in MiB (the least recently used chunks go first).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CACHE_MAX_MB)]
    pub cache_max_mb: u64,
    /// Chunks encoded at once, each by a single-thread libx264 (default: one per core).
    #[arg(long, value_name = "N", default_value_t = core_engine::default_jobs(), value_parser = jobs_parser())]
    pub jobs: usize,
    #[command(flatten)]
    pub narration: NarrationArgs,
}

/// Shows a progress bar on stderr, then the warnings and the subtitle sidecars written next to
/// the video (`out.srt` / `out.vtt` for `out.mp4`), and prints a one-line JSON summary with
/// the same on stdout. Ctrl-C cancels cleanly: no partial file is left and an earlier output
/// survives. Segments without `audio` are narrated from their text first (see [`narrate`]).
pub fn run(args: RenderArgs) -> CommandResult {
    let mut manifest = Manifest::load(&args.manifest)?;
    let cancel = CancelToken::new();
    let on_interrupt = cancel.clone();
    ctrlc::set_handler(move || on_interrupt.cancel())?;
    let _narrations = narrate(&mut manifest, &args.narration, &|| cancel.is_cancelled())?;
    let mut spec = manifest.to_spec()?;
    spec.width = args.width.unwrap_or(spec.width);
    spec.height = args.height.unwrap_or(spec.height);
    spec.fps = args.fps.unwrap_or(spec.fps);
    if let Some(preset) = args.preset.clone() {
        spec.encoder.preset = preset;
    }
    if let Some(path) = &args.music {
        spec.sound.music = Some(with_music(spec.sound.music.take(), path.clone()));
    }
    let options = RenderOptions {
        cache: chunk_cache(&args)?,
        owner: None,
        jobs: args.jobs,
        exchange: None,
    };

    let bar = ProgressBar::new(1000);
    bar.set_style(
        ProgressStyle::with_template("{bar:40.cyan/blue} {percent:>3}% {msg} (ETA {eta})")?
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let started = Instant::now();
    let result = core_engine::render_with(
        &spec,
        &args.output,
        &options,
        &mut |p| {
            bar.set_position((p.percentage * 10.0).round() as u64);
            bar.set_message(p.phase.clone());
        },
        &cancel,
    );
    bar.finish_and_clear();
    let (output, _) = result?;
    for warning in &output.warnings {
        eprintln!("warning: {warning}");
    }
    if let Some(files) = &output.subtitles {
        eprintln!(
            "subtitles: {} and {}",
            files.srt.display(),
            files.vtt.display()
        );
    }
    println!(
        "{}",
        serde_json::json!({
            "output_path": output.output_path,
            "duration": output.duration,
            "file_size": output.file_size,
            "frames": output.frames,
            "subtitles": output.subtitles.as_ref().map(|files| serde_json::json!({
                "srt": files.srt,
                "vtt": files.vtt,
            })),
            "warnings": output.warnings,
            "wall_seconds": started.elapsed().as_secs_f64(),
        })
    );
    Ok(())
}

/// The cache `--cache-dir` names (failing to open it is an error), else the user's default
/// one (failing to find or open it only costs speed: a warning, and no cache).
/// The manifest's music settings (or the defaults) with the music file `path`.
fn with_music(music: Option<MusicSpec>, path: PathBuf) -> MusicSpec {
    match music {
        Some(music) => MusicSpec { path, ..music },
        None => MusicSpec::new(path),
    }
}

fn chunk_cache(args: &RenderArgs) -> Result<Option<ChunkCache>, BoxError> {
    let max_bytes = mb_to_bytes(args.cache_max_mb);
    if args.no_cache {
        return Ok(None);
    }
    if let Some(dir) = &args.cache_dir {
        return Ok(Some(ChunkCache::open(dir, max_bytes)?));
    }
    let Some(dir) = user_cache_dir() else {
        log::warn!("no chunk cache: neither XDG_CACHE_HOME nor HOME is set");
        return Ok(None);
    };
    match ChunkCache::open(&dir, max_bytes) {
        Ok(cache) => Ok(Some(cache)),
        Err(err) => {
            log::warn!("no chunk cache: {:#}", anyhow::Error::new(err));
            Ok(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn music_flag_keeps_the_manifest_volume_and_ducking() {
        let manifest = MusicSpec {
            path: "bed.ogg".into(),
            volume: 0.5,
            ducking_db: 6.0,
        };
        assert_eq!(
            with_music(Some(manifest), "other.mp3".into()),
            MusicSpec {
                path: "other.mp3".into(),
                volume: 0.5,
                ducking_db: 6.0,
            }
        );
        assert_eq!(
            with_music(None, "other.mp3".into()),
            MusicSpec::new("other.mp3")
        );
    }
}
