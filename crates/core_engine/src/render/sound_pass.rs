//! The splice's sound pass: the track (narrations at their places, silence in the gaps,
//! music under them, see [`crate::sound::track`]) streamed in fixed-size blocks into the
//! splice's audio `appsrc` with sample-exact timestamps. With a loudness target it is made
//! twice: pass 1 measures its integrated loudness (nothing is pushed), pass 2 makes it again,
//! applies the gain to the target and the true-peak limiter, and pushes it; decoding twice
//! costs less than keeping a track as long as the video. Without one, the track is pushed as
//! mixed, in one pass.

use std::path::Path;
use std::time::Instant;

use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::cancel::CancelToken;
use crate::error::RenderError;
use crate::plan::spec::RenderSpec;
use crate::plan::timeline::{Timeline, SAMPLE_RATE};
use crate::sound::loudness::{gain_to_target, Limiter, Meter, LIMITER_CEILING_DBTP};
use crate::sound::music::Music;
use crate::sound::track::Track;
use crate::stats::RenderStats;

/// Pushes the sound track of `spec` into `audio`, finished to its loudness target if it has
/// one (see the module docs). `music_length` is the music's length in samples when the spec has music
/// ([`Music::length_of`], checked before the video is encoded). Returns the decoding and
/// sound pass times (the pushes wait for the muxer).
pub(super) fn push_sound(
    spec: &RenderSpec,
    timeline: &Timeline,
    music_length: Option<u64>,
    audio: &gst_app::AppSrc,
    stopping: &dyn Fn() -> bool,
) -> Result<RenderStats, RenderError> {
    let sound = &spec.sound;
    let mut times = RenderStats::default();
    let started = Instant::now();
    let gain = match sound.loudness_target_lufs {
        Some(target) => {
            let mut meter = Meter::new(false)?;
            let mut track = Track::open(spec, timeline, music_length, stopping)?;
            let mut block = Vec::new();
            while track.next_block(&mut block, stopping)?.is_some() {
                meter.add(&block)?;
            }
            let measured = meter.integrated_lufs()?;
            let gain = gain_to_target(measured, target);
            log::debug!(
                "sound track measured {measured:.2} LUFS in {:.2?}; gain {:+.2} dB to {target} LUFS",
                started.elapsed(),
                20.0 * gain.log10()
            );
            Some(gain as f32)
        }
        None => None,
    };
    let mut working = started.elapsed();
    let mut track = Track::open(spec, timeline, music_length, stopping)?;
    let mut finish = gain.map(|gain| (gain, Limiter::new(LIMITER_CEILING_DBTP)));
    let (mut block, mut finished) = (Vec::new(), Vec::new());
    let mut position = 0u64;
    loop {
        let started = Instant::now();
        let more = track.next_block(&mut block, stopping)?.is_some();
        finished.clear();
        match &mut finish {
            Some((gain, limiter)) if more => {
                block.iter_mut().for_each(|sample| *sample *= *gain);
                limiter.process(&block, &mut finished);
            }
            Some((_, limiter)) => limiter.finish(&mut finished),
            None => std::mem::swap(&mut block, &mut finished),
        }
        let samples = (finished.len() / 2) as u64;
        if samples > 0 {
            let bytes: Vec<u8> = finished.iter().flat_map(|s| s.to_le_bytes()).collect();
            let mut buffer = gst::Buffer::from_mut_slice(bytes);
            stamp(timeline, &mut buffer, position, samples);
            working += started.elapsed();
            push(audio, buffer)?;
            position += samples;
        } else {
            working += started.elapsed();
        }
        if !more {
            break;
        }
    }
    times.sound.record(working);
    times.narration = track.narration;
    Ok(times)
}

fn push(audio: &gst_app::AppSrc, buffer: gst::Buffer) -> Result<(), RenderError> {
    audio
        .push_buffer(buffer)
        .map(|_| ())
        .map_err(|flow| RenderError::pipeline("narration", format!("{flow:?}")))
}

/// Gives `buffer` the timestamps of `samples` samples from `start` on.
fn stamp(timeline: &Timeline, buffer: &mut gst::Buffer, start: u64, samples: u64) {
    // Copies only the buffer's header if someone else still holds it.
    let buffer = buffer.make_mut();
    let pts = timeline.sample_time_ns(start);
    buffer.set_pts(gst::ClockTime::from_nseconds(pts));
    buffer.set_duration(gst::ClockTime::from_nseconds(
        timeline.sample_time_ns(start + samples) - pts,
    ));
    buffer.set_offset(start);
    buffer.set_offset_end(start + samples);
}

/// The sound pass alone, as a render runs it (narrations, music, loudness), AAC-encoded into
/// the audio-only MP4 `output`; for `storyflow bench --sound`, which measures its time and
/// memory on long timelines without drawing a frame. Returns the pass's times.
pub fn render_sound(
    spec: &RenderSpec,
    output: &Path,
    cancel: &CancelToken,
) -> Result<RenderStats, RenderError> {
    spec.validate()?;
    crate::chunks::pipeline::init()?;
    let stop = || cancel.is_cancelled();
    let lengths = spec
        .segments
        .iter()
        .enumerate()
        .map(|(i, segment)| crate::sound::audio::count_samples(&segment.audio, Some(i + 1), &stop))
        .collect::<Result<Vec<u64>, RenderError>>()?;
    let timeline = Timeline::new(spec.fps, SAMPLE_RATE, spec.inter_segment_silence, &lengths);
    let music_length = spec
        .sound
        .music
        .as_ref()
        .map(|music| Music::length_of(&music.path, &stop))
        .transpose()?;

    let make = crate::chunks::pipeline::make;
    let (audio, [convert, aac, parse]) =
        crate::chunks::pipeline::aac_branch(spec.encoder.audio_bitrate)?;
    let mux = make("mp4mux", "mp4mux")?;
    let sink = make("filesink", "filesink")?;
    sink.set_property("location", output.to_string_lossy().as_ref());
    let pipeline = gst::Pipeline::with_name("storyflow-sound");
    let link_error = |e: gst::glib::BoolError| RenderError::pipeline("sound", e.to_string());
    pipeline
        .add_many([audio.upcast_ref(), &convert, &aac, &parse, &mux, &sink])
        .map_err(link_error)?;
    gst::Element::link_many([audio.upcast_ref(), &convert, &aac, &parse, &mux, &sink])
        .map_err(link_error)?;
    let bus = pipeline
        .bus()
        .ok_or_else(|| RenderError::pipeline("sound", "the pipeline has no bus"))?;
    let bus_error = || crate::chunks::splice::bus_error(&pipeline);
    let result = (|| {
        pipeline.set_state(gst::State::Playing).map_err(|_| {
            bus_error().unwrap_or_else(|| RenderError::pipeline("sound", "cannot start"))
        })?;
        let times = push_sound(spec, &timeline, music_length, &audio, &stop)
            .map_err(|err| bus_error().unwrap_or(err))?;
        audio
            .end_of_stream()
            .map_err(|flow| RenderError::pipeline("sound", format!("{flow:?}")))?;
        loop {
            if stop() {
                return Err(RenderError::Cancelled);
            }
            let message = bus.timed_pop_filtered(
                gst::ClockTime::from_mseconds(100),
                &[gst::MessageType::Eos, gst::MessageType::Error],
            );
            match message.as_ref().map(|message| message.view()) {
                Some(gst::MessageView::Eos(_)) => return Ok(times),
                Some(gst::MessageView::Error(err)) => {
                    return Err(crate::chunks::splice::pipeline_error(err))
                }
                _ => {}
            }
        }
    })();
    let _ = pipeline.set_state(gst::State::Null);
    result
}
