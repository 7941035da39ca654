//! The render job: analyse the narration, stream frames and sound through the encoder,
//! watch the bus, verify the file and move it into place.
//!
//! Threads (all scoped to one render):
//! - the caller's thread runs the bus loop, reports progress and checks for cancellation;
//! - `pictures` decodes and prepares the next segment's picture while the current one plays;
//! - `frames` draws every frame and pushes it into the video `appsrc`;
//! - `narration` decodes each narration in turn and pushes it, then its silence.
//!
//! GStreamer's own threads (x264's among them) run the encoder on the remaining cores.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, SendTimeoutError, Sender};
use gstreamer as gst;
use gstreamer::prelude::*;

use crate::audio::{self, Decoder, BYTES_PER_SAMPLE};
use crate::compositor::{Compositor, Shot};
use crate::image_source::{self, SourceImage};
use crate::ken_burns::{Camera, Pattern};
use crate::pipeline::EncodePipeline;
use crate::progress::{share, Reporter};
use crate::timeline::{Timeline, SAMPLE_RATE};
use crate::verify::{self, Expected};
use crate::{CancelToken, Progress, RenderError, RenderSpec};

/// Temporary outputs are named `.<final name>.tmp-<pid>-<n>` (plus `.faststart` for the
/// muxer's scratch file) in the destination's folder, so a rename publishes them atomically.
/// A server can delete leftovers of a crashed run with [`is_temporary_output`].
pub const TEMP_OUTPUT_MARKER: &str = ".tmp-";

/// True for files a render writes temporarily (and removes itself unless the process dies).
pub fn is_temporary_output(path: &Path) -> bool {
    path.file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|name| name.starts_with('.') && name.contains(TEMP_OUTPUT_MARKER))
}

/// A finished, verified render.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderOutput {
    pub output_path: PathBuf,
    /// Seconds, as read back from the file.
    pub duration: f64,
    /// Bytes.
    pub file_size: u64,
    /// Video frames.
    pub frames: u64,
    /// Things the user may want to improve (e.g. a small picture enlarged a lot).
    pub warnings: Vec<String>,
}

/// Renders `spec` into the MP4 `output`, atomically: the file appears only once it is
/// complete and verified, and an earlier file at `output` survives any failure.
///
/// `on_progress` is called on this thread at most ten times a second, and once more with
/// 100 % at the end. `cancel` is honoured within a second at any point
/// (`RenderError::Cancelled`).
pub fn render(
    spec: &RenderSpec,
    output: &Path,
    on_progress: &mut dyn FnMut(&Progress),
    cancel: &CancelToken,
) -> Result<RenderOutput, RenderError> {
    spec.validate()?;
    crate::check_elements()?;
    let mut reporter = Reporter::new(on_progress);
    let started = Instant::now();
    let timeline = analyse(spec, &mut reporter, cancel)?;
    log::debug!(
        "analysed {} narrations ({:.2} s of video) in {:.2?}",
        spec.segments.len(),
        timeline.duration_seconds(),
        started.elapsed()
    );
    let temp = TempOutput::new(output)?;
    let warnings = encode(spec, &timeline, &temp, &mut reporter, cancel)?;
    log::debug!(
        "encoded {} frames at {:.2?}",
        timeline.total_frames(),
        started.elapsed()
    );

    let total = spec.segments.len() as u32;
    let frames = timeline.total_frames();
    let status = |phase: &str, percentage: f64| Progress {
        current_segment: total,
        total_segments: total,
        phase: phase.to_string(),
        encoded_frames: frames,
        total_frames: frames,
        percentage,
    };
    reporter.update(status("Verifying", share::FINALISED), Instant::now());
    if cancel.is_cancelled() {
        return Err(RenderError::Cancelled);
    }
    let duration = verify::verify(
        &temp.file,
        &Expected {
            width: spec.width,
            height: spec.height,
            fps: spec.fps,
            duration: timeline.duration_seconds(),
        },
    )?;
    reporter.update(status("Saving", share::VERIFIED), Instant::now());
    let file_size = temp.persist(output)?;
    log::info!(
        "rendered {} ({} frames, {duration:.2} s) in {:.2?}",
        output.display(),
        frames,
        started.elapsed()
    );
    reporter.finish(status("Done", 100.0));
    Ok(RenderOutput {
        output_path: output.to_path_buf(),
        duration,
        file_size,
        frames,
        warnings,
    })
}

/// Decodes every narration once, without keeping it, to learn its exact length, and checks
/// that every picture at least has a readable header.
fn analyse(
    spec: &RenderSpec,
    reporter: &mut Reporter<'_>,
    cancel: &CancelToken,
) -> Result<Timeline, RenderError> {
    let total = spec.segments.len();
    let mut lengths = Vec::with_capacity(total);
    for (i, segment) in spec.segments.iter().enumerate() {
        reporter.update(
            Progress {
                current_segment: i as u32 + 1,
                total_segments: total as u32,
                phase: format!("Analysing narration {}/{total}", i + 1),
                encoded_frames: 0,
                total_frames: 0,
                percentage: share::analysis(i, total),
            },
            Instant::now(),
        );
        image_source::check_header(&segment.image, Some(i + 1))?;
        lengths.push(audio::count_samples(&segment.audio, Some(i + 1), &|| {
            cancel.is_cancelled()
        })?);
    }
    Ok(Timeline::new(
        spec.fps,
        SAMPLE_RATE,
        spec.inter_segment_silence,
        &lengths,
    ))
}

/// How a worker thread ended badly.
enum WorkerError {
    /// A real problem to report (bad picture, bad audio, ...).
    Render(RenderError),
    /// An `appsrc` refused data; the bus says why (unless we are stopping anyway).
    Refused {
        element: &'static str,
        flow: gst::FlowError,
    },
    /// Stopped because the render is being torn down.
    Stopped,
}

impl From<RenderError> for WorkerError {
    fn from(err: RenderError) -> Self {
        match err {
            RenderError::Cancelled => WorkerError::Stopped,
            other => WorkerError::Render(other),
        }
    }
}

type WorkerResult = Result<(), WorkerError>;

/// On every way out of the scope (errors and panics included): tell the workers to stop
/// and set the pipeline to `Null`, which also unblocks any `appsrc` push, so the scope can
/// join them.
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

fn encode(
    spec: &RenderSpec,
    timeline: &Timeline,
    temp: &TempOutput,
    reporter: &mut Reporter<'_>,
    cancel: &CancelToken,
) -> Result<Vec<String>, RenderError> {
    let encoder = EncodePipeline::build(spec, &temp.file, &temp.faststart)?;
    let stop = CancelToken::new();
    let stopping = || stop.is_cancelled() || cancel.is_cancelled();
    let warnings = Mutex::new(Vec::new());
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<WorkerResult>();
    // One picture ready ahead of the one being shown.
    let (pictures_tx, pictures_rx) = crossbeam_channel::bounded(1);

    std::thread::scope(|scope| {
        let _teardown = Teardown {
            stop: &stop,
            pipeline: &encoder.pipeline,
        };
        encoder
            .pipeline
            .set_state(gst::State::Playing)
            .map_err(|_| {
                first_bus_error(&encoder.pipeline)
                    .unwrap_or_else(|| RenderError::pipeline("pipeline", "cannot start encoding"))
            })?;
        spawn_worker(scope, "pictures", &done_tx, || {
            prepare_pictures(spec, timeline, &pictures_tx, &warnings, &stopping)
        })?;
        spawn_worker(scope, "frames", &done_tx, || {
            draw_frames(spec, timeline, &encoder, &pictures_rx, &stopping)
        })?;
        spawn_worker(scope, "narration", &done_tx, || {
            push_narration(spec, timeline, &encoder, &stopping)
        })?;
        watch_bus(spec, timeline, &encoder, &done_rx, reporter, cancel)
    })?;
    Ok(warnings.into_inner().unwrap_or_default())
}

fn spawn_worker<'scope, F>(
    scope: &'scope std::thread::Scope<'scope, '_>,
    name: &str,
    done: &Sender<WorkerResult>,
    work: F,
) -> Result<(), RenderError>
where
    F: FnOnce() -> WorkerResult + Send + 'scope,
{
    let done = done.clone();
    std::thread::Builder::new()
        .name(name.to_string())
        .spawn_scoped(scope, move || {
            let _ = done.send(work());
        })
        .map(|_| ())
        .map_err(|e| RenderError::pipeline(name, format!("cannot start the thread: {e}")))
}

/// The bus loop: returns at end of stream, on the first error, or on cancel.
fn watch_bus(
    spec: &RenderSpec,
    timeline: &Timeline,
    encoder: &EncodePipeline,
    done: &Receiver<WorkerResult>,
    reporter: &mut Reporter<'_>,
    cancel: &CancelToken,
) -> Result<(), RenderError> {
    let bus = encoder
        .pipeline
        .bus()
        .ok_or_else(|| RenderError::pipeline("pipeline", "has no bus"))?;
    let total_frames = timeline.total_frames();
    let total_segments = spec.segments.len() as u32;
    let mut refused: Option<(&'static str, gst::FlowError, Instant)> = None;
    loop {
        if cancel.is_cancelled() {
            return Err(RenderError::Cancelled);
        }
        while let Ok(result) = done.try_recv() {
            match result {
                Ok(()) | Err(WorkerError::Stopped) => {}
                Err(WorkerError::Render(err)) => return Err(err),
                Err(WorkerError::Refused { element, flow }) => {
                    refused.get_or_insert((element, flow, Instant::now()));
                }
            }
        }
        // A refused push is explained by an error message on the bus; give it a moment.
        if let Some((element, flow, since)) = refused {
            if since.elapsed() > Duration::from_secs(1) {
                return Err(RenderError::pipeline(
                    element,
                    format!("stopped accepting data ({flow:?})"),
                ));
            }
        }
        if let Some(message) = bus.timed_pop(gst::ClockTime::from_mseconds(100)) {
            match message.view() {
                gst::MessageView::Eos(_) => return Ok(()),
                gst::MessageView::Error(err) => return Err(pipeline_error(err)),
                gst::MessageView::Warning(warning) => {
                    log::warn!("GStreamer: {} ({:?})", warning.error(), warning.debug());
                }
                _ => {}
            }
        }
        let encoded = encoder
            .encoded_frames
            .load(Ordering::Relaxed)
            .min(total_frames);
        let segment = timeline.segment_of_frame(encoded) as u32 + 1;
        let phase = if encoded < total_frames {
            format!("Rendering segment {segment}/{total_segments}")
        } else {
            "Finalising".to_string()
        };
        reporter.update(
            Progress {
                current_segment: segment,
                total_segments,
                phase,
                encoded_frames: encoded,
                total_frames,
                percentage: share::encoding(encoded, total_frames),
            },
            Instant::now(),
        );
    }
}

fn pipeline_error(err: &gst::message::Error) -> RenderError {
    RenderError::Pipeline {
        element: err
            .src()
            .map_or_else(|| "pipeline".to_string(), |s| s.name().to_string()),
        message: err.error().to_string(),
        debug: err.debug().map(|d| d.to_string()),
    }
}

fn first_bus_error(pipeline: &gst::Pipeline) -> Option<RenderError> {
    let message = pipeline.bus()?.pop_filtered(&[gst::MessageType::Error])?;
    match message.view() {
        gst::MessageView::Error(err) => Some(pipeline_error(err)),
        _ => None,
    }
}

type Picture = Result<(usize, SourceImage), RenderError>;

/// Decodes each segment's picture once, in order, one ahead of the frames being drawn.
fn prepare_pictures(
    spec: &RenderSpec,
    timeline: &Timeline,
    pictures: &Sender<Picture>,
    warnings: &Mutex<Vec<String>>,
    stopping: &dyn Fn() -> bool,
) -> WorkerResult {
    let size = image_source::source_size(spec.width, spec.height, spec.zoom_intensity);
    for (i, (segment, timing)) in spec.segments.iter().zip(timeline.segments()).enumerate() {
        if timing.frames() == 0 {
            continue; // shorter than a frame: its picture is never seen
        }
        if stopping() {
            return Err(WorkerError::Stopped);
        }
        let picture = image_source::load_source(&segment.image, Some(i + 1), size);
        if let Ok(source) = &picture {
            // Enlarging more than twice makes a visibly soft picture.
            if source.upscale > 2.0 {
                let (w, h) = source.original;
                let warning = format!(
                    "segment {}: the picture is only {w}x{h} and was enlarged {:.1}x; \
                     it may look soft",
                    i + 1,
                    source.upscale
                );
                log::debug!("{warning}");
                if let Ok(mut list) = warnings.lock() {
                    list.push(warning);
                }
            }
        }
        let failed = picture.is_err();
        let mut message = picture.map(|source| (i, source));
        loop {
            match pictures.send_timeout(message, Duration::from_millis(100)) {
                Ok(()) => break,
                Err(SendTimeoutError::Timeout(back)) if !stopping() => message = back,
                Err(_) => return Err(WorkerError::Stopped),
            }
        }
        if failed {
            return Ok(()); // the frame thread reports it
        }
    }
    Ok(())
}

/// Draws every frame of every segment and pushes it, with exact timestamps, to the encoder.
fn draw_frames(
    spec: &RenderSpec,
    timeline: &Timeline,
    encoder: &EncodePipeline,
    pictures: &Receiver<Picture>,
    stopping: &dyn Fn() -> bool,
) -> WorkerResult {
    let pool = gst::BufferPool::new();
    let mut config = pool.config();
    config.set_params(Some(&encoder.video_caps), encoder.layout.size as u32, 2, 0);
    pool.set_config(config)
        .and_then(|()| pool.set_active(true))
        .map_err(|e| RenderError::pipeline("frame pool", e.to_string()))?;
    let mut compositor = Compositor::new(encoder.layout.clone());
    let aspect = f64::from(spec.width) / f64::from(spec.height);
    let segments_with_frames = timeline
        .segments()
        .iter()
        .filter(|t| t.frames() > 0)
        .count();
    for _ in 0..segments_with_frames {
        let (i, source) = loop {
            match pictures.recv_timeout(Duration::from_millis(100)) {
                Ok(picture) => break picture?,
                Err(RecvTimeoutError::Timeout) if !stopping() => {}
                Err(_) => return Err(WorkerError::Stopped),
            }
        };
        let timing = timeline.segments()[i];
        let camera = Camera::new(
            Pattern::for_segment(spec.segments[i].index),
            f64::from(source.width),
            f64::from(source.height),
            aspect,
            spec.zoom_intensity,
        );
        for k in 0..timing.frames() {
            if stopping() {
                return Err(WorkerError::Stopped);
            }
            let mut buffer = pool
                .acquire_buffer(None)
                .map_err(|flow| WorkerError::Refused {
                    element: "frame pool",
                    flow,
                })?;
            let frame = timing.start_frame + k;
            {
                let buffer = buffer
                    .get_mut()
                    .ok_or_else(|| RenderError::pipeline("frame pool", "frame is shared"))?;
                let pts = timeline.frame_time_ns(frame);
                buffer.set_pts(gst::ClockTime::from_nseconds(pts));
                buffer.set_duration(gst::ClockTime::from_nseconds(
                    timeline.frame_time_ns(frame + 1) - pts,
                ));
                buffer.set_offset(frame);
                let mut map = buffer
                    .map_writable()
                    .map_err(|e| RenderError::pipeline("frame pool", e.to_string()))?;
                let shot = Shot {
                    source: &source,
                    camera: camera.at(Camera::progress(k, timing.frames())),
                };
                compositor
                    .draw_shot(&shot, &mut map)
                    .map_err(|e| RenderError::pipeline("compositor", e))?;
            }
            encoder
                .video
                .push_buffer(buffer)
                .map_err(|flow| WorkerError::Refused {
                    element: "frames",
                    flow,
                })?;
        }
    }
    let _ = pool.set_active(false);
    encoder
        .video
        .end_of_stream()
        .map(|_| ())
        .map_err(|flow| WorkerError::Refused {
            element: "frames",
            flow,
        })
}

/// Samples of silence pushed per buffer (0.1 s).
const SILENCE_CHUNK: u64 = SAMPLE_RATE as u64 / 10;

/// Decodes each narration in turn and pushes it with sample-exact timestamps, then its gap
/// of silence. The analysed length is authoritative: extra samples are cut, missing ones
/// padded with silence.
fn push_narration(
    spec: &RenderSpec,
    timeline: &Timeline,
    encoder: &EncodePipeline,
    stopping: &dyn Fn() -> bool,
) -> WorkerResult {
    let push = |buffer: gst::Buffer| {
        encoder
            .audio
            .push_buffer(buffer)
            .map(|_| ())
            .map_err(|flow| WorkerError::Refused {
                element: "narration",
                flow,
            })
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
        let mut decoder = Decoder::open(&segment.audio, Some(i + 1))?;
        while position < narration_end {
            let Some(chunk) = decoder.next_chunk(stopping)? else {
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
                return Err(WorkerError::Stopped);
            }
            let samples = SILENCE_CHUNK.min(timing.end_sample() - position);
            let mut silence =
                gst::Buffer::from_mut_slice(vec![0u8; samples as usize * BYTES_PER_SAMPLE]);
            stamp(&mut silence, position, samples);
            push(silence)?;
            position += samples;
        }
    }
    encoder
        .audio
        .end_of_stream()
        .map(|_| ())
        .map_err(|flow| WorkerError::Refused {
            element: "narration",
            flow,
        })
}

/// The temporary output and the muxer's scratch file; both are removed on drop unless the
/// output was moved into place.
struct TempOutput {
    file: PathBuf,
    faststart: PathBuf,
}

impl TempOutput {
    fn new(output: &Path) -> Result<TempOutput, RenderError> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let name = output
            .file_name()
            .ok_or_else(|| {
                RenderError::InvalidSpec(format!("output {} has no file name", output.display()))
            })?
            .to_string_lossy()
            .into_owned();
        let folder = match output.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
            _ => PathBuf::from("."),
        };
        std::fs::create_dir_all(&folder).map_err(|e| RenderError::io(&folder, e))?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let file = folder.join(format!(
            ".{name}{TEMP_OUTPUT_MARKER}{}-{n}",
            std::process::id()
        ));
        let mut faststart = file.clone().into_os_string();
        faststart.push(".faststart");
        Ok(TempOutput {
            file,
            faststart: faststart.into(),
        })
    }

    /// Flushes the file to disk and renames it over `output`; returns its size.
    fn persist(&self, output: &Path) -> Result<u64, RenderError> {
        let file = std::fs::File::open(&self.file).map_err(|e| RenderError::io(&self.file, e))?;
        file.sync_all()
            .map_err(|e| RenderError::io(&self.file, e))?;
        let size = file
            .metadata()
            .map_err(|e| RenderError::io(&self.file, e))?
            .len();
        std::fs::rename(&self.file, output).map_err(|e| RenderError::io(output, e))?;
        Ok(size)
    }
}

impl Drop for TempOutput {
    fn drop(&mut self) {
        for path in [&self.file, &self.faststart] {
            if let Err(e) = std::fs::remove_file(path) {
                if e.kind() != std::io::ErrorKind::NotFound {
                    log::warn!("cannot remove {}: {e}", path.display());
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn temporary_outputs_are_recognisable() {
        let dir = tempfile::tempdir().unwrap();
        let temp = TempOutput::new(&dir.path().join("final.mp4")).unwrap();
        let name = temp.file.file_name().unwrap().to_str().unwrap().to_string();
        assert!(name.starts_with(&format!(".final.mp4.tmp-{}-", std::process::id())));
        assert!(is_temporary_output(&temp.file));
        assert!(is_temporary_output(&temp.faststart));
        assert!(!is_temporary_output(&dir.path().join("final.mp4")));
        assert!(!is_temporary_output(Path::new("/media/.hidden.mp4")));
    }
}
