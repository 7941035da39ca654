//! Helpers shared by the render integration tests: tiny inputs written on the fly, and
//! decoders that read a rendered file back frame by frame or sample by sample.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use core_engine::manifest::Manifest;
use core_engine::RenderSpec;
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

pub const WIDTH: u32 = 320;
pub const HEIGHT: u32 = 180;
pub const FPS: u32 = 15;

pub fn demo_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/demo")
}

/// `spec` at the tiny test size (320x180, 15 fps).
pub fn tiny(mut spec: RenderSpec) -> RenderSpec {
    spec.width = WIDTH;
    spec.height = HEIGHT;
    spec.fps = FPS;
    spec
}

pub fn demo_spec() -> RenderSpec {
    tiny(
        Manifest::load(&demo_dir().join("manifest.json"))
            .unwrap()
            .to_spec()
            .unwrap(),
    )
}

/// A copy of the demo project that a test may damage.
pub fn demo_copy() -> (tempfile::TempDir, RenderSpec) {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["images", "audio"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
        for entry in std::fs::read_dir(demo_dir().join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.path().join(sub).join(entry.file_name())).unwrap();
        }
    }
    std::fs::copy(
        demo_dir().join("manifest.json"),
        dir.path().join("manifest.json"),
    )
    .unwrap();
    let spec = tiny(
        Manifest::load(&dir.path().join("manifest.json"))
            .unwrap()
            .to_spec()
            .unwrap(),
    );
    (dir, spec)
}

pub fn files_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

/// A PNG of one RGBA colour.
pub fn write_png(path: &Path, width: u32, height: u32, rgba: [u8; 4]) {
    image::RgbaImage::from_pixel(width, height, image::Rgba(rgba))
        .save(path)
        .unwrap();
}

/// A 48 kHz mono WAV: `seconds` of a 440 Hz tone at half scale.
pub fn write_tone(path: &Path, seconds: f64) {
    let samples: Vec<i16> = (0..(seconds * 48_000.0).round() as usize)
        .map(|n| {
            let t = n as f64 / 48_000.0;
            (16_000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16
        })
        .collect();
    std::fs::write(path, core_engine::audio::wav_bytes(48_000, &samples)).unwrap();
}

/// Runs `launch` (which must end in `appsink name=sink`) and returns every buffer's bytes.
fn pull_all(launch: &str) -> Vec<Vec<u8>> {
    core_engine::init().unwrap();
    let pipeline = gst::parse::launch(launch)
        .unwrap()
        .downcast::<gst::Pipeline>()
        .unwrap();
    let sink = pipeline
        .by_name("sink")
        .unwrap()
        .downcast::<gst_app::AppSink>()
        .unwrap();
    pipeline.set_state(gst::State::Playing).unwrap();
    let mut buffers = Vec::new();
    while let Ok(sample) = sink.pull_sample() {
        let buffer = sample.buffer().unwrap();
        buffers.push(buffer.map_readable().unwrap().to_vec());
    }
    pipeline.set_state(gst::State::Null).unwrap();
    buffers
}

/// Every frame of `path`'s video as 8-bit luma, `WIDTH` x `HEIGHT`, rows packed.
pub fn decode_luma(path: &Path) -> Vec<Vec<u8>> {
    pull_all(&format!(
        "filesrc location=\"{}\" ! decodebin ! videoconvert ! video/x-raw,format=GRAY8 ! \
         appsink name=sink sync=false",
        path.display()
    ))
}

/// Every frame of `path`'s video, decoded to I420 (whole planes, as the decoder gives them).
pub fn decode_frames(path: &Path) -> Vec<Vec<u8>> {
    pull_all(&format!(
        "filesrc location=\"{}\" ! decodebin ! video/x-raw,format=I420 ! \
         appsink name=sink sync=false",
        path.display()
    ))
}

/// `path`'s sound track as 48 kHz mono 16-bit samples.
pub fn decode_audio(path: &Path) -> Vec<i16> {
    pull_all(&format!(
        "filesrc location=\"{}\" ! decodebin ! audioconvert ! audioresample ! \
         audio/x-raw,format=S16LE,channels=1,rate=48000,layout=interleaved ! \
         appsink name=sink sync=false",
        path.display()
    ))
    .concat()
    .chunks_exact(2)
    .map(|b| i16::from_le_bytes([b[0], b[1]]))
    .collect()
}

/// Luma of pixel (x, y) of a decoded frame.
pub fn luma(frame: &[u8], x: u32, y: u32) -> u8 {
    frame[(y * WIDTH + x) as usize]
}

/// Every compressed video sample of the MP4 `path`, in decoding order, as stored.
pub fn compressed_video(path: &Path) -> Vec<Vec<u8>> {
    pull_all(&format!(
        "filesrc location=\"{}\" ! qtdemux name=demux demux.video_0 ! \
         appsink name=sink sync=false",
        path.display()
    ))
}
