//! The encode stage: starts the pipeline and the worker threads (pictures, frames,
//! narration), then runs the bus loop until end of stream, the first error or a cancel,
//! reporting progress from what the encoder has actually encoded.

use std::sync::atomic::Ordering;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use gstreamer as gst;
use gstreamer::prelude::*;

use super::frames::{draw_frames, prepare_pictures};
use super::narration::push_narration;
use super::Layers;
use crate::pipeline::EncodePipeline;
use crate::progress::{share, Reporter};
use crate::stats::RenderStats;
use crate::temp_output::TempOutput;
use crate::timeline::Timeline;
use crate::{CancelToken, Progress, RenderError, RenderSpec};

/// How a worker thread ended badly.
pub(super) enum WorkerError {
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

pub(super) type WorkerResult = Result<(), WorkerError>;

/// Adds a worker's stage times to the render's, once, when the worker is done.
pub(super) fn add_stats(stats: &Mutex<RenderStats>, times: &RenderStats) {
    if let Ok(mut stats) = stats.lock() {
        stats.merge(times);
    }
}

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

// The render's whole context, each piece used by a different thread: bundling them would only
// move the list elsewhere.
#[allow(clippy::too_many_arguments)]
pub(super) fn encode(
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
