//! What to render. Built in code (`RenderSpec { segments, ..Default::default() }`) or loaded
//! from a project file by [`crate::plan::manifest`].

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::RenderError;
use crate::frame::logo::LogoSpec;
use crate::frame::text_overlay::SubtitleStyle;

/// A closed range a setting must lie in, with the unit its messages name: the one range type
/// for every numeric setting, used by [`RenderSpec::check`] and by anything that validates
/// settings before they reach the renderer (the REST API).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bounds<T> {
    pub min: T,
    pub max: T,
    /// Appended to messages, e.g. `" seconds"`; empty for plain numbers.
    pub unit: &'static str,
}

impl<T: Copy + PartialOrd + std::fmt::Display> Bounds<T> {
    pub const fn new(min: T, max: T) -> Self {
        Self { min, max, unit: "" }
    }

    pub const fn in_unit(self, unit: &'static str) -> Self {
        Self { unit, ..self }
    }

    pub fn contains(&self, value: T) -> bool {
        self.min <= value && value <= self.max
    }

    /// `Ok(value)` inside the range, else the message naming `name`, the value and the range:
    /// `"zoom_intensity 2.5 must be from 1 to 2"`.
    pub fn check(&self, name: &str, value: T) -> Result<T, String> {
        if self.contains(value) {
            Ok(value)
        } else {
            Err(format!(
                "{name} {value} must be from {} to {}{}",
                self.min, self.max, self.unit
            ))
        }
    }
}

impl Bounds<f64> {
    /// The value if it is inside the range give or take float noise (UI sliders send
    /// 2.0000000000000004 for 2), clamped into it.
    pub fn admit(&self, value: f64) -> Option<f64> {
        const EPSILON: f64 = 1e-9;
        (value >= self.min - EPSILON && value <= self.max + EPSILON)
            .then(|| value.clamp(self.min, self.max))
    }
}

/// Accepted output widths and heights. Even, because 4:2:0 video needs whole chroma pixels.
pub const DIMENSION: Bounds<u32> = Bounds::new(16, 7680);
pub const FPS: Bounds<u32> = Bounds::new(1, 120);
/// Zoom headroom of the Ken Burns camera (1.0 = no motion).
pub const ZOOM: Bounds<f64> = Bounds::new(1.0, 2.0);
/// Silence after each narration, in seconds.
pub const SILENCE: Bounds<f64> = Bounds::new(0.0, 5.0).in_unit(" seconds");
/// Crossfade length at each segment boundary, in seconds (0 = hard cuts).
pub const TRANSITION: Bounds<f64> = Bounds::new(0.0, 2.0).in_unit(" seconds");
/// Subtitle font size, in pixels of a 1080-line frame (see [`SubtitleStyle::font_size`]).
pub const SUBTITLE_SIZE: Bounds<f32> = Bounds::new(12.0, 120.0);
/// Logo width as a fraction of the frame width.
pub const LOGO_SCALE: Bounds<f64> = Bounds::new(0.05, 0.5);
pub const LOGO_OPACITY: Bounds<f64> = Bounds::new(0.0, 1.0);
/// Logo distance from the frame edges, in pixels.
pub const LOGO_MARGIN: Bounds<u32> = Bounds::new(0, 200).in_unit(" pixels");
/// x264 constant-quality level.
pub const QUANTIZER: Bounds<u32> = Bounds::new(0, 50);
/// AAC bit rate, in bits per second.
pub const AUDIO_BITRATE: Bounds<u32> = Bounds::new(8_000, 512_000);
/// The sound track's integrated loudness target, in LUFS (EBU R128).
pub const LOUDNESS_TARGET: Bounds<f64> = Bounds::new(-30.0, -9.0).in_unit(" LUFS");
/// Background music gain, linear (1 = the file's own level).
pub const MUSIC_VOLUME: Bounds<f64> = Bounds::new(0.0, 1.0);
/// How far the music is lowered while narration speaks, in dB.
pub const MUSIC_DUCKING: Bounds<f64> = Bounds::new(0.0, 30.0).in_unit(" dB");
/// The shortest background music accepted, in seconds of decoded sound.
pub const MIN_MUSIC_SECONDS: f64 = 1.0;
/// Longest key frame interval, in seconds (it must also be above 0).
pub const MAX_KEYFRAME_SECONDS: f64 = 60.0;
/// x264's speed presets, fastest first.
pub const X264_PRESETS: [&str; 10] = [
    "ultrafast",
    "superfast",
    "veryfast",
    "faster",
    "fast",
    "medium",
    "slow",
    "slower",
    "veryslow",
    "placebo",
];
/// The output sizes the editor offers (width, height); the renderer itself takes any size in
/// [`DIMENSION`].
pub const RESOLUTION_PRESETS: [(u32, u32); 11] = [
    (1280, 720),
    (1920, 1080),
    (3840, 2160),
    (720, 1280),
    (1080, 1920),
    (720, 720),
    (1080, 1080),
    (864, 1080),
    (1080, 1350),
    (1440, 1080),
    (1080, 1440),
];
/// The frame rates the editor offers; the renderer itself takes any in [`FPS`].
pub const FRAME_RATES: [u32; 3] = [24, 30, 60];

/// H.264 and AAC settings.
#[derive(Debug, Clone, PartialEq)]
pub struct EncoderSettings {
    /// x264 speed preset (one of [`X264_PRESETS`]).
    pub preset: String,
    /// x264 constant-quality level (CRF-like, `pass=qual`): lower is better and bigger. 0–50.
    pub quantizer: u32,
    /// Longest distance between key frames, in seconds.
    pub keyframe_seconds: f64,
    /// AAC bit rate in bits per second.
    pub audio_bitrate: u32,
}

impl Default for EncoderSettings {
    fn default() -> Self {
        Self {
            preset: "veryfast".into(),
            quantizer: 20,
            keyframe_seconds: 2.0,
            audio_bitrate: 192_000,
        }
    }
}

/// The sound track's finish: its loudness and the music under the narration. Neither is part
/// of any chunk's key: changing them re-runs only the splice's sound pass.
#[derive(Debug, Clone, PartialEq)]
pub struct SoundSettings {
    /// Integrated loudness the whole track is brought to (LUFS, in [`LOUDNESS_TARGET`]), with
    /// its true peak kept at or under [`TRUE_PEAK_CEILING_DBTP`](crate::sound::TRUE_PEAK_CEILING_DBTP);
    /// `None` leaves the level alone.
    pub loudness_target_lufs: Option<f64>,
    /// Background music under the whole video; `None` = narration only.
    pub music: Option<MusicSpec>,
}

impl SoundSettings {
    pub const DEFAULT_LOUDNESS_TARGET_LUFS: f64 = -16.0;
}

impl Default for SoundSettings {
    fn default() -> Self {
        Self {
            loudness_target_lufs: Some(Self::DEFAULT_LOUDNESS_TARGET_LUFS),
            music: None,
        }
    }
}

/// Background music: looped when shorter than the video, faded in and out, lowered by
/// `ducking_db` while narration speaks.
#[derive(Debug, Clone, PartialEq)]
pub struct MusicSpec {
    pub path: PathBuf,
    /// Linear gain, in [`MUSIC_VOLUME`].
    pub volume: f64,
    /// Attenuation under narration in dB, in [`MUSIC_DUCKING`].
    pub ducking_db: f64,
}

impl MusicSpec {
    pub const DEFAULT_VOLUME: f64 = 0.25;
    pub const DEFAULT_DUCKING_DB: f64 = 12.0;

    /// The music file with the default volume and ducking.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            volume: Self::DEFAULT_VOLUME,
            ducking_db: Self::DEFAULT_DUCKING_DB,
        }
    }
}

/// One word of a narration and when it is heard, in seconds from the start of its clip, as
/// the text to speech reports it (`{"word": "Hello,", "start": 0.12, "end": 0.48}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpokenWord {
    pub word: String,
    pub start: f64,
    pub end: f64,
}

/// One picture with its narration.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentSpec {
    /// The segment's sequence index; picks its Ken Burns pattern (`index % 7`).
    pub index: usize,
    pub image: PathBuf,
    pub audio: PathBuf,
    /// The narration text, shown as subtitles.
    pub text: String,
    /// When each whitespace-separated word of `text` is heard, in order, for captions that
    /// follow the voice; `None` (uploaded narration) spreads the captions over the narration.
    pub words: Option<Vec<SpokenWord>>,
}

impl SegmentSpec {
    pub fn new(
        index: usize,
        image: impl Into<PathBuf>,
        audio: impl Into<PathBuf>,
        text: impl Into<String>,
    ) -> Self {
        Self {
            index,
            image: image.into(),
            audio: audio.into(),
            text: text.into(),
            words: None,
        }
    }
}

/// Everything a render needs. `Default` gives the product defaults: 1920x1080 at 30 fps, zoom
/// 1.3, 0.3 s of silence after every narration, 0.5 s crossfades, burned-in subtitles in the
/// default style, no logo, the default encoder settings and a sound track brought to -16 LUFS
/// without music, with no segments.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderSpec {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Ken Burns zoom headroom, 1.0–2.0.
    pub zoom_intensity: f64,
    /// Seconds of silence after every narration, the last one included.
    pub inter_segment_silence: f64,
    /// Seconds of crossfade at each segment boundary, placed around the boundary inside the
    /// two segments' picture time (the sound is never overlapped); 0 = hard cuts.
    pub transition_duration: f64,
    /// Burns the narration text in as subtitles in this style; `None` = no burned-in text.
    /// The `.srt` / `.vtt` sidecars are written either way when there is text.
    pub subtitles: Option<SubtitleStyle>,
    /// A watermark on every frame. A missing or unreadable file is a warning, not a failure.
    pub logo: Option<LogoSpec>,
    pub encoder: EncoderSettings,
    /// Loudness and background music.
    pub sound: SoundSettings,
    /// In playing order.
    pub segments: Vec<SegmentSpec>,
}

impl Default for RenderSpec {
    fn default() -> Self {
        Self {
            width: 1920,
            height: 1080,
            fps: 30,
            zoom_intensity: 1.3,
            inter_segment_silence: 0.3,
            transition_duration: 0.5,
            subtitles: Some(SubtitleStyle::default()),
            logo: None,
            encoder: EncoderSettings::default(),
            sound: SoundSettings::default(),
            segments: Vec::new(),
        }
    }
}

impl RenderSpec {
    /// The default settings with these segments.
    pub fn new(segments: Vec<SegmentSpec>) -> Self {
        Self {
            segments,
            ..Self::default()
        }
    }

    /// Checks every setting; the message names the offending field and its allowed range.
    pub fn validate(&self) -> Result<(), RenderError> {
        self.check().map_err(RenderError::InvalidSpec)
    }

    /// [`validate`](Self::validate)'s check, the message alone (for callers that wrap it in
    /// errors of their own).
    pub fn check(&self) -> Result<(), String> {
        for (name, value) in [("width", self.width), ("height", self.height)] {
            if !DIMENSION.contains(value) || value % 2 != 0 {
                return Err(format!(
                    "{name} {value} must be an even number from {} to {}",
                    DIMENSION.min, DIMENSION.max
                ));
            }
        }
        FPS.check("fps", self.fps)?;
        ZOOM.check("zoom_intensity", self.zoom_intensity)?;
        SILENCE.check("inter_segment_silence", self.inter_segment_silence)?;
        TRANSITION.check("transition_duration", self.transition_duration)?;
        if let Some(size) = self.subtitles.as_ref().and_then(|s| s.font_size) {
            SUBTITLE_SIZE.check("subtitle font size", size)?;
        }
        if let Some(logo) = &self.logo {
            LOGO_SCALE.check("logo scale", logo.scale)?;
            LOGO_OPACITY.check("logo opacity", logo.opacity)?;
            LOGO_MARGIN.check("logo margin", logo.margin)?;
        }
        if !X264_PRESETS.contains(&self.encoder.preset.as_str()) {
            return Err(format!(
                "encoder preset `{}` must be one of {}",
                self.encoder.preset,
                X264_PRESETS.join(", ")
            ));
        }
        QUANTIZER.check("encoder quantizer", self.encoder.quantizer)?;
        let keyframe = self.encoder.keyframe_seconds;
        if !(keyframe > 0.0 && keyframe <= MAX_KEYFRAME_SECONDS) {
            return Err(format!(
                "keyframe_seconds {keyframe} must be above 0 and at most {MAX_KEYFRAME_SECONDS}"
            ));
        }
        AUDIO_BITRATE.check("audio_bitrate", self.encoder.audio_bitrate)?;
        if let Some(target) = self.sound.loudness_target_lufs {
            LOUDNESS_TARGET.check("loudness_target_lufs", target)?;
        }
        if let Some(music) = &self.sound.music {
            MUSIC_VOLUME.check("music_volume", music.volume)?;
            MUSIC_DUCKING.check("music_ducking_db", music.ducking_db)?;
        }
        if self.segments.is_empty() {
            return Err("there are no segments to render".into());
        }
        Ok(())
    }

    /// x264's `key-int-max`: the key frame interval in frames (at least 1).
    pub fn keyframe_interval(&self) -> u32 {
        ((self.encoder.keyframe_seconds * f64::from(self.fps)).round() as u32).max(1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_segment() -> RenderSpec {
        RenderSpec::new(vec![SegmentSpec::new(0, "a.jpg", "a.wav", "Hello")])
    }

    #[test]
    fn defaults_match_the_product_settings() {
        let spec = one_segment();
        assert_eq!((spec.width, spec.height, spec.fps), (1920, 1080, 30));
        assert_eq!(spec.zoom_intensity, 1.3);
        assert_eq!(spec.inter_segment_silence, 0.3);
        assert_eq!(spec.transition_duration, 0.5);
        assert_eq!(spec.subtitles, Some(SubtitleStyle::default()));
        assert_eq!(spec.logo, None);
        assert_eq!(spec.encoder.preset, "veryfast");
        assert_eq!(spec.keyframe_interval(), 60);
        assert!(spec.validate().is_ok());
    }

    #[test]
    fn bounds_name_the_setting_and_admit_only_float_noise() {
        assert_eq!(ZOOM.check("zoom_intensity", 1.3), Ok(1.3));
        assert_eq!(
            SILENCE.check("inter_segment_silence", 6.0),
            Err("inter_segment_silence 6 must be from 0 to 5 seconds".to_owned())
        );
        assert_eq!(ZOOM.admit(2.0000000000000004), Some(2.0));
        assert_eq!(ZOOM.admit(0.9999999999), Some(1.0));
        assert_eq!(ZOOM.admit(2.01), None);
        assert!(LOGO_MARGIN.contains(200) && !LOGO_MARGIN.contains(201));
    }

    #[test]
    fn invalid_settings_are_named() {
        let mut spec = one_segment();
        spec.width = 1921;
        assert_eq!(
            spec.validate().unwrap_err().to_string(),
            "invalid render settings: width 1921 must be an even number from 16 to 7680"
        );
        let mut spec = one_segment();
        spec.zoom_intensity = 2.5;
        assert_eq!(
            spec.validate().unwrap_err().to_string(),
            "invalid render settings: zoom_intensity 2.5 must be from 1 to 2"
        );
        let mut spec = one_segment();
        spec.transition_duration = 2.5;
        assert_eq!(
            spec.validate().unwrap_err().to_string(),
            "invalid render settings: transition_duration 2.5 must be from 0 to 2 seconds"
        );
        let mut spec = one_segment();
        spec.subtitles = Some(SubtitleStyle {
            font_size: Some(8.0),
            ..SubtitleStyle::default()
        });
        assert_eq!(
            spec.validate().unwrap_err().to_string(),
            "invalid render settings: subtitle font size 8 must be from 12 to 120"
        );
        let mut spec = one_segment();
        spec.logo = Some(LogoSpec {
            path: "logo.png".into(),
            scale: 0.15,
            position: crate::frame::logo::LogoPosition::BottomRight,
            opacity: 1.5,
            margin: 20,
        });
        assert_eq!(
            spec.validate().unwrap_err().to_string(),
            "invalid render settings: logo opacity 1.5 must be from 0 to 1"
        );
        let mut spec = one_segment();
        spec.encoder.preset = "warp".into();
        assert!(spec.validate().unwrap_err().to_string().contains("`warp`"));
        assert_eq!(
            RenderSpec::default().validate().unwrap_err().to_string(),
            "invalid render settings: there are no segments to render"
        );
    }
}
