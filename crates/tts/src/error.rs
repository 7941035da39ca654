//! The one error type of the crate. Every variant says what to fix: the text, the speed, or
//! the installation, and for the installation it names `scripts/setup.sh`, which puts the
//! runtime, the default voice and espeak-ng in place.

use std::path::PathBuf;

/// Why a synthesis (or a voice look-up) failed.
#[derive(Debug, thiserror::Error)]
pub enum TtsError {
    #[error("the text is empty: there is nothing to say")]
    EmptyText,
    #[error("the text is {chars} characters long; the limit is {limit} characters per segment")]
    TextTooLong { chars: usize, limit: usize },
    #[error("speed {speed} is outside the allowed range {min}–{max}")]
    InvalidSpeed { speed: f32, min: f32, max: f32 },
    #[error("voice `{voice}` cannot pronounce any of this text")]
    Unspeakable { voice: String },
    #[error("no voices are installed in {}: run scripts/setup.sh", .dir.display())]
    NoVoices { dir: PathBuf },
    #[error(
        "voice `{id}` is unusable ({}): {reason}; run scripts/setup.sh to reinstall the default voice",
        .path.display()
    )]
    Voice {
        id: String,
        path: PathBuf,
        reason: String,
    },
    #[error("the ONNX Runtime library is missing ({}): run scripts/setup.sh", .path.display())]
    RuntimeMissing { path: PathBuf },
    #[error("cannot load the ONNX Runtime library {}: {reason}; run scripts/setup.sh", .path.display())]
    Runtime { path: PathBuf, reason: String },
    #[error(
        "espeak-ng cannot make phonemes: {0}; run scripts/setup.sh (Debian packages \
         libespeak-ng1 and espeak-ng-data)"
    )]
    Phonemizer(String),
    #[error("voice `{voice}` failed to synthesise speech: {reason}")]
    Inference { voice: String, reason: String },
    /// The cause (e.g. "Permission denied") is the error's `source()`.
    #[error("cannot read or write {}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file of the hibari voice's folder that is there but unusable.
    #[error(
        "the hibari voice file {} is damaged ({reason}): run scripts/setup.sh to reinstall it",
        .path.display()
    )]
    HibariAsset { path: PathBuf, reason: String },
    #[error("the hibari voice's reader of unknown words failed: {0}")]
    HibariOov(String),
    /// The parse error is the error's `source()`.
    #[error("the word timings file {} is unreadable", .path.display())]
    WordsFile {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("speech synthesis cancelled")]
    Cancelled,
}

impl TtsError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// True when the fault is in the installation (runtime, voice files, espeak-ng) rather
    /// than in the request: the caller may want to say "run scripts/setup.sh" prominently.
    pub fn is_installation_problem(&self) -> bool {
        matches!(
            self,
            Self::NoVoices { .. }
                | Self::Voice { .. }
                | Self::RuntimeMissing { .. }
                | Self::Runtime { .. }
                | Self::Phonemizer(_)
                | Self::HibariAsset { .. }
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_the_limit_and_the_fix() {
        let err = TtsError::TextTooLong {
            chars: 5001,
            limit: 5000,
        };
        assert_eq!(
            err.to_string(),
            "the text is 5001 characters long; the limit is 5000 characters per segment"
        );
        let err = TtsError::InvalidSpeed {
            speed: 3.0,
            min: 0.5,
            max: 2.0,
        };
        assert_eq!(
            err.to_string(),
            "speed 3 is outside the allowed range 0.5–2"
        );
        let err = TtsError::RuntimeMissing {
            path: PathBuf::from("/h/onnxruntime/libonnxruntime.so.1.32.0"),
        };
        assert_eq!(
            err.to_string(),
            "the ONNX Runtime library is missing (/h/onnxruntime/libonnxruntime.so.1.32.0): \
             run scripts/setup.sh"
        );
        assert!(err.is_installation_problem());
        let err = TtsError::NoVoices {
            dir: PathBuf::from("/h/voices"),
        };
        assert_eq!(
            err.to_string(),
            "no voices are installed in /h/voices: run scripts/setup.sh"
        );
        assert!(!TtsError::EmptyText.is_installation_problem());
    }
}
