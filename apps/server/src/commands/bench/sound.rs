//! `storyflow bench --sound [--minutes 30]`: the sound pass alone, as a render runs it
//! (speech-like narrations of `--seconds` each, 45 s of music looped under them, the
//! loudness measured, gained and limited, then AAC-encoded into a scratch MP4; no picture),
//! on a `--minutes` long timeline and on a 1-minute one, each in a child process of this
//! binary. Each reports its wall and CPU time and its process's peak RSS (VmHWM, reset once
//! the project is written): the pass streams fixed-size blocks, so the two peaks should be
//! alike. The output's loudness and true peak are measured afterwards, as a check.

use std::path::Path;
use std::time::Instant;

use core_engine::benchmark::write_sound_project;
use core_engine::sound::loudness::measure_file;
use core_engine::CancelToken;
use serde_json::json;

use super::common::{
    cpu_seconds, peak_rss_kib, reset_peak_rss, round, BenchArgs, BENCH_MUSIC_SECONDS,
};
use super::render::run_child;
use crate::commands::CommandResult;

/// Runs the 1-minute and the `--minutes` sound pass in child processes; prints one JSON line
/// each and a summary line.
pub(super) fn run(args: &BenchArgs) -> CommandResult {
    if !args.minutes.is_finite() || args.minutes <= 0.0 {
        return Err("--minutes must be above zero".into());
    }
    let dir = tempfile::tempdir()?;
    let output = dir.path().join("sound.mp4");
    let mut peaks = Vec::new();
    for minutes in [1.0, args.minutes] {
        eprintln!("sound pass of {minutes} minutes");
        let minutes_arg = minutes.to_string();
        let result = run_child(
            args,
            &["--sound-only".as_ref(), output.as_os_str()],
            &["--sound", "--minutes", &minutes_arg],
        )?;
        println!("{result}");
        peaks.push(result["peak_rss_mb"].as_f64().unwrap_or(f64::NAN));
    }
    println!(
        "{}",
        json!({
            "sound_peak_rss_mb_1_minute": peaks[0],
            format!("sound_peak_rss_mb_{}_minutes", args.minutes): peaks[1],
        })
    );
    Ok(())
}

/// The child side: writes the sound project, runs the pass into `output` and prints its
/// figures.
pub(super) fn sound_child(args: &BenchArgs, output: &Path) -> CommandResult {
    let dir = tempfile::tempdir()?;
    let segment_seconds = args.seconds + core_engine::RenderSpec::default().inter_segment_silence;
    let segments = ((args.minutes * 60.0) / segment_seconds).ceil().max(1.0) as usize;
    let spec = write_sound_project(dir.path(), segments, args.seconds, BENCH_MUSIC_SECONDS)?;
    // Writing the project allocated and freed its sound: the peak counts from here.
    reset_peak_rss()?;
    let cpu = cpu_seconds()?;
    let started = Instant::now();
    let stats = core_engine::render_sound(&spec, output, &CancelToken::new())?;
    let wall = started.elapsed().as_secs_f64();
    let cpu = cpu_seconds()? - cpu;
    let peak_rss_mb = peak_rss_kib()? as f64 / 1024.0;
    let level = measure_file(output, &|| false)?;
    let video_seconds = segments as f64 * segment_seconds;
    println!(
        "{}",
        json!({
            "mode": "sound",
            "video_minutes": round(video_seconds / 60.0, 2),
            "segments": segments,
            "music_seconds": BENCH_MUSIC_SECONDS,
            "loudness_target_lufs": spec.sound.loudness_target_lufs,
            "wall_seconds": round(wall, 3),
            "cpu_seconds": round(cpu, 2),
            "sound_pass_seconds": round(stats.sound.total().as_secs_f64(), 3),
            "times_realtime": round(video_seconds / wall, 1),
            "peak_rss_mb": round(peak_rss_mb, 1),
            "peak_rss_method": "VmHWM of the sound pass's process (decoders, AAC encoder and muxer included)",
            "output_integrated_lufs": round(level.integrated_lufs, 2),
            "output_true_peak_dbtp": round(level.true_peak_dbtp, 2),
            "output_mb": round(std::fs::metadata(output)?.len() as f64 / 1e6, 2),
        })
    );
    Ok(())
}
