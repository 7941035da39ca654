//! `storyflow bench`: how close a render comes to the H.264 encoder's own speed, and how
//! much memory it needs.
//!
//! It writes a deterministic synthetic project (photo-like 1920x1080 JPEGs with structure
//! and grain, speech-like 24 kHz narrations with subtitle text, a logo) to a temporary
//! folder, renders it with every layer on (0.5 s crossfades, burned-in subtitles, the logo;
//! flags turn them off), then times
//! x264 alone on the same frames with the same settings: the render's frames are decoded to
//! a raw I420 scratch file first (untimed), and only `raw file ! x264enc ! fakesink` is
//! timed, so the ceiling excludes decoding. For very long benches (raw file above 6 GiB)
//! the timed pipeline includes the H.264 decoding instead, which flatters the render a
//! little; the output says which method was used. Peak RSS is the process's VmHWM, read
//! right after the render.
//!
//! `storyflow bench --tts` measures narration synthesis instead (see `bench_tts`).

use std::time::Instant;

use core_engine::benchmark::{encoder_only_seconds, write_synthetic_project, BaselineMethod};
use core_engine::CancelToken;

use super::CommandResult;

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Benchmark text-to-speech (a ~60 s story, default voice) instead of rendering; the
    /// other options are then ignored.
    #[arg(long)]
    pub tts: bool,
    /// Number of segments.
    #[arg(long, default_value_t = 5)]
    pub segments: usize,
    /// Seconds of narration per segment (each is followed by 0.3 s of silence).
    #[arg(long, default_value_t = 6.0)]
    pub seconds: f64,
    #[arg(long, default_value_t = 1920)]
    pub width: u32,
    #[arg(long, default_value_t = 1080)]
    pub height: u32,
    #[arg(long, default_value_t = 30)]
    pub fps: u32,
    /// x264 speed preset for both the render and the encoder-only run.
    #[arg(long, default_value = "veryfast")]
    pub preset: String,
    /// Crossfade seconds at each segment boundary (0 = hard cuts).
    #[arg(long, default_value_t = 0.5)]
    pub transition: f64,
    /// Render without burned-in subtitles.
    #[arg(long)]
    pub no_subtitles: bool,
    /// Render without the logo watermark.
    #[arg(long)]
    pub no_logo: bool,
}

pub fn run(args: BenchArgs) -> CommandResult {
    if args.tts {
        return super::bench_tts::run();
    }
    if args.segments == 0 || !args.seconds.is_finite() || args.seconds <= 0.0 {
        return Err("--segments and --seconds must be above zero".into());
    }
    let dir = tempfile::tempdir()?;
    eprintln!(
        "generating {} segments of {} s in {}",
        args.segments,
        args.seconds,
        dir.path().display()
    );
    let mut spec = write_synthetic_project(dir.path(), args.segments, args.seconds, (1920, 1080))?;
    spec.width = args.width;
    spec.height = args.height;
    spec.fps = args.fps;
    spec.encoder.preset = args.preset;
    spec.transition_duration = args.transition;
    if args.no_subtitles {
        spec.subtitles = None;
    }
    if args.no_logo {
        spec.logo = None;
    }
    let output = dir.path().join("bench.mp4");

    eprintln!(
        "rendering {}x{} at {} fps, {} s crossfades, subtitles {}, logo {}",
        spec.width,
        spec.height,
        spec.fps,
        spec.transition_duration,
        on_off(spec.subtitles.is_some()),
        on_off(spec.logo.is_some()),
    );
    let started = Instant::now();
    let rendered = core_engine::render(&spec, &output, &mut |_| {}, &CancelToken::new())?;
    let render_seconds = started.elapsed().as_secs_f64();
    let peak_rss_mb = peak_rss_kib()? as f64 / 1024.0;

    eprintln!("encoding the same frames with x264 alone");
    let (encoder_seconds, method) =
        encoder_only_seconds(&output, &spec, rendered.frames, dir.path())?;
    let method = match method {
        BaselineMethod::PreDecoded => "pre-decoded raw frames",
        BaselineMethod::DecodeIncluded => "decode included",
    };
    let realtime = rendered.duration / render_seconds;
    let ratio = render_seconds / encoder_seconds;
    println!("video seconds: {:.2}", rendered.duration);
    println!("render wall seconds: {render_seconds:.2}");
    println!("realtime factor: {realtime:.2}x");
    println!("encoder-only wall seconds: {encoder_seconds:.2} ({method})");
    println!("ratio render/encoder-only: {ratio:.3}");
    println!("peak RSS MB: {peak_rss_mb:.1}");
    println!(
        "{}",
        serde_json::json!({
            "segments": args.segments,
            "transition_seconds": spec.transition_duration,
            "subtitles": spec.subtitles.is_some(),
            "logo": spec.logo.is_some(),
            "frames": rendered.frames,
            "video_seconds": rendered.duration,
            "render_wall_seconds": render_seconds,
            "realtime_factor": realtime,
            "encoder_only_wall_seconds": encoder_seconds,
            "encoder_only_method": method,
            "ratio_render_to_encoder_only": ratio,
            "peak_rss_mb": peak_rss_mb,
        })
    );
    Ok(())
}

fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

/// The process's peak resident set size (VmHWM) in KiB.
pub(super) fn peak_rss_kib() -> Result<u64, Box<dyn std::error::Error>> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmHWM in /proc/self/status".into())
}
