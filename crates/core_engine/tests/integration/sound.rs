#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The finished sound track, measured on rendered MP4s (their AAC decoded): the loudness
//! target and the true-peak ceiling, and background music looped, faded and ducked under
//! the narration. Narration is a band of tones from 300 to 1000 Hz, the music a 5 kHz tone,
//! so the music's level is read at 5 kHz alone.

use std::f64::consts::PI;
use std::path::{Path, PathBuf};

use core_engine::chunk_cache::{ChunkCache, DEFAULT_MAX_BYTES};
use core_engine::sound::loudness::measure_file;
use core_engine::{
    render, render_with, CancelToken, MusicSpec, RenderError, RenderOptions, RenderSpec,
    SegmentSpec,
};

use crate::common::{decode_audio, tiny, write_png};

const RATE: f64 = 48_000.0;

/// A 48 kHz mono WAV of `seconds` whose sample at time `t` is `f(t)` (full scale = 1).
fn write_wav(path: &Path, seconds: f64, f: impl Fn(f64) -> f64) {
    let samples: Vec<i16> = (0..(seconds * RATE).round() as usize)
        .map(|n| (f(n as f64 / RATE).clamp(-1.0, 1.0) * 32_767.0).round() as i16)
        .collect();
    std::fs::write(path, core_engine::audio::wav_bytes(48_000, &samples)).unwrap();
}

/// Speech-like narration: four tones between 300 and 1000 Hz, each at `amplitude`.
fn band(amplitude: f64) -> impl Fn(f64) -> f64 {
    move |t| {
        [300.0, 450.0, 650.0, 900.0]
            .iter()
            .map(|f| amplitude * (2.0 * PI * f * t).sin())
            .sum()
    }
}

/// One segment per narration file (a grey picture each), at the tiny test size.
fn project(dir: &Path, narrations: &[PathBuf], silence: f64) -> RenderSpec {
    let image = dir.join("grey.png");
    write_png(&image, 64, 36, [128, 128, 128, 255]);
    let segments = narrations
        .iter()
        .enumerate()
        .map(|(i, audio)| SegmentSpec::new(i, &image, audio, ""))
        .collect();
    let mut spec = tiny(RenderSpec::new(segments));
    spec.inter_segment_silence = silence;
    spec.transition_duration = 0.0;
    spec.subtitles = None;
    spec.encoder.preset = "ultrafast".into();
    spec
}

fn render_to(spec: &RenderSpec, output: &Path) {
    render(spec, output, &mut |_| {}, &CancelToken::new()).unwrap();
}

#[test]
fn quiet_and_loud_narrations_end_at_the_target_under_the_true_peak_ceiling() {
    let dir = tempfile::tempdir().unwrap();
    // Quiet (about -42 LUFS) with clicks far above it: brought up 26 dB, the clicks would
    // pass full scale without the limiter.
    let quiet = dir.path().join("quiet.wav");
    write_wav(&quiet, 2.0, |t| {
        let click = if (t * 2.0).fract() < 1.0 / RATE {
            0.1
        } else {
            0.0
        };
        band(0.004)(t) + click
    });
    // Loud (about -7 LUFS), peaking near full scale.
    let loud = dir.path().join("loud.wav");
    write_wav(&loud, 2.0, band(0.24));
    for (name, narration) in [("quiet", &quiet), ("loud", &loud)] {
        let before = measure_file(narration, &|| false).unwrap();
        let spec = project(dir.path(), std::slice::from_ref(narration), 0.3);
        let output = dir.path().join(format!("{name}.mp4"));
        render_to(&spec, &output);
        let after = measure_file(&output, &|| false).unwrap();
        eprintln!("{name}: {before:?} -> {after:?}");
        assert!(
            (before.integrated_lufs + 16.0).abs() > 6.0,
            "{name} starts far from the target: {before:?}"
        );
        assert!(
            (after.integrated_lufs + 16.0).abs() <= 1.0,
            "{name}: {after:?}"
        );
        assert!(after.true_peak_dbtp <= -1.0, "{name}: {after:?}");
    }

    // Another target holds too; none leaves the level alone.
    let mut spec = project(dir.path(), std::slice::from_ref(&loud), 0.3);
    spec.sound.loudness_target_lufs = Some(-23.0);
    let output = dir.path().join("loud-23.mp4");
    render_to(&spec, &output);
    let after = measure_file(&output, &|| false).unwrap();
    assert!((after.integrated_lufs + 23.0).abs() <= 1.0, "{after:?}");
    spec.sound.loudness_target_lufs = None;
    let output = dir.path().join("loud-as-is.mp4");
    render_to(&spec, &output);
    let after = measure_file(&output, &|| false).unwrap();
    let before = measure_file(&loud, &|| false).unwrap();
    assert!(
        (after.integrated_lufs - before.integrated_lufs).abs() <= 0.5,
        "{before:?} -> {after:?}"
    );
}

/// The 5 kHz level, in dB, of `samples` from `from` to `to` seconds (Goertzel under a Hann
/// window).
fn music_db(samples: &[i16], from: f64, to: f64) -> f64 {
    let (start, end) = ((from * RATE) as usize, (to * RATE) as usize);
    let window = &samples[start..end.min(samples.len())];
    let n = window.len() as f64;
    let coefficient = 2.0 * (2.0 * PI * 5_000.0 / RATE).cos();
    let (mut s1, mut s2) = (0.0, 0.0);
    for (i, &x) in window.iter().enumerate() {
        let hann = 0.5 - 0.5 * (2.0 * PI * i as f64 / n).cos();
        let s0 = f64::from(x) * hann + coefficient * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coefficient * s1 * s2;
    10.0 * (power.max(1e-9) / (n * n)).log10()
}

/// Two 1 s narrations with 2 s of silence after each (6 s: speech at 0–1 s and 3–4 s)
/// over 1.5 s of a 5 kHz tone as music, rendered; returns the decoded sound.
fn render_with_music(dir: &Path) -> Vec<i16> {
    let narrations: Vec<PathBuf> = (0..2)
        .map(|i| {
            let path = dir.join(format!("{i}.wav"));
            write_wav(&path, 1.0, band(0.1));
            path
        })
        .collect();
    let music = dir.join("music.wav");
    write_wav(&music, 1.5, |t| 0.5 * (2.0 * PI * 5_000.0 * t).sin());
    let mut spec = project(dir, &narrations, 2.0);
    spec.sound.music = Some(MusicSpec::new(&music));
    let output = dir.join("music.mp4");
    render_to(&spec, &output);
    let level = measure_file(&output, &|| false).unwrap();
    assert!((level.integrated_lufs + 16.0).abs() <= 1.0, "{level:?}");
    assert!(level.true_peak_dbtp <= -1.0, "{level:?}");
    let samples = decode_audio(&output);
    assert!((samples.len() as f64 / RATE - 6.0).abs() < 0.05);
    samples
}

/// Mean of `music_db` over 0.1 s windows from `from` to `to`.
fn mean_db(samples: &[i16], from: f64, to: f64) -> f64 {
    let windows: Vec<f64> = (0..((to - from) * 10.0).round() as usize)
        .map(|k| from + k as f64 / 10.0)
        .map(|t| music_db(samples, t, t + 0.1))
        .collect();
    windows.iter().sum::<f64>() / windows.len() as f64
}

#[test]
fn music_is_lowered_by_the_ducking_amount_under_speech_and_loops_throughout() {
    let dir = tempfile::tempdir().unwrap();
    let samples = render_with_music(dir.path());
    // In the gap (ramps over by 1.25 s, the next one starts at 2.75 s) and under the second
    // narration (fully down from 3.0 s to 4.0 s, where the fade out starts).
    let gap = mean_db(&samples, 1.4, 2.6);
    let speech = mean_db(&samples, 3.1, 3.9);
    let ducking = gap - speech;
    eprintln!("music at 5 kHz: {gap:.2} dB in the gap, {speech:.2} dB under speech");
    assert!(
        (ducking - 12.0).abs() <= 1.5,
        "gap {gap:.1} dB, speech {speech:.1} dB"
    );
    // The 1.5 s tone loops (at 1.125 s, 2.25 s, ...): the gap's level holds through the
    // loop points and their crossfades, and music is heard to the end.
    for k in 0..12 {
        let t = 1.4 + 0.1 * k as f64;
        let level = music_db(&samples, t, t + 0.1);
        assert!(
            (level - gap).abs() <= 1.0,
            "{t:.1} s: {level:.1} vs {gap:.1} dB"
        );
    }
    for k in 1..58 {
        let t = 0.1 * k as f64;
        let level = music_db(&samples, t, t + 0.1);
        assert!(level > gap - 35.0, "{t:.1} s: {level:.1} vs {gap:.1} dB");
    }
}

#[test]
fn music_fades_in_over_the_first_second_and_out_over_the_last_two() {
    let dir = tempfile::tempdir().unwrap();
    let samples = render_with_music(dir.path());
    let gap = mean_db(&samples, 1.4, 2.6);
    let at = |t: f64| music_db(&samples, t - 0.05, t + 0.05);
    // Rising under the first narration (ducked throughout, so only the fade moves it).
    let (a, b, c) = (at(0.15), at(0.5), at(0.9));
    assert!(a < b - 6.0 && b < c - 2.0, "{a:.1} {b:.1} {c:.1}");
    assert!(a < gap - 25.0, "{a:.1} vs {gap:.1}");
    // Falling over the last two seconds, to near silence.
    let (d, e, f) = (at(4.6), at(5.3), at(5.93));
    assert!(d > e + 3.0 && e > f + 6.0, "{d:.1} {e:.1} {f:.1}");
    assert!(f < gap - 25.0, "{f:.1} vs {gap:.1}");
}

#[test]
fn unreadable_music_fails_the_render_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let narration = dir.path().join("n.wav");
    write_wav(&narration, 1.0, band(0.1));
    let music = dir.path().join("music.mp3");
    std::fs::write(&music, b"not music at all").unwrap();
    let mut spec = project(dir.path(), &[narration], 0.3);
    spec.sound.music = Some(MusicSpec::new(&music));
    let output = dir.path().join("out.mp4");
    let err = render(&spec, &output, &mut |_| {}, &CancelToken::new()).unwrap_err();
    assert!(
        matches!(&err, RenderError::Music { path, .. } if *path == music),
        "{err}"
    );
    assert!(!output.exists());
}

/// Music and loudness are not in the video chunks: changing them re-runs only the sound pass,
/// and the same settings give the same sound.
#[test]
fn sound_settings_reuse_every_chunk_and_the_sound_is_deterministic() {
    let dir = tempfile::tempdir().unwrap();
    let narration = dir.path().join("n.wav");
    write_wav(&narration, 1.0, band(0.1));
    let music = dir.path().join("music.wav");
    write_wav(&music, 1.5, |t| 0.5 * (2.0 * PI * 5_000.0 * t).sin());
    let mut spec = project(dir.path(), &[narration], 0.5);
    let cache = ChunkCache::open(dir.path().join("cache"), DEFAULT_MAX_BYTES).unwrap();
    let options = RenderOptions {
        cache: Some(cache),
        owner: None,
        jobs: 1,
        exchange: None,
    };
    let render_cached = |spec: &RenderSpec, name: &str| {
        let output = dir.path().join(name);
        let mut phases = Vec::new();
        render_with(
            spec,
            &output,
            &options,
            &mut |p| phases.push(p.phase.clone()),
            &CancelToken::new(),
        )
        .unwrap();
        let encoded = phases.iter().any(|p| p.starts_with("Rendering segment"));
        (decode_audio(&output), encoded)
    };
    let (plain, encoded) = render_cached(&spec, "plain.mp4");
    assert!(encoded);
    spec.sound.music = Some(MusicSpec::new(&music));
    spec.sound.loudness_target_lufs = Some(-20.0);
    let (with_music, encoded) = render_cached(&spec, "music.mp4");
    assert!(!encoded, "a chunk was encoded again");
    assert!(with_music != plain);
    let (again, encoded) = render_cached(&spec, "again.mp4");
    assert!(!encoded);
    assert!(again == with_music, "the same settings gave another sound");
}

/// `render_sound` (what `storyflow bench --sound` times) runs the same pass without a picture.
#[test]
fn the_sound_pass_alone_writes_the_finished_track() {
    let dir = tempfile::tempdir().unwrap();
    let narration = dir.path().join("n.wav");
    write_wav(&narration, 1.5, band(0.02));
    let music = dir.path().join("music.wav");
    write_wav(&music, 1.5, |t| 0.5 * (2.0 * PI * 5_000.0 * t).sin());
    let mut spec = project(dir.path(), &[narration.clone(), narration], 1.0);
    spec.sound.music = Some(MusicSpec::new(&music));
    let output = dir.path().join("sound.mp4");
    let stats = core_engine::render_sound(&spec, &output, &CancelToken::new()).unwrap();
    assert_eq!(stats.sound.count(), 1);
    assert_eq!(stats.narration.count(), 2);
    let level = measure_file(&output, &|| false).unwrap();
    assert!((level.integrated_lufs + 16.0).abs() <= 1.0, "{level:?}");
    assert!(level.true_peak_dbtp <= -1.0, "{level:?}");
    let samples = decode_audio(&output);
    assert!(
        (samples.len() as f64 / RATE - 5.0).abs() < 0.05,
        "{}",
        samples.len()
    );
}
