//! Chunks in, one MP4 out: the lossless splice of encoded chunks (see
//! [`crate::chunks::encoder`]) and the narration into the final file.
//!
//! ```text
//! splice:  per chunk in turn: filesrc ! qtdemux ! appsink ─> appsrc (H.264, re-timed) ─┐
//!                                                                                    ├─ mp4mux
//!          appsrc (F32 48k, pushed by the caller) ! audioconvert ! AAC ! aacparse ───┘ faststart
//! ```
//!
//! Each chunk is an independent H.264 stream, a separate x264 encode without VBV, so the
//! same frames give the same bits (see [`crate::chunks::encoder::ChunkEncoder`]).
//!
//! The splice copies the chunks' compressed samples unchanged and only re-times them, from
//! frame numbers (never by adding rounded nanoseconds). In a chunk, sample `j` (decode order)
//! is decoded at `j / fps` and picture `i` is shown at `(i + d_k) / fps`, where `d_k` is the
//! chunk's reorder delay (x264's B-frame delay, 2 frames at `veryfast`; 0 for a chunk where
//! x264 used no B-frames). With `d` the largest delay of all chunks, a chunk starting at
//! frame `s` of the video gets decode times `(s + j) / fps` and presentation times
//! `(s + i + d) / fps`, in a segment starting at `d / fps`: exactly the timestamps of one
//! encode of the whole video, so mp4mux writes the same tables (an edit list of `d` frames,
//! composition offsets, one sample duration) and every frame is shown once, in order, at
//! `n / fps`. The chunks' decoder configurations (`codec_data`, size) must be identical,
//! which they are for one spec; a chunk that differs, has the wrong frame count, does not
//! start with a key frame or is not evenly timed is an error, never spliced.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crossbeam_channel::{Receiver, Sender};
use gstreamer as gst;
use gstreamer::prelude::*;
use gstreamer_app as gst_app;

use crate::cancel::CancelToken;
use crate::chunks::pipeline::{aac_branch, make};
use crate::error::RenderError;
use crate::plan::spec::RenderSpec;
use crate::plan::timeline::{frame_time_ns, nearest_frame};

/// How often blocked loops look at the cancel flag.
const POLL: gst::ClockTime = gst::ClockTime::from_mseconds(100);
/// Encoded video queued between the chunk reader and the muxer.
const SPLICE_QUEUE_BYTES: u64 = 4 << 20;

/// A chunk to splice: its MP4 file and the frames it must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkFile {
    pub path: PathBuf,
    pub frames: u64,
}

/// Writes `output` (with mp4mux's fast-start scratch data in `faststart_file`) from `chunks`,
/// in order, without re-encoding them, and the narration AAC-encoded: `narration` runs on a
/// thread of its own and pushes 48 kHz stereo F32 buffers with timestamps into the `appsrc`
/// it is given (the stream is ended when it returns `Ok`); it should return once `stopping`
/// says so. `progress` gets the number of frames spliced so far, on this thread, about ten
/// times a second. Returns the video's frame count.
///
/// `output` is written in place: pass a temporary path and move it into place once verified.
/// `cancel` is honoured within a tenth of a second.
pub fn splice<F>(
    spec: &RenderSpec,
    chunks: &[ChunkFile],
    output: &Path,
    faststart_file: &Path,
    narration: F,
    progress: &mut dyn FnMut(u64),
    cancel: &CancelToken,
) -> Result<u64, RenderError>
where
    F: FnOnce(&gst_app::AppSrc, &dyn Fn() -> bool) -> Result<(), RenderError> + Send,
{
    crate::chunks::pipeline::init()?;
    if chunks.is_empty() {
        return Err(RenderError::InvalidSpec(
            "there are no chunks to splice".into(),
        ));
    }
    let total: u64 = chunks.iter().map(|c| c.frames).sum();
    let splicer = SplicePipeline::build(spec, output, faststart_file)?;
    let stop = CancelToken::new();
    let stopping = || stop.is_cancelled() || cancel.is_cancelled();
    let spliced = AtomicU64::new(0);
    let (done_tx, done_rx) = crossbeam_channel::unbounded();

    std::thread::scope(|scope| {
        let _teardown = Teardown {
            stop: &stop,
            pipeline: &splicer.pipeline,
        };
        splicer
            .pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| {
                bus_error(&splicer.pipeline)
                    .unwrap_or_else(|| RenderError::pipeline("splice", "cannot start"))
            })?;
        spawn(scope, "splice-video", &done_tx, || {
            feed_chunks(chunks, spec, &splicer.video, &stopping, &spliced)
        })?;
        let audio = &splicer.audio;
        let stopping = &stopping;
        spawn(scope, "splice-narration", &done_tx, move || {
            narration(audio, stopping)?;
            // A second end of stream is harmless, a missing one would never finish.
            audio
                .end_of_stream()
                .map(|_| ())
                .map_err(|flow| RenderError::pipeline("narration", format!("{flow:?}")))
        })?;
        watch(&splicer.pipeline, &done_rx, &spliced, progress, cancel)
    })?;
    Ok(total)
}

/// The splice graph. Dropping it sets it to `Null`.
struct SplicePipeline {
    pipeline: gst::Pipeline,
    video: gst_app::AppSrc,
    audio: gst_app::AppSrc,
}

impl Drop for SplicePipeline {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

impl SplicePipeline {
    fn build(
        spec: &RenderSpec,
        output: &Path,
        faststart_file: &Path,
    ) -> Result<SplicePipeline, RenderError> {
        // The caps and the segment come with each sample, from the chunks.
        let video = gst_app::AppSrc::builder()
            .name("chunks")
            .format(gst::Format::Time)
            .is_live(false)
            .block(true)
            .max_bytes(SPLICE_QUEUE_BYTES)
            .build();
        // Sends each sample's segment downstream (needs GStreamer 1.18; no typed setter here).
        video.set_property("handle-segment-change", true);
        let (audio, [audioconvert, aac, aacparse]) = aac_branch(spec.encoder.audio_bitrate)?;
        let mux = make("mp4mux", "mp4mux")?;
        mux.set_property("faststart", true);
        mux.set_property("faststart-file", faststart_file.to_string_lossy().as_ref());
        let sink = make("filesink", "filesink")?;
        sink.set_property("location", output.to_string_lossy().as_ref());

        let pipeline = gst::Pipeline::with_name("storyflow-splice");
        let link_error = |e: gst::glib::BoolError| RenderError::pipeline("splice", e.to_string());
        pipeline
            .add_many([
                video.upcast_ref(),
                audio.upcast_ref(),
                &audioconvert,
                &aac,
                &aacparse,
                &mux,
                &sink,
            ])
            .map_err(link_error)?;
        // The video appsrc has no caps of its own yet: ask for mp4mux's pads by name.
        link_to_request_pad(video.upcast_ref(), &mux, "video_%u")?;
        gst::Element::link_many([audio.upcast_ref(), &audioconvert, &aac, &aacparse])
            .map_err(link_error)?;
        link_to_request_pad(&aacparse, &mux, "audio_%u")?;
        mux.link(&sink).map_err(link_error)?;
        Ok(SplicePipeline {
            pipeline,
            video,
            audio,
        })
    }
}

fn link_to_request_pad(
    src: &gst::Element,
    mux: &gst::Element,
    template: &str,
) -> Result<(), RenderError> {
    let fail = |message: String| RenderError::pipeline("mp4mux", message);
    let sink = mux
        .request_pad_simple(template)
        .ok_or_else(|| fail(format!("has no {template} pad")))?;
    let pad = src
        .static_pad("src")
        .ok_or_else(|| fail(format!("{} has no src pad", src.name())))?;
    pad.link(&sink)
        .map(|_| ())
        .map_err(|e| fail(format!("cannot link {}: {e:?}", src.name())))
}

/// Reads the chunks in turn and pushes their samples, re-timed, into the splice's `appsrc`.
fn feed_chunks(
    chunks: &[ChunkFile],
    spec: &RenderSpec,
    video: &gst_app::AppSrc,
    stopping: &dyn Fn() -> bool,
    spliced: &AtomicU64,
) -> Result<(), RenderError> {
    let fps = spec.fps;
    // x264 reorders frames only where it uses B-frames, so a chunk without them has no delay:
    // the video's delay is the largest, which keeps every sample's decode time before its
    // presentation time.
    let mut delay = 0;
    for (k, chunk) in chunks.iter().enumerate() {
        let reader = ChunkReader::open(&chunk.path)?;
        let first = reader
            .next(stopping)
            .map_err(|e| chunk_error(k, chunk, e))?
            .ok_or_else(|| chunk_error(k, chunk, "it has no frames"))?;
        delay = delay.max(
            segment_delay(&first, fps)
                .ok_or_else(|| chunk_error(k, chunk, "its samples have no time segment"))?,
        );
    }
    // Running time 0 is the first picture shown, as in a single encode.
    let mut segment = gst::FormattedSegment::<gst::ClockTime>::new();
    segment.set_start(gst::ClockTime::from_nseconds(frame_time_ns(delay, fps)));

    // The first chunk's caps, which every chunk must share.
    let mut reference: Option<gst::Caps> = None;
    let mut start = 0u64;
    for (k, chunk) in chunks.iter().enumerate() {
        let fail = |message: String| chunk_error(k, chunk, message);
        let reader = ChunkReader::open(&chunk.path)?;
        let mut decoded = 0u64;
        while let Some(sample) = reader
            .next(stopping)
            .map_err(|e| chunk_error(k, chunk, e))?
        {
            let mut caps = sample
                .caps_owned()
                .ok_or_else(|| fail("a sample has no caps".into()))?;
            // qtdemux infers the frame rate from the sample durations, so a one-frame chunk
            // has none: every chunk gets the video's.
            if let Some(structure) = caps.make_mut().structure_mut(0) {
                structure.set("framerate", gst::Fraction::new(fps as i32, 1));
            }
            let reference = reference.get_or_insert_with(|| caps.clone());
            if caps != *reference {
                return Err(fail(format!(
                    "its H.264 stream is encoded differently from the first chunk's \
                     ({caps} instead of {reference})"
                )));
            }
            let own_delay = segment_delay(&sample, fps)
                .ok_or_else(|| fail("a sample has no time segment".into()))?;
            let mut buffer = sample
                .buffer_owned()
                .ok_or_else(|| fail("a sample has no buffer".into()))?;
            let dts = buffer.dts().map(|t| nearest_frame(t.nseconds(), fps));
            let pts = buffer.pts().map(|t| nearest_frame(t.nseconds(), fps));
            let (Some(dts), Some(pts)) = (dts, pts) else {
                return Err(fail(format!("sample {decoded} has no timestamps")));
            };
            if dts != decoded {
                return Err(fail(format!(
                    "sample {decoded} is decoded at frame {dts}: the chunk is not evenly timed"
                )));
            }
            let shown = pts
                .checked_sub(own_delay)
                .filter(|&i| i < chunk.frames)
                .ok_or_else(|| {
                    fail(format!(
                        "sample {decoded} is shown at frame {pts}, outside its {} frames",
                        chunk.frames
                    ))
                })?;
            if decoded == 0 && buffer.flags().contains(gst::BufferFlags::DELTA_UNIT) {
                return Err(fail("it does not start with a key frame".into()));
            }
            {
                let buffer = buffer.make_mut();
                let pts_ns = frame_time_ns(start + shown + delay, fps);
                buffer.set_dts(gst::ClockTime::from_nseconds(frame_time_ns(
                    start + decoded,
                    fps,
                )));
                buffer.set_pts(gst::ClockTime::from_nseconds(pts_ns));
                buffer.set_duration(gst::ClockTime::from_nseconds(
                    frame_time_ns(start + shown + delay + 1, fps) - pts_ns,
                ));
                // The spliced stream is continuous: only its very first sample is a start.
                if start > 0 || decoded > 0 {
                    buffer.unset_flags(gst::BufferFlags::DISCONT);
                }
            }
            let sample = gst::Sample::builder()
                .buffer(&buffer)
                .caps(&caps)
                .segment(&segment)
                .build();
            video
                .push_sample(&sample)
                .map_err(|flow| RenderError::pipeline("splice", format!("{flow:?}")))?;
            decoded += 1;
            spliced.store(start + decoded, Ordering::Relaxed);
        }
        if decoded != chunk.frames {
            return Err(fail(format!(
                "it has {decoded} frames, {} expected",
                chunk.frames
            )));
        }
        start += chunk.frames;
    }
    video
        .end_of_stream()
        .map(|_| ())
        .map_err(|flow| RenderError::pipeline("splice", format!("{flow:?}")))
}

/// A chunk's reorder delay in frames: its first picture's presentation time (the start of
/// qtdemux's segment, from the edit list), decode times starting at 0.
fn segment_delay(sample: &gst::Sample, fps: u32) -> Option<u64> {
    let segment = sample.segment()?.downcast_ref::<gst::ClockTime>()?;
    Some(nearest_frame(segment.start()?.nseconds(), fps))
}

/// An error about chunk `k` (0-based), naming it; a cancel stays a cancel.
fn chunk_error(k: usize, chunk: &ChunkFile, cause: impl ToString) -> RenderError {
    let message = cause.to_string();
    if message == RenderError::Cancelled.to_string() {
        return RenderError::Cancelled;
    }
    RenderError::pipeline(
        "splice",
        format!("chunk {} ({}): {message}", k + 1, chunk.path.display()),
    )
}

/// One chunk file, demuxed: `filesrc ! qtdemux ! appsink`. Dropping it sets it to `Null`.
pub(crate) struct ChunkReader {
    pipeline: gst::Pipeline,
    sink: gst_app::AppSink,
}

impl Drop for ChunkReader {
    fn drop(&mut self) {
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

impl ChunkReader {
    pub(crate) fn open(path: &Path) -> Result<ChunkReader, RenderError> {
        if !path.is_file() {
            return Err(RenderError::MissingFile {
                segment: None,
                path: path.to_path_buf(),
            });
        }
        let source = make("filesrc", "filesrc")?;
        source.set_property("location", path.to_string_lossy().as_ref());
        let demux = make("qtdemux", "qtdemux")?;
        let sink = gst_app::AppSink::builder()
            .name("samples")
            .sync(false)
            .max_buffers(8)
            .build();
        let pipeline = gst::Pipeline::with_name("storyflow-chunk-reader");
        let link_error = |e: gst::glib::BoolError| RenderError::pipeline("qtdemux", e.to_string());
        pipeline
            .add_many([&source, &demux, sink.upcast_ref()])
            .map_err(link_error)?;
        source.link(&demux).map_err(link_error)?;
        let sink_pad = sink
            .static_pad("sink")
            .ok_or_else(|| RenderError::pipeline("appsink", "has no sink pad"))?;
        demux.connect_pad_added(move |_, pad| {
            if pad.name().starts_with("video") && !sink_pad.is_linked() {
                if let Err(e) = pad.link(&sink_pad) {
                    log::warn!("splice: cannot link {}: {e:?}", pad.name());
                }
            }
        });
        let reader = ChunkReader { pipeline, sink };
        reader
            .pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| {
                bus_error(&reader.pipeline)
                    .unwrap_or_else(|| RenderError::pipeline("qtdemux", "cannot read the chunk"))
            })?;
        Ok(reader)
    }

    /// The next sample, `None` at the end.
    pub(crate) fn next(
        &self,
        stopping: &dyn Fn() -> bool,
    ) -> Result<Option<gst::Sample>, RenderError> {
        loop {
            if stopping() {
                return Err(RenderError::Cancelled);
            }
            if let Some(err) = bus_error(&self.pipeline) {
                return Err(err);
            }
            if let Some(sample) = self.sink.try_pull_sample(POLL) {
                return Ok(Some(sample));
            }
            if self.sink.is_eos() {
                return Ok(None);
            }
        }
    }
}

/// On every way out of the splice (errors and panics included): tell the threads to stop and
/// set the pipeline to `Null`, which also unblocks any `appsrc` push, so the scope can join.
struct Teardown<'a> {
    stop: &'a CancelToken,
    pipeline: &'a gst::Pipeline,
}

impl Drop for Teardown<'_> {
    fn drop(&mut self) {
        self.stop.cancel();
        let _ = self.pipeline.set_state(gst::State::Null);
    }
}

type Done = (&'static str, Result<(), RenderError>);

fn spawn<'scope, F>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    name: &'static str,
    done: &Sender<Done>,
    work: F,
) -> Result<(), RenderError>
where
    F: FnOnce() -> Result<(), RenderError> + Send + 'scope,
{
    let done = done.clone();
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn_scoped(scope, move || {
            let _ = done.send((name, work()));
        })
        .map(|_| ())
        .map_err(|e| RenderError::pipeline(name, format!("cannot start the thread: {e}")))
}

/// The bus loop of the splice: returns at end of stream, on the first error, or on cancel.
fn watch(
    pipeline: &gst::Pipeline,
    done: &Receiver<Done>,
    spliced: &AtomicU64,
    progress: &mut dyn FnMut(u64),
    cancel: &CancelToken,
) -> Result<(), RenderError> {
    let bus = pipeline
        .bus()
        .ok_or_else(|| RenderError::pipeline("splice", "has no bus"))?;
    loop {
        if cancel.is_cancelled() {
            return Err(RenderError::Cancelled);
        }
        while let Ok((name, result)) = done.try_recv() {
            match result {
                Ok(()) | Err(RenderError::Cancelled) => {}
                // A refused push is explained by the element that failed, if one did.
                Err(err) => {
                    log::debug!("{name} stopped: {err}");
                    return Err(bus_error(pipeline).unwrap_or(err));
                }
            }
        }
        if let Some(message) = bus.timed_pop(POLL) {
            match message.view() {
                gst::MessageView::Eos(_) => {
                    progress(spliced.load(Ordering::Relaxed));
                    return Ok(());
                }
                gst::MessageView::Error(err) => return Err(pipeline_error(err)),
                gst::MessageView::Warning(warning) => {
                    log::warn!("GStreamer: {} ({:?})", warning.error(), warning.debug());
                }
                _ => {}
            }
        }
        progress(spliced.load(Ordering::Relaxed));
    }
}

pub(crate) fn pipeline_error(err: &gst::message::Error) -> RenderError {
    RenderError::Pipeline {
        element: err
            .src()
            .map_or_else(|| "pipeline".to_string(), |s| s.name().to_string()),
        message: err.error().to_string(),
        debug: err.debug().map(|d| d.to_string()),
    }
}

pub(crate) fn bus_error(pipeline: &gst::Pipeline) -> Option<RenderError> {
    let message = pipeline.bus()?.pop_filtered(&[gst::MessageType::Error])?;
    match message.view() {
        gst::MessageView::Error(err) => Some(pipeline_error(err)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use std::ops::Range;

    use gstreamer_video as gst_video;

    use super::*;
    use crate::chunks::encoder::ChunkEncoder;
    use crate::chunks::pipeline::frame_info;
    use crate::chunks::verify::{verify, Expected};
    use crate::plan::spec::EncoderSettings;

    const W: u32 = 160;
    const H: u32 = 90;
    const FPS: u32 = 15;
    /// Audio samples per video frame at 15 fps.
    const SAMPLES_PER_FRAME: u64 = 48_000 / FPS as u64;

    fn spec(quantizer: u32) -> RenderSpec {
        RenderSpec {
            width: W,
            height: H,
            fps: FPS,
            // A key frame every second: chunks have several GOPs.
            encoder: EncoderSettings {
                quantizer,
                keyframe_seconds: 1.0,
                ..EncoderSettings::default()
            },
            ..RenderSpec::default()
        }
    }

    /// Frame `i` of a deterministic moving picture: diagonal luma ramps, chroma stripes,
    /// moving about a pixel per frame like a Ken Burns shot. (Ramps jumping 7 pixels a frame
    /// made one x264 thread give different bits now and then, measured here: keep motion
    /// realistic.)
    fn frame_bytes(info: &gst_video::VideoInfo, i: u64) -> Vec<u8> {
        let mut data = vec![0u8; info.size()];
        let (w, h) = (info.width() as usize, info.height() as usize);
        let i = i as usize;
        for plane in 0..3 {
            let (pw, ph) = match plane {
                0 => (w, h),
                _ => (w.div_ceil(2), h.div_ceil(2)),
            };
            let (offset, stride) = (info.offset()[plane], info.stride()[plane] as usize);
            for y in 0..ph {
                for x in 0..pw {
                    data[offset + y * stride + x] = match plane {
                        0 => ((x * 3 + y * 2 + i) % 220 + 16) as u8,
                        1 => ((x * 5 + i) % 200 + 28) as u8,
                        _ => ((y * 4 + i) % 200 + 28) as u8,
                    };
                }
            }
        }
        data
    }

    fn encode(spec: &RenderSpec, frames: Range<u64>, path: &Path) -> ChunkFile {
        let mut encoder = ChunkEncoder::start(spec, path, &CancelToken::new()).unwrap();
        let info = encoder.frame_info().clone();
        for i in frames.clone() {
            encoder
                .push(gst::Buffer::from_mut_slice(frame_bytes(&info, i)))
                .unwrap();
        }
        assert_eq!(encoder.finish().unwrap(), frames.end - frames.start);
        ChunkFile {
            path: path.to_path_buf(),
            frames: frames.end - frames.start,
        }
    }

    fn encode_chunks(spec: &RenderSpec, cuts: &[u64], dir: &Path) -> Vec<ChunkFile> {
        cuts.windows(2)
            .enumerate()
            .map(|(k, w)| encode(spec, w[0]..w[1], &dir.join(format!("chunk{k}.mp4"))))
            .collect()
    }

    fn narration_samples(frames: u64) -> u64 {
        frames * SAMPLES_PER_FRAME
    }

    /// A 440 Hz tone of `samples` stereo samples, pushed as the renderer pushes narration.
    fn tone(
        samples: u64,
    ) -> impl FnOnce(&gst_app::AppSrc, &dyn Fn() -> bool) -> Result<(), RenderError> + Send {
        move |audio, stopping| {
            tone_without_end(samples)(audio, stopping)?;
            audio
                .end_of_stream()
                .map(|_| ())
                .map_err(|flow| RenderError::pipeline("tone", format!("{flow:?}")))
        }
    }

    fn tone_without_end(
        samples: u64,
    ) -> impl FnOnce(&gst_app::AppSrc, &dyn Fn() -> bool) -> Result<(), RenderError> + Send {
        move |audio, stopping| {
            let refused = |flow: gst::FlowError| RenderError::pipeline("tone", format!("{flow:?}"));
            let time = |s: u64| gst::ClockTime::from_nseconds(s * 1_000_000_000 / 48_000);
            let mut position = 0;
            while position < samples {
                if stopping() {
                    return Err(RenderError::Cancelled);
                }
                let n = 4800.min(samples - position);
                let mut bytes = Vec::with_capacity(n as usize * 8);
                for s in position..position + n {
                    let phase = 2.0 * std::f64::consts::PI * 440.0 * s as f64 / 48_000.0;
                    let value = (0.5 * phase.sin()) as f32;
                    bytes.extend(value.to_le_bytes());
                    bytes.extend(value.to_le_bytes());
                }
                let mut buffer = gst::Buffer::from_mut_slice(bytes);
                {
                    let buffer = buffer.get_mut().unwrap();
                    buffer.set_pts(time(position));
                    buffer.set_duration(time(position + n) - time(position));
                }
                audio.push_buffer(buffer).map_err(refused)?;
                position += n;
            }
            Ok(())
        }
    }

    fn splice_into(spec: &RenderSpec, chunks: &[ChunkFile], output: &Path) -> u64 {
        let frames: u64 = chunks.iter().map(|c| c.frames).sum();
        let mut last = 0;
        let spliced = splice(
            spec,
            chunks,
            output,
            &output.with_extension("faststart"),
            tone(narration_samples(frames)),
            &mut |n| last = n,
            &CancelToken::new(),
        )
        .unwrap();
        assert_eq!(last, frames);
        spliced
    }

    /// Video samples of `path`: `(dts, pts, bytes)`, compressed (`decode == false`) or
    /// `(0, pts, I420 bytes)` decoded.
    fn video_of(path: &Path, decode: bool) -> Vec<(u64, u64, Vec<u8>)> {
        crate::chunks::pipeline::init().unwrap();
        let pipeline = gst::Pipeline::new();
        let sink = gst_app::AppSink::builder().sync(false).build();
        let convert = make("videoconvert", "convert").unwrap();
        let filter = make("capsfilter", "filter").unwrap();
        filter.set_property(
            "caps",
            gst::Caps::builder("video/x-raw")
                .field("format", "I420")
                .build(),
        );
        let source = match decode {
            true => {
                let source = make("uridecodebin", "source").unwrap();
                source.set_property("uri", crate::chunks::pipeline::file_uri(path).unwrap());
                pipeline
                    .add_many([&source, &convert, &filter, sink.upcast_ref()])
                    .unwrap();
                gst::Element::link_many([&convert, &filter, sink.upcast_ref()]).unwrap();
                source
            }
            false => {
                let file = make("filesrc", "file").unwrap();
                file.set_property("location", path.to_str().unwrap());
                let demux = make("qtdemux", "source").unwrap();
                pipeline
                    .add_many([&file, &demux, sink.upcast_ref()])
                    .unwrap();
                file.link(&demux).unwrap();
                demux
            }
        };
        let video_in = match decode {
            true => convert.static_pad("sink").unwrap(),
            false => sink.static_pad("sink").unwrap(),
        };
        let bin = pipeline.clone();
        source.connect_pad_added(move |_, pad| {
            let caps = pad.current_caps().unwrap_or_else(|| pad.query_caps(None));
            let name = caps.structure(0).unwrap().name().to_string();
            if name.starts_with("video") {
                pad.link(&video_in).unwrap();
            } else {
                let fake = make("fakesink", &format!("fake-{}", pad.name())).unwrap();
                fake.set_property("sync", false);
                bin.add(&fake).unwrap();
                fake.sync_state_with_parent().unwrap();
                pad.link(&fake.static_pad("sink").unwrap()).unwrap();
            }
        });
        pipeline.set_state(gst::State::Playing).unwrap();
        let mut out = Vec::new();
        loop {
            match sink.try_pull_sample(gst::ClockTime::from_seconds(10)) {
                Some(sample) => {
                    let buffer = sample.buffer().unwrap();
                    out.push((
                        buffer.dts().map_or(0, |t| t.nseconds()),
                        buffer.pts().unwrap().nseconds(),
                        buffer.map_readable().unwrap().to_vec(),
                    ));
                }
                None => {
                    assert!(sink.is_eos(), "{:?}", bus_error(&pipeline));
                    break;
                }
            }
        }
        pipeline.set_state(gst::State::Null).unwrap();
        out
    }

    fn decoded(path: &Path) -> Vec<Vec<u8>> {
        video_of(path, true)
            .into_iter()
            .map(|(_, _, f)| f)
            .collect()
    }

    fn assert_same_frames(a: &[Vec<u8>], b: &[Vec<u8>]) {
        assert_eq!(a.len(), b.len(), "frame counts");
        for (i, (x, y)) in a.iter().zip(b).enumerate() {
            assert!(x == y, "frame {i} differs");
        }
    }

    type NestedBox = (usize, String, Vec<u8>);

    /// The top-level boxes of an MP4, and the boxes nested in `moov` (depth, type, and the
    /// content of the timing tables `elst` and `stts`, empty for other boxes).
    fn boxes(path: &Path) -> (Vec<String>, Vec<NestedBox>) {
        fn walk(bytes: &[u8], depth: usize, out: &mut Vec<NestedBox>) {
            let mut at = 0;
            while at + 8 <= bytes.len() {
                let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
                let kind = String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned();
                let body = &bytes[at + 8..at + size];
                let timing = matches!(kind.as_str(), "elst" | "stts");
                out.push((
                    depth,
                    kind.clone(),
                    if timing { body.to_vec() } else { vec![] },
                ));
                let skip = match kind.as_str() {
                    "moov" | "trak" | "mdia" | "minf" | "stbl" | "edts" | "dinf" => Some(0),
                    "stsd" => Some(8),
                    "avc1" => Some(78),
                    "mp4a" => Some(28),
                    _ => None,
                };
                if let Some(skip) = skip {
                    walk(&body[skip..], depth + 1, out);
                }
                at += size;
            }
        }
        let bytes = std::fs::read(path).unwrap();
        let mut top = Vec::new();
        let mut at = 0;
        let mut moov = Vec::new();
        while at + 8 <= bytes.len() {
            let size = u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap()) as usize;
            let kind = String::from_utf8_lossy(&bytes[at + 4..at + 8]).into_owned();
            if kind == "moov" {
                walk(&bytes[at + 8..at + size], 1, &mut moov);
            }
            top.push(kind);
            at += size;
        }
        (top, moov)
    }

    /// The splice copies the chunks' samples without touching them and lays them end to end
    /// on one frame grid: decoded, the video is the chunks' decoded frames, in order.
    #[test]
    fn spliced_chunks_are_the_chunks_frame_for_frame() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(20);
        // A one-frame chunk (a one-frame crossfade) between two that are not whole GOPs.
        let chunks = encode_chunks(&spec, &[0, 13, 14, 40], dir.path());
        let output = dir.path().join("out.mp4");
        assert_eq!(splice_into(&spec, &chunks, &output), 40);

        let mut from_chunks = Vec::new();
        let mut samples = Vec::new();
        for chunk in &chunks {
            from_chunks.extend(decoded(&chunk.path));
            samples.extend(video_of(&chunk.path, false).into_iter().map(|s| s.2));
        }
        let spliced = video_of(&output, true);
        let frames: Vec<Vec<u8>> = spliced.iter().map(|s| s.2.clone()).collect();
        assert_same_frames(&frames, &from_chunks);
        // Shown at exact, evenly spaced frame times. Times are in the file's media time,
        // which starts x264's reorder delay (2 frames at `veryfast`) before the first picture;
        // the edit list maps that picture to time 0.
        let shown: Vec<u64> = spliced.iter().map(|s| s.1).collect();
        let grid =
            |delay: u64| -> Vec<u64> { (0..40).map(|i| frame_time_ns(i + delay, FPS)).collect() };
        assert_eq!(shown, grid(2));

        // The compressed samples are the chunks' own (no re-encode), decoded on the grid.
        let compressed = video_of(&output, false);
        assert!(compressed.iter().map(|s| &s.2).eq(samples.iter()));
        let decode_times: Vec<u64> = compressed.iter().map(|s| s.0).collect();
        assert_eq!(decode_times, grid(0));

        // A file the renderer's own check accepts: one H.264 and one AAC stream, 2.67 s.
        let duration = verify(
            &output,
            &Expected {
                width: W,
                height: H,
                fps: FPS,
                duration: 40.0 / f64::from(FPS),
            },
        )
        .unwrap();
        assert!((duration - 40.0 / 15.0).abs() < 1.0 / 15.0, "{duration}");
        let (top, _) = boxes(&output);
        let at = |kind: &str| top.iter().position(|k| k == kind).unwrap();
        assert!(at("moov") < at("mdat"), "fast start: {top:?}");
    }

    /// With lossless coding (quantizer 0) decoded frames are the source frames, so one chunk
    /// and three spliced chunks must decode to the same frames: no frame is lost, repeated
    /// or reordered at the joins.
    #[test]
    fn lossless_chunks_splice_back_into_the_source() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(0);
        let (whole, parts) = (dir.path().join("whole"), dir.path().join("parts"));
        std::fs::create_dir_all(&whole).unwrap();
        std::fs::create_dir_all(&parts).unwrap();
        let whole = encode_chunks(&spec, &[0, 24], &whole);
        let parts = encode_chunks(&spec, &[0, 7, 8, 24], &parts);
        let (one, three) = (dir.path().join("one.mp4"), dir.path().join("three.mp4"));
        splice_into(&spec, &whole, &one);
        splice_into(&spec, &parts, &three);

        let info = frame_info(&spec).unwrap();
        let source: Vec<Vec<u8>> = (0..24).map(|i| frame_bytes(&info, i)).collect();
        assert_same_frames(&decoded(&one), &source);
        assert_same_frames(&decoded(&three), &source);
    }

    #[test]
    fn chunks_of_any_length_read_back() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(20);
        // One frame, fewer frames than x264's reorder delay, several key-frame intervals.
        for frames in [1, 2, 3, 5, 8, 16, 31] {
            encode(&spec, 0..frames, &dir.path().join(format!("c{frames}.mp4")));
        }
    }

    #[test]
    fn a_chunk_encodes_to_the_same_bits_every_time() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(20);
        let a = encode(&spec, 5..30, &dir.path().join("a.mp4"));
        // Again after other encodes in this process, and twice at the same time: x264 keeps
        // no state between encodes, and encodes side by side do not meet.
        encode(&spec, 0..12, &dir.path().join("other.mp4"));
        let (b, c) = std::thread::scope(|scope| {
            let b = scope.spawn(|| encode(&spec, 5..30, &dir.path().join("b.mp4")));
            let c = encode(&spec, 5..30, &dir.path().join("c.mp4"));
            (b.join().unwrap(), c)
        });
        let samples = |c: &ChunkFile| video_of(&c.path, false);
        assert!(samples(&a) == samples(&b), "the encodes differ");
        assert!(
            samples(&a) == samples(&c),
            "the encodes side by side differ"
        );
        assert_same_frames(&decoded(&a.path), &decoded(&b.path));
    }

    #[test]
    fn bad_chunks_are_never_spliced() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(20);
        let good = encode(&spec, 0..6, &dir.path().join("good.mp4"));
        let attempt = |chunks: &[ChunkFile]| {
            let output = dir.path().join("out.mp4");
            splice(
                &spec,
                chunks,
                &output,
                &dir.path().join("out.faststart"),
                tone(narration_samples(chunks.iter().map(|c| c.frames).sum())),
                &mut |_| {},
                &CancelToken::new(),
            )
            .unwrap_err()
            .to_string()
        };

        let mut bigger = spec.clone();
        bigger.width = 176;
        bigger.height = 96;
        let other = encode(&bigger, 6..12, &dir.path().join("other.mp4"));
        let message = attempt(&[good.clone(), other]);
        assert!(
            message.contains("chunk 2") && message.contains("encoded differently"),
            "{message}"
        );

        let wrong_count = ChunkFile {
            frames: 7,
            ..good.clone()
        };
        let message = attempt(&[good.clone(), wrong_count]);
        assert!(message.contains("it has 6 frames, 7 expected"), "{message}");

        let truncated = dir.path().join("truncated.mp4");
        let bytes = std::fs::read(&good.path).unwrap();
        std::fs::write(&truncated, &bytes[..bytes.len() / 2]).unwrap();
        let message = attempt(&[
            good.clone(),
            ChunkFile {
                path: truncated,
                frames: 6,
            },
        ]);
        assert!(message.contains("chunk 2"), "{message}");

        let message = attempt(&[ChunkFile {
            path: dir.path().join("missing.mp4"),
            frames: 6,
        }]);
        assert!(message.contains("missing.mp4"), "{message}");
        assert!(attempt(&[]).contains("no chunks"));
    }

    /// The flow a render will follow: encode each chunk into the cache, splice what the cache
    /// returns. A second splice, from cache hits alone, gives the same frames as the first.
    #[test]
    fn chunks_from_the_cache_splice_like_fresh_ones() {
        use crate::chunks::chunk_cache::{ChunkCache, DEFAULT_MAX_BYTES};
        use crate::plan::chunk_plan::ChunkKey;
        use std::collections::HashSet;

        let dir = tempfile::tempdir().unwrap();
        let spec = spec(20);
        let cache = ChunkCache::open(dir.path().join("cache"), DEFAULT_MAX_BYTES).unwrap();
        let ranges = [0..9, 9..10, 10..30];
        let keys: Vec<ChunkKey> = ranges
            .iter()
            .map(|r| ChunkKey::of_bytes(format!("{r:?}").as_bytes()))
            .collect();
        let in_use: HashSet<ChunkKey> = keys.iter().cloned().collect();
        let mut fresh = Vec::new();
        for (key, range) in keys.iter().zip(&ranges) {
            assert_eq!(cache.get(key), None);
            let temp = cache.temp_path(key).unwrap();
            let chunk = encode(&spec, range.clone(), &temp);
            let cached = cache.insert(key, &temp, chunk.frames, &in_use).unwrap();
            fresh.push(ChunkFile {
                path: cached.path,
                frames: cached.frames,
            });
        }
        let first = dir.path().join("first.mp4");
        splice_into(&spec, &fresh, &first);

        let hits: Vec<ChunkFile> = keys
            .iter()
            .map(|key| {
                let hit = cache.get(key).unwrap();
                ChunkFile {
                    path: hit.path,
                    frames: hit.frames,
                }
            })
            .collect();
        let second = dir.path().join("second.mp4");
        splice_into(&spec, &hits, &second);
        let (a, b) = (video_of(&first, true), video_of(&second, true));
        assert_eq!(a.len(), 30);
        assert_eq!(a, b);
    }

    #[test]
    fn the_narration_is_ended_for_the_caller() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(20);
        let chunks = encode_chunks(&spec, &[0, 6], dir.path());
        let output = dir.path().join("out.mp4");
        let frames = splice(
            &spec,
            &chunks,
            &output,
            &dir.path().join("out.faststart"),
            tone_without_end(narration_samples(6)),
            &mut |_| {},
            &CancelToken::new(),
        )
        .unwrap();
        assert_eq!(frames, 6);
        assert_eq!(video_of(&output, true).len(), 6);
    }

    #[test]
    fn cancelling_stops_encoding_and_splicing() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(20);
        let good = encode(&spec, 0..6, &dir.path().join("good.mp4"));
        let cancel = CancelToken::new();
        let mut encoder = ChunkEncoder::start(&spec, &dir.path().join("c.mp4"), &cancel).unwrap();
        let info = encoder.frame_info().clone();
        encoder
            .push(gst::Buffer::from_mut_slice(frame_bytes(&info, 0)))
            .unwrap();
        cancel.cancel();
        assert!(matches!(
            encoder.push(gst::Buffer::from_mut_slice(frame_bytes(&info, 1))),
            Err(RenderError::Cancelled)
        ));
        assert!(matches!(encoder.finish(), Err(RenderError::Cancelled)));
        let result = splice(
            &spec,
            &[good],
            &dir.path().join("out.mp4"),
            &dir.path().join("out.faststart"),
            tone(narration_samples(6)),
            &mut |_| {},
            &cancel,
        );
        assert!(matches!(result, Err(RenderError::Cancelled)));
    }
}
