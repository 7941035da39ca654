//! A project as a JSON file, for the command line, imports and tests:
//!
//! ```json
//! { "title": "Demo",
//!   "settings": {"width": 1920, "height": 1080, "fps": 30, "zoom_intensity": 1.3,
//!                "inter_segment_silence": 0.3, "transition_duration": 0.5},
//!   "segments": [{"text_content": "...", "image": "images/01.jpg", "audio": "audio/01.wav"}] }
//! ```
//!
//! `settings` and each key in it are optional; `title`, `segments` and the three keys of
//! every segment are required; unknown keys are refused (they are usually typos). Paths are
//! relative to the manifest's folder (absolute paths are kept) and must name existing files.

use std::fmt::Display;
use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::spec::{DIMENSION_RANGE, FPS_RANGE, SILENCE_RANGE, ZOOM_RANGE};
use crate::{RenderSpec, SegmentSpec};

/// Accepted crossfade lengths in seconds (used by a later rendering stage).
pub const TRANSITION_RANGE: RangeInclusive<f64> = 0.0..=2.0;

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read manifest {}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("manifest is not valid JSON: {0}")]
    Syntax(String),
    /// A top-level key is missing, unknown or of the wrong type.
    #[error("manifest: {0}")]
    Structure(String),
    #[error("settings: {0}")]
    Settings(String),
    /// `segment` is 1-based.
    #[error("segment {segment}: {message}")]
    Segment { segment: usize, message: String },
    #[error("manifest has no segments: add at least one entry to \"segments\"")]
    NoSegments,
    #[error("segment {segment}: \"{key}\" file not found: {}", .path.display())]
    MissingFile {
        segment: usize,
        key: &'static str,
        path: PathBuf,
    },
    #[error("settings: \"{key}\" is {value}, allowed: {allowed}")]
    OutOfRange {
        key: &'static str,
        value: String,
        allowed: String,
    },
}

/// A loaded, checked manifest. Segment paths are absolute.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub title: String,
    pub settings: ManifestSettings,
    pub segments: Vec<ManifestSegment>,
}

/// Output settings; absent keys take the product defaults.
#[derive(Debug, Clone, PartialEq)]
pub struct ManifestSettings {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub zoom_intensity: f64,
    pub inter_segment_silence: f64,
    /// Accepted and checked now; crossfades are drawn by a later rendering stage.
    pub transition_duration: f64,
}

impl Default for ManifestSettings {
    fn default() -> Self {
        let spec = RenderSpec::default();
        Self {
            width: spec.width,
            height: spec.height,
            fps: spec.fps,
            zoom_intensity: spec.zoom_intensity,
            inter_segment_silence: spec.inter_segment_silence,
            transition_duration: 0.5,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct ManifestSegment {
    pub text_content: String,
    pub image: PathBuf,
    pub audio: PathBuf,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    title: String,
    #[serde(default)]
    settings: Option<serde_json::Value>,
    segments: Vec<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSettings {
    width: Option<u32>,
    height: Option<u32>,
    fps: Option<u32>,
    zoom_intensity: Option<f64>,
    inter_segment_silence: Option<f64>,
    transition_duration: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSegment {
    text_content: String,
    image: PathBuf,
    audio: PathBuf,
}

impl Manifest {
    /// Reads and checks a manifest file.
    pub fn load(path: &Path) -> Result<Manifest, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let folder = path.parent().unwrap_or(Path::new("."));
        Self::parse(&text, folder)
    }

    /// Parses manifest JSON whose relative paths start from `base_dir`.
    pub fn parse(json: &str, base_dir: &Path) -> Result<Manifest, ManifestError> {
        let raw: RawManifest = serde_json::from_str(json).map_err(|e| {
            if e.is_data() {
                ManifestError::Structure(e.to_string())
            } else {
                ManifestError::Syntax(e.to_string())
            }
        })?;
        let settings = match raw.settings {
            None | Some(serde_json::Value::Null) => ManifestSettings::default(),
            Some(value) => parse_settings(value)?,
        };
        if raw.segments.is_empty() {
            return Err(ManifestError::NoSegments);
        }
        let base = std::path::absolute(base_dir).unwrap_or_else(|_| base_dir.to_path_buf());
        let segments = raw
            .segments
            .into_iter()
            .enumerate()
            .map(|(i, value)| parse_segment(i + 1, value, &base))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Manifest {
            title: raw.title,
            settings,
            segments,
        })
    }

    /// The render this manifest describes, with default encoder settings.
    pub fn to_spec(&self) -> RenderSpec {
        RenderSpec {
            width: self.settings.width,
            height: self.settings.height,
            fps: self.settings.fps,
            zoom_intensity: self.settings.zoom_intensity,
            inter_segment_silence: self.settings.inter_segment_silence,
            segments: self
                .segments
                .iter()
                .enumerate()
                .map(|(i, s)| SegmentSpec::new(i, &s.image, &s.audio, &s.text_content))
                .collect(),
            ..RenderSpec::default()
        }
    }
}

fn parse_settings(value: serde_json::Value) -> Result<ManifestSettings, ManifestError> {
    let raw: RawSettings =
        serde_json::from_value(value).map_err(|e| ManifestError::Settings(e.to_string()))?;
    let defaults = ManifestSettings::default();
    let settings = ManifestSettings {
        width: raw.width.unwrap_or(defaults.width),
        height: raw.height.unwrap_or(defaults.height),
        fps: raw.fps.unwrap_or(defaults.fps),
        zoom_intensity: raw.zoom_intensity.unwrap_or(defaults.zoom_intensity),
        inter_segment_silence: raw
            .inter_segment_silence
            .unwrap_or(defaults.inter_segment_silence),
        transition_duration: raw
            .transition_duration
            .unwrap_or(defaults.transition_duration),
    };
    for (key, value) in [("width", settings.width), ("height", settings.height)] {
        if !DIMENSION_RANGE.contains(&value) || value % 2 != 0 {
            return Err(out_of_range(
                key,
                value,
                format!(
                    "even numbers from {} to {}",
                    DIMENSION_RANGE.start(),
                    DIMENSION_RANGE.end()
                ),
            ));
        }
    }
    check_range("fps", settings.fps, &FPS_RANGE)?;
    check_range("zoom_intensity", settings.zoom_intensity, &ZOOM_RANGE)?;
    check_range(
        "inter_segment_silence",
        settings.inter_segment_silence,
        &SILENCE_RANGE,
    )?;
    check_range(
        "transition_duration",
        settings.transition_duration,
        &TRANSITION_RANGE,
    )?;
    Ok(settings)
}

fn check_range<T: PartialOrd + Display>(
    key: &'static str,
    value: T,
    range: &RangeInclusive<T>,
) -> Result<(), ManifestError> {
    if range.contains(&value) {
        Ok(())
    } else {
        let allowed = format!("{} to {}", range.start(), range.end());
        Err(out_of_range(key, value, allowed))
    }
}

fn out_of_range(key: &'static str, value: impl Display, allowed: String) -> ManifestError {
    ManifestError::OutOfRange {
        key,
        value: value.to_string(),
        allowed,
    }
}

fn parse_segment(
    segment: usize,
    value: serde_json::Value,
    base: &Path,
) -> Result<ManifestSegment, ManifestError> {
    let raw: RawSegment = serde_json::from_value(value).map_err(|e| ManifestError::Segment {
        segment,
        message: e.to_string(),
    })?;
    let existing = |key: &'static str, relative: PathBuf| {
        let path = base.join(relative);
        if path.is_file() {
            Ok(path)
        } else {
            Err(ManifestError::MissingFile { segment, key, path })
        }
    };
    Ok(ManifestSegment {
        text_content: raw.text_content,
        image: existing("image", raw.image)?,
        audio: existing("audio", raw.audio)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A folder with images/01.jpg and audio/01.wav (contents don't matter here).
    fn project() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        for file in ["images/01.jpg", "audio/01.wav"] {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, b"x").unwrap();
        }
        dir
    }

    const SEGMENT: &str =
        r#"{"text_content": "Hi", "image": "images/01.jpg", "audio": "audio/01.wav"}"#;

    fn parse(dir: &tempfile::TempDir, json: &str) -> Result<Manifest, ManifestError> {
        Manifest::parse(json, dir.path())
    }

    fn error(json: &str) -> String {
        let dir = project();
        parse(&dir, json).unwrap_err().to_string()
    }

    #[test]
    fn minimal_manifest_takes_defaults_and_absolute_paths() {
        let dir = project();
        let json = format!(r#"{{"title": "Demo", "segments": [{SEGMENT}, {SEGMENT}]}}"#);
        let manifest = parse(&dir, &json).unwrap();
        assert_eq!(manifest.title, "Demo");
        assert_eq!(manifest.settings, ManifestSettings::default());
        assert_eq!(manifest.segments[1].image, dir.path().join("images/01.jpg"));
        assert!(manifest.segments[0].audio.is_absolute());
        let spec = manifest.to_spec();
        assert_eq!((spec.width, spec.height, spec.fps), (1920, 1080, 30));
        assert_eq!(spec.segments[1].index, 1);
        assert_eq!(spec.segments[0].text, "Hi");
    }

    #[test]
    fn settings_override_defaults() {
        let dir = project();
        let json = format!(
            r#"{{"title": "T", "settings": {{"width": 720, "height": 1280, "fps": 24,
                "zoom_intensity": 1.5, "transition_duration": 0}}, "segments": [{SEGMENT}]}}"#
        );
        let manifest = parse(&dir, &json).unwrap();
        let s = &manifest.settings;
        assert_eq!(
            (s.width, s.height, s.fps, s.zoom_intensity),
            (720, 1280, 24, 1.5)
        );
        assert_eq!((s.inter_segment_silence, s.transition_duration), (0.3, 0.0));
    }

    #[test]
    fn load_resolves_paths_from_the_manifest_folder() {
        let dir = project();
        let path = dir.path().join("manifest.json");
        std::fs::write(
            &path,
            format!(r#"{{"title": "T", "segments": [{SEGMENT}]}}"#),
        )
        .unwrap();
        let manifest = Manifest::load(&path).unwrap();
        assert_eq!(manifest.segments[0].audio, dir.path().join("audio/01.wav"));
        let missing = dir.path().join("nope.json");
        let err = Manifest::load(&missing).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot read manifest {}", missing.display())
        );
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn malformed_json() {
        assert_eq!(
            error(r#"{"title": "T", "segments": [}"#),
            "manifest is not valid JSON: expected value at line 1 column 29"
        );
    }

    #[test]
    fn missing_and_unknown_keys() {
        assert_eq!(
            error(r#"{"segments": []}"#),
            "manifest: missing field `title` at line 1 column 16"
        );
        assert_eq!(
            error(&format!(
                r#"{{"title": "T", "segments": [{SEGMENT}, {{"text_content": "", "image": "images/01.jpg"}}]}}"#
            )),
            "segment 2: missing field `audio`"
        );
        assert_eq!(
            error(&format!(
                r#"{{"title": "T", "settings": {{"colour": 1}}, "segments": [{SEGMENT}]}}"#
            )),
            "settings: unknown field `colour`, expected one of `width`, `height`, `fps`, \
             `zoom_intensity`, `inter_segment_silence`, `transition_duration`"
        );
        assert_eq!(
            error(r#"{"title": "T", "segments": []}"#),
            "manifest has no segments: add at least one entry to \"segments\""
        );
    }

    #[test]
    fn missing_file_names_segment_key_and_path() {
        let dir = project();
        let json = format!(
            r#"{{"title": "T", "segments": [{SEGMENT},
                {{"text_content": "", "image": "images/01.jpg", "audio": "audio/02.mp3"}}]}}"#
        );
        let expected = format!(
            "segment 2: \"audio\" file not found: {}",
            dir.path().join("audio/02.mp3").display()
        );
        assert_eq!(parse(&dir, &json).unwrap_err().to_string(), expected);
    }

    #[test]
    fn out_of_range_values() {
        let with = |settings: &str| {
            error(&format!(
                r#"{{"title": "T", "settings": {settings}, "segments": [{SEGMENT}]}}"#
            ))
        };
        assert_eq!(
            with(r#"{"fps": 500}"#),
            "settings: \"fps\" is 500, allowed: 1 to 120"
        );
        assert_eq!(
            with(r#"{"width": 1921}"#),
            "settings: \"width\" is 1921, allowed: even numbers from 16 to 7680"
        );
        assert_eq!(
            with(r#"{"zoom_intensity": 0.5}"#),
            "settings: \"zoom_intensity\" is 0.5, allowed: 1 to 2"
        );
        assert_eq!(
            with(r#"{"transition_duration": 3}"#),
            "settings: \"transition_duration\" is 3, allowed: 0 to 2"
        );
        assert_eq!(
            with(r#"{"fps": 29.97}"#),
            "settings: invalid type: floating point `29.97`, expected u32"
        );
    }
}
