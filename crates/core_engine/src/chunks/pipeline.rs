//! What every GStreamer graph of a render shares (the graphs themselves are in `splice`):
//! the elements a render needs, the raw frame format, the x264 settings and the AAC encoder.
//!
//! Frames are drawn straight in I420, so no `videoconvert` is needed.

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;
use gstreamer_video as gst_video;

use crate::chunks::x264::X264Settings;
use crate::error::package_for_element;
use crate::error::RenderError;
use crate::frame::compositor::FrameLayout;
use crate::plan::spec::RenderSpec;
use crate::plan::timeline::SAMPLE_RATE;

/// AAC encoders in order of preference. `avenc_aac` comes last although it is the most
/// common: loading it maps FFmpeg's libraries (about 40 MB of resident memory), against a
/// few hundred kilobytes for the others, and all of them are transparent for speech at
/// 192 kb/s.
const AAC_ENCODERS: [&str; 3] = ["fdkaacenc", "voaacenc", "avenc_aac"];
/// voaacenc's highest bit rate.
const VOAACENC_MAX_BITRATE: u32 = 320_000;

/// Every other element a render (and its verification) needs.
const REQUIRED_ELEMENTS: [&str; 9] = [
    "appsrc",
    "appsink",
    "uridecodebin",
    "audioconvert",
    "audioresample",
    "h264parse",
    "aacparse",
    "mp4mux",
    "qtdemux",
];

/// The `file://` URI of `path`; a relative path is taken from the working directory (GStreamer
/// only accepts absolute ones).
pub(crate) fn file_uri(path: &std::path::Path) -> Result<String, String> {
    let absolute = std::path::absolute(path).map_err(|e| e.to_string())?;
    gst::glib::filename_to_uri(&absolute, None)
        .map(|uri| uri.to_string())
        .map_err(|e| e.to_string())
}

/// Initialises GStreamer (idempotent) and returns its version string.
pub fn init() -> Result<String, RenderError> {
    gst::init().map_err(|e| RenderError::Init(e.to_string()))?;
    Ok(gst::version_string().to_string())
}

/// Checks that every element a render needs is installed; the error names the element and
/// the Debian package that provides it.
pub fn check_elements() -> Result<(), RenderError> {
    init()?;
    for element in REQUIRED_ELEMENTS {
        if gst::ElementFactory::find(element).is_none() {
            return Err(missing(element));
        }
    }
    aac_encoder().map(|_| ())
}

pub(crate) fn missing(element: &str) -> RenderError {
    RenderError::MissingElement {
        element: element.to_string(),
        package: package_for_element(element).to_string(),
    }
}

fn aac_encoder() -> Result<&'static str, RenderError> {
    AAC_ENCODERS
        .into_iter()
        .find(|name| gst::ElementFactory::find(name).is_some())
        .ok_or_else(|| missing("avenc_aac"))
}

pub(crate) fn make(factory: &str, name: &str) -> Result<gst::Element, RenderError> {
    gst::ElementFactory::make(factory)
        .name(name)
        .build()
        .map_err(|_| missing(factory))
}

/// The spec's H.264 settings for a chunk's x264 encode, which runs on one thread (x264's
/// bits depend on its thread count, and a chunk's must not depend on the machine) and
/// without AVX-512 (see [`X264Settings::avx512`]): a chunk's bits must not depend on the
/// encodes before it either.
pub(crate) fn x264_chunk_settings(spec: &RenderSpec) -> X264Settings {
    X264Settings {
        width: spec.width,
        height: spec.height,
        fps: spec.fps,
        preset: spec.encoder.preset.clone(),
        quality: spec.encoder.quantizer as f32,
        keyframe_interval: spec.keyframe_interval(),
        threads: 1,
        avx512: false,
    }
}

/// The same settings as x264enc property values, for the benchmark's x264 alone, which
/// leaves threads and the threaded lookahead to x264.
#[cfg(feature = "bench")]
pub(crate) fn x264_settings(spec: &RenderSpec) -> [(&'static str, String); 5] {
    let chunk = x264_chunk_settings(spec);
    [
        ("speed-preset", chunk.preset),
        // Constant quality (CRF): `quantizer` is the quality level.
        ("pass", "qual".to_string()),
        ("quantizer", spec.encoder.quantizer.to_string()),
        ("key-int-max", chunk.keyframe_interval.to_string()),
        // No VBV, as in a chunk: x264enc would otherwise cap a constant-quality encode at
        // its default 2 Mb/s.
        ("vbv-buf-capacity", "0".to_string()),
    ]
}

/// Applies [`x264_settings`] to an x264enc element.
#[cfg(feature = "bench")]
pub(crate) fn configure_x264(x264: &gst::Element, spec: &RenderSpec) {
    for (name, value) in x264_settings(spec) {
        x264.set_property_from_str(name, &value);
    }
}

/// The raw frames' format for `spec`: I420, BT.709, limited range.
pub(crate) fn frame_info(spec: &RenderSpec) -> Result<gst_video::VideoInfo, RenderError> {
    gst_video::VideoInfo::builder(gst_video::VideoFormat::I420, spec.width, spec.height)
        .fps(gst::Fraction::new(spec.fps as i32, 1))
        .colorimetry(&gst_video::VideoColorimetry::new(
            gst_video::VideoColorRange::Range16_235,
            gst_video::VideoColorMatrix::Bt709,
            gst_video::VideoTransferFunction::Bt709,
            gst_video::VideoColorPrimaries::Bt709,
        ))
        .build()
        .map_err(|e| RenderError::pipeline("video caps", e.to_string()))
}

/// The preferred installed AAC encoder, named `name`, at `bitrate` bits per second (within
/// what it supports).
/// Where the planes of a frame of format `info` are, for the compositor.
pub(crate) fn frame_layout(info: &gst_video::VideoInfo) -> FrameLayout {
    FrameLayout {
        width: info.width(),
        height: info.height(),
        offsets: [info.offset()[0], info.offset()[1], info.offset()[2]],
        strides: [
            info.stride()[0] as usize,
            info.stride()[1] as usize,
            info.stride()[2] as usize,
        ],
        size: info.size(),
    }
}

/// The sound's way into an MP4: an `appsrc` named `sound` taking the timeline's F32 stereo
/// (a quarter of a second queued ahead of the muxer), then `audioconvert ! AAC ! aacparse`,
/// for the caller to add and link to its muxer. Returns the source and the three elements, in
/// order.
pub(crate) fn aac_branch(
    bitrate: u32,
) -> Result<(gst_app::AppSrc, [gst::Element; 3]), RenderError> {
    let source = gst_app::AppSrc::builder()
        .name("sound")
        .caps(&crate::sound::audio::audio_caps()?)
        .format(gst::Format::Time)
        .is_live(false)
        .block(true)
        .max_bytes(u64::from(SAMPLE_RATE) * crate::sound::audio::BYTES_PER_SAMPLE as u64 / 4)
        .build();
    let encoder_name = aac_encoder()?;
    let aac = make(encoder_name, "aacenc")?;
    let bitrate = match encoder_name {
        "voaacenc" => bitrate.min(VOAACENC_MAX_BITRATE),
        _ => bitrate,
    };
    aac.set_property("bitrate", i32::try_from(bitrate).unwrap_or(i32::MAX));
    let elements = [
        make("audioconvert", "audioconvert")?,
        aac,
        make("aacparse", "aacparse")?,
    ];
    Ok((source, elements))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_element_is_installed_here() {
        assert!(!init().unwrap().is_empty());
        check_elements().unwrap();
        assert_eq!(missing("x264enc").to_string(), "GStreamer element `x264enc` is missing: install the Debian package gstreamer1.0-plugins-ugly");
    }
}
