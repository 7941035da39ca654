//! The narration track: each narration decoded in turn and pushed into the splice's audio
//! `appsrc` with sample-exact timestamps, followed by its gap of silence.

use std::time::{Duration, Instant};

use gstreamer as gst;
use gstreamer_app as gst_app;

use crate::error::RenderError;
use crate::plan::spec::RenderSpec;
use crate::plan::timeline::{Timeline, SAMPLE_RATE};
use crate::sound::audio::{Decoder, BYTES_PER_SAMPLE};
use crate::stats::RenderStats;

/// Samples of silence pushed per buffer (0.1 s).
const SILENCE_CHUNK: u64 = SAMPLE_RATE as u64 / 10;

/// Decodes each narration in turn and pushes it with sample-exact timestamps, then its gap
/// of silence. The analysed length is authoritative: extra samples are cut, missing ones
/// padded with silence. Returns the decoding times (the pushes wait for the muxer).
pub(super) fn push_narration(
    spec: &RenderSpec,
    timeline: &Timeline,
    audio: &gst_app::AppSrc,
    stopping: &dyn Fn() -> bool,
) -> Result<RenderStats, RenderError> {
    let mut times = RenderStats::default();
    let push = |buffer: gst::Buffer| {
        audio
            .push_buffer(buffer)
            .map(|_| ())
            .map_err(|flow| RenderError::pipeline("narration", format!("{flow:?}")))
    };
    let stamp = |buffer: &mut gst::Buffer, start: u64, samples: u64| {
        // Copies only the buffer's header if someone else still holds it.
        let buffer = buffer.make_mut();
        let pts = timeline.sample_time_ns(start);
        buffer.set_pts(gst::ClockTime::from_nseconds(pts));
        buffer.set_duration(gst::ClockTime::from_nseconds(
            timeline.sample_time_ns(start + samples) - pts,
        ));
        buffer.set_offset(start);
        buffer.set_offset_end(start + samples);
    };
    for (i, (segment, timing)) in spec.segments.iter().zip(timeline.segments()).enumerate() {
        let narration_end = timing.start_sample + timing.narration_samples;
        let mut position = timing.start_sample;
        let mut decoding = Duration::ZERO;
        let started = Instant::now();
        let mut decoder = Decoder::open(&segment.audio, Some(i + 1))?;
        decoding += started.elapsed();
        while position < narration_end {
            let started = Instant::now();
            let chunk = decoder.next_chunk(stopping)?;
            decoding += started.elapsed();
            let Some(chunk) = chunk else {
                break;
            };
            let samples = (chunk.size() / BYTES_PER_SAMPLE) as u64;
            let take = samples.min(narration_end - position);
            let mut chunk = if take < samples {
                chunk
                    .copy_region(
                        gst::BufferCopyFlags::MEMORY,
                        0..(take as usize * BYTES_PER_SAMPLE),
                    )
                    .map_err(|e| RenderError::pipeline("narration", e.to_string()))?
            } else {
                chunk
            };
            stamp(&mut chunk, position, take);
            push(chunk)?;
            position += take;
        }
        drop(decoder);
        while position < timing.end_sample() {
            if stopping() {
                return Err(RenderError::Cancelled);
            }
            let samples = SILENCE_CHUNK.min(timing.end_sample() - position);
            let mut silence =
                gst::Buffer::from_mut_slice(vec![0u8; samples as usize * BYTES_PER_SAMPLE]);
            stamp(&mut silence, position, samples);
            push(silence)?;
            position += samples;
        }
        times.narration.record(decoding);
    }
    Ok(times)
}
