//! The render job: analyse the narration, stream frames and sound through the encoder,
//! watch the bus, verify the file and move it into place.
//!
//! Threads (all scoped to one render):
//! - the caller's thread runs the bus loop, reports progress and checks for cancellation;
//! - `pictures` decodes and prepares the next segment's picture while the current one plays;
//! - `frames` draws every frame (Ken Burns shots, crossfades, subtitles, logo) and pushes it
//!   into the video `appsrc`;
//! - `narration` decodes each narration in turn and pushes it, then its silence.
//!
//! GStreamer's own threads (x264's among them) run the encoder on the remaining cores.

use std::collections::VecDeque;
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
use crate::logo::prepare_logo;
use crate::overlay::YuvOverlay;
use crate::pipeline::EncodePipeline;
use crate::progress::{share, Reporter};
use crate::sidecar::{self, SubtitleFiles};
use crate::stats::RenderStats;
use crate::subtitles::{cues_for_segment, Cue};
use crate::text_overlay::{SubtitleStyle, TextRenderer};
use crate::timeline::{Timeline, SAMPLE_RATE};
use crate::transition::{FrameContent, Transitions};
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
    /// The `.srt` / `.vtt` sidecars, when the segments have text.
    pub subtitles: Option<SubtitleFiles>,
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
    render_with_stats(spec, output, on_progress, cancel).map(|(output, _)| output)
}

/// [`render`], also returning where the time went (for `storyflow bench`).
pub fn render_with_stats(
    spec: &RenderSpec,
    output: &Path,
    on_progress: &mut dyn FnMut(&Progress),
    cancel: &CancelToken,
) -> Result<(RenderOutput, RenderStats), RenderError> {
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
    let (transitions, mut warnings) = Transitions::plan(&timeline, spec.transition_duration);
    let cues = timeline_cues(spec, &timeline);
    let layers = Layers {
        transitions,
        cues: &cues,
        logo: logo_overlay(spec, &mut warnings),
    };
    let temp = TempOutput::new(output)?;
    let stats = Mutex::new(RenderStats::default());
    warnings.extend(encode(
        spec,
        &timeline,
        &layers,
        &temp,
        &mut reporter,
        cancel,
        &stats,
    )?);
    for warning in &warnings {
        log::warn!("{}: {warning}", output.display());
    }
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
    let staged = match cues.is_empty() {
        true => None,
        false => Some(sidecar::Staged::write(output, &cues)?),
    };
    let file_size = temp.persist(output)?;
    let subtitles = match staged {
        Some(staged) => Some(staged.publish()?),
        None => {
            sidecar::remove_stale(output)?;
            None
        }
    };
    log::info!(
        "rendered {} ({} frames, {duration:.2} s) in {:.2?}",
        output.display(),
        frames,
        started.elapsed()
    );
    reporter.finish(status("Done", 100.0));
    let output = RenderOutput {
        output_path: output.to_path_buf(),
        duration,
        file_size,
        frames,
        subtitles,
        warnings,
    };
    Ok((output, stats.into_inner().unwrap_or_default()))
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

/// Every segment's subtitle cues, in order, over its narration (not its silence gap).
fn timeline_cues(spec: &RenderSpec, timeline: &Timeline) -> Vec<Cue> {
    let rate = f64::from(timeline.sample_rate());
    spec.segments
        .iter()
        .zip(timeline.segments())
        .flat_map(|(segment, timing)| {
            cues_for_segment(
                &segment.text,
                timing.start_sample as f64 / rate,
                timing.narration_samples as f64 / rate,
            )
        })
        .collect()
}

/// The logo, ready to blend; a logo that cannot be used is a warning, not a failed render.
fn logo_overlay(spec: &RenderSpec, warnings: &mut Vec<String>) -> Option<YuvOverlay> {
    let logo = spec.logo.as_ref()?;
    match prepare_logo(logo, spec.width, spec.height) {
        Ok(overlay) => Some(YuvOverlay::new(&overlay)),
        Err(err) => {
            warnings.push(format!("the logo was left out: {err}"));
            None
        }
    }
}

/// What is drawn over and between the segments' pictures.
struct Layers<'a> {
    transitions: Transitions,
    /// Burned in when the spec has a subtitle style.
    cues: &'a [Cue],
    logo: Option<YuvOverlay>,
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
    layers: &Layers<'_>,
    temp: &TempOutput,
    reporter: &mut Reporter<'_>,
    cancel: &CancelToken,
    stats: &Mutex<RenderStats>,
) -> Result<Vec<String>, RenderError> {
    let encoder = EncodePipeline::build(spec, &temp.file, &temp.faststart)?;
    let stop = CancelToken::new();
    let stopping = || stop.is_cancelled() || cancel.is_cancelled();
    let warnings = Mutex::new(Vec::new());
    let (done_tx, done_rx) = crossbeam_channel::unbounded::<WorkerResult>();
    // A rendezvous: the next picture waits, decoded, in the `pictures` thread until the frame
    // that first shows it, so at most three are in memory (two on screen during a blend).
    let (pictures_tx, pictures_rx) = crossbeam_channel::bounded(0);

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
            prepare_pictures(spec, timeline, &pictures_tx, &warnings, &stopping, stats)
        })?;
        spawn_worker(scope, "frames", &done_tx, || {
            draw_frames(
                spec,
                timeline,
                layers,
                &encoder,
                &pictures_rx,
                &warnings,
                &stopping,
                stats,
            )
        })?;
        spawn_worker(scope, "narration", &done_tx, || {
            push_narration(spec, timeline, &encoder, &stopping, stats)
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
    stats: &Mutex<RenderStats>,
) -> WorkerResult {
    let mut times = RenderStats::default();
    let size = image_source::source_size(spec.width, spec.height, spec.zoom_intensity);
    for (i, (segment, timing)) in spec.segments.iter().zip(timeline.segments()).enumerate() {
        if timing.frames() == 0 {
            continue; // shorter than a frame: its picture is never seen
        }
        if stopping() {
            return Err(WorkerError::Stopped);
        }
        let started = Instant::now();
        let picture = image_source::load_source(&segment.image, Some(i + 1), size);
        times.picture.since(started);
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
    add_stats(stats, &times);
    Ok(())
}

fn add_stats(stats: &Mutex<RenderStats>, times: &RenderStats) {
    if let Ok(mut stats) = stats.lock() {
        stats.merge(times);
    }
}

/// Draws every frame and pushes it, with exact timestamps, to the encoder.
// The thread's whole context, borrowed from `encode`'s scope: bundling it would only move
// the list elsewhere.
#[allow(clippy::too_many_arguments)]
fn draw_frames(
    spec: &RenderSpec,
    timeline: &Timeline,
    layers: &Layers<'_>,
    encoder: &EncodePipeline,
    pictures: &Receiver<Picture>,
    warnings: &Mutex<Vec<String>>,
    stopping: &dyn Fn() -> bool,
    stats: &Mutex<RenderStats>,
) -> WorkerResult {
    let mut times = RenderStats::default();
    let pool = gst::BufferPool::new();
    let mut config = pool.config();
    config.set_params(Some(&encoder.video_caps), encoder.layout.size as u32, 2, 0);
    pool.set_config(config)
        .and_then(|()| pool.set_active(true))
        .map_err(|e| RenderError::pipeline("frame pool", e.to_string()))?;
    let mut compositor = Compositor::new(encoder.layout.clone());
    let mut shown = OnScreen::new(spec, &layers.transitions, pictures, stopping);
    let mut captions = match &spec.subtitles {
        Some(style) => Captions::new(style, layers.cues, spec, warnings)?,
        None => Captions::default(),
    };
    for frame in 0..timeline.total_frames() {
        if stopping() {
            return Err(WorkerError::Stopped);
        }
        let segment = timeline.segment_of_frame(frame);
        let content = layers.transitions.content(frame, segment);
        let started = Instant::now();
        let mut buffer = pool
            .acquire_buffer(None)
            .map_err(|flow| WorkerError::Refused {
                element: "frame pool",
                flow,
            })?;
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
            let mut now = times.acquire.since(started);
            let (first, last) = match content {
                FrameContent::Single(i) => (i, i),
                FrameContent::Blend { from, .. } => (from, from + 1),
            };
            shown.load(first, last)?;
            now = times.picture_wait.since(now);
            let build = now;
            let drawn = match content {
                FrameContent::Single(i) => compositor.draw_shot(&shown.shot(i, frame)?, &mut map),
                FrameContent::Blend { from, weight } => {
                    let (out, into) = (shown.shot(from, frame)?, shown.shot(from + 1, frame)?);
                    compositor.draw_blend(&out, &into, weight, &mut map)
                }
            };
            drawn.map_err(|e| RenderError::pipeline("compositor", e))?;
            now = match content {
                FrameContent::Single(_) => times.shot.since(now),
                FrameContent::Blend { .. } => times.blend.since(now),
            };
            if let Some(text) = captions.at(frame) {
                text.blend_onto(&mut map, compositor.layout());
            }
            if let Some(logo) = &layers.logo {
                logo.blend_onto(&mut map, compositor.layout());
            }
            times.overlays.since(now);
            times.frame.since(build);
        }
        if encoder.video.current_level_bytes() == 0 {
            times.starved_frames += 1;
        }
        let started = Instant::now();
        encoder
            .video
            .push_buffer(buffer)
            .map_err(|flow| WorkerError::Refused {
                element: "frames",
                flow,
            })?;
        times.push.since(started);
    }
    add_stats(stats, &times);
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

/// The pictures on screen (one, or two during a crossfade) with their Ken Burns cameras,
/// taken in order from the `pictures` thread and dropped once no later frame shows them.
struct OnScreen<'a> {
    spec: &'a RenderSpec,
    transitions: &'a Transitions,
    pictures: &'a Receiver<Picture>,
    stopping: &'a dyn Fn() -> bool,
    loaded: VecDeque<(usize, SourceImage, Camera)>,
}

impl<'a> OnScreen<'a> {
    fn new(
        spec: &'a RenderSpec,
        transitions: &'a Transitions,
        pictures: &'a Receiver<Picture>,
        stopping: &'a dyn Fn() -> bool,
    ) -> Self {
        Self {
            spec,
            transitions,
            pictures,
            stopping,
            loaded: VecDeque::with_capacity(2),
        }
    }

    /// Makes segments `first..=last` (those with frames) the loaded ones: drops the pictures
    /// before `first` and receives those up to `last`.
    fn load(&mut self, first: usize, last: usize) -> Result<(), WorkerError> {
        while self.loaded.front().is_some_and(|(i, ..)| *i < first) {
            self.loaded.pop_front();
        }
        while self.loaded.back().is_none_or(|(i, ..)| *i < last) {
            let (i, source) = loop {
                match self.pictures.recv_timeout(Duration::from_millis(100)) {
                    Ok(picture) => break picture?,
                    Err(RecvTimeoutError::Timeout) if !(self.stopping)() => {}
                    Err(_) => return Err(WorkerError::Stopped),
                }
            };
            let camera = Camera::new(
                Pattern::for_segment(self.spec.segments[i].index),
                f64::from(source.width),
                f64::from(source.height),
                f64::from(self.spec.width) / f64::from(self.spec.height),
                self.spec.zoom_intensity,
            );
            self.loaded.push_back((i, source, camera));
        }
        Ok(())
    }

    /// Segment `segment`'s shot at `frame`; its picture must be loaded.
    fn shot(&self, segment: usize, frame: u64) -> Result<Shot<'_>, WorkerError> {
        let (_, source, camera) = self
            .loaded
            .iter()
            .find(|(i, ..)| *i == segment)
            .ok_or_else(|| {
                RenderError::pipeline("frames", format!("segment {} has no picture", segment + 1))
            })?;
        // The camera moves over all the frames the picture is seen on, blends included.
        let visible = self.transitions.visible(segment);
        Ok(Shot {
            source,
            camera: camera.at(Camera::progress(
                frame.saturating_sub(visible.start),
                visible.end - visible.start,
            )),
        })
    }
}

/// Burned-in subtitles: each cue drawn once, when its first frame comes, and blended onto
/// the frames it covers.
#[derive(Default)]
struct Captions {
    renderer: Option<TextRenderer>,
    /// Every cue with the frames that show it, in order.
    cues: Vec<(std::ops::Range<u64>, String)>,
    /// Index in `cues` of the next cue to show, and the drawn current one.
    next: usize,
    current: Option<(std::ops::Range<u64>, YuvOverlay)>,
}

impl Captions {
    fn new(
        style: &SubtitleStyle,
        cues: &[Cue],
        spec: &RenderSpec,
        warnings: &Mutex<Vec<String>>,
    ) -> Result<Self, RenderError> {
        if cues.is_empty() {
            return Ok(Self::default());
        }
        let renderer = match TextRenderer::new(style, spec.width, spec.height) {
            Ok(renderer) => renderer,
            // A configured font file that cannot be used falls back to the font family.
            Err(err) if style.font_file.is_some() => {
                if let Ok(mut list) = warnings.lock() {
                    list.push(format!("subtitles use the default font: {err}"));
                }
                let fallback = SubtitleStyle {
                    font_file: None,
                    ..style.clone()
                };
                TextRenderer::new(&fallback, spec.width, spec.height)
                    .map_err(RenderError::Subtitles)?
            }
            Err(err) => return Err(RenderError::Subtitles(err)),
        };
        Ok(Self {
            renderer: Some(renderer),
            cues: cues
                .iter()
                .map(|cue| (cue.frames(spec.fps), cue.text.clone()))
                .filter(|(frames, _)| !frames.is_empty())
                .collect(),
            next: 0,
            current: None,
        })
    }

    /// The subtitle to draw on `frame` (frames come in increasing order).
    fn at(&mut self, frame: u64) -> Option<&YuvOverlay> {
        if self
            .current
            .as_ref()
            .is_some_and(|(frames, _)| frames.end <= frame)
        {
            self.current = None;
        }
        while let Some((frames, text)) = self.cues.get(self.next) {
            if frames.start > frame {
                break;
            }
            self.next += 1;
            if frames.end > frame {
                let renderer = self.renderer.as_mut()?;
                let overlay = YuvOverlay::new(&renderer.render_cue(text));
                self.current = Some((frames.clone(), overlay));
            }
        }
        self.current.as_ref().map(|(_, overlay)| overlay)
    }
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
    stats: &Mutex<RenderStats>,
) -> WorkerResult {
    let mut times = RenderStats::default();
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
        // Decoding time only: the pushes wait for the muxer, which waits for the video.
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
                return Err(WorkerError::Stopped);
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
    add_stats(stats, &times);
    encoder
        .audio
        .end_of_stream()
        .map(|_| ())
        .map_err(|flow| WorkerError::Refused {
            element: "narration",
            flow,
        })
}

/// A fresh temporary name for `path` in its folder (created if missing):
/// `.<name>.tmp-<pid>-<n>`, recognised by [`is_temporary_output`].
pub(crate) fn temporary_path(path: &Path) -> Result<PathBuf, RenderError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let name = path
        .file_name()
        .ok_or_else(|| {
            RenderError::InvalidSpec(format!("output {} has no file name", path.display()))
        })?
        .to_string_lossy()
        .into_owned();
    let folder = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    std::fs::create_dir_all(&folder).map_err(|e| RenderError::io(&folder, e))?;
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    Ok(folder.join(format!(
        ".{name}{TEMP_OUTPUT_MARKER}{}-{n}",
        std::process::id()
    )))
}

/// The temporary output and the muxer's scratch file; both are removed on drop unless the
/// output was moved into place.
struct TempOutput {
    file: PathBuf,
    faststart: PathBuf,
}

impl TempOutput {
    fn new(output: &Path) -> Result<TempOutput, RenderError> {
        let file = temporary_path(output)?;
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
