//! Frame production for one chunk: the pictures it shows (decoded once per render and shared
//! by the chunk workers), every frame drawn (Ken Burns shots, crossfades, subtitles, logo)
//! into a pooled buffer and pushed into the chunk's encoder.

use std::ops::Range;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use gstreamer as gst;
use gstreamer::prelude::*;

use super::Layers;
use crate::captions::subtitles::Cue;
use crate::chunks::encoder::ChunkEncoder;
use crate::chunks::pipeline::{frame_info, frame_layout};
use crate::error::RenderError;
use crate::frame::compositor::{Compositor, Shot};
use crate::frame::image_source::{self, SourceImage};
use crate::frame::ken_burns::{Camera, Pattern};
use crate::frame::overlay::Overlay;
use crate::frame::overlay::YuvOverlay;
use crate::frame::text_overlay::{CueLayout, SubtitleStyle, TextRenderer};
use crate::plan::chunk_plan::Chunk;
use crate::plan::spec::RenderSpec;
use crate::plan::timeline::Timeline;
use crate::plan::transition::{FrameContent, Transitions};
use crate::stats::RenderStats;

/// A decoded picture and a segment's Ken Burns camera over it.
pub(super) struct Shown {
    source: Arc<SourceImage>,
    camera: Camera,
}

/// The render's pictures, each file decoded when a chunk first needs it (once, however many
/// segments show it) and dropped once every chunk that shows it is drawn, so at most a few
/// are in memory whatever the project's length.
pub(super) struct Pictures<'a> {
    spec: &'a RenderSpec,
    size: (u32, u32),
    warnings: &'a Mutex<Vec<String>>,
    /// Per segment, its picture's index in `slots`.
    picture_of: Vec<usize>,
    /// Per distinct picture file.
    slots: Vec<Mutex<Slot>>,
}

#[derive(Default)]
struct Slot {
    source: Option<Arc<SourceImage>>,
    /// Chunks still to draw that show this picture.
    uses: usize,
}

impl<'a> Pictures<'a> {
    /// The pictures of the chunks `to_draw`.
    pub(super) fn new(
        spec: &'a RenderSpec,
        to_draw: &[&Chunk],
        warnings: &'a Mutex<Vec<String>>,
    ) -> Self {
        // Segments showing the same file (by its canonical path) share one decode.
        let mut files: Vec<std::path::PathBuf> = Vec::new();
        let picture_of: Vec<usize> = spec
            .segments
            .iter()
            .map(|segment| {
                let file =
                    std::fs::canonicalize(&segment.image).unwrap_or_else(|_| segment.image.clone());
                files.iter().position(|f| *f == file).unwrap_or_else(|| {
                    files.push(file);
                    files.len() - 1
                })
            })
            .collect();
        let mut slots: Vec<Slot> = files.iter().map(|_| Slot::default()).collect();
        for chunk in to_draw {
            for segment in chunk.kind.segments() {
                if let Some(slot) = picture_of.get(segment).and_then(|&p| slots.get_mut(p)) {
                    slot.uses += 1;
                }
            }
        }
        Self {
            spec,
            size: image_source::source_size(spec.width, spec.height, spec.zoom_intensity),
            warnings,
            picture_of,
            slots: slots.into_iter().map(Mutex::new).collect(),
        }
    }

    /// Segment `segment`'s picture, decoded now unless another chunk already did (a worker
    /// that needs it meanwhile waits for that decode instead of repeating it).
    fn take(&self, segment: usize, times: &mut RenderStats) -> Result<Shown, RenderError> {
        let mut slot = self.slot(segment)?;
        let source = match &slot.source {
            Some(source) => source.clone(),
            None => {
                let started = Instant::now();
                let image = &self.spec.segments[segment].image;
                let source = Arc::new(image_source::load_source(
                    image,
                    Some(segment + 1),
                    self.size,
                )?);
                times.picture.since(started);
                self.warn_if_soft(segment, &source);
                slot.source = Some(source.clone());
                source
            }
        };
        let camera = Camera::new(
            Pattern::for_segment(self.spec.segments[segment].index),
            f64::from(source.width),
            f64::from(source.height),
            f64::from(self.spec.width) / f64::from(self.spec.height),
            self.spec.zoom_intensity,
        );
        Ok(Shown { source, camera })
    }

    /// Enlarging more than twice makes a visibly soft picture: says so.
    fn warn_if_soft(&self, segment: usize, source: &SourceImage) {
        if source.upscale <= 2.0 {
            return;
        }
        let (w, h) = source.original;
        let warning = format!(
            "segment {}: the picture is only {w}x{h} and was enlarged {:.1}x; it may look soft",
            segment + 1,
            source.upscale
        );
        log::debug!("{warning}");
        if let Ok(mut list) = self.warnings.lock() {
            list.push(warning);
        }
    }

    /// One chunk showing `segment` is drawn.
    fn release(&self, segment: usize) {
        if let Ok(mut slot) = self.slot(segment) {
            slot.uses = slot.uses.saturating_sub(1);
            if slot.uses == 0 {
                slot.source = None;
            }
        }
    }

    fn slot(&self, segment: usize) -> Result<std::sync::MutexGuard<'_, Slot>, RenderError> {
        self.picture_of
            .get(segment)
            .and_then(|&picture| self.slots.get(picture))
            .and_then(|slot| slot.lock().ok())
            .ok_or_else(|| {
                RenderError::pipeline("frames", format!("segment {} has no picture", segment + 1))
            })
    }
}

/// The pictures one chunk shows, given back to [`Pictures`] when dropped.
pub(super) struct ChunkPictures<'p, 'a> {
    pictures: &'p Pictures<'a>,
    shown: Vec<(usize, Shown)>,
}

impl Drop for ChunkPictures<'_, '_> {
    fn drop(&mut self) {
        for &(segment, _) in &self.shown {
            self.pictures.release(segment);
        }
    }
}

/// What a chunk worker keeps from one chunk to the next: its frame pool, compositor and
/// subtitle renderer.
pub(super) struct FrameMaker<'a> {
    timeline: &'a Timeline,
    layers: &'a Layers<'a>,
    pool: gst::BufferPool,
    compositor: Compositor,
    captions: Captions,
    pub(super) times: RenderStats,
}

impl Drop for FrameMaker<'_> {
    fn drop(&mut self) {
        let _ = self.pool.set_active(false);
    }
}

impl<'a> FrameMaker<'a> {
    pub(super) fn new(
        spec: &'a RenderSpec,
        timeline: &'a Timeline,
        layers: &'a Layers<'a>,
        warnings: &Mutex<Vec<String>>,
    ) -> Result<Self, RenderError> {
        let info = frame_info(spec)?;
        let caps = info
            .to_caps()
            .map_err(|e| RenderError::pipeline("video caps", e.to_string()))?;
        let pool = gst::BufferPool::new();
        let mut config = pool.config();
        // x264 copies a frame while it is pushed: one buffer per worker is reused throughout.
        config.set_params(Some(&caps), info.size() as u32, 1, 0);
        pool.set_config(config)
            .and_then(|()| pool.set_active(true))
            .map_err(|e| RenderError::pipeline("frame pool", e.to_string()))?;
        let captions = match &spec.subtitles {
            Some(style) => Captions::new(style, layers.cues, spec, warnings)?,
            None => Captions::default(),
        };
        Ok(Self {
            timeline,
            layers,
            pool,
            compositor: Compositor::new(frame_layout(&info)),
            captions,
            times: RenderStats::default(),
        })
    }

    /// Takes the pictures `chunk` shows from `pictures` (decoding those not yet decoded).
    /// Done before the chunk's encoder starts, so a large picture's decode does not overlap
    /// an encoder's memory.
    pub(super) fn pictures_for<'p, 'b>(
        &mut self,
        chunk: &Chunk,
        pictures: &'p Pictures<'b>,
    ) -> Result<ChunkPictures<'p, 'b>, RenderError> {
        let started = Instant::now();
        let mut taken = ChunkPictures {
            pictures,
            shown: Vec::new(),
        };
        for segment in chunk.kind.segments() {
            let picture = pictures.take(segment, &mut self.times)?;
            taken.shown.push((segment, picture));
        }
        self.times.picture_wait.since(started);
        Ok(taken)
    }

    /// Draws `chunk`'s frames, showing `shown`, into `encoder`; `on_frame` is told the count
    /// of frames handed to the encoder after each push.
    pub(super) fn draw_chunk(
        &mut self,
        chunk: &Chunk,
        shown: &ChunkPictures<'_, '_>,
        encoder: &mut ChunkEncoder,
        on_frame: &mut dyn FnMut(u64),
    ) -> Result<(), RenderError> {
        let shown = &shown.shown;
        self.captions.restart();
        let transitions = &self.layers.transitions;
        for frame in chunk.frames.clone() {
            let content = transitions.content(frame, self.timeline.segment_of_frame(frame));
            let started = Instant::now();
            let mut buffer = self
                .pool
                .acquire_buffer(None)
                .map_err(|flow| RenderError::pipeline("frame pool", format!("{flow:?}")))?;
            {
                let buffer = buffer
                    .get_mut()
                    .ok_or_else(|| RenderError::pipeline("frame pool", "frame is shared"))?;
                let mut map = buffer
                    .map_writable()
                    .map_err(|e| RenderError::pipeline("frame pool", e.to_string()))?;
                let build = self.times.acquire.since(started);
                let drawn = match content {
                    FrameContent::Single(i) => self
                        .compositor
                        .draw_shot(&shot(shown, transitions, i, frame)?, &mut map),
                    FrameContent::Blend { from, weight } => {
                        let out = shot(shown, transitions, from, frame)?;
                        let into = shot(shown, transitions, from + 1, frame)?;
                        self.compositor.draw_blend(&out, &into, weight, &mut map)
                    }
                };
                drawn.map_err(|e| RenderError::pipeline("compositor", e))?;
                let now = match content {
                    FrameContent::Single(_) => self.times.shot.since(build),
                    FrameContent::Blend { .. } => self.times.blend.since(build),
                };
                if let Some(text) = self.captions.at(frame) {
                    text.blend_onto(&mut map, self.compositor.layout());
                }
                if let Some(logo) = &self.layers.logo {
                    logo.blend_onto(&mut map, self.compositor.layout());
                }
                self.times.overlays.since(now);
                self.times.frame.since(build);
            }
            let started = Instant::now();
            encoder.push(buffer)?;
            self.times.push.since(started);
            on_frame(encoder.pushed_frames());
        }
        Ok(())
    }
}

/// Segment `segment`'s shot at `frame`. The camera moves over all the frames the picture is
/// seen on, blends included.
fn shot<'p>(
    shown: &'p [(usize, Shown)],
    transitions: &Transitions,
    segment: usize,
    frame: u64,
) -> Result<Shot<'p>, RenderError> {
    let (_, picture) = shown.iter().find(|(i, _)| *i == segment).ok_or_else(|| {
        RenderError::pipeline("frames", format!("segment {} has no picture", segment + 1))
    })?;
    let visible = transitions.visible(segment);
    Ok(Shot {
        source: &picture.source,
        camera: picture.camera.at(Camera::progress(
            frame.saturating_sub(visible.start),
            visible.end - visible.start,
        )),
    })
}

/// Burned-in subtitles: each cue drawn once, when its first frame comes, and blended onto
/// the frames it covers. A cue timed word by word, while highlighting is on, is laid out once
/// and drawn again each time another word is being spoken, with that word in the highlight
/// colour.
#[derive(Default)]
struct Captions {
    renderer: Option<TextRenderer>,
    highlight: Option<[u8; 3]>,
    /// Every cue with the frames that show it, in order.
    cues: Vec<CaptionCue>,
    /// Index in `cues` of the next cue to show, and the drawn current one.
    next: usize,
    current: Option<Current>,
}

struct CaptionCue {
    frames: Range<u64>,
    text: String,
    /// The first frame of each word, when the word being spoken is highlighted; else empty.
    words: Vec<u64>,
}

impl CaptionCue {
    /// The word being spoken on `frame`, if the cue highlights words and one has started.
    fn word_at(&self, frame: u64) -> Option<usize> {
        self.words.partition_point(|&f| f <= frame).checked_sub(1)
    }
}

/// The cue on screen (its index in `cues`), its layout when it highlights words, the word
/// drawn highlighted and the drawing.
struct Current {
    cue: usize,
    layout: Option<CueLayout>,
    word: Option<usize>,
    overlay: YuvOverlay,
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
                let warning = format!("subtitles use the default font: {err}");
                if let Ok(mut list) = warnings.lock() {
                    // Each chunk worker meets it; say it once.
                    if !list.contains(&warning) {
                        list.push(warning);
                    }
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
        let highlight = style.highlight_color;
        Ok(Self {
            renderer: Some(renderer),
            highlight,
            cues: cues
                .iter()
                .map(|cue| CaptionCue {
                    frames: cue.frames(spec.fps),
                    text: cue.text.clone(),
                    words: match highlight {
                        Some(_) => cue.word_frames(spec.fps),
                        None => Vec::new(),
                    },
                })
                .filter(|cue| !cue.frames.is_empty())
                .collect(),
            next: 0,
            current: None,
        })
    }

    /// Ready for a chunk starting anywhere (frames then come in increasing order).
    fn restart(&mut self) {
        self.next = 0;
        self.current = None;
    }

    /// The subtitle to draw on `frame` (frames come in increasing order).
    fn at(&mut self, frame: u64) -> Option<&YuvOverlay> {
        if self
            .current
            .as_ref()
            .is_some_and(|current| self.cues[current.cue].frames.end <= frame)
        {
            self.current = None;
        }
        while let Some(cue) = self.cues.get(self.next) {
            if cue.frames.start > frame {
                break;
            }
            self.next += 1;
            if cue.frames.end > frame {
                let renderer = self.renderer.as_mut()?;
                let word = cue.word_at(frame);
                let (layout, overlay) = match self.highlight {
                    Some(colour) if !cue.words.is_empty() => {
                        let layout = renderer.layout_cue(&cue.text);
                        let overlay = layout.as_ref().map_or_else(Overlay::default, |layout| {
                            renderer.paint(layout, word.map(|w| (w, colour)))
                        });
                        (layout, overlay)
                    }
                    _ => (None, renderer.render_cue(&cue.text)),
                };
                self.current = Some(Current {
                    cue: self.next - 1,
                    layout,
                    word,
                    overlay: YuvOverlay::new(&overlay),
                });
            }
        }
        let current = self.current.as_mut()?;
        // Another word is being spoken: the same layout, drawn with it highlighted.
        if let (Some(layout), Some(colour)) = (&current.layout, self.highlight) {
            let word = self.cues[current.cue].word_at(frame);
            if word != current.word {
                let renderer = self.renderer.as_mut()?;
                current.overlay =
                    YuvOverlay::new(&renderer.paint(layout, word.map(|w| (w, colour))));
                current.word = word;
            }
        }
        Some(&current.overlay)
    }
}
