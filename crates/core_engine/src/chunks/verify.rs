//! Checks a finished file before it replaces the previous video: one H.264 stream of the
//! right size, one AAC stream, and the expected duration.

use std::path::Path;

use gstreamer as gst;
use gstreamer_pbutils as gst_pbutils;
use gstreamer_pbutils::prelude::*;

use crate::error::RenderError;

/// What the file should contain.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Expected {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    /// Seconds: the sound track's exact length.
    pub duration: f64,
}

/// AAC works in 1024-sample frames and the encoder adds priming: allow this much beyond one
/// video frame.
const AAC_SLACK_SECONDS: f64 = 2048.0 / 48_000.0;

/// Returns the file's duration in seconds.
pub(crate) fn verify(path: &Path, expected: &Expected) -> Result<f64, RenderError> {
    let fail = |msg: String| RenderError::Verification(msg);
    let uri = crate::chunks::pipeline::file_uri(path).map_err(fail)?;
    let discoverer = gst_pbutils::Discoverer::new(gst::ClockTime::from_seconds(30))
        .map_err(|e| fail(e.to_string()))?;
    let info = discoverer
        .discover_uri(&uri)
        .map_err(|e| fail(format!("cannot read the file back: {e}")))?;

    let videos = info.video_streams();
    let [video] = videos.as_slice() else {
        return Err(fail(format!(
            "expected one video stream, found {}",
            videos.len()
        )));
    };
    let video_caps = caps_name(video.caps());
    if video_caps != "video/x-h264" {
        return Err(fail(format!("the video stream is {video_caps}, not H.264")));
    }
    if (video.width(), video.height()) != (expected.width, expected.height) {
        return Err(fail(format!(
            "the video is {}x{}, expected {}x{}",
            video.width(),
            video.height(),
            expected.width,
            expected.height
        )));
    }
    let audios = info.audio_streams();
    let [audio] = audios.as_slice() else {
        return Err(fail(format!(
            "expected one audio stream, found {}",
            audios.len()
        )));
    };
    let audio_caps = audio.caps();
    let is_aac = audio_caps
        .as_ref()
        .and_then(|c| c.structure(0))
        .is_some_and(|s| {
            s.name() == "audio/mpeg" && s.get::<i32>("mpegversion").is_ok_and(|v| v == 4)
        });
    if !is_aac {
        return Err(fail(format!(
            "the audio stream is {}, not AAC",
            caps_name(audio_caps)
        )));
    }

    let duration = info
        .duration()
        .ok_or_else(|| fail("the file has no duration".into()))?
        .nseconds() as f64
        / 1e9;
    let tolerance = 1.0 / f64::from(expected.fps) + AAC_SLACK_SECONDS;
    if (duration - expected.duration).abs() > tolerance {
        return Err(fail(format!(
            "the file lasts {duration:.3} s, expected {:.3} s",
            expected.duration
        )));
    }
    Ok(duration)
}

fn caps_name(caps: Option<gst::Caps>) -> String {
    caps.and_then(|c| c.structure(0).map(|s| s.name().to_string()))
        .unwrap_or_else(|| "unknown".into())
}
