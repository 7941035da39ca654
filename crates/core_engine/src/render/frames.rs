//! Frame production: the `pictures` thread decodes each segment's picture one ahead, and the
//! `frames` thread draws every frame (Ken Burns shots, crossfades, subtitles, logo) into a
//! pooled buffer and pushes it, with exact timestamps, into the video `appsrc`.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, RecvTimeoutError, SendTimeoutError, Sender};
use gstreamer as gst;
use gstreamer::prelude::*;

use super::encode::{add_stats, WorkerError, WorkerResult};
use super::Layers;
use crate::compositor::{Compositor, Shot};
use crate::image_source::{self, SourceImage};
use crate::ken_burns::{Camera, Pattern};
use crate::overlay::YuvOverlay;
use crate::pipeline::EncodePipeline;
use crate::stats::RenderStats;
use crate::subtitles::Cue;
use crate::text_overlay::{SubtitleStyle, TextRenderer};
use crate::timeline::Timeline;
use crate::transition::{FrameContent, Transitions};
use crate::{RenderError, RenderSpec};

pub(super) type Picture = Result<(usize, SourceImage), RenderError>;

/// Decodes each segment's picture once, in order, one ahead of the frames being drawn.
pub(super) fn prepare_pictures(
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

/// Draws every frame and pushes it, with exact timestamps, to the encoder.
// The thread's whole context, borrowed from `encode`'s scope: bundling it would only move
// the list elsewhere.
#[allow(clippy::too_many_arguments)]
pub(super) fn draw_frames(
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
