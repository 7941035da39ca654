#![allow(clippy::unwrap_used, clippy::expect_used)]
//! End-to-end renders of the demo fixture at a tiny size (320x180, 15 fps).

use std::cell::RefCell;
use std::time::{Duration, Instant};

use core_engine::subtitles::parse_vtt;
use core_engine::{render, CancelToken, Progress, RenderError};

use crate::common::{decode_luma, demo_copy, demo_spec, files_in};

#[test]
fn demo_renders_verifies_and_reports_progress() {
    let spec = demo_spec();
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("final.mp4");
    let mut events: Vec<(Instant, Progress)> = Vec::new();
    let started = Instant::now();
    let result = render(
        &spec,
        &output,
        &mut |p| events.push((Instant::now(), p.clone())),
        &CancelToken::new(),
    )
    .unwrap();
    let elapsed = started.elapsed();

    // Duration: every narration plus its 0.3 s gap, the last one included.
    let expected: f64 = spec
        .segments
        .iter()
        .map(|s| core_engine::probe_audio_duration(&s.audio).unwrap() + 0.3)
        .sum();
    assert!(
        (result.duration - expected).abs() < 1.0 / 15.0 + 0.05,
        "{} vs {expected}",
        result.duration
    );
    assert_eq!(result.frames, (expected * 15.0).round() as u64);
    assert_eq!(result.output_path, output);
    assert_eq!(result.file_size, std::fs::metadata(&output).unwrap().len());
    assert_eq!(
        files_in(dir.path()),
        vec!["final.mp4", "final.srt", "final.vtt"]
    );
    // One cue list for the whole video: the last cue ends with the last narration, before
    // its silence gap.
    let subtitles = result.subtitles.clone().unwrap();
    let cues = parse_vtt(&std::fs::read_to_string(&subtitles.vtt).unwrap()).unwrap();
    assert!(cues.windows(2).all(|w| w[0].end <= w[1].start));
    let last = cues.last().unwrap();
    assert_eq!(last.text, "Thanks for watching.");
    assert!((last.end - (expected - 0.3)).abs() < 0.002, "{last:?}");
    // The 160x120 picture is enlarged a lot even at this size.
    assert!(
        result.warnings.iter().any(|w| w.starts_with("segment 4:")),
        "{:?}",
        result.warnings
    );

    // Progress: monotonic, ends at exactly 100 once, throttled to ~10 per second within a
    // phase (each new phase is told at once).
    let percentages: Vec<f64> = events.iter().map(|(_, p)| p.percentage).collect();
    assert!(
        percentages.windows(2).all(|w| w[0] <= w[1]),
        "{percentages:?}"
    );
    assert_eq!(percentages.last(), Some(&100.0));
    assert_eq!(percentages.iter().filter(|&&p| p >= 100.0).count(), 1);
    let mut phases: Vec<&str> = events.iter().map(|(_, p)| p.phase.as_str()).collect();
    phases.dedup();
    assert!(events.len() as f64 <= elapsed.as_secs_f64() * 10.0 + phases.len() as f64 + 2.0);
    let last = &events.last().unwrap().1;
    assert_eq!(
        (last.encoded_frames, last.total_frames),
        (result.frames, result.frames)
    );
    assert_eq!((last.current_segment, last.total_segments), (4, 4));
    assert!(events.iter().all(|(_, p)| !p.phase.is_empty()));
}

#[test]
fn consecutive_frames_of_a_segment_differ_smoothly() {
    let mut spec = demo_spec();
    spec.segments.truncate(1); // segment 1 zooms into the centre
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("one.mp4");
    let result = render(&spec, &output, &mut |_| {}, &CancelToken::new()).unwrap();
    let frames = decode_luma(&output);
    assert_eq!(frames.len() as u64, result.frames);
    let mean_diff = |a: &[u8], b: &[u8]| {
        a.iter()
            .zip(b)
            .map(|(x, y)| x.abs_diff(*y) as f64)
            .sum::<f64>()
            / a.len() as f64
    };
    let middle = frames.len() / 2;
    let step = mean_diff(&frames[middle], &frames[middle + 1]);
    assert!(
        step > 0.0,
        "no motion between frames {middle} and {}",
        middle + 1
    );
    assert!(step < 8.0, "a jump, not a glide: {step}");
    assert!(mean_diff(&frames[0], &frames[frames.len() - 1]) > step);
}

#[test]
fn corrupt_image_names_its_segment_and_keeps_the_previous_video() {
    let (dir, spec) = demo_copy();
    // Truncated: the header reads fine (so analysis passes), the picture data does not.
    let picture = dir.path().join("images/03.webp");
    let bytes = std::fs::read(&picture).unwrap();
    std::fs::write(&picture, &bytes[..bytes.len() / 3]).unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let output = out_dir.path().join("final.mp4");
    std::fs::write(&output, b"the last good video").unwrap();
    let err = render(&spec, &output, &mut |_| {}, &CancelToken::new()).unwrap_err();
    match &err {
        RenderError::Image { segment, path, .. } => {
            assert_eq!(*segment, Some(3));
            assert!(path.ends_with("images/03.webp"));
        }
        other => panic!("expected an image error, got {other}"),
    }
    assert!(
        err.to_string().starts_with("segment 3: cannot read image "),
        "{err}"
    );
    assert_eq!(std::fs::read(&output).unwrap(), b"the last good video");
    assert_eq!(files_in(out_dir.path()), vec!["final.mp4"]);
}

#[test]
fn a_file_that_is_not_a_picture_fails_before_encoding() {
    let (dir, spec) = demo_copy();
    std::fs::write(
        dir.path().join("images/04.jpg"),
        b"<html>not a picture</html>",
    )
    .unwrap();
    let output = dir.path().join("final.mp4");
    let mut phases = Vec::new();
    let err = render(
        &spec,
        &output,
        &mut |p| phases.push(p.phase.clone()),
        &CancelToken::new(),
    )
    .unwrap_err();
    assert!(
        matches!(
            &err,
            RenderError::Image {
                segment: Some(4),
                ..
            }
        ),
        "{err}"
    );
    assert!(
        phases.iter().all(|p| p.starts_with("Analysing")),
        "{phases:?}"
    );
}

#[test]
fn an_output_folder_that_cannot_be_made_keeps_its_cause_once() {
    let spec = demo_spec();
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("blocker");
    std::fs::write(&blocker, "a file where the folder should be").unwrap();
    let err = render(
        &spec,
        &blocker.join("final.mp4"),
        &mut |_| {},
        &CancelToken::new(),
    )
    .unwrap_err();
    assert!(
        matches!(&err, RenderError::Io { path, .. } if *path == blocker),
        "{err:?}"
    );
    let mut causes = vec![err.to_string()];
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    assert_eq!(causes.len(), 2, "{causes:?}");
    let chain = causes.join(": ");
    for cause in &causes {
        assert_eq!(
            chain.matches(cause.as_str()).count(),
            1,
            "{cause} in {chain}"
        );
    }
}

#[test]
fn missing_audio_names_its_segment() {
    let (dir, mut spec) = demo_copy();
    spec.segments[1].audio = dir.path().join("audio/nowhere.ogg");
    let output = dir.path().join("final.mp4");
    let err = render(&spec, &output, &mut |_| {}, &CancelToken::new()).unwrap_err();
    assert!(
        matches!(&err, RenderError::MissingFile { segment: Some(2), path } if path.ends_with("audio/nowhere.ogg")),
        "{err}"
    );
    assert!(!output.exists());
}

#[test]
fn unreadable_audio_names_its_segment() {
    let (dir, spec) = demo_copy();
    std::fs::write(
        dir.path().join("audio/03.mp3"),
        b"not an mp3 at all, just text",
    )
    .unwrap();
    let output = dir.path().join("final.mp4");
    let err = render(&spec, &output, &mut |_| {}, &CancelToken::new()).unwrap_err();
    assert!(
        matches!(
            &err,
            RenderError::Audio {
                segment: Some(3),
                ..
            }
        ),
        "{err}"
    );
}

#[test]
fn cancel_mid_encode_stops_within_a_second_and_leaves_nothing() {
    let mut spec = demo_spec();
    let segments = spec.segments.clone();
    spec.segments = (0..6)
        .flat_map(|_| segments.clone())
        .enumerate()
        .map(|(i, mut s)| {
            s.index = i;
            s
        })
        .collect();
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("final.mp4");
    let cancel = CancelToken::new();
    let cancelled_at = RefCell::new(None);
    let err = render(
        &spec,
        &output,
        &mut |p| {
            if p.encoded_frames > 30 && cancelled_at.borrow().is_none() {
                cancel.cancel();
                *cancelled_at.borrow_mut() = Some(Instant::now());
            }
        },
        &cancel,
    )
    .unwrap_err();
    let waited = cancelled_at
        .borrow()
        .expect("never reached the encoder")
        .elapsed();
    assert!(matches!(err, RenderError::Cancelled), "{err}");
    assert!(waited < Duration::from_secs(1), "took {waited:?}");
    assert!(
        files_in(dir.path()).is_empty(),
        "{:?}",
        files_in(dir.path())
    );
}
