//! The one error type of the renderer. Every variant says what to fix, in words a user
//! understands: which segment, which file, which package to install.

use std::fmt;
use std::path::PathBuf;

/// Why a render (or a probe) failed.
///
/// `segment` fields are 1-based positions in the render order ("segment 3" is the third
/// segment rendered); they are `None` when a single file is checked outside a render
/// ([`crate::frame::image_source::validate_image`], [`crate::sound::audio::probe_audio_duration`]).
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("{}file not found: {}", SegmentLabel(*.segment), .path.display())]
    MissingFile {
        segment: Option<usize>,
        path: PathBuf,
    },
    #[error("{}cannot read image {}: {reason}", SegmentLabel(*.segment), .path.display())]
    Image {
        segment: Option<usize>,
        path: PathBuf,
        reason: String,
    },
    #[error("{}cannot use narration audio {}: {reason}", SegmentLabel(*.segment), .path.display())]
    Audio {
        segment: Option<usize>,
        path: PathBuf,
        reason: String,
    },
    /// The background music is missing, unreadable, undecodable or too short.
    #[error("cannot use background music {}: {reason}", .path.display())]
    Music { path: PathBuf, reason: String },
    #[error("GStreamer element `{element}` is missing: install the Debian package {package}")]
    MissingElement { element: String, package: String },
    #[error("{element}: {message}{}", DebugSuffix(.debug.as_deref()))]
    Pipeline {
        element: String,
        message: String,
        debug: Option<String>,
    },
    #[error("the rendered file failed verification: {0}")]
    Verification(String),
    /// The cause (e.g. "Permission denied") is the error's `source()`.
    #[error("cannot read or write {}", .path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid render settings: {0}")]
    InvalidSpec(String),
    #[error("cannot draw subtitles")]
    Subtitles(#[source] crate::frame::overlay::OverlayError),
    #[error("chunk plan")]
    Plan(#[from] crate::plan::chunk_plan::PlanError),
    #[error(transparent)]
    Cache(#[from] crate::chunks::chunk_cache::CacheError),
    #[error("render cancelled")]
    Cancelled,
    #[error("cannot initialise GStreamer: {0}")]
    Init(String),
}

impl RenderError {
    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Self::Io {
            path: path.into(),
            source,
        }
    }

    /// This error, when it is about the background music `path`, as a [`RenderError::Music`]
    /// (the decoder names every file as narration, or as missing).
    pub(crate) fn about_music(self, path: &std::path::Path) -> Self {
        match self {
            Self::Audio { reason, .. } => Self::Music {
                path: path.to_path_buf(),
                reason,
            },
            Self::MissingFile { .. } => Self::Music {
                path: path.to_path_buf(),
                reason: "file not found".into(),
            },
            other => other,
        }
    }

    pub(crate) fn pipeline(element: impl Into<String>, message: impl Into<String>) -> Self {
        Self::Pipeline {
            element: element.into(),
            message: message.into(),
            debug: None,
        }
    }
}

struct SegmentLabel(Option<usize>);

impl fmt::Display for SegmentLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(segment) => write!(f, "segment {segment}: "),
            None => Ok(()),
        }
    }
}

struct DebugSuffix<'a>(Option<&'a str>);

impl fmt::Display for DebugSuffix<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(debug) if !debug.is_empty() => write!(f, " ({debug})"),
            _ => Ok(()),
        }
    }
}

/// The Debian package that ships a GStreamer element, for "install X" messages.
pub fn package_for_element(element: &str) -> &'static str {
    match element {
        "x264enc" => "gstreamer1.0-plugins-ugly",
        "avenc_aac" | "avdec_h264" => "gstreamer1.0-libav",
        "fdkaacenc" | "voaacenc" | "h264parse" => "gstreamer1.0-plugins-bad",
        "mp4mux" | "qtdemux" | "aacparse" => "gstreamer1.0-plugins-good",
        _ => "gstreamer1.0-plugins-base",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_segment_file_and_package() {
        let err = RenderError::Image {
            segment: Some(3),
            path: PathBuf::from("/p/03.jpg"),
            reason: "truncated".into(),
        };
        assert_eq!(
            err.to_string(),
            "segment 3: cannot read image /p/03.jpg: truncated"
        );
        let err = RenderError::MissingFile {
            segment: None,
            path: PathBuf::from("/p/a.wav"),
        };
        assert_eq!(err.to_string(), "file not found: /p/a.wav");
        let err = RenderError::MissingElement {
            element: "x264enc".into(),
            package: package_for_element("x264enc").into(),
        };
        assert_eq!(
            err.to_string(),
            "GStreamer element `x264enc` is missing: install the Debian package \
             gstreamer1.0-plugins-ugly"
        );
        let err = RenderError::Pipeline {
            element: "mp4mux0".into(),
            message: "Could not multiplex stream.".into(),
            debug: Some("qtmux.c(42)".into()),
        };
        assert_eq!(
            err.to_string(),
            "mp4mux0: Could not multiplex stream. (qtmux.c(42))"
        );
    }

    #[test]
    fn packages_for_every_element_we_use() {
        assert_eq!(package_for_element("avenc_aac"), "gstreamer1.0-libav");
        assert_eq!(package_for_element("mp4mux"), "gstreamer1.0-plugins-good");
        assert_eq!(package_for_element("h264parse"), "gstreamer1.0-plugins-bad");
        assert_eq!(package_for_element("appsrc"), "gstreamer1.0-plugins-base");
        assert_eq!(
            package_for_element("audioconvert"),
            "gstreamer1.0-plugins-base"
        );
    }
}
