//! What the bench modes share: the command's arguments, the benchmark projects, and the
//! figures every mode reports (peak memory, CPU time, rounding).

use std::path::{Path, PathBuf};
use std::time::Duration;

use core_engine::benchmark::{
    write_music, write_photo_project, write_synthetic_project, PHOTO_DIR,
};
use core_engine::{MusicSpec, RenderSpec};

use crate::commands::cache::jobs_parser;
use crate::commands::database::DatabaseArgs;
use crate::commands::BoxError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Case {
    Synthetic,
    Photos,
    Both,
}

#[derive(Debug, clap::Args)]
pub struct BenchArgs {
    /// Benchmark text-to-speech (a ~60 s story, default voice) instead of rendering; the
    /// other options are then ignored.
    #[arg(long)]
    pub tts: bool,
    /// With `--tts`: the voice to time (default: the default voice, `af_heart`).
    #[arg(long, requires = "tts")]
    pub voice: Option<String>,
    /// Time re-renders with the chunk cache after no change, one changed text and one changed
    /// picture against the first render, and check each equals a render from scratch (one
    /// project: photos unless `--case synthetic`; `--runs` is ignored).
    #[arg(long)]
    pub edit: bool,
    /// Which projects to render.
    #[arg(long, value_enum, default_value_t = Case::Both)]
    pub case: Case,
    /// Render and time x264 alone this many times per project.
    #[arg(long, default_value_t = 1)]
    pub runs: usize,
    /// Number of segments (the photo project shows its five photographs in turn).
    #[arg(long, default_value_t = 5)]
    pub segments: usize,
    /// Seconds of narration per segment (each is followed by 0.3 s of silence).
    #[arg(long, default_value_t = 6.0)]
    pub seconds: f64,
    /// Where the photographs of `mate-backgrounds` are.
    #[arg(long, default_value = PHOTO_DIR)]
    pub photos: PathBuf,
    #[arg(long, default_value_t = 1920)]
    pub width: u32,
    #[arg(long, default_value_t = 1080)]
    pub height: u32,
    #[arg(long, default_value_t = 30)]
    pub fps: u32,
    /// x264 speed preset for both the render and the encoder-only run.
    #[arg(long, default_value = "veryfast")]
    pub preset: String,
    /// Chunks a render encodes at once, each by a single-thread libx264 (default: one per core).
    #[arg(long, default_value_t = core_engine::default_jobs(), value_parser = jobs_parser())]
    pub jobs: usize,
    /// Crossfade seconds at each segment boundary (0 = hard cuts).
    #[arg(long, default_value_t = 0.5)]
    pub transition: f64,
    /// Render without burned-in subtitles.
    #[arg(long)]
    pub no_subtitles: bool,
    /// Render without the logo watermark.
    #[arg(long)]
    pub no_logo: bool,
    /// Render without background music (by default a 45 s music file plays under the whole
    /// video, looped, and the sound is brought to -16 LUFS).
    #[arg(long)]
    pub no_music: bool,
    /// Time the sound pass alone (narrations, music and loudness into an AAC encode, no
    /// picture) on a `--minutes` long timeline and on a 1-minute one, each in a child process,
    /// with its peak RSS (VmHWM).
    #[arg(long, conflicts_with_all = ["tts", "edit"])]
    pub sound: bool,
    /// With `--sound`: the length of the long timeline, in minutes.
    #[arg(long, default_value_t = 30.0, requires = "sound")]
    pub minutes: f64,
    /// Time `--projects` renders queued at once on a PostgreSQL database and run by N
    /// `storyflow worker` processes of this binary, against the same renders with one worker
    /// (needs `--database-url`: a server where this user may create databases).
    #[arg(long, value_name = "N", conflicts_with_all = ["tts", "edit", "sound"])]
    pub cluster: Option<usize>,
    /// With `--cluster`: how many projects (each `--segments` photos, its own texts).
    #[arg(long, value_name = "K", default_value_t = 4, requires = "cluster")]
    pub projects: usize,
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// Internal: run the sound pass of a `--minutes` timeline into this file in this process
    /// and print its time, CPU time, peak RSS and loudness as JSON.
    #[arg(long, hide = true)]
    pub sound_only: Option<PathBuf>,
    /// Internal: time x264 alone on this raw I420 file (or MP4 with `--encoder-only-video`)
    /// in this process and print its time, CPU time and peak RSS as JSON.
    #[arg(long, hide = true)]
    pub encoder_only: Option<PathBuf>,
    #[arg(long, hide = true)]
    pub encoder_only_video: bool,
    /// Internal: with `--encoder-only` (a raw file), time libx264 called directly instead of
    /// GStreamer's x264enc.
    #[arg(long, hide = true)]
    pub encoder_only_libx264: bool,
    /// Internal: render the `--case` project (one case) into this MP4 in this process and
    /// print the render's time, CPU time, peak RSS and stage costs as JSON.
    #[arg(long, hide = true)]
    pub render_only: Option<PathBuf>,
}

/// Seconds of the benchmark's background music (shorter than most benchmark videos, so it
/// loops as short music does).
pub(super) const BENCH_MUSIC_SECONDS: f64 = 45.0;

/// Writes the `case` project into `dir` and applies the command's settings.
pub(super) fn project(args: &BenchArgs, case: &str, dir: &Path) -> Result<RenderSpec, BoxError> {
    eprintln!("writing the {case} project into {}", dir.display());
    let mut spec = if case == "photos" {
        write_photo_project(dir, &args.photos, args.segments, args.seconds).map_err(|e| {
            format!("{e} (install the photos with scripts/bench-setup.sh, or pass --photos)")
        })?
    } else {
        write_synthetic_project(dir, args.segments, args.seconds, (1920, 1080))?
    };
    spec.width = args.width;
    spec.height = args.height;
    spec.fps = args.fps;
    spec.encoder.preset = args.preset.clone();
    spec.transition_duration = args.transition;
    if args.no_subtitles {
        spec.subtitles = None;
    }
    if args.no_logo {
        spec.logo = None;
    }
    if !args.no_music {
        let music = dir.join("music.wav");
        write_music(&music, BENCH_MUSIC_SECONDS)?;
        spec.sound.music = Some(MusicSpec::new(music));
    }
    Ok(spec)
}

pub(super) fn on_off(on: bool) -> &'static str {
    if on {
        "on"
    } else {
        "off"
    }
}

pub(super) fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

pub(super) fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

pub(super) fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    match sorted.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => sorted[n / 2],
        n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
    }
}

/// The process's peak resident set size (VmHWM) in KiB.
pub(super) fn peak_rss_kib() -> Result<u64, BoxError> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .ok_or_else(|| "no VmHWM in /proc/self/status".into())
}

/// Resets VmHWM to the current RSS (Linux 4.0+), so each render's peak is its own.
pub(super) fn reset_peak_rss() -> std::io::Result<()> {
    std::fs::write("/proc/self/clear_refs", "5")
}

/// How often [`TreeRssSampler`] adds up the resident memory of the render and its encoders.
const RSS_SAMPLE_INTERVAL: Duration = Duration::from_millis(50);

/// Samples, on a thread of its own, the resident memory of this process plus its child
/// processes (the chunk encoders) and keeps the highest sum: the render's whole footprint at
/// one moment, which neither process's own peak shows.
pub(super) struct TreeRssSampler {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    thread: std::thread::JoinHandle<u64>,
}

impl TreeRssSampler {
    pub(super) fn start() -> TreeRssSampler {
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = stop.clone();
        let thread = std::thread::spawn(move || {
            let mut peak = 0;
            while !stopping.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(tree_rss_kib());
                std::thread::sleep(RSS_SAMPLE_INTERVAL);
            }
            peak
        });
        TreeRssSampler { stop, thread }
    }

    /// The highest sum seen, in KiB.
    pub(super) fn stop(self) -> u64 {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.thread.join().unwrap_or(0)
    }
}

/// VmRSS of this process and of its children (found through every thread's `children`), in
/// KiB; a child that ends meanwhile counts as zero.
fn tree_rss_kib() -> u64 {
    let rss = |status: &str| -> u64 {
        std::fs::read_to_string(status)
            .ok()
            .and_then(|text| {
                text.lines()
                    .find_map(|line| line.strip_prefix("VmRSS:"))
                    .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            })
            .unwrap_or(0)
    };
    let children: Vec<String> = std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("children")).ok())
        .flat_map(|list| {
            list.split_whitespace()
                .map(String::from)
                .collect::<Vec<_>>()
        })
        .collect();
    rss("/proc/self/status")
        + children
            .iter()
            .map(|pid| rss(&format!("/proc/{pid}/status")))
            .sum::<u64>()
}

/// User + system CPU time of this process (all its threads) and of the children it waited
/// for (the chunk encoders), from `/proc/self/stat`, whose times are in USER_HZ ticks: 100 a
/// second on every Linux architecture we run on.
pub(super) fn cpu_seconds() -> Result<f64, BoxError> {
    const TICKS_PER_SECOND: f64 = 100.0;
    let stat = std::fs::read_to_string("/proc/self/stat")?;
    // Fields after the command name (which is in parentheses and may hold spaces):
    // state is field 3, utime 14 and stime 15.
    let rest = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest)
        .ok_or("unexpected /proc/self/stat")?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| -> Result<f64, BoxError> {
        Ok(fields
            .get(i)
            .ok_or("short /proc/self/stat")?
            .parse::<f64>()?)
    };
    // utime, stime, cutime, cstime.
    Ok((ticks(11)? + ticks(12)? + ticks(13)? + ticks(14)?) / TICKS_PER_SECOND)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_and_rounding() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
        assert_eq!(round(1.23456, 3), 1.235);
    }

    #[test]
    fn this_process_has_cpu_time_and_a_peak() {
        assert!(cpu_seconds().unwrap() >= 0.0);
        assert!(peak_rss_kib().unwrap() > 0);
        reset_peak_rss().unwrap();
        assert!(peak_rss_kib().unwrap() > 0);
    }
}
