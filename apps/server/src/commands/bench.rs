//! `storyflow bench`: how close a render comes to the H.264 encoder's own speed, how much
//! memory it needs beside the encoder's, and where the renderer's own time goes.
//!
//! Two projects, rendered with every layer on (0.5 s crossfades, burned-in subtitles, the
//! logo; flags turn them off), both with speech-like 24 kHz narrations and subtitle text:
//! - `synthetic`: deterministic photo-like 1920x1080 JPEGs full of grain. x264 is slow on
//!   them, which hides the renderer's own cost;
//! - `photos`: five real photographs from the Debian package `mate-backgrounds` (install it
//!   with `scripts/bench-setup.sh`): JPEGs of 1680x1050 to 5640x3172 (17.9 MP, progressive),
//!   one re-encoded as a CMYK JPEG and one as a WebP at bench time, shown in turn when there
//!   are more `--segments`. x264 is fast on them.
//!
//! Each run renders a project, then times x264 alone on the same frames with the same
//! settings: the render's frames are decoded to a raw I420 scratch file first (untimed), and
//! only `raw file ! x264enc ! fakesink` is timed (for very long benches, raw file above
//! 6 GiB, the timed pipeline includes the H.264 decoding instead, which flatters the render a
//! little; the output says which). The render and x264 alone each run in a fresh child
//! process of this binary, so each peak RSS (VmHWM) is that job's alone; the render child
//! writes its project first and resets its VmHWM before rendering. Both report their CPU
//! time. Several `--runs` alternate render and encoder so both see the same machine load.
//! Every run prints one JSON line; a summary line follows.
//!
//! `storyflow bench --edit` measures re-renders after small edits with the chunk cache
//! instead (see `bench_edit`), and `storyflow bench --tts` narration synthesis (see
//! `bench_tts`).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use core_engine::benchmark::{
    encoder_only_input, encoder_only_seconds, write_photo_project, write_synthetic_project,
    EncoderInput, PHOTO_DIR,
};
use core_engine::stats::StageTimes;
use core_engine::{CancelToken, RenderOptions, RenderSpec, RenderStats};
use nix::sys::resource::{getrusage, UsageWho};
use serde_json::json;

use super::cache::jobs_parser;
use super::{BoxError, CommandResult};

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
    /// Chunks a render encodes at once, sharing the cores (default: one per 8 cores).
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
    /// Internal: time x264 alone on this raw I420 file (or MP4 with `--encoder-only-video`)
    /// in this process and print its time, CPU time and peak RSS as JSON.
    #[arg(long, hide = true)]
    pub encoder_only: Option<PathBuf>,
    #[arg(long, hide = true)]
    pub encoder_only_video: bool,
    /// Internal: render the `--case` project (one case) into this MP4 in this process and
    /// print the render's time, CPU time, peak RSS and stage costs as JSON.
    #[arg(long, hide = true)]
    pub render_only: Option<PathBuf>,
}

pub fn run(args: BenchArgs) -> CommandResult {
    if args.tts {
        return super::bench_tts::run(args.voice.as_deref());
    }
    if let Some(input) = &args.encoder_only {
        return encoder_only_child(&args, input);
    }
    if let Some(output) = &args.render_only {
        return render_child(&args, output);
    }
    if args.segments == 0 || !args.seconds.is_finite() || args.seconds <= 0.0 || args.runs == 0 {
        return Err("--segments, --seconds and --runs must be above zero".into());
    }
    if args.edit {
        return super::bench_edit::run(&args);
    }
    let cases: &[&str] = match args.case {
        Case::Synthetic => &["synthetic"],
        Case::Photos => &["photos"],
        Case::Both => &["synthetic", "photos"],
    };
    let mut summary = serde_json::Map::new();
    for &case in cases {
        let dir = tempfile::tempdir()?;
        let mut ratios = Vec::with_capacity(args.runs);
        for run in 1..=args.runs {
            let result = bench_once(&args, case, run, dir.path())?;
            ratios.push(
                result["ratio_render_to_encoder_only"]
                    .as_f64()
                    .unwrap_or(0.0),
            );
            println!("{result}");
        }
        summary.insert(
            format!("{case}_ratios"),
            json!(ratios.iter().map(|r| round(*r, 3)).collect::<Vec<_>>()),
        );
        summary.insert(
            format!("{case}_ratio_median"),
            json!(round(median(&ratios), 3)),
        );
    }
    println!("{}", serde_json::Value::Object(summary));
    Ok(())
}

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
    Ok(spec)
}

/// One render and one encoder-only run of `case`, each in a child process, as one JSON
/// object.
fn bench_once(
    args: &BenchArgs,
    case: &str,
    run: usize,
    dir: &Path,
) -> Result<serde_json::Value, BoxError> {
    let output = dir.join("bench.mp4");
    eprintln!("{case} run {run}: rendering");
    let case_arg = ["--case", case];
    let render = run_child(
        args,
        &["--render-only".as_ref(), output.as_os_str()],
        &case_arg,
    )?;
    let field = |json: &serde_json::Value, name: &str| json[name].as_f64().unwrap_or(f64::NAN);
    let frames = render["frames"]
        .as_u64()
        .ok_or("the render child gave no frame count")?;

    eprintln!("{case} run {run}: encoding the same frames with x264 alone");
    let spec = encoder_spec(args);
    let input = encoder_only_input(&output, &spec, frames, dir)?;
    let encoder = match &input {
        EncoderInput::Raw(raw) => {
            run_child(args, &["--encoder-only".as_ref(), raw.as_os_str()], &[])
        }
        EncoderInput::Video(video) => run_child(
            args,
            &["--encoder-only".as_ref(), video.as_os_str()],
            &["--encoder-only-video"],
        ),
    };
    if let EncoderInput::Raw(raw) = &input {
        let _ = std::fs::remove_file(raw);
    }
    let encoder = encoder?;
    let (render_seconds, render_cpu, peak_rss_mb) = (
        field(&render, "render_wall_seconds"),
        field(&render, "render_cpu_seconds"),
        field(&render, "peak_rss_with_encoders_mb"),
    );
    let (encoder_seconds, encoder_cpu, encoder_rss) = (
        field(&encoder, "seconds"),
        field(&encoder, "cpu_seconds"),
        field(&encoder, "peak_rss_mb"),
    );
    let method = match input {
        EncoderInput::Raw(_) => "pre-decoded raw frames",
        EncoderInput::Video(_) => "decode included",
    };
    let ratio = render_seconds / encoder_seconds;
    eprintln!(
        "{case} run {run}: render {render_seconds:.2} s ({render_cpu:.1} s CPU, \
         {peak_rss_mb:.0} MB), x264 alone {encoder_seconds:.2} s ({encoder_cpu:.1} s CPU, \
         {encoder_rss:.0} MB): ratio {ratio:.3}; frame build p50 {:.2} ms, p99 {:.2} ms",
        field(&render, "frame_build_ms_p50"),
        field(&render, "frame_build_ms_p99"),
    );
    let mut result = json!({
        "run": run,
        "encoder_only_wall_seconds": round(encoder_seconds, 3),
        "encoder_only_cpu_seconds": round(encoder_cpu, 2),
        "encoder_only_method": method,
        "ratio_render_to_encoder_only": round(ratio, 3),
        "encoder_only_peak_rss_mb": round(encoder_rss, 1),
        "rss_above_encoder_only_mb": round(peak_rss_mb - encoder_rss, 1),
    });
    if let (serde_json::Value::Object(fields), serde_json::Value::Object(render)) =
        (&mut result, render)
    {
        fields.extend(render);
    }
    Ok(result)
}

/// The child side of a render run: writes the project, renders it into `output` and prints
/// the render's figures.
fn render_child(args: &BenchArgs, output: &Path) -> CommandResult {
    let case = match args.case {
        Case::Synthetic => "synthetic",
        Case::Photos => "photos",
        Case::Both => return Err("--render-only renders one --case".into()),
    };
    let dir = tempfile::tempdir()?;
    let spec = project(args, case, dir.path())?;
    eprintln!(
        "{case}: rendering {} segments at {}x{} {} fps, {} s crossfades, subtitles {}, logo {}",
        spec.segments.len(),
        spec.width,
        spec.height,
        spec.fps,
        spec.transition_duration,
        on_off(spec.subtitles.is_some()),
        on_off(spec.logo.is_some()),
    );
    let options = RenderOptions {
        jobs: args.jobs,
        ..RenderOptions::default()
    };
    // Writing the project allocated and freed pictures: the peak counts from here.
    reset_peak_rss()?;
    let cpu = cpu_seconds()?;
    let started = Instant::now();
    let sampler = TreeRssSampler::start();
    let rendered =
        core_engine::render_with(&spec, output, &options, &mut |_| {}, &CancelToken::new());
    let total_rss_mb = sampler.stop() as f64 / 1024.0;
    let (rendered, stats) = rendered?;
    let render_seconds = started.elapsed().as_secs_f64();
    let render_cpu = cpu_seconds()? - cpu;
    let peak_rss_mb = peak_rss_kib()? as f64 / 1024.0;
    // x264 runs in one process per chunk, at most `jobs` at once.
    let encoder_rss_mb = largest_child_rss_kib() as f64 / 1024.0;
    let mut result = json!({
        "case": case,
        "preset": spec.encoder.preset,
        "size": format!("{}x{}@{}", spec.width, spec.height, spec.fps),
        "segments": spec.segments.len(),
        "jobs": args.jobs,
        "transition_seconds": spec.transition_duration,
        "subtitles": spec.subtitles.is_some(),
        "logo": spec.logo.is_some(),
        "frames": rendered.frames,
        "video_seconds": round(rendered.duration, 3),
        "render_wall_seconds": round(render_seconds, 3),
        "render_cpu_seconds": round(render_cpu, 2),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "chunk_encoder_peak_rss_mb": round(encoder_rss_mb, 1),
        "jobs": options.jobs,
        "peak_rss_with_encoders_mb": round(total_rss_mb, 1),
        "peak_rss_with_encoders_method": "sum of VmRSS of the render and its encoders, sampled every 50 ms",
    });
    if let serde_json::Value::Object(fields) = &mut result {
        fields.extend(stage_fields(&stats));
    }
    println!("{result}");
    Ok(())
}

/// The renderer's own costs: per frame (build = the picture, `shot` alone or `blend` during
/// a crossfade, + `overlays`; the waits for a buffer, a picture, and the encoder's queue),
/// per picture and per narration.
fn stage_fields(stats: &RenderStats) -> serde_json::Map<String, serde_json::Value> {
    let mut fields = serde_json::Map::new();
    let mut percentiles = |name: &str, times: &StageTimes| {
        fields.insert(
            format!("{name}_ms_p50"),
            json!(round(ms(times.quantile(0.5)), 3)),
        );
        fields.insert(
            format!("{name}_ms_p99"),
            json!(round(ms(times.quantile(0.99)), 3)),
        );
        fields.insert(format!("{name}_ms_max"), json!(round(ms(times.max()), 3)));
        fields.insert(
            format!("{name}_seconds"),
            json!(round(times.total().as_secs_f64(), 3)),
        );
    };
    percentiles("frame_build", &stats.frame);
    percentiles("shot", &stats.shot);
    percentiles("blend", &stats.blend);
    percentiles("overlays", &stats.overlays);
    percentiles("buffer_wait", &stats.acquire);
    percentiles("push", &stats.push);
    percentiles("picture_wait", &stats.picture_wait);
    // A handful of long samples each: their mean and maximum say more than percentiles.
    for (name, times) in [("picture", &stats.picture), ("narration", &stats.narration)] {
        fields.insert(format!("{name}_ms_mean"), json!(round(ms(times.mean()), 1)));
        fields.insert(format!("{name}_ms_max"), json!(round(ms(times.max()), 1)));
        fields.insert(
            format!("{name}_seconds"),
            json!(round(times.total().as_secs_f64(), 3)),
        );
    }
    fields
}

/// Runs this binary as `storyflow bench` with the same settings plus `extra` and `flags`,
/// and returns the JSON it printed.
fn run_child(
    args: &BenchArgs,
    extra: &[&std::ffi::OsStr],
    flags: &[&str],
) -> Result<serde_json::Value, BoxError> {
    let mut command = std::process::Command::new(std::env::current_exe()?);
    command
        .arg("bench")
        .args(extra)
        .args(flags)
        .args(["--runs", "1", "--segments", &args.segments.to_string()])
        .args(["--seconds", &args.seconds.to_string()])
        .arg("--photos")
        .arg(&args.photos)
        .args(["--width", &args.width.to_string()])
        .args(["--height", &args.height.to_string()])
        .args(["--fps", &args.fps.to_string()])
        .args(["--preset", &args.preset])
        .args(["--jobs", &args.jobs.to_string()])
        .args(["--transition", &args.transition.to_string()])
        .stderr(std::process::Stdio::inherit());
    if args.no_subtitles {
        command.arg("--no-subtitles");
    }
    if args.no_logo {
        command.arg("--no-logo");
    }
    let output = command.output()?;
    if !output.status.success() {
        return Err(format!("a bench child process failed ({})", output.status).into());
    }
    Ok(serde_json::from_slice(&output.stdout)?)
}

/// The encoder settings of a render with these arguments (all x264 alone needs).
fn encoder_spec(args: &BenchArgs) -> RenderSpec {
    let mut spec = RenderSpec::new(Vec::new());
    spec.width = args.width;
    spec.height = args.height;
    spec.fps = args.fps;
    spec.encoder.preset = args.preset.clone();
    spec
}

/// The child side of an encoder-only run.
fn encoder_only_child(args: &BenchArgs, input: &Path) -> CommandResult {
    let spec = encoder_spec(args);
    let input = match args.encoder_only_video {
        true => EncoderInput::Video(input.to_path_buf()),
        false => EncoderInput::Raw(input.to_path_buf()),
    };
    let cpu = cpu_seconds()?;
    let seconds = encoder_only_seconds(&input, &spec)?;
    println!(
        "{}",
        json!({
            "seconds": seconds,
            "cpu_seconds": cpu_seconds()? - cpu,
            "peak_rss_mb": peak_rss_kib()? as f64 / 1024.0,
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

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

pub(super) fn round(value: f64, decimals: i32) -> f64 {
    let scale = 10f64.powi(decimals);
    (value * scale).round() / scale
}

fn median(values: &[f64]) -> f64 {
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

/// The peak resident set size of the largest child process this one waited for (the chunk
/// encoders), in KiB.
fn largest_child_rss_kib() -> u64 {
    getrusage(UsageWho::RUSAGE_CHILDREN)
        .map_or(0, |usage| u64::try_from(usage.max_rss()).unwrap_or(0))
}

/// User + system CPU time of this process (all its threads) and of the children it waited
/// for (the chunk encoders), from `/proc/self/stat`, whose times are in USER_HZ ticks: 100 a
/// second on every Linux architecture we run on.
fn cpu_seconds() -> Result<f64, BoxError> {
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
