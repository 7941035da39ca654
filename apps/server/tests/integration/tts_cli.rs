//! `storyflow voices` and `storyflow tts` end to end, with the voice and runtime that
//! `scripts/setup.sh` installs into the TTS home.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::support::{import, storyflow};

#[test]
fn voices_json_lists_the_default_voice() {
    let output = storyflow().args(["voices", "--json"]).output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let voices: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let ids: Vec<&str> = voices
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap())
        .collect();
    for voice in ["af_heart", "en_US-joe-medium"] {
        assert!(
            ids.contains(&voice),
            "{ids:?}: run scripts/setup.sh to install the voices"
        );
    }
}

#[test]
fn tts_writes_a_wav_and_prints_a_summary() {
    let dir = tempfile::tempdir().unwrap();
    let wav = dir.path().join("hello.wav");
    let output = storyflow()
        .args([
            "tts",
            "Hello there. It is 5 o'clock.",
            "--speed",
            "1.5",
            "--voice",
        ])
        .arg("nobody")
        .arg("--output")
        .arg(&wav)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(summary["voice"], "af_heart", "the default voice speaks");
    assert_eq!(summary["sentences"], 2);
    let seconds = summary["duration_seconds"].as_f64().unwrap();
    assert!((0.8..5.0).contains(&seconds), "{seconds}");
    assert!(summary["realtime_factor"].as_f64().unwrap() > 0.0);
    assert!(
        stderr.contains("warning: voice `nobody` is not installed"),
        "{stderr}"
    );
    assert!(wav.is_file());
}

#[test]
fn tts_refuses_a_bad_speed_naming_the_range() {
    let dir = tempfile::tempdir().unwrap();
    let output = storyflow()
        .args(["tts", "Hi.", "--speed", "3", "--output"])
        .arg(dir.path().join("x.wav"))
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("speed 3 is outside the allowed range 0.5–2"),
        "{stderr}"
    );
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

/// A story of pictures and text only: `render` and `import` narrate it themselves.
fn story_from_text(dir: &std::path::Path) -> std::path::PathBuf {
    let demo = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo");
    let manifest = dir.join("story.json");
    let body = serde_json::json!({
        "title": "From text",
        "settings": {"width": 160, "height": 90, "fps": 10},
        "segments": [
            {"text_content": "A lighthouse stood on the rock.", "image": demo.join("images/01.jpg")},
            {"text_content": "Its keeper counted the storms.", "image": demo.join("images/03.webp"),
             "audio": demo.join("audio/03.mp3")},
        ],
    });
    std::fs::write(&manifest, body.to_string()).unwrap();
    manifest
}

#[test]
fn render_and_import_narrate_segments_that_have_no_audio() {
    let dir = tempfile::tempdir().unwrap();
    let manifest = story_from_text(dir.path());
    let video = dir.path().join("story.mp4");
    let output = storyflow()
        .arg("render")
        .arg(&manifest)
        .arg("--output")
        .arg(&video)
        .args(["--preset", "ultrafast", "--speed", "1.2"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert!(stderr.contains("narrating 1 segment(s)"), "{stderr}");
    let summary: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    // Two narrations (the spoken one about 2 s) and their silences.
    let duration = summary["duration"].as_f64().unwrap();
    assert!((2.5..15.0).contains(&duration), "{duration}");
    assert!(video.is_file());

    let data = dir.path().join("data");
    let id = import(&manifest, &data, &[]);
    let audio = data.join(format!("media/projects/{id}/audio"));
    let mut files: Vec<String> = std::fs::read_dir(audio)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    // The brought MP3, the narrated WAV and the narration's word timings beside it.
    assert_eq!(files.len(), 3, "{files:?}");
    assert_eq!(
        files.iter().filter(|f| f.ends_with(".words.json")).count(),
        1,
        "{files:?}"
    );
}
