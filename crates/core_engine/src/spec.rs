//! What to render. Built in code (`RenderSpec { segments, ..Default::default() }`) or loaded
//! from a project file by [`crate::manifest`].

use std::ops::RangeInclusive;
use std::path::PathBuf;

use crate::logo::LogoSpec;
use crate::text_overlay::SubtitleStyle;
use crate::RenderError;

/// Accepted output widths and heights. Even, because 4:2:0 video needs whole chroma pixels.
pub const DIMENSION_RANGE: RangeInclusive<u32> = 16..=7680;
pub const FPS_RANGE: RangeInclusive<u32> = 1..=120;
/// Zoom headroom of the Ken Burns camera (1.0 = no motion).
pub const ZOOM_RANGE: RangeInclusive<f64> = 1.0..=2.0;
/// Silence after each narration, in seconds.
pub const SILENCE_RANGE: RangeInclusive<f64> = 0.0..=5.0;
/// Crossfade length at each segment boundary, in seconds (0 = hard cuts).
pub const TRANSITION_RANGE: RangeInclusive<f64> = 0.0..=2.0;
/// Subtitle font size, in pixels of a 1080-line frame (see [`SubtitleStyle::font_size`]).
pub const SUBTITLE_SIZE_RANGE: RangeInclusive<f32> = 12.0..=120.0;
/// Logo width as a fraction of the frame width.
pub const LOGO_SCALE_RANGE: RangeInclusive<f64> = 0.05..=0.5;
pub const LOGO_OPACITY_RANGE: RangeInclusive<f64> = 0.0..=1.0;
/// Logo distance from the frame edges, in pixels.
pub const LOGO_MARGIN_RANGE: RangeInclusive<u32> = 0..=200;
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

/// One picture with its narration.
#[derive(Debug, Clone, PartialEq)]
pub struct SegmentSpec {
    /// The segment's sequence index; picks its Ken Burns pattern (`index % 7`).
    pub index: usize,
    pub image: PathBuf,
    pub audio: PathBuf,
    /// The narration text (used for subtitles by a later stage).
    pub text: String,
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
        }
    }
}

/// Everything a render needs. `Default` gives the product defaults: 1920x1080 at 30 fps, zoom
/// 1.3, 0.3 s of silence after every narration, 0.5 s crossfades, burned-in subtitles in the
/// default style, no logo and the default encoder settings, with no segments.
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
        let invalid = |msg: String| Err(RenderError::InvalidSpec(msg));
        for (name, value) in [("width", self.width), ("height", self.height)] {
            if !DIMENSION_RANGE.contains(&value) || value % 2 != 0 {
                return invalid(format!(
                    "{name} {value} must be an even number from {} to {}",
                    DIMENSION_RANGE.start(),
                    DIMENSION_RANGE.end()
                ));
            }
        }
        if !FPS_RANGE.contains(&self.fps) {
            return invalid(format!(
                "fps {} must be from {} to {}",
                self.fps,
                FPS_RANGE.start(),
                FPS_RANGE.end()
            ));
        }
        if !ZOOM_RANGE.contains(&self.zoom_intensity) {
            return invalid(format!(
                "zoom_intensity {} must be from {} to {}",
                self.zoom_intensity,
                ZOOM_RANGE.start(),
                ZOOM_RANGE.end()
            ));
        }
        if !SILENCE_RANGE.contains(&self.inter_segment_silence) {
            return invalid(format!(
                "inter_segment_silence {} must be from {} to {} seconds",
                self.inter_segment_silence,
                SILENCE_RANGE.start(),
                SILENCE_RANGE.end()
            ));
        }
        if !TRANSITION_RANGE.contains(&self.transition_duration) {
            return invalid(format!(
                "transition_duration {} must be from {} to {} seconds",
                self.transition_duration,
                TRANSITION_RANGE.start(),
                TRANSITION_RANGE.end()
            ));
        }
        if let Some(size) = self.subtitles.as_ref().and_then(|s| s.font_size) {
            if !SUBTITLE_SIZE_RANGE.contains(&size) {
                return invalid(format!(
                    "subtitle font size {size} must be from {} to {}",
                    SUBTITLE_SIZE_RANGE.start(),
                    SUBTITLE_SIZE_RANGE.end()
                ));
            }
        }
        if let Some(logo) = &self.logo {
            if !LOGO_SCALE_RANGE.contains(&logo.scale) {
                return invalid(format!(
                    "logo scale {} must be from {} to {}",
                    logo.scale,
                    LOGO_SCALE_RANGE.start(),
                    LOGO_SCALE_RANGE.end()
                ));
            }
            if !LOGO_OPACITY_RANGE.contains(&logo.opacity) {
                return invalid(format!(
                    "logo opacity {} must be from {} to {}",
                    logo.opacity,
                    LOGO_OPACITY_RANGE.start(),
                    LOGO_OPACITY_RANGE.end()
                ));
            }
            if !LOGO_MARGIN_RANGE.contains(&logo.margin) {
                return invalid(format!(
                    "logo margin {} must be from {} to {} pixels",
                    logo.margin,
                    LOGO_MARGIN_RANGE.start(),
                    LOGO_MARGIN_RANGE.end()
                ));
            }
        }
        if !X264_PRESETS.contains(&self.encoder.preset.as_str()) {
            return invalid(format!(
                "encoder preset `{}` must be one of {}",
                self.encoder.preset,
                X264_PRESETS.join(", ")
            ));
        }
        if self.encoder.quantizer > 50 {
            return invalid(format!(
                "encoder quantizer {} must be from 0 to 50",
                self.encoder.quantizer
            ));
        }
        if !(self.encoder.keyframe_seconds > 0.0 && self.encoder.keyframe_seconds <= 60.0) {
            return invalid(format!(
                "keyframe_seconds {} must be above 0 and at most 60",
                self.encoder.keyframe_seconds
            ));
        }
        if !(8_000..=512_000).contains(&self.encoder.audio_bitrate) {
            return invalid(format!(
                "audio_bitrate {} must be from 8000 to 512000",
                self.encoder.audio_bitrate
            ));
        }
        if self.segments.is_empty() {
            return invalid("there are no segments to render".into());
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
            position: crate::logo::LogoPosition::BottomRight,
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
