//! Measures what a re-render from a full chunk cache costs: the splice of encoded chunks plus
//! the AAC encode of the narration.
//!
//! ```text
//! cargo run --release -p core_engine --example splice_bench -- DIR [CHUNKS SECONDS WIDTH HEIGHT RUNS]
//! ```
//!
//! Encodes `CHUNKS` chunks of `SECONDS` s (default 20 of 6 s at 1280x720, 30 fps, the default
//! encoder settings) into `DIR` once (kept for later runs), then splices them `RUNS` times
//! (default 3) with a synthetic narration of the same length, and prints each time, after the
//! time the cache takes to checksum the chunks it returns.

use std::path::{Path, PathBuf};
use std::time::Instant;

use core_engine::splice::{splice, ChunkEncoder, ChunkFile};
use core_engine::{CancelToken, RenderError, RenderSpec};
use gstreamer as gst;
use gstreamer_app as gst_app;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = PathBuf::from(
        args.first()
            .ok_or("usage: splice_bench DIR [CHUNKS SECONDS WIDTH HEIGHT RUNS]")?,
    );
    let number = |i: usize, default: u32| -> Result<u32, Box<dyn std::error::Error>> {
        Ok(match args.get(i) {
            Some(text) => text.parse()?,
            None => default,
        })
    };
    let (count, seconds, width, height, runs) = (
        number(1, 20)?,
        number(2, 6)?,
        number(3, 1280)?,
        number(4, 720)?,
        number(5, 3)?,
    );
    core_engine::init()?;
    let spec = RenderSpec {
        width,
        height,
        ..RenderSpec::default()
    };
    std::fs::create_dir_all(&dir)?;
    let frames = u64::from(seconds * spec.fps);
    let mut chunks = Vec::new();
    let started = Instant::now();
    for k in 0..count {
        let path = dir.join(format!("chunk-{width}x{height}-{seconds}s-{k}.mp4"));
        if !path.exists() {
            encode(&spec, k, frames, &path)?;
        }
        chunks.push(ChunkFile { path, frames });
    }
    let bytes: u64 = chunks
        .iter()
        .map(|c| std::fs::metadata(&c.path).map(|m| m.len()))
        .sum::<Result<u64, _>>()?;
    println!(
        "{count} chunks of {frames} frames at {width}x{height}, {:.1} MB, ready in {:.1?}",
        bytes as f64 / 1e6,
        started.elapsed()
    );
    // What `ChunkCache::get` adds to every hit: a checksum of the whole chunk.
    let started = Instant::now();
    for chunk in &chunks {
        core_engine::chunk_cache::file_sha256(&chunk.path)?;
    }
    println!(
        "checksums of all chunks (as the cache verifies each hit): {:.2?}",
        started.elapsed()
    );
    let total_frames = frames * u64::from(count);
    let samples = total_frames * 48_000 / u64::from(spec.fps);
    for run in 1..=runs {
        let output = dir.join("spliced.mp4");
        let started = Instant::now();
        let spliced = splice(
            &spec,
            &chunks,
            &output,
            &dir.join("spliced.faststart"),
            tone(samples),
            &mut |_| {},
            &CancelToken::new(),
        )?;
        println!(
            "run {run}: spliced {spliced} frames ({:.0} s of video) in {:.2?}, {:.1} MB",
            total_frames as f64 / f64::from(spec.fps),
            started.elapsed(),
            std::fs::metadata(&output)?.len() as f64 / 1e6
        );
    }
    Ok(())
}

/// Chunk `k`: a noisy texture panning a pixel a frame, so x264 has something to encode.
fn encode(spec: &RenderSpec, k: u32, frames: u64, path: &Path) -> Result<(), RenderError> {
    let mut encoder = ChunkEncoder::start(spec, path, 1, &CancelToken::new())?;
    let info = encoder.frame_info().clone();
    let (w, h) = (info.width() as usize, info.height() as usize);
    let texture: Vec<u8> = (0..(2 * w * h))
        .map(|i| {
            let x = (i as u64)
                .wrapping_mul(2_654_435_761)
                .wrapping_add(u64::from(k) * 97);
            (48 + (x >> 13) % 160) as u8
        })
        .collect();
    for i in 0..frames as usize {
        let mut data = vec![128u8; info.size()];
        let (offset, stride) = (info.offset()[0], info.stride()[0] as usize);
        for y in 0..h {
            let row = &texture[y * w + i..y * w + i + w];
            data[offset + y * stride..offset + y * stride + w].copy_from_slice(row);
        }
        encoder.push(gst::Buffer::from_mut_slice(data))?;
    }
    encoder.finish().map(|_| ())
}

/// `samples` of a 440 Hz tone, 48 kHz stereo F32, in 0.1 s buffers.
fn tone(
    samples: u64,
) -> impl FnOnce(&gst_app::AppSrc, &dyn Fn() -> bool) -> Result<(), RenderError> + Send {
    move |audio, stopping| {
        let refused = |flow: gst::FlowError| RenderError::Pipeline {
            element: "tone".into(),
            message: format!("{flow:?}"),
            debug: None,
        };
        let time = |s: u64| gst::ClockTime::from_nseconds(s * 1_000_000_000 / 48_000);
        let mut position = 0;
        while position < samples {
            if stopping() {
                return Err(RenderError::Cancelled);
            }
            let n = 4800.min(samples - position);
            let mut bytes = Vec::with_capacity(n as usize * 8);
            for s in position..position + n {
                let value =
                    (0.3 * (s as f64 * 440.0 / 48_000.0 * std::f64::consts::TAU).sin()) as f32;
                bytes.extend(value.to_le_bytes());
                bytes.extend(value.to_le_bytes());
            }
            let mut buffer = gst::Buffer::from_mut_slice(bytes);
            if let Some(buffer) = buffer.get_mut() {
                buffer.set_pts(time(position));
                buffer.set_duration(time(position + n) - time(position));
            }
            audio.push_buffer(buffer).map_err(refused)?;
            position += n;
        }
        audio.end_of_stream().map(|_| ()).map_err(refused)
    }
}
