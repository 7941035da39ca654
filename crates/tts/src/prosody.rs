//! Speed and pauses, as plain numbers: the speaking speed becomes the model's `length_scale`
//! (time stretch), and the silence between sentences, which the model does not make itself
//! (each sentence is a separate utterance), is chosen here.
//!
//! The speed range is defined once, here; the API layer validates settings against the same
//! constants.

use crate::error::TtsError;

/// Slowest accepted speed (twice the voice's natural duration).
pub const MIN_SPEED: f32 = 0.5;
/// Fastest accepted speed (the model's time scale halved; clips come out ~0.65 as long,
/// since pauses do not shrink in proportion).
pub const MAX_SPEED: f32 = 2.0;
/// The voice's own pace.
pub const DEFAULT_SPEED: f32 = 1.0;

/// Silence after a sentence that ends in `.`, `?` or `!` (or a line without punctuation).
pub const SENTENCE_PAUSE_SECONDS: f64 = 0.3;
/// Silence at a paragraph break (a blank line).
pub const PARAGRAPH_PAUSE_SECONDS: f64 = 0.6;
/// Silence where an over-long sentence was cut into pieces (the voice breathes, briefly).
pub const SPLIT_PAUSE_SECONDS: f64 = 0.1;

/// Checks a speed against [`MIN_SPEED`]..=[`MAX_SPEED`]; NaN is refused too.
pub fn check_speed(speed: f32) -> Result<f32, TtsError> {
    if (MIN_SPEED..=MAX_SPEED).contains(&speed) {
        Ok(speed)
    } else {
        Err(TtsError::InvalidSpeed {
            speed,
            min: MIN_SPEED,
            max: MAX_SPEED,
        })
    }
}

/// A voice's inference settings, from its `.onnx.json` (`inference` key).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct InferenceSettings {
    pub noise_scale: f32,
    pub length_scale: f32,
    pub noise_w: f32,
}

impl Default for InferenceSettings {
    /// Piper's defaults, used for any key a voice file leaves out.
    fn default() -> Self {
        Self {
            noise_scale: 0.667,
            length_scale: 1.0,
            noise_w: 0.8,
        }
    }
}

/// The model's `scales` input, `[noise_scale, length_scale, noise_w]`, for a speed already
/// checked by [`check_speed`]: a faster speed is a shorter length scale.
pub fn scales(settings: &InferenceSettings, speed: f32) -> [f32; 3] {
    [
        settings.noise_scale,
        settings.length_scale / speed,
        settings.noise_w,
    ]
}

/// What follows a sentence, which decides the pause after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SentenceEnd {
    /// `.`, `?`, `!`, or a line break.
    Stop,
    /// A blank line: the end of a paragraph.
    Paragraph,
    /// An over-long sentence cut at a clause or word boundary; the sentence goes on.
    Split,
}

/// Samples of silence after a sentence with this ending, at `speed`, `sample_rate` Hz.
pub fn pause_samples(end: SentenceEnd, speed: f32, sample_rate: u32) -> usize {
    let seconds = match end {
        SentenceEnd::Stop => SENTENCE_PAUSE_SECONDS,
        SentenceEnd::Paragraph => PARAGRAPH_PAUSE_SECONDS,
        SentenceEnd::Split => SPLIT_PAUSE_SECONDS,
    };
    (seconds / f64::from(speed) * f64::from(sample_rate)).round() as usize
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_range_is_inclusive_and_refuses_nan() {
        assert_eq!(check_speed(0.5).ok(), Some(0.5));
        assert_eq!(check_speed(2.0).ok(), Some(2.0));
        assert_eq!(check_speed(1.25).ok(), Some(1.25));
        assert!(matches!(
            check_speed(0.49),
            Err(TtsError::InvalidSpeed { min, max, .. }) if min == 0.5 && max == 2.0
        ));
        assert!(check_speed(2.01).is_err());
        assert!(check_speed(f32::NAN).is_err());
        assert!(check_speed(f32::INFINITY).is_err());
    }

    #[test]
    fn speed_divides_the_length_scale_only() {
        let voice = InferenceSettings::default();
        assert_eq!(scales(&voice, 1.0), [0.667, 1.0, 0.8]);
        assert_eq!(scales(&voice, 2.0), [0.667, 0.5, 0.8]);
        assert_eq!(scales(&voice, 0.5), [0.667, 2.0, 0.8]);
        let slow_voice = InferenceSettings {
            length_scale: 1.5,
            ..voice
        };
        assert_eq!(scales(&slow_voice, 1.5), [0.667, 1.0, 0.8]);
    }

    #[test]
    fn pauses_shrink_with_speed() {
        assert_eq!(pause_samples(SentenceEnd::Stop, 1.0, 22050), 6615);
        assert_eq!(pause_samples(SentenceEnd::Stop, 2.0, 22050), 3308);
        assert_eq!(pause_samples(SentenceEnd::Stop, 0.5, 22050), 13230);
        assert_eq!(pause_samples(SentenceEnd::Paragraph, 1.0, 22050), 13230);
        assert_eq!(pause_samples(SentenceEnd::Split, 1.0, 16000), 1600);
    }
}
