//! A project as a JSON file, for the command line, imports and tests:
//!
//! ```json
//! { "title": "Demo",
//!   "settings": {"width": 1920, "height": 1080, "fps": 30, "zoom_intensity": 1.3,
//!                "inter_segment_silence": 0.3, "transition_duration": 0.5,
//!                "subtitle_font_size": 48, "subtitle_color": "#FFFFFF",
//!                "subtitle_position": "bottom", "logo_file": "logo.png",
//!                "loudness_target_lufs": -16, "music_file": "music.mp3"},
//!   "segments": [{"text_content": "...", "image": "images/01.jpg", "audio": "audio/01.wav"}] }
//! ```
//!
//! `settings` and each key in it are optional; the keys are named like the server's
//! GlobalSettings and default to the same values:
//!
//! | key | meaning | default |
//! |---|---|---|
//! | `width`, `height`, `fps` | output size (even, 16–7680) and frame rate (1–120) | 1920, 1080, 30 |
//! | `zoom_intensity` | Ken Burns zoom, 1.0–2.0 | 1.3 |
//! | `inter_segment_silence` | seconds of silence after each narration, 0–5 | 0.3 |
//! | `transition_duration` | seconds of crossfade at each boundary, 0–2 (0 = cuts) | 0.5 |
//! | `subtitles_enabled` | burn the narration in as subtitles | true |
//! | `subtitle_font_family` | an installed font family | DejaVu Sans |
//! | `subtitle_font_file` | a TrueType/OpenType file, used instead of the family | none |
//! | `subtitle_font_size` | pixels at 1080 lines (scaled with the output), 12–120 | shorter side / 22 |
//! | `subtitle_color` | `#RRGGBB` or `#RGB` | `#FFFFFF` |
//! | `subtitle_position` | `bottom`, `center` or `top` | `bottom` |
//! | `subtitle_highlight_color` | `#RRGGBB` or `#RGB`: the word being spoken, in captions timed word by word; `null` = no highlight | `#FFD400` |
//! | `logo_file` | a PNG/WebP/JPEG watermark; the logo is drawn only when this is given | none |
//! | `logo_scale` | logo width as a fraction of the video width, 0.05–0.5 | 0.15 |
//! | `logo_position` | `top-left`, `top-right`, `bottom-left` or `bottom-right` | `bottom-right` |
//! | `logo_opacity` | 0–1 | 1.0 |
//! | `logo_margin` | pixels from the frame edges, 0–200 | 20 |
//! | `loudness_target_lufs` | the sound track's integrated loudness, -30 to -9 LUFS, true peak at most -1 dBTP; `null` = leave the level alone | -16 |
//! | `music_file` | background music under the whole video (any audio file GStreamer reads, at least 1 s), looped, faded in and out; only played when this is given | none |
//! | `music_volume` | the music's linear gain, 0–1 | 0.25 |
//! | `music_ducking_db` | how far the music is lowered while narration speaks, 0–30 dB | 12 |
//!
//! `title`, `segments` and each segment's `text_content` and `image` are required; a segment
//! without `audio` is to be narrated from its text (the caller does that, with text to speech,
//! and hands the file back with [`Manifest::set_narration`]). Unknown keys are refused (they are
//! usually typos). Paths are relative to the manifest's folder (absolute paths are kept).
//! Segment files must exist; the font and logo files need not, because the renderer falls back
//! to the default font and leaves a missing logo out, with a warning. A music file that is
//! missing or unreadable fails the render, naming the file.
//!
//! The settings are checked once, by [`RenderSpec::validate`], so a manifest accepts exactly
//! what the renderer does.

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde::Deserialize;

use crate::frame::logo::{LogoPosition, LogoSpec};
use crate::frame::overlay::OverlayError;
use crate::frame::text_overlay::{parse_hex_color, SubtitlePosition, SubtitleStyle};
use crate::plan::spec::RenderSpec;
use crate::plan::spec::SegmentSpec;
use crate::plan::spec::SpokenWord;
use crate::plan::spec::{MusicSpec, SoundSettings};

/// The logo defaults of the editor's settings, so a manifest renders like the editor.
const DEFAULT_LOGO_SCALE: f64 = 0.15;
const DEFAULT_LOGO_POSITION: LogoPosition = LogoPosition::BottomRight;
const DEFAULT_LOGO_OPACITY: f64 = 1.0;
const DEFAULT_LOGO_MARGIN: u32 = 20;

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
    /// A settings key is unknown or of the wrong type, or a value is out of range.
    #[error("settings: {0}")]
    Settings(String),
    /// A settings value that must be parsed (a colour, a position) is not understood.
    #[error("settings: \"{key}\" is not valid")]
    InvalidSetting {
        key: &'static str,
        #[source]
        source: OverlayError,
    },
    /// `segment` is 1-based.
    #[error("segment {segment}: {message}")]
    Segment { segment: usize, message: String },
    #[error("manifest has no segments: add at least one entry to \"segments\"")]
    NoSegments,
    /// `segment` is 1-based.
    #[error("segment {segment} has no narration yet: narrate its text or give it \"audio\"")]
    Unnarrated { segment: usize },
    #[error("segment {segment}: \"{key}\" file not found: {}", .path.display())]
    MissingFile {
        segment: usize,
        key: &'static str,
        path: PathBuf,
    },
}

/// A loaded, checked manifest.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub title: String,
    /// The render it describes: its settings (defaults where absent) and its segments in
    /// order, with absolute paths. Already validated; see [`Manifest::to_spec`].
    spec: RenderSpec,
    /// Segments (0-based) the file gives no `audio`: narrated from their text by the caller.
    unnarrated: Vec<usize>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawManifest {
    title: String,
    #[serde(default)]
    settings: Option<serde_json::Value>,
    segments: Vec<serde_json::Value>,
}

#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct RawSettings {
    width: Option<u32>,
    height: Option<u32>,
    fps: Option<u32>,
    zoom_intensity: Option<f64>,
    inter_segment_silence: Option<f64>,
    transition_duration: Option<f64>,
    subtitles_enabled: Option<bool>,
    subtitle_font_family: Option<String>,
    subtitle_font_file: Option<PathBuf>,
    subtitle_font_size: Option<f32>,
    subtitle_color: Option<String>,
    subtitle_position: Option<String>,
    /// Absent: the default; `null`: no highlight.
    #[serde(deserialize_with = "present")]
    subtitle_highlight_color: Option<Option<String>>,
    logo_file: Option<PathBuf>,
    logo_scale: Option<f64>,
    logo_position: Option<String>,
    logo_opacity: Option<f64>,
    logo_margin: Option<u32>,
    /// Absent: the default; `null`: the level is left alone.
    #[serde(deserialize_with = "present")]
    loudness_target_lufs: Option<Option<f64>>,
    music_file: Option<PathBuf>,
    music_volume: Option<f64>,
    music_ducking_db: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSegment {
    text_content: String,
    image: PathBuf,
    #[serde(default)]
    audio: Option<PathBuf>,
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
            None | Some(serde_json::Value::Null) => RawSettings::default(),
            Some(value) => {
                serde_json::from_value(value).map_err(|e| ManifestError::Settings(e.to_string()))?
            }
        };
        if raw.segments.is_empty() {
            return Err(ManifestError::NoSegments);
        }
        let base = std::path::absolute(base_dir).unwrap_or_else(|_| base_dir.to_path_buf());
        let mut spec = settings_spec(settings, &base)?;
        let mut unnarrated = Vec::new();
        for (i, value) in raw.segments.into_iter().enumerate() {
            let (segment, narrated) = parse_segment(i, value, &base)?;
            if !narrated {
                unnarrated.push(i);
            }
            spec.segments.push(segment);
        }
        spec.check().map_err(ManifestError::Settings)?;
        Ok(Manifest {
            title: raw.title,
            spec,
            unnarrated,
        })
    }

    /// The segments still to be narrated, as (0-based index, text), in order.
    pub fn unnarrated(&self) -> impl Iterator<Item = (usize, &str)> + '_ {
        self.unnarrated
            .iter()
            .map(|&i| (i, self.spec.segments[i].text.as_str()))
    }

    /// Gives segment `index` (0-based) its narration file and, when the voice told them, the
    /// timings of its words.
    pub fn set_narration(&mut self, index: usize, audio: PathBuf, words: Option<Vec<SpokenWord>>) {
        if let Some(segment) = self.spec.segments.get_mut(index) {
            segment.audio = audio;
            segment.words = words;
            self.unnarrated.retain(|&i| i != index);
        }
    }

    /// The render this manifest describes, with default encoder settings; refused while a
    /// segment has no narration.
    pub fn to_spec(&self) -> Result<RenderSpec, ManifestError> {
        match self.unnarrated.first() {
            Some(&i) => Err(ManifestError::Unnarrated { segment: i + 1 }),
            None => Ok(self.spec.clone()),
        }
    }
}

/// The settings as a spec without segments. Only parsing happens here; ranges are left to
/// [`RenderSpec::validate`].
fn settings_spec(raw: RawSettings, base: &Path) -> Result<RenderSpec, ManifestError> {
    let defaults = RenderSpec::default();
    let style = SubtitleStyle::default();
    // Parsed even when subtitles or the logo are off, so a typo never goes unnoticed.
    let color = parse_setting("subtitle_color", raw.subtitle_color, parse_hex_color)?;
    let position = parse_setting("subtitle_position", raw.subtitle_position, |text| {
        SubtitlePosition::from_str(text)
    })?;
    let highlight_color = match raw.subtitle_highlight_color {
        None => style.highlight_color,
        Some(colour) => parse_setting("subtitle_highlight_color", colour, parse_hex_color)?,
    };
    let logo_position = parse_setting("logo_position", raw.logo_position, |text| {
        LogoPosition::from_str(text)
    })?;
    let subtitles = SubtitleStyle {
        font_family: raw.subtitle_font_family,
        font_file: raw.subtitle_font_file.map(|file| base.join(file)),
        font_size: raw.subtitle_font_size,
        color: color.unwrap_or(style.color),
        position: position.unwrap_or(style.position),
        highlight_color,
        ..style
    };
    let logo = raw.logo_file.map(|file| LogoSpec {
        path: base.join(file),
        scale: raw.logo_scale.unwrap_or(DEFAULT_LOGO_SCALE),
        position: logo_position.unwrap_or(DEFAULT_LOGO_POSITION),
        opacity: raw.logo_opacity.unwrap_or(DEFAULT_LOGO_OPACITY),
        margin: raw.logo_margin.unwrap_or(DEFAULT_LOGO_MARGIN),
    });
    let sound = SoundSettings {
        loudness_target_lufs: raw
            .loudness_target_lufs
            .unwrap_or(defaults.sound.loudness_target_lufs),
        music: raw.music_file.map(|file| MusicSpec {
            path: base.join(file),
            volume: raw.music_volume.unwrap_or(MusicSpec::DEFAULT_VOLUME),
            ducking_db: raw
                .music_ducking_db
                .unwrap_or(MusicSpec::DEFAULT_DUCKING_DB),
        }),
    };
    Ok(RenderSpec {
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
        subtitles: raw.subtitles_enabled.unwrap_or(true).then_some(subtitles),
        logo,
        sound,
        ..defaults
    })
}

/// A key that is present, `null` included (serde leaves absent keys to their default).
fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

fn parse_setting<T>(
    key: &'static str,
    value: Option<String>,
    parse: impl Fn(&str) -> Result<T, OverlayError>,
) -> Result<Option<T>, ManifestError> {
    value
        .map(|text| parse(&text).map_err(|source| ManifestError::InvalidSetting { key, source }))
        .transpose()
}

/// `index` is 0-based; errors name the segment 1-based, as people count. Also says whether the
/// segment has its narration (else its text is to be spoken, so it must have some).
fn parse_segment(
    index: usize,
    value: serde_json::Value,
    base: &Path,
) -> Result<(SegmentSpec, bool), ManifestError> {
    let segment = index + 1;
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
    let image = existing("image", raw.image)?;
    let audio = match raw.audio {
        Some(audio) => Some(existing("audio", audio)?),
        None if raw.text_content.trim().is_empty() => {
            return Err(ManifestError::Segment {
                segment,
                message: "has neither \"audio\" nor text to narrate".into(),
            })
        }
        None => None,
    };
    let narrated = audio.is_some();
    Ok((
        SegmentSpec::new(index, image, audio.unwrap_or_default(), raw.text_content),
        narrated,
    ))
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

    /// The error for one segment and these settings, with its causes.
    fn settings_error(settings: &str) -> String {
        let dir = project();
        let json = format!(r#"{{"title": "T", "settings": {settings}, "segments": [{SEGMENT}]}}"#);
        let err = parse(&dir, &json).unwrap_err();
        let mut text = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            text = format!("{text}: {cause}");
            source = cause.source();
        }
        text
    }

    fn with_settings(dir: &tempfile::TempDir, settings: &str) -> RenderSpec {
        let json = format!(r#"{{"title": "T", "settings": {settings}, "segments": [{SEGMENT}]}}"#);
        parse(dir, &json).unwrap().to_spec().unwrap()
    }

    #[test]
    fn minimal_manifest_takes_defaults_and_absolute_paths() {
        let dir = project();
        let json = format!(r#"{{"title": "Demo", "segments": [{SEGMENT}, {SEGMENT}]}}"#);
        let manifest = parse(&dir, &json).unwrap();
        assert_eq!(manifest.title, "Demo");
        let spec = manifest.to_spec().unwrap();
        let expected = RenderSpec {
            segments: vec![
                SegmentSpec::new(
                    0,
                    dir.path().join("images/01.jpg"),
                    dir.path().join("audio/01.wav"),
                    "Hi",
                ),
                SegmentSpec::new(
                    1,
                    dir.path().join("images/01.jpg"),
                    dir.path().join("audio/01.wav"),
                    "Hi",
                ),
            ],
            ..RenderSpec::default()
        };
        assert_eq!(spec, expected);
        assert!(spec.segments[0].audio.is_absolute());
        // `null` settings are absent settings.
        let json = format!(r#"{{"title": "Demo", "settings": null, "segments": [{SEGMENT}]}}"#);
        assert_eq!(parse(&dir, &json).unwrap().spec.width, 1920);
    }

    #[test]
    fn settings_override_defaults() {
        let dir = project();
        let spec = with_settings(
            &dir,
            r#"{"width": 720, "height": 1280, "fps": 24, "zoom_intensity": 1.5,
                "inter_segment_silence": 0.75, "transition_duration": 0}"#,
        );
        assert_eq!((spec.width, spec.height, spec.fps), (720, 1280, 24));
        assert_eq!(spec.zoom_intensity, 1.5);
        assert_eq!(spec.inter_segment_silence, 0.75);
        assert_eq!(spec.transition_duration, 0.0);
        assert_eq!(spec.subtitles, Some(SubtitleStyle::default()));
        assert_eq!(spec.logo, None);
    }

    #[test]
    fn subtitle_settings_make_the_style() {
        let dir = project();
        let spec = with_settings(
            &dir,
            r##"{"subtitle_font_family": "DejaVu Serif", "subtitle_font_file": "fonts/a.ttf",
                 "subtitle_font_size": 36, "subtitle_color": "#F80",
                 "subtitle_position": "top", "subtitle_highlight_color": "#00ff00"}"##,
        );
        assert_eq!(
            spec.subtitles,
            Some(SubtitleStyle {
                font_family: Some("DejaVu Serif".into()),
                // Need not exist: the renderer falls back to the default font.
                font_file: Some(dir.path().join("fonts/a.ttf")),
                font_size: Some(36.0),
                color: [255, 136, 0],
                outline_color: [0, 0, 0],
                position: SubtitlePosition::Top,
                highlight_color: Some([0, 255, 0]),
            })
        );
        let no_highlight = with_settings(&dir, r#"{"subtitle_highlight_color": null}"#);
        assert_eq!(
            no_highlight.subtitles.map(|style| style.highlight_color),
            Some(None)
        );
        let off = with_settings(
            &dir,
            r##"{"subtitles_enabled": false, "subtitle_color": "#000000"}"##,
        );
        assert_eq!(off.subtitles, None);
        let on = with_settings(&dir, r#"{"subtitles_enabled": true}"#);
        assert_eq!(on.subtitles, Some(SubtitleStyle::default()));
        assert_eq!(
            on.subtitles.and_then(|style| style.highlight_color),
            Some([0xFF, 0xD4, 0x00])
        );
    }

    #[test]
    fn logo_settings_make_the_logo_only_with_a_file() {
        let dir = project();
        let spec = with_settings(&dir, r#"{"logo_file": "brand/logo.png"}"#);
        assert_eq!(
            spec.logo,
            Some(LogoSpec {
                path: dir.path().join("brand/logo.png"),
                scale: 0.15,
                position: LogoPosition::BottomRight,
                opacity: 1.0,
                margin: 20,
            })
        );
        let spec = with_settings(
            &dir,
            r#"{"logo_file": "/srv/logo.webp", "logo_scale": 0.3, "logo_position": "top-left",
                "logo_opacity": 0.5, "logo_margin": 0}"#,
        );
        assert_eq!(
            spec.logo,
            Some(LogoSpec {
                path: PathBuf::from("/srv/logo.webp"),
                scale: 0.3,
                position: LogoPosition::TopLeft,
                opacity: 0.5,
                margin: 0,
            })
        );
        let spec = with_settings(&dir, r#"{"logo_scale": 0.3, "logo_position": "top-left"}"#);
        assert_eq!(spec.logo, None);
    }

    #[test]
    fn sound_settings_default_to_minus_16_lufs_and_music_only_with_a_file() {
        let dir = project();
        let spec = with_settings(&dir, "{}");
        assert_eq!(spec.sound, SoundSettings::default());
        assert_eq!(spec.sound.loudness_target_lufs, Some(-16.0));
        let spec = with_settings(
            &dir,
            r#"{"loudness_target_lufs": null, "music_file": "music/bed.ogg"}"#,
        );
        assert_eq!(spec.sound.loudness_target_lufs, None);
        assert_eq!(
            spec.sound.music,
            Some(MusicSpec {
                path: dir.path().join("music/bed.ogg"),
                volume: 0.25,
                ducking_db: 12.0,
            })
        );
        let spec = with_settings(
            &dir,
            r#"{"loudness_target_lufs": -23, "music_file": "/srv/bed.mp3",
                "music_volume": 0.5, "music_ducking_db": 6}"#,
        );
        assert_eq!(spec.sound.loudness_target_lufs, Some(-23.0));
        assert_eq!(
            spec.sound.music,
            Some(MusicSpec {
                path: PathBuf::from("/srv/bed.mp3"),
                volume: 0.5,
                ducking_db: 6.0,
            })
        );
        let spec = with_settings(&dir, r#"{"music_volume": 0.5}"#);
        assert_eq!(spec.sound.music, None);
        assert_eq!(
            settings_error(r#"{"loudness_target_lufs": -5}"#),
            "settings: loudness_target_lufs -5 must be from -30 to -9 LUFS"
        );
        assert_eq!(
            settings_error(r#"{"music_file": "a.mp3", "music_ducking_db": 40}"#),
            "settings: music_ducking_db 40 must be from 0 to 30 dB"
        );
    }

    #[test]
    fn load_resolves_paths_from_the_manifest_folder() {
        let dir = project();
        let path = dir.path().join("manifest.json");
        std::fs::write(
            &path,
            format!(
                r#"{{"title": "T", "settings": {{"logo_file": "logo.png"}}, "segments": [{SEGMENT}]}}"#
            ),
        )
        .unwrap();
        let spec = Manifest::load(&path).unwrap().to_spec().unwrap();
        assert_eq!(spec.segments[0].audio, dir.path().join("audio/01.wav"));
        assert_eq!(
            spec.logo.map(|logo| logo.path),
            Some(dir.path().join("logo.png"))
        );
        let missing = dir.path().join("nope.json");
        let err = Manifest::load(&missing).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!("cannot read manifest {}", missing.display())
        );
        assert!(std::error::Error::source(&err).is_some());
    }

    #[test]
    fn segments_without_audio_wait_for_their_narration() {
        let dir = project();
        let json = format!(
            r#"{{"title": "T", "segments": [{SEGMENT},
                {{"text_content": "Say this.", "image": "images/01.jpg"}}]}}"#
        );
        let mut manifest = parse(&dir, &json).unwrap();
        assert_eq!(
            manifest.unnarrated().collect::<Vec<_>>(),
            [(1, "Say this.")]
        );
        assert_eq!(
            manifest.to_spec().unwrap_err().to_string(),
            "segment 2 has no narration yet: narrate its text or give it \"audio\""
        );
        let spoken = dir.path().join("audio/02.wav");
        let words = vec![SpokenWord {
            word: "Say".into(),
            start: 0.1,
            end: 0.3,
        }];
        manifest.set_narration(1, spoken.clone(), Some(words.clone()));
        assert_eq!(manifest.unnarrated().count(), 0);
        let spec = manifest.to_spec().unwrap();
        assert_eq!(spec.segments[1].audio, spoken);
        assert_eq!(spec.segments[1].words, Some(words));
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
                r#"{{"title": "T", "segments": [{SEGMENT}, {{"text_content": " ", "image": "images/01.jpg"}}]}}"#
            )),
            "segment 2: has neither \"audio\" nor text to narrate"
        );
        assert_eq!(
            settings_error(r#"{"colour": 1}"#),
            "settings: unknown field `colour`, expected one of `width`, `height`, `fps`, \
             `zoom_intensity`, `inter_segment_silence`, `transition_duration`, \
             `subtitles_enabled`, `subtitle_font_family`, `subtitle_font_file`, \
             `subtitle_font_size`, `subtitle_color`, `subtitle_position`, \
             `subtitle_highlight_color`, `logo_file`, `logo_scale`, `logo_position`, \
             `logo_opacity`, `logo_margin`, `loudness_target_lufs`, `music_file`, \
             `music_volume`, `music_ducking_db`"
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
    fn out_of_range_values_are_refused_by_the_spec_check() {
        for (settings, message) in [
            (r#"{"fps": 500}"#, "fps 500 must be from 1 to 120"),
            (
                r#"{"width": 1921}"#,
                "width 1921 must be an even number from 16 to 7680",
            ),
            (
                r#"{"zoom_intensity": 0.5}"#,
                "zoom_intensity 0.5 must be from 1 to 2",
            ),
            (
                r#"{"inter_segment_silence": 6}"#,
                "inter_segment_silence 6 must be from 0 to 5 seconds",
            ),
            (
                r#"{"transition_duration": 3}"#,
                "transition_duration 3 must be from 0 to 2 seconds",
            ),
            (
                r#"{"subtitle_font_size": 8}"#,
                "subtitle font size 8 must be from 12 to 120",
            ),
            (
                r#"{"logo_file": "l.png", "logo_scale": 0.9}"#,
                "logo scale 0.9 must be from 0.05 to 0.5",
            ),
            (
                r#"{"logo_file": "l.png", "logo_opacity": 1.5}"#,
                "logo opacity 1.5 must be from 0 to 1",
            ),
            (
                r#"{"logo_file": "l.png", "logo_margin": 201}"#,
                "logo margin 201 must be from 0 to 200 pixels",
            ),
        ] {
            assert_eq!(
                settings_error(settings),
                format!("settings: {message}"),
                "{settings}"
            );
        }
        assert_eq!(
            settings_error(r#"{"fps": 29.97}"#),
            "settings: invalid type: floating point `29.97`, expected u32"
        );
        assert_eq!(
            settings_error(r#"{"logo_margin": -1}"#),
            "settings: invalid value: integer `-1`, expected u32"
        );
    }

    #[test]
    fn unparsable_values_name_their_key() {
        assert_eq!(
            settings_error(r#"{"subtitle_color": "white"}"#),
            "settings: \"subtitle_color\" is not valid: invalid overlay setting: \
             colour `white` is not of the form #RRGGBB or #RGB"
        );
        assert_eq!(
            settings_error(r#"{"subtitle_highlight_color": "gold"}"#),
            "settings: \"subtitle_highlight_color\" is not valid: invalid overlay setting: \
             colour `gold` is not of the form #RRGGBB or #RGB"
        );
        assert_eq!(
            settings_error(r#"{"subtitle_position": "middle"}"#),
            "settings: \"subtitle_position\" is not valid: invalid overlay setting: \
             subtitle position `middle` is not one of bottom, center, top"
        );
        // Checked even without a logo file: a typo is a typo.
        assert_eq!(
            settings_error(r#"{"logo_position": "left"}"#),
            "settings: \"logo_position\" is not valid: invalid overlay setting: \
             logo position `left` is not one of top-left, top-right, bottom-left, bottom-right"
        );
    }
}
