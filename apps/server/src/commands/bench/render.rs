//! `storyflow bench` (the default mode): a render against x264 alone on the same frames, each
//! in a child process of this binary (see the `bench` module's documentation).

use std::path::Path;
use std::time::Instant;

use core_engine::benchmark::{
    encoder_only_input, encoder_only_seconds, libx264_only_seconds, EncoderInput,
};
use core_engine::stats::StageTimes;
use core_engine::{CancelToken, RenderOptions, RenderSpec, RenderStats};
use serde_json::json;

use super::common::{
    cpu_seconds, median, ms, on_off, peak_rss_kib, project, reset_peak_rss, round, BenchArgs, Case,
};
use crate::commands::{BoxError, CommandResult};

/// Renders each case `--runs` times against x264 alone; prints one JSON line per run and a
/// summary line.
pub(super) fn run(args: &BenchArgs) -> CommandResult {
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
            let result = bench_once(args, case, run, dir.path())?;
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
    // x264 alone, as fast as it goes here: GStreamer's x264enc and libx264 called directly,
    // both with x264's own threads and threaded lookahead; the faster is the floor.
    let mut floors = Vec::new();
    match &input {
        EncoderInput::Raw(raw) => {
            for (name, flags) in [
                ("x264enc", &[][..]),
                ("libx264", &["--encoder-only-libx264"][..]),
            ] {
                let run = run_child(args, &["--encoder-only".as_ref(), raw.as_os_str()], flags);
                floors.push((name, run));
            }
            let _ = std::fs::remove_file(raw);
        }
        EncoderInput::Video(video) => floors.push((
            "x264enc",
            run_child(
                args,
                &["--encoder-only".as_ref(), video.as_os_str()],
                &["--encoder-only-video"],
            ),
        )),
    }
    let mut timed = Vec::new();
    for (name, run) in floors {
        timed.push((name, run?));
    }
    let (reference, encoder) = timed
        .iter()
        .min_by(|a, b| field(&a.1, "seconds").total_cmp(&field(&b.1, "seconds")))
        .ok_or("x264 alone did not run")?;
    let (render_seconds, render_cpu, peak_rss_mb) = (
        field(&render, "render_wall_seconds"),
        field(&render, "render_cpu_seconds"),
        field(&render, "peak_rss_mb"),
    );
    let (encoder_seconds, encoder_cpu, encoder_rss) = (
        field(encoder, "seconds"),
        field(encoder, "cpu_seconds"),
        field(encoder, "peak_rss_mb"),
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
    let floors: serde_json::Map<String, serde_json::Value> = timed
        .iter()
        .map(|(name, run)| {
            (
                format!("encoder_only_{name}"),
                json!({
                    "wall_seconds": round(field(run, "seconds"), 3),
                    "cpu_seconds": round(field(run, "cpu_seconds"), 2),
                    "peak_rss_mb": round(field(run, "peak_rss_mb"), 1),
                }),
            )
        })
        .collect();
    let mut result = json!({
        "run": run,
        "encoder_only_reference": format!("{reference}, threads and lookahead as x264 picks them"),
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
        fields.extend(floors);
    }
    Ok(result)
}

/// The child side of a render run: writes the project, renders it into `output` and prints
/// the render's figures.
pub(super) fn render_child(args: &BenchArgs, output: &Path) -> CommandResult {
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
    let rendered =
        core_engine::render_with(&spec, output, &options, &mut |_| {}, &CancelToken::new());
    let (rendered, stats) = rendered?;
    let render_seconds = started.elapsed().as_secs_f64();
    let render_cpu = cpu_seconds()? - cpu;
    let peak_rss_mb = peak_rss_kib()? as f64 / 1024.0;
    let mut result = json!({
        "case": case,
        "preset": spec.encoder.preset,
        "size": format!("{}x{}@{}", spec.width, spec.height, spec.fps),
        "segments": spec.segments.len(),
        "jobs": args.jobs,
        "transition_seconds": spec.transition_duration,
        "subtitles": spec.subtitles.is_some(),
        "logo": spec.logo.is_some(),
        "music": spec.sound.music.is_some(),
        "loudness_target_lufs": spec.sound.loudness_target_lufs,
        "frames": rendered.frames,
        "video_seconds": round(rendered.duration, 3),
        "render_wall_seconds": round(render_seconds, 3),
        "render_cpu_seconds": round(render_cpu, 2),
        "peak_rss_mb": round(peak_rss_mb, 1),
        "jobs": options.jobs,
        "peak_rss_method": "VmHWM of the render's process, which runs the encoders too",
    });
    if let serde_json::Value::Object(fields) = &mut result {
        fields.extend(stage_fields(&stats));
        // The sound pass runs beside the splice's video; its first pass (the measurement)
        // holds the splice up, so its share is an upper bound of what it adds.
        let sound = stats.sound.total().as_secs_f64();
        fields.insert(
            "sound_share_of_render".into(),
            json!(round(sound / render_seconds, 4)),
        );
    }
    println!("{result}");
    Ok(())
}

/// The renderer's own costs: per frame (build = the picture, `shot` alone or `blend` during
/// a crossfade, + `overlays`; the waits for a buffer, a picture, and the encoder's queue),
/// per picture and per narration; and the sound pass (music, loudness) over the render.
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
    fields.insert(
        "sound_seconds".into(),
        json!(round(stats.sound.total().as_secs_f64(), 3)),
    );
    fields
}

/// Runs this binary as `storyflow bench` with the same settings plus `extra` and `flags`,
/// and returns the JSON it printed.
pub(super) fn run_child(
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
    if args.no_music {
        command.arg("--no-music");
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
pub(super) fn encoder_only_child(args: &BenchArgs, input: &Path) -> CommandResult {
    let spec = encoder_spec(args);
    let input = match args.encoder_only_video {
        true => EncoderInput::Video(input.to_path_buf()),
        false => EncoderInput::Raw(input.to_path_buf()),
    };
    let cpu = cpu_seconds()?;
    let seconds = match (&input, args.encoder_only_libx264) {
        (EncoderInput::Raw(raw), true) => libx264_only_seconds(raw, &spec)?,
        _ => encoder_only_seconds(&input, &spec)?,
    };
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
