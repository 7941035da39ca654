#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Frame checks of what is drawn over and between the pictures: crossfades, burned-in
//! subtitles, the logo, and the sidecars. Tiny renders (320x180, 15 fps) of flat-coloured
//! pictures and pure tones, so every expected value is known.

use std::path::Path;

use core_engine::logo::{LogoPosition, LogoSpec};
use core_engine::spec::SpokenWord;
use core_engine::subtitles::{cues_for_segment, parse_srt, parse_vtt};
use core_engine::text_overlay::SubtitleStyle;
use core_engine::{render, CancelToken, RenderOutput, RenderSpec, SegmentSpec};

use crate::common::{
    decode_audio, decode_frames, decode_luma, files_in, luma, tiny, write_png, write_tone, HEIGHT,
    WIDTH,
};

/// Two segments, a dark and a light flat picture, each with `narration` seconds of tone, no
/// text, 0.2 s of silence, no subtitles and no logo.
fn dark_then_light(dir: &Path, narration: f64, transition: f64) -> RenderSpec {
    let mut segments = Vec::new();
    for (i, grey) in [40u8, 200].into_iter().enumerate() {
        let (image, audio) = (dir.join(format!("{i}.png")), dir.join(format!("{i}.wav")));
        write_png(&image, 320, 180, [grey, grey, grey, 255]);
        write_tone(&audio, narration);
        segments.push(SegmentSpec::new(i, image, audio, ""));
    }
    tiny(RenderSpec {
        inter_segment_silence: 0.2,
        transition_duration: transition,
        subtitles: None,
        ..RenderSpec::new(segments)
    })
}

fn render_to(spec: &RenderSpec, output: &Path) -> RenderOutput {
    render(spec, output, &mut |_| {}, &CancelToken::new()).unwrap()
}

fn mean(frame: &[u8]) -> f64 {
    frame.iter().map(|&v| f64::from(v)).sum::<f64>() / frame.len() as f64
}

/// Seconds into `samples` (48 kHz) of the first loud sample at or after `from` seconds.
fn onset(samples: &[i16], from: f64) -> f64 {
    let start = (from * 48_000.0) as usize;
    let i = samples[start..]
        .iter()
        .position(|s| s.unsigned_abs() > 4_000)
        .unwrap();
    (start + i) as f64 / 48_000.0
}

#[test]
fn a_boundary_frame_blends_both_pictures_and_the_sound_is_untouched() {
    let dir = tempfile::tempdir().unwrap();
    // 1.0 s narration + 0.2 s silence = 18 frames per segment; 0.4 s = 6 blend frames, 15..21.
    let spec = dark_then_light(dir.path(), 1.0, 0.4);
    let faded = render_to(&spec, &dir.path().join("faded.mp4"));
    let cut = render_to(
        &RenderSpec {
            transition_duration: 0.0,
            ..spec.clone()
        },
        &dir.path().join("cut.mp4"),
    );
    assert!(faded.warnings.is_empty(), "{:?}", faded.warnings);

    // Same length with and without the blend: the sum of narration + silence.
    assert_eq!((faded.frames, cut.frames), (36, 36));
    assert!((faded.duration - 2.4).abs() < 0.05, "{}", faded.duration);
    assert!((cut.duration - 2.4).abs() < 0.05, "{}", cut.duration);

    let frames: Vec<f64> = decode_luma(&faded.output_path)
        .iter()
        .map(|f| mean(f))
        .collect();
    let (dark, light) = (frames[0], frames[35]);
    assert!(light - dark > 100.0, "{dark} {light}");
    // Frame 15 + k shows (k + 0.5) / 6 of the light picture.
    for k in 0..6 {
        let weight = (k as f64 + 0.5) / 6.0;
        let expected = dark + (light - dark) * weight;
        let got = frames[15 + k];
        assert!(
            (got - expected).abs() < 4.0,
            "frame {}: {got}, expected {expected}",
            15 + k
        );
    }
    assert!((frames[14] - dark).abs() < 2.0);
    assert!((frames[21] - light).abs() < 2.0);

    let hard: Vec<f64> = decode_luma(&cut.output_path)
        .iter()
        .map(|f| mean(f))
        .collect();
    assert!((hard[17] - dark).abs() < 2.0 && (hard[18] - light).abs() < 2.0);

    // The second narration starts 1.2 s after the first in both: the blend moves pictures,
    // not sound.
    for output in [&faded.output_path, &cut.output_path] {
        let samples = decode_audio(output);
        let gap = onset(&samples, 1.1) - onset(&samples, 0.0);
        assert!((gap - 1.2).abs() < 0.003, "{}: {gap}", output.display());
        assert!((samples.len() as f64 / 48_000.0 - 2.4).abs() < 0.03);
    }
}

#[test]
fn a_transition_longer_than_a_segment_is_shortened_with_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    // 0.2 s + 0.2 s = 6 frames per segment; 2 s of crossfade cannot fit.
    let spec = dark_then_light(dir.path(), 0.2, 2.0);
    let result = render_to(&spec, &dir.path().join("short.mp4"));
    assert_eq!(result.frames, 12);
    assert_eq!(
        result.warnings,
        [
            "the transition between segments 1 and 2 was shortened to 0.40 s: segment 1 is on \
          screen for only 0.40 s"
        ]
    );
}

/// One mid-grey segment narrated for 1.5 s, then 0.5 s of silence, with `text`.
fn grey_with_text(dir: &Path, text: &str) -> RenderSpec {
    let (image, audio) = (dir.join("grey.png"), dir.join("tone.wav"));
    write_png(&image, 320, 180, [128, 128, 128, 255]);
    write_tone(&audio, 1.5);
    tiny(RenderSpec {
        inter_segment_silence: 0.5,
        // 100 at 1080 lines is 17 px at 180.
        subtitles: Some(SubtitleStyle {
            font_size: Some(100.0),
            ..SubtitleStyle::default()
        }),
        ..RenderSpec::new(vec![SegmentSpec::new(0, image, audio, text)])
    })
}

/// Pixels of the lower third that are much brighter and much darker than the grey picture.
fn text_and_outline(frame: &[u8]) -> (usize, usize) {
    let band = &frame[(WIDTH * HEIGHT * 2 / 3) as usize..];
    (
        band.iter().filter(|&&v| v > 200).count(),
        band.iter().filter(|&&v| v < 50).count(),
    )
}

#[test]
fn subtitles_are_burned_in_during_their_cue_only_and_written_as_sidecars() {
    let dir = tempfile::tempdir().unwrap();
    let text = "Hello there, subtitle world. Another line follows here.";
    let spec = grey_with_text(dir.path(), text);
    let output = dir.path().join("out.mp4");
    let result = render_to(&spec, &output);

    let frames = decode_luma(&output);
    assert_eq!(frames.len(), 30);
    for frame in [2, 10, 20] {
        let (text_px, outline_px) = text_and_outline(&frames[frame]);
        assert!(
            text_px > 30 && outline_px > 30,
            "frame {frame}: {text_px} {outline_px}"
        );
    }
    // 1.5 s onwards is the silence gap: no subtitle, and nothing above the band either way.
    for frame in [23, 29] {
        assert_eq!(text_and_outline(&frames[frame]), (0, 0), "frame {frame}");
    }
    assert!(frames[10][..(WIDTH * HEIGHT / 2) as usize]
        .iter()
        .all(|&v| (100..160).contains(&v)));

    // The sidecars hold the same cues, timed over the narration only.
    let files = result.subtitles.unwrap();
    assert_eq!(files.srt, dir.path().join("out.srt"));
    assert_eq!(files.vtt, dir.path().join("out.vtt"));
    let expected = cues_for_segment(text, 0.0, 1.5);
    assert_eq!(expected.len(), 2);
    for cues in [
        parse_srt(&std::fs::read_to_string(&files.srt).unwrap()).unwrap(),
        parse_vtt(&std::fs::read_to_string(&files.vtt).unwrap()).unwrap(),
    ] {
        assert_eq!(cues.len(), expected.len());
        for (cue, want) in cues.iter().zip(&expected) {
            assert_eq!(cue.text, want.text);
            assert!((cue.start - want.start).abs() <= 0.0005);
            assert!((cue.end - want.end).abs() <= 0.0005);
        }
    }
    assert_eq!(files_in(dir.path()).len(), 5); // grey.png tone.wav out.mp4 out.srt out.vtt
}

#[test]
fn disabled_subtitles_still_write_sidecars_and_text_free_renders_remove_stale_ones() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("final.mp4");
    let spec = RenderSpec {
        subtitles: None,
        ..grey_with_text(dir.path(), "Only in the sidecar.")
    };
    let result = render_to(&spec, &output);
    assert!(result.subtitles.is_some());
    let frames = decode_luma(&output);
    assert_eq!(text_and_outline(&frames[10]), (0, 0));

    let mut silent = spec.clone();
    silent.segments[0].text = "  ".into();
    assert_eq!(render_to(&silent, &output).subtitles, None);
    assert_eq!(files_in(dir.path()), ["final.mp4", "grey.png", "tone.wav"]);
}

/// "Hello there friend" over the grey picture, its words spoken at 0.0, 0.5 and 1.0 s (from
/// frames 0, 8 and 15 at 15 fps), highlighted in `highlight`.
fn spoken_words(dir: &Path, highlight: Option<[u8; 3]>) -> RenderSpec {
    let mut spec = grey_with_text(dir, "Hello there friend");
    let timings = [
        ("Hello", 0.0, 0.4),
        ("there", 0.5, 0.9),
        ("friend", 1.0, 1.4),
    ];
    spec.segments[0].words = Some(
        timings
            .iter()
            .map(|&(word, start, end)| SpokenWord {
                word: word.into(),
                start,
                end,
            })
            .collect(),
    );
    if let Some(style) = spec.subtitles.as_mut() {
        // The largest size, 20 px at 180 lines: strokes wide enough to keep their colour in
        // 4:2:0 chroma.
        style.font_size = Some(120.0);
        style.highlight_color = highlight;
    }
    spec
}

/// The columns (in chroma samples, 0–159) of the lower third's strongly yellow samples: the
/// picture, the white text and its black outline all have a neutral U of 128, #FFD400 about 31.
fn yellow_columns(frame: &[u8]) -> Vec<usize> {
    let (luma, chroma_w) = ((WIDTH * HEIGHT) as usize, (WIDTH / 2) as usize);
    let u = &frame[luma..luma + luma / 4];
    let band = (HEIGHT / 2 * 2 / 3) as usize * chroma_w;
    (band..u.len())
        .filter(|&i| u[i] < 90)
        .map(|i| i % chroma_w)
        .collect()
}

#[test]
fn the_word_being_spoken_is_highlighted_and_the_sidecar_times_each_word() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("words.mp4");
    let result = render_to(&spoken_words(dir.path(), Some([0xFF, 0xD4, 0x00])), &output);
    assert!(result.warnings.is_empty(), "{:?}", result.warnings);
    let frames = decode_frames(&output);
    assert_eq!(frames.len(), 30);
    // The line is centred: "Hello" lies left of the centre, "friend" right of it.
    let centre = (WIDTH / 4) as usize;
    let hello = yellow_columns(&frames[3]);
    assert!(hello.len() > 10, "{}", hello.len());
    assert!(hello.iter().all(|&x| x < centre), "{hello:?}");
    let there = yellow_columns(&frames[11]);
    assert!(there.len() > 10, "{}", there.len());
    let friend = yellow_columns(&frames[18]);
    assert!(friend.len() > 10, "{}", friend.len());
    assert!(friend.iter().all(|&x| x > centre), "{friend:?}");
    let mean = |xs: &[usize]| xs.iter().sum::<usize>() as f64 / xs.len() as f64;
    assert!(mean(&hello) < mean(&there) && mean(&there) < mean(&friend));
    // After the last word ends (1.4 s, frame 21) the line is gone, and so is the highlight.
    assert!(yellow_columns(&frames[22]).is_empty());

    let vtt = std::fs::read_to_string(result.subtitles.unwrap().vtt).unwrap();
    assert_eq!(
        vtt,
        "WEBVTT\n\n00:00:00.000 --> 00:00:01.400\n\
         Hello <00:00:00.500>there <00:00:01.000>friend\n\n"
    );
}

#[test]
fn without_a_highlight_colour_timed_captions_stay_white() {
    let dir = tempfile::tempdir().unwrap();
    let output = dir.path().join("plain.mp4");
    render_to(&spoken_words(dir.path(), None), &output);
    let frames = decode_frames(&output);
    for frame in [3, 11, 18] {
        assert!(yellow_columns(&frames[frame]).is_empty(), "frame {frame}");
        let luma = &frames[frame][..(WIDTH * HEIGHT) as usize];
        assert!(text_and_outline(luma).0 > 30, "frame {frame}");
    }
}

#[test]
fn text_in_other_scripts_renders_and_missing_glyphs_are_not_fatal() {
    let dir = tempfile::tempdir().unwrap();
    let text = "Café naïve Ελληνικά مرحبا 日本語 🦀";
    let result = render_to(
        &grey_with_text(dir.path(), text),
        &dir.path().join("intl.mp4"),
    );
    let srt = std::fs::read_to_string(result.subtitles.unwrap().srt).unwrap();
    assert!(srt.contains(text), "{srt}");
    let frames = decode_luma(&result.output_path);
    let (text_px, outline_px) = text_and_outline(&frames[10]);
    assert!(text_px > 30 && outline_px > 30);
}

#[test]
fn the_logo_sits_in_its_corner_at_its_opacity_and_a_missing_one_is_a_warning() {
    let dir = tempfile::tempdir().unwrap();
    let logo = dir.path().join("logo.png");
    write_png(&logo, 100, 50, [255, 255, 255, 255]);
    let mut spec = dark_then_light(dir.path(), 0.5, 0.0);
    spec.segments.truncate(1); // dark (40) only
    let with_logo = |opacity: f64, path: &Path| RenderSpec {
        // 0.2 x 320 = 64 px wide, 32 high, 10 px from the top-right corner.
        logo: Some(LogoSpec {
            path: path.to_path_buf(),
            scale: 0.2,
            position: LogoPosition::TopRight,
            opacity,
            margin: 10,
        }),
        ..spec.clone()
    };
    let plain = mean(&decode_luma(&render_to(&spec, &dir.path().join("plain.mp4")).output_path)[5]);
    for (opacity, name) in [(1.0, "opaque.mp4"), (0.5, "half.mp4")] {
        let result = render_to(&with_logo(opacity, &logo), &dir.path().join(name));
        assert!(result.warnings.is_empty(), "{:?}", result.warnings);
        let frames = decode_luma(&result.output_path);
        assert_eq!(frames.len(), 11);
        for frame in [&frames[0], &frames[10]] {
            // Inside the logo (x 246..310, y 10..42), well away from its edges.
            let inside = luma(frame, 278, 26);
            let expected = plain + (255.0 - plain) * opacity;
            assert!(
                (f64::from(inside) - expected).abs() < 12.0,
                "opacity {opacity}: {inside} vs {expected}"
            );
            // Outside it: the picture.
            for (x, y) in [(240, 26), (278, 48), (316, 26), (20, 150)] {
                assert!(
                    (f64::from(luma(frame, x, y)) - plain).abs() < 6.0,
                    "({x}, {y})"
                );
            }
        }
    }

    let result = render_to(
        &with_logo(1.0, &dir.path().join("gone.png")),
        &dir.path().join("nologo.mp4"),
    );
    assert_eq!(result.warnings.len(), 1);
    assert!(
        result.warnings[0].starts_with("the logo was left out:")
            && result.warnings[0].contains("gone.png"),
        "{:?}",
        result.warnings
    );
}
