//! `storyflow render MANIFEST --output FILE`: render a project file to MP4 from the shell.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use core_engine::manifest::Manifest;
use core_engine::CancelToken;
use indicatif::{ProgressBar, ProgressStyle};

use super::narrate::{narrate, NarrationArgs};
use super::CommandResult;

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
    if let Some(preset) = args.preset {
        spec.encoder.preset = preset;
    }

    let bar = ProgressBar::new(1000);
    bar.set_style(
        ProgressStyle::with_template("{bar:40.cyan/blue} {percent:>3}% {msg} (ETA {eta})")?
            .progress_chars("=> "),
    );
    bar.enable_steady_tick(Duration::from_millis(200));
    let started = Instant::now();
    let result = core_engine::render(
        &spec,
        &args.output,
        &mut |p| {
            bar.set_position((p.percentage * 10.0).round() as u64);
            bar.set_message(p.phase.clone());
        },
        &cancel,
    );
    bar.finish_and_clear();
    let output = result?;
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
