//! How a video is cut into independently encoded chunks, and the cache key of each chunk.
//!
//! Pure, no I/O: the caller supplies the content hashes of the files (pictures, font, logo).
//!
//! The video's frames are split so that a change to one segment invalidates as few frames as
//! possible: a *body* chunk per segment (its frames outside any crossfade, which show its
//! picture alone) and a *blend* chunk per crossfade (the frames that show two pictures), in
//! playing order, contiguous, each frame in exactly one chunk, empty chunks left out. A change
//! to segment `k` then touches only body `k` and the blends `k-1|k` and `k|k+1`.
//!
//! Each chunk has a [`ChunkDescription`]: everything that decides its pixels, *relative to the
//! chunk*, never its position in the video, so a chunk is reused when earlier segments change
//! length. Its [`ChunkKey`] is the hex SHA-256 of the description's JSON.
//!
//! One caveat the caller should know: the [`Timeline`] places segment boundaries at the frame
//! nearest to the cumulative sample position, so when an earlier narration changes length by a
//! fraction of a frame, a later segment may gain or lose a frame (and its camera span and
//! subtitle frames shift with it). Its key then changes too, correctly, since its pixels do.

use std::ops::Range;

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::captions::subtitles::Cue;
use crate::frame::ken_burns::Pattern;
use crate::plan::spec::RenderSpec;
use crate::plan::timeline::Timeline;
use crate::plan::transition::Transitions;

/// Bump whenever the drawing of a frame or the chunk encoding changes in any way that can
/// change pixels or bits (compositor, resampling, easing, subtitles, logo, x264 settings,
/// colour handling...): every cached chunk becomes a miss.
pub const RENDERER_VERSION: u32 = 5;

/// The longest chunk, in key-frame intervals (2 s at the default): a changed segment is
/// re-encoded as several chunks, which keep every core busy (each encoder has one thread),
/// while starting and draining a single-thread encoder costs about 12 ms. Measured with
/// `storyflow bench --edit --case photos`: one changed word 0.17 of the full render (0.35
/// with three intervals), the full render as fast.
pub const KEYFRAME_INTERVALS_PER_CHUNK: u64 = 1;

/// Which part of the video a chunk is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChunkKind {
    /// Segment `segment`'s picture alone (0-based position in the render order).
    Body { segment: usize },
    /// The crossfade from segment `from` into segment `from + 1`.
    Blend { from: usize },
}

impl ChunkKind {
    /// The segments whose pictures the chunk shows, outgoing first.
    pub fn segments(self) -> Vec<usize> {
        match self {
            ChunkKind::Body { segment } => vec![segment],
            ChunkKind::Blend { from } => vec![from, from + 1],
        }
    }
}

/// A chunk's cache key: 64 lowercase hex digits (a SHA-256). Only ever made from a digest or
/// parsed, so it is always safe as a file name.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ChunkKey(String);

impl ChunkKey {
    /// The key of `bytes`: their SHA-256 in lowercase hex.
    pub fn of_bytes(bytes: &[u8]) -> ChunkKey {
        ChunkKey(hex(&Sha256::digest(bytes)))
    }

    /// A key read back from a file name or a list; `None` unless it is 64 lowercase hex digits.
    pub fn parse(text: &str) -> Option<ChunkKey> {
        let valid = text.len() == 64
            && text
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        valid.then(|| ChunkKey(text.to_string()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ChunkKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut out, b| {
            let _ = write!(out, "{b:02x}");
            out
        })
}

/// Everything that decides a chunk's pixels, relative to the chunk. Its JSON (fields in
/// declaration order, no maps) is canonical: equal descriptions give equal bytes.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChunkDescription {
    pub renderer_version: u32,
    pub frames: u64,
    pub output: OutputDescription,
    /// The pictures on screen, outgoing first.
    pub pictures: Vec<PictureDescription>,
    /// Set for a crossfade chunk.
    pub blend: Option<BlendDescription>,
    /// The burned-in subtitles seen in the chunk; `None` when none is.
    pub subtitles: Option<SubtitlesDescription>,
    pub logo: Option<LogoDescription>,
}

/// The output format and the video encoder settings (the audio is not in chunks).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OutputDescription {
    pub width: u32,
    pub height: u32,
    pub fps: u32,
    pub zoom: f64,
    pub preset: String,
    pub quantizer: u32,
    /// x264's `key-int-max`, in frames.
    pub keyframe_interval: u32,
}

/// One picture on screen and where its Ken Burns move is during the chunk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PictureDescription {
    /// The hash of the picture file's content (not its path).
    pub picture: String,
    /// The Ken Burns pattern's name.
    pub pattern: String,
    /// The chunk's first frame, counted from the first frame showing the picture.
    pub span_offset: u64,
    /// The number of frames showing the picture (its camera moves over all of them).
    pub span_length: u64,
}

/// Where a crossfade chunk is in its crossfade.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BlendDescription {
    pub frames: u64,
    /// The chunk's first frame, counted from the crossfade's first frame.
    pub offset: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SubtitlesDescription {
    pub style: StyleDescription,
    pub cues: Vec<CueDescription>,
}

/// The subtitle style, with the font file by the hash of its content.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StyleDescription {
    pub font_family: Option<String>,
    pub font_file: Option<String>,
    pub font_size: Option<f32>,
    pub color: [u8; 3],
    pub outline_color: [u8; 3],
    pub position: String,
}

/// A subtitle line and the frames of the chunk that show it (`start..end`, from the chunk's
/// first frame).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CueDescription {
    pub start: u64,
    pub end: u64,
    pub text: String,
    /// Set when the line follows the voice with the spoken word highlighted; absent otherwise,
    /// so the keys of other cues are those they had before highlighting existed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub highlight: Option<HighlightDescription>,
}

/// The highlight of a cue timed word by word.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct HighlightDescription {
    pub color: [u8; 3],
    /// The frame from which each word of the text is highlighted (until the next word's),
    /// from the chunk's first frame, kept inside the cue's `start..end`.
    pub words: Vec<u64>,
}

/// The logo by the hash of its file, and its placement.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogoDescription {
    pub file: String,
    pub scale: f64,
    pub position: String,
    pub opacity: f64,
    pub margin: u32,
}

/// One chunk of the video: its frames (absolute, for the caller to draw), its description and
/// its cache key.
#[derive(Debug, Clone, PartialEq)]
pub struct Chunk {
    pub kind: ChunkKind,
    pub frames: Range<u64>,
    pub description: ChunkDescription,
    pub key: ChunkKey,
}

/// What the plan needs besides the timing: the spec, the burned-in cues and the hashes of the
/// files' contents (computed by the caller, e.g. with `chunk_cache::file_sha256`).
#[derive(Clone, Copy)]
pub struct PlanInputs<'a> {
    pub spec: &'a RenderSpec,
    pub timeline: &'a Timeline,
    pub transitions: &'a Transitions,
    /// Every subtitle cue of the video, in seconds on its timeline (drawn only when the spec
    /// has a subtitle style).
    pub cues: &'a [Cue],
    /// The content hash of segment `i`'s picture (0-based position in the render order).
    pub picture_hash: &'a dyn Fn(usize) -> String,
    /// The content hash of the style's font file; `None` when there is none or it cannot be
    /// read (the renderer then falls back to the font family, as if there were none).
    pub font_hash: Option<&'a str>,
    /// The content hash of the logo file; `None` when there is no logo or its file cannot be
    /// read (the renderer then leaves the logo out).
    pub logo_hash: Option<&'a str>,
}

impl std::fmt::Debug for PlanInputs<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlanInputs")
            .field("spec", self.spec)
            .field("timeline", self.timeline)
            .field("transitions", self.transitions)
            .field("cues", &self.cues)
            .field("font_hash", &self.font_hash)
            .field("logo_hash", &self.logo_hash)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
#[error("cannot describe chunk {index}")]
pub struct PlanError {
    pub index: usize,
    #[source]
    pub source: serde_json::Error,
}

/// The chunks of the video, in playing order: body `0`, blend `0|1`, body `1`, ... Empty
/// chunks (a hard cut, a segment whose frames are all in crossfades) are left out; the ranges
/// are contiguous and cover `0..timeline.total_frames()` exactly once. A chunk longer than
/// `max_frames` is cut into pieces of `max_frames` from its start (the last one shorter), so
/// one changed segment is still several chunks that encode side by side.
pub fn chunk_ranges(
    timeline: &Timeline,
    transitions: &Transitions,
    max_frames: u64,
) -> Vec<(ChunkKind, Range<u64>)> {
    let max_frames = max_frames.max(1);
    whole_chunks(timeline, transitions)
        .into_iter()
        .flat_map(|(kind, frames)| {
            (frames.start..frames.end)
                .step_by(usize::try_from(max_frames).unwrap_or(usize::MAX))
                .map(move |start| {
                    (
                        kind,
                        start..start.saturating_add(max_frames).min(frames.end),
                    )
                })
        })
        .collect()
}

/// [`chunk_ranges`] before long chunks are cut.
fn whole_chunks(timeline: &Timeline, transitions: &Transitions) -> Vec<(ChunkKind, Range<u64>)> {
    let fades = transitions.crossfades();
    let mut chunks = Vec::with_capacity(2 * timeline.segments().len());
    for (i, timing) in timeline.segments().iter().enumerate() {
        let start = i
            .checked_sub(1)
            .and_then(|before| fades.get(before))
            .map_or(timing.start_frame, |fade| {
                fade.end().max(timing.start_frame)
            });
        let end = fades
            .get(i)
            .map_or(timing.end_frame, |fade| fade.start.min(timing.end_frame))
            .max(start);
        if start < end {
            chunks.push((ChunkKind::Body { segment: i }, start..end));
        }
        if let Some(fade) = fades.get(i).filter(|fade| fade.frames > 0) {
            chunks.push((ChunkKind::Blend { from: i }, fade.start..fade.end()));
        }
    }
    chunks
}

/// Every chunk of the video with its description and key.
pub fn plan(inputs: &PlanInputs<'_>) -> Result<Vec<Chunk>, PlanError> {
    let output = output_description(inputs.spec);
    let style = inputs
        .spec
        .subtitles
        .as_ref()
        .map(|style| StyleDescription {
            font_family: style.font_family.clone(),
            font_file: style
                .font_file
                .as_ref()
                .and(inputs.font_hash.map(str::to_string)),
            font_size: style.font_size,
            color: style.color,
            outline_color: style.outline_color,
            position: style.position.as_str().to_string(),
        });
    let logo = inputs
        .spec
        .logo
        .as_ref()
        .zip(inputs.logo_hash)
        .map(|(logo, hash)| LogoDescription {
            file: hash.to_string(),
            scale: logo.scale,
            position: logo.position.as_str().to_string(),
            opacity: logo.opacity,
            margin: logo.margin,
        });
    let fps = inputs.spec.fps;
    let cue_frames: Vec<CueFrames<'_>> = inputs
        .cues
        .iter()
        .map(|cue| CueFrames {
            frames: cue.frames(fps),
            text: &cue.text,
            words: cue.word_frames(fps),
        })
        .collect();
    let highlight = inputs
        .spec
        .subtitles
        .as_ref()
        .and_then(|style| style.highlight_color);

    chunk_ranges(
        inputs.timeline,
        inputs.transitions,
        u64::from(inputs.spec.keyframe_interval()) * KEYFRAME_INTERVALS_PER_CHUNK,
    )
    .into_iter()
    .enumerate()
    .map(|(index, (kind, frames))| {
        let pictures = kind
            .segments()
            .into_iter()
            .map(|segment| {
                let visible = inputs.transitions.visible(segment);
                PictureDescription {
                    picture: (inputs.picture_hash)(segment),
                    pattern: format!(
                        "{:?}",
                        Pattern::for_segment(
                            inputs
                                .spec
                                .segments
                                .get(segment)
                                .map_or(segment, |s| s.index)
                        )
                    ),
                    span_offset: frames.start.saturating_sub(visible.start),
                    span_length: visible.end - visible.start,
                }
            })
            .collect();
        let blend = match kind {
            ChunkKind::Blend { from } => {
                inputs
                    .transitions
                    .crossfades()
                    .get(from)
                    .map(|fade| BlendDescription {
                        frames: fade.frames,
                        offset: frames.start.saturating_sub(fade.start),
                    })
            }
            ChunkKind::Body { .. } => None,
        };
        let subtitles = style.as_ref().and_then(|style| {
            let cues = cues_in(&cue_frames, &frames, highlight);
            (!cues.is_empty()).then(|| SubtitlesDescription {
                style: style.clone(),
                cues,
            })
        });
        let description = ChunkDescription {
            renderer_version: RENDERER_VERSION,
            frames: frames.end - frames.start,
            output: output.clone(),
            pictures,
            blend,
            subtitles,
            logo: logo.clone(),
        };
        let key = key_of(&description).map_err(|source| PlanError { index, source })?;
        Ok(Chunk {
            kind,
            frames,
            description,
            key,
        })
    })
    .collect()
}

/// The cache key of a description: the SHA-256 of its canonical JSON.
pub fn key_of(description: &ChunkDescription) -> Result<ChunkKey, serde_json::Error> {
    serde_json::to_vec(description).map(|json| ChunkKey::of_bytes(&json))
}

fn output_description(spec: &RenderSpec) -> OutputDescription {
    OutputDescription {
        width: spec.width,
        height: spec.height,
        fps: spec.fps,
        zoom: spec.zoom_intensity,
        preset: spec.encoder.preset.clone(),
        quantizer: spec.encoder.quantizer,
        keyframe_interval: spec.keyframe_interval(),
    }
}

/// A cue in frames of the video.
struct CueFrames<'c> {
    frames: Range<u64>,
    text: &'c str,
    /// The first frame of each word; empty for a cue without word timings.
    words: Vec<u64>,
}

/// The cues seen in `chunk`, with their frames relative to its start and cut to it, each
/// timed one with its words' highlight in `highlight` (when highlighting is on).
fn cues_in(
    cues: &[CueFrames<'_>],
    chunk: &Range<u64>,
    highlight: Option<[u8; 3]>,
) -> Vec<CueDescription> {
    let relative = |frame: u64| frame.clamp(chunk.start, chunk.end) - chunk.start;
    cues.iter()
        .filter(|cue| cue.frames.start < chunk.end && chunk.start < cue.frames.end)
        .map(|cue| {
            let (start, end) = (relative(cue.frames.start), relative(cue.frames.end));
            CueDescription {
                start,
                end,
                text: cue.text.to_string(),
                highlight: highlight.filter(|_| !cue.words.is_empty()).map(|color| {
                    HighlightDescription {
                        color,
                        words: cue
                            .words
                            .iter()
                            .map(|&frame| relative(frame).clamp(start, end))
                            .collect(),
                    }
                }),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::captions::subtitles::timeline_cues;
    use crate::frame::logo::{LogoPosition, LogoSpec};
    use crate::plan::spec::SegmentSpec;

    /// 10 fps and 1 kHz "audio": 100 samples per frame, no silence gap.
    fn timeline(frames: &[u64]) -> Timeline {
        let samples: Vec<u64> = frames.iter().map(|f| f * 100).collect();
        Timeline::new(10, 1000, 0.0, &samples)
    }

    fn ranges(t: &Timeline, seconds: f64) -> Vec<(ChunkKind, Range<u64>)> {
        chunk_ranges(t, &Transitions::plan(t, seconds).0, u64::MAX)
    }

    fn body(segment: usize) -> ChunkKind {
        ChunkKind::Body { segment }
    }

    fn blend(from: usize) -> ChunkKind {
        ChunkKind::Blend { from }
    }

    fn assert_covers(chunks: &[(ChunkKind, Range<u64>)], total: u64) {
        let mut next = 0;
        for (_, frames) in chunks {
            assert_eq!(frames.start, next);
            assert!(frames.start < frames.end);
            next = frames.end;
        }
        assert_eq!(next, total);
    }

    #[test]
    fn hard_cuts_give_one_chunk_per_segment() {
        let t = timeline(&[20, 30, 25]);
        let chunks = ranges(&t, 0.0);
        assert_eq!(
            chunks,
            [(body(0), 0..20), (body(1), 20..50), (body(2), 50..75)]
        );
        assert_covers(&chunks, 75);
    }

    #[test]
    fn long_chunks_are_cut_from_their_start() {
        let t = timeline(&[20, 30, 25]);
        let chunks = chunk_ranges(&t, &Transitions::plan(&t, 0.5).0, 10);
        assert_eq!(
            chunks,
            [
                (body(0), 0..10),
                (body(0), 10..18),
                (blend(0), 18..23),
                (body(1), 23..33),
                (body(1), 33..43),
                (body(1), 43..48),
                (blend(1), 48..53),
                (body(2), 53..63),
                (body(2), 63..73),
                (body(2), 73..75)
            ]
        );
        assert_covers(&chunks, 75);
    }

    #[test]
    fn crossfades_get_their_own_chunks() {
        // Blends of 5 frames at 18..23 and 48..53 (see transition.rs).
        let t = timeline(&[20, 30, 25]);
        let chunks = ranges(&t, 0.5);
        assert_eq!(
            chunks,
            [
                (body(0), 0..18),
                (blend(0), 18..23),
                (body(1), 23..48),
                (blend(1), 48..53),
                (body(2), 53..75)
            ]
        );
        assert_covers(&chunks, 75);
    }

    #[test]
    fn a_segment_all_in_blends_has_no_body_and_a_frameless_one_no_chunk() {
        // The middle segment's 6 frames all belong to its two (shortened) blends.
        let t = timeline(&[40, 6, 40]);
        let chunks = ranges(&t, 2.0);
        assert_eq!(
            chunks,
            [
                (body(0), 0..37),
                (blend(0), 37..43),
                (blend(1), 43..49),
                (body(2), 49..86)
            ]
        );
        assert_covers(&chunks, 86);

        // The middle one is 0.04 frames long: no chunk shows it, and no blend touches it.
        let t = Timeline::new(10, 1000, 0.0, &[2000, 40, 2000]);
        let chunks = ranges(&t, 0.5);
        assert_eq!(chunks, [(body(0), 0..20), (body(2), 20..40)]);
        assert_covers(&chunks, 40);
    }

    #[test]
    fn chunks_cover_awkward_timelines_exactly_once() {
        for lengths in [&[1u64, 1, 1][..], &[3, 1, 7, 2], &[50, 9, 10, 11, 1, 30]] {
            for seconds in [0.0, 0.1, 0.3, 0.5, 2.0] {
                let t = timeline(lengths);
                assert_covers(&ranges(&t, seconds), t.total_frames());
            }
        }
    }

    /// 30 fps, 48 kHz: 1600 samples a frame; the 0.3 s gap is 9 frames.
    fn spec(texts: &[&str]) -> RenderSpec {
        let segments = texts
            .iter()
            .enumerate()
            .map(|(i, text)| SegmentSpec::new(i, format!("{i}.jpg"), format!("{i}.wav"), *text))
            .collect();
        RenderSpec {
            width: 320,
            height: 180,
            // Key frames far apart: a body stays one chunk here (cutting is tested above).
            encoder: crate::plan::spec::EncoderSettings {
                keyframe_seconds: 10.0,
                ..crate::plan::spec::EncoderSettings::default()
            },
            ..RenderSpec::new(segments)
        }
    }

    /// The chunks of `spec` with narrations of `frames` frames each (plus the gap).
    fn plan_for(spec: &RenderSpec, frames: &[u64], pictures: &[&str]) -> Vec<Chunk> {
        let samples: Vec<u64> = frames.iter().map(|f| f * 1600).collect();
        let t = Timeline::new(30, 48_000, spec.inter_segment_silence, &samples);
        let (transitions, _) = Transitions::plan(&t, spec.transition_duration);
        let (cues, _) = timeline_cues(spec, &t);
        let picture_hash = |i: usize| pictures[i].to_string();
        plan(&PlanInputs {
            spec,
            timeline: &t,
            transitions: &transitions,
            cues: &cues,
            picture_hash: &picture_hash,
            font_hash: None,
            logo_hash: None,
        })
        .unwrap()
    }

    fn keys(chunks: &[Chunk]) -> Vec<(ChunkKind, ChunkKey)> {
        chunks.iter().map(|c| (c.kind, c.key.clone())).collect()
    }

    /// The kinds whose keys differ between two plans of the same shape.
    fn changed(a: &[Chunk], b: &[Chunk]) -> Vec<ChunkKind> {
        assert_eq!(a.len(), b.len());
        a.iter()
            .zip(b)
            .filter(|(x, y)| {
                assert_eq!(x.kind, y.kind);
                x.key != y.key
            })
            .map(|(x, _)| x.kind)
            .collect()
    }

    const TEXTS: [&str; 4] = [
        "One two three.",
        "Four five six seven eight nine ten.",
        "Eleven.",
        "Twelve thirteen fourteen.",
    ];
    const PICTURES: [&str; 4] = ["aa", "bb", "cc", "dd"];

    #[test]
    fn descriptions_are_relative_to_the_chunk() {
        let spec = spec(&TEXTS);
        // Narrations of 51, 81, 31, 41 frames + 9 of gap: 60, 90, 40, 50 frames; 15-frame
        // blends at 53..68, 143..158, 183..198.
        let chunks = plan_for(&spec, &[51, 81, 31, 41], &PICTURES);
        let frames: Vec<Range<u64>> = chunks.iter().map(|c| c.frames.clone()).collect();
        assert_eq!(
            frames,
            [
                0..53,
                53..68,
                68..143,
                143..158,
                158..183,
                183..198,
                198..240
            ]
        );
        let blend = &chunks[3].description;
        assert_eq!(blend.frames, 15);
        assert_eq!(
            blend.blend,
            Some(BlendDescription {
                frames: 15,
                offset: 0
            })
        );
        // Segment 1 is seen on 53..158 (105 frames), segment 2 on 143..198 (55 frames).
        assert_eq!(
            blend.pictures,
            [
                PictureDescription {
                    picture: "bb".into(),
                    pattern: "TopLeftToBottomRight".into(),
                    span_offset: 90,
                    span_length: 105
                },
                PictureDescription {
                    picture: "cc".into(),
                    pattern: "BottomRightToTopLeft".into(),
                    span_offset: 0,
                    span_length: 55
                }
            ]
        );
        // "Eleven." is segment 2's only cue: 31 frames of narration from frame 150, of which
        // 143..158 shows 150..158.
        let subtitles = blend.subtitles.as_ref().unwrap();
        assert_eq!(
            subtitles.cues,
            [CueDescription {
                start: 7,
                end: 15,
                text: "Eleven.".into(),
                highlight: None,
            }]
        );
        assert_eq!(subtitles.style.position, "bottom");
        let body = &chunks[4].description;
        assert_eq!(body.pictures[0].span_offset, 15);
        assert_eq!(body.blend, None);
        assert_eq!(
            body.output,
            OutputDescription {
                width: 320,
                height: 180,
                fps: 30,
                zoom: 1.3,
                preset: "veryfast".into(),
                quantizer: 20,
                keyframe_interval: 300,
            }
        );
        // The gap after the last narration has no cue; body 3's cue ends before it.
        assert_eq!(
            chunks[6].description.subtitles.as_ref().unwrap().cues[0].end,
            33
        );
        assert_eq!(chunks[0].key.as_str().len(), 64);
    }

    #[test]
    fn equal_content_at_another_position_has_the_same_key() {
        // The same three segments after a different first segment (whole frames longer): their
        // chunks move by 30 frames but keep their keys. Sequence indices stay, so patterns do.
        let spec = spec(&TEXTS);
        let a = plan_for(&spec, &[51, 81, 31, 41], &PICTURES);
        let b = plan_for(&spec, &[81, 81, 31, 41], &PICTURES);
        assert_eq!(b[2].frames, 98..173);
        assert_eq!(changed(&a, &b), [body(0), blend(0)]);
        assert_eq!(keys(&a)[2..], keys(&b)[2..]);

        // The same segment (picture, text, length, pattern, neighbours' blend lengths) in
        // another video, after a shorter first segment: same body key.
        let middle = |chunks: &[Chunk]| chunks.iter().find(|c| c.kind == body(1)).cloned();
        let other = plan_for(
            &self::spec(&["Z.", TEXTS[1], "C."]),
            &[11, 81, 41],
            &["z", "bb", "r"],
        );
        let (mine, theirs) = (middle(&a).unwrap(), middle(&other).unwrap());
        assert_eq!(
            (mine.frames.clone(), theirs.frames.clone()),
            (68..143, 28..103)
        );
        assert_eq!(mine.key, theirs.key);
    }

    #[test]
    fn keys_change_with_what_decides_the_pixels() {
        let base_spec = spec(&TEXTS);
        let base = plan_for(&base_spec, &[51, 81, 31, 41], &PICTURES);

        let other_picture = plan_for(&base_spec, &[51, 81, 31, 41], &["aa", "bX", "cc", "dd"]);
        assert_eq!(
            changed(&base, &other_picture),
            [blend(0), body(1), blend(1)]
        );

        let mut texts = TEXTS;
        texts[2] = "Eleven!";
        let other_text = plan_for(&spec(&texts), &[51, 81, 31, 41], &PICTURES);
        // Segment 2's only cue spans its narration, seen in blend 1|2 and body 2.
        assert_eq!(changed(&base, &other_text), [blend(1), body(2)]);

        // One frame longer: segment 1's camera span changes, so every chunk showing it does,
        // and nothing else (later chunks move, but keep their keys).
        let longer = plan_for(&base_spec, &[51, 82, 31, 41], &PICTURES);
        assert_eq!(changed(&base, &longer), [blend(0), body(1), blend(1)]);

        let mut small = base_spec.clone();
        small.width = 160;
        small.height = 90;
        let resized = plan_for(&small, &[51, 81, 31, 41], &PICTURES);
        assert_eq!(changed(&base, &resized).len(), base.len());

        let mut slower = base_spec.clone();
        slower.encoder.preset = "slow".into();
        let slower = plan_for(&slower, &[51, 81, 31, 41], &PICTURES);
        assert_eq!(changed(&base, &slower).len(), base.len());

        let mut description = base[0].description.clone();
        assert_eq!(key_of(&description).unwrap(), base[0].key);
        description.renderer_version += 1;
        assert_ne!(key_of(&description).unwrap(), base[0].key);
    }

    /// Captions without word timings are drawn exactly as before timed captions existed, so
    /// their chunks keep the keys they had (a cache filled by an older build of the same
    /// renderer version stays valid; the key below changes with the version alone).
    #[test]
    fn sound_settings_change_no_key() {
        let base_spec = spec(&TEXTS);
        let base = plan_for(&base_spec, &[51, 81, 31, 41], &PICTURES);
        let mut finished = base_spec.clone();
        finished.sound = crate::plan::spec::SoundSettings {
            loudness_target_lufs: Some(-23.0),
            music: Some(crate::plan::spec::MusicSpec {
                path: "music.mp3".into(),
                volume: 0.6,
                ducking_db: 20.0,
            }),
        };
        assert_eq!(
            keys(&base),
            keys(&plan_for(&finished, &[51, 81, 31, 41], &PICTURES))
        );
        finished.sound.loudness_target_lufs = None;
        assert_eq!(
            keys(&base),
            keys(&plan_for(&finished, &[51, 81, 31, 41], &PICTURES))
        );
    }

    #[test]
    fn untimed_captions_keep_their_keys() {
        let chunks = plan_for(&spec(&TEXTS), &[51, 81, 31, 41], &PICTURES);
        assert_eq!(
            chunks[4].key.as_str(),
            "3b8b65a92398ae1d6a274eb403576871137e57876be5c868daeeb87f7f67b94d"
        );
    }

    #[test]
    fn a_changed_segment_changes_only_the_chunks_showing_it() {
        let spec = spec(&TEXTS);
        let base = plan_for(&spec, &[51, 81, 31, 41], &PICTURES);
        for k in 0..4 {
            let mut pictures = PICTURES;
            pictures[k] = "new";
            let other = plan_for(&spec, &[51, 81, 31, 41], &pictures);
            let mut expected = vec![];
            if k > 0 {
                expected.push(blend(k - 1));
            }
            expected.push(body(k));
            if k < 3 {
                expected.push(blend(k));
            }
            assert_eq!(changed(&base, &other), expected, "segment {k}");
        }
    }

    #[test]
    fn subtitles_logo_and_font_are_in_the_key() {
        let mut with_logo = spec(&TEXTS);
        with_logo.logo = Some(LogoSpec {
            path: "logo.png".into(),
            scale: 0.15,
            position: LogoPosition::BottomRight,
            opacity: 0.8,
            margin: 20,
        });
        let samples = [51 * 1600u64, 81 * 1600];
        let t = Timeline::new(30, 48_000, 0.3, &samples);
        let (transitions, _) = Transitions::plan(&t, 0.5);
        let cues = [Cue {
            start: 0.0,
            end: 1.0,
            text: "Hello".into(),
            word_starts: Vec::new(),
        }];
        let picture_hash = |_: usize| "pic".to_string();
        let inputs = PlanInputs {
            spec: &with_logo,
            timeline: &t,
            transitions: &transitions,
            cues: &cues,
            picture_hash: &picture_hash,
            font_hash: Some("font"),
            logo_hash: Some("logo"),
        };
        let first = |inputs: &PlanInputs<'_>| plan(inputs).unwrap().remove(0);
        let chunk = first(&inputs);
        let logo = chunk.description.logo.clone().unwrap();
        assert_eq!(
            (logo.file.as_str(), logo.position.as_str(), logo.margin),
            ("logo", "bottom-right", 20)
        );
        // No font file in the style: the font hash is not part of the key.
        assert_eq!(chunk.description.subtitles.unwrap().style.font_file, None);
        assert_eq!(
            first(&PlanInputs {
                font_hash: None,
                ..inputs
            })
            .key,
            chunk.key
        );
        // An unreadable logo is left out, like no logo.
        assert_ne!(
            first(&PlanInputs {
                logo_hash: None,
                ..inputs
            })
            .key,
            chunk.key
        );
        let mut no_subtitles = with_logo.clone();
        no_subtitles.subtitles = None;
        let without = first(&PlanInputs {
            spec: &no_subtitles,
            ..inputs
        });
        assert_eq!(without.description.subtitles, None);
        assert_ne!(without.key, chunk.key);

        let mut with_font = with_logo.clone();
        if let Some(style) = with_font.subtitles.as_mut() {
            style.font_file = Some("font.ttf".into());
        }
        let a = first(&PlanInputs {
            spec: &with_font,
            ..inputs
        });
        let b = first(&PlanInputs {
            spec: &with_font,
            font_hash: Some("other font"),
            ..inputs
        });
        assert_ne!(a.key, chunk.key);
        assert_ne!(a.key, b.key);
    }

    #[test]
    fn word_times_and_the_highlight_colour_are_in_the_key() {
        let spec = spec(&["a"]);
        let t = Timeline::new(30, 48_000, 0.3, &[60 * 1600]);
        let transitions = Transitions::none(&t);
        let picture_hash = |_: usize| "pic".to_string();
        let key = |spec: &RenderSpec, word_starts: &[f64]| {
            let cues = [Cue {
                start: 0.5,
                end: 1.5,
                text: "Hello there friend".into(),
                word_starts: word_starts.to_vec(),
            }];
            plan(&PlanInputs {
                spec,
                timeline: &t,
                transitions: &transitions,
                cues: &cues,
                picture_hash: &picture_hash,
                font_hash: None,
                logo_hash: None,
            })
            .unwrap()
            .remove(0)
        };
        let timed = key(&spec, &[0.5, 0.8, 1.2]);
        assert_eq!(
            timed.description.subtitles.unwrap().cues[0].highlight,
            Some(HighlightDescription {
                color: [0xFF, 0xD4, 0x00],
                words: vec![15, 24, 36]
            })
        );
        let untimed = key(&spec, &[]);
        assert_ne!(timed.key, untimed.key);
        // A word moved to another frame changes the key; within the same frame it cannot.
        assert_ne!(key(&spec, &[0.5, 0.9, 1.2]).key, timed.key);
        assert_eq!(key(&spec, &[0.5, 0.79, 1.2]).key, timed.key);
        let mut blue = spec.clone();
        if let Some(style) = blue.subtitles.as_mut() {
            style.highlight_color = Some([0, 0, 255]);
        }
        assert_ne!(key(&blue, &[0.5, 0.8, 1.2]).key, timed.key);
        // No highlight: the words draw nothing of their own, so the key is the untimed one.
        let mut off = spec.clone();
        if let Some(style) = off.subtitles.as_mut() {
            style.highlight_color = None;
        }
        assert_eq!(key(&off, &[0.5, 0.8, 1.2]).key, untimed.key);
        assert_eq!(key(&off, &[]).key, untimed.key);
    }

    /// The caveat in the module documentation, with numbers: segment 0 grows by 0.6 frames,
    /// which moves segment 1's start from frame 20 to 21 but its end stays at 41, so segment 1
    /// loses a frame and its chunks change; segment 2 keeps its 20 frames and its key.
    #[test]
    fn a_fractional_change_can_move_a_later_boundary() {
        let spec = RenderSpec {
            fps: 10,
            transition_duration: 0.0,
            subtitles: None,
            ..spec(&["a", "b", "c"])
        };
        let picture_hash = |i: usize| format!("p{i}");
        let chunks = |samples: &[u64]| {
            let t = Timeline::new(10, 1000, 0.0, samples);
            let transitions = Transitions::none(&t);
            plan(&PlanInputs {
                spec: &spec,
                timeline: &t,
                transitions: &transitions,
                cues: &[],
                picture_hash: &picture_hash,
                font_hash: None,
                logo_hash: None,
            })
            .unwrap()
        };
        let before = chunks(&[2000, 2050, 2000]);
        let after = chunks(&[2060, 2050, 2000]);
        let frames = |c: &[Chunk]| c.iter().map(|c| c.frames.clone()).collect::<Vec<_>>();
        assert_eq!(frames(&before), [0..20, 20..41, 41..61]);
        assert_eq!(frames(&after), [0..21, 21..41, 41..61]);
        assert_eq!(changed(&before, &after), [body(0), body(1)]);
    }

    #[test]
    fn keys_parse_only_as_lowercase_hex() {
        let key = ChunkKey::of_bytes(b"abc");
        assert_eq!(
            key.as_str(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
        assert_eq!(ChunkKey::parse(key.as_str()), Some(key.clone()));
        assert_eq!(ChunkKey::parse(&key.as_str().to_uppercase()), None);
        assert_eq!(ChunkKey::parse("../etc/passwd"), None);
        assert_eq!(ChunkKey::parse(&key.as_str()[1..]), None);
        assert_eq!(hex(&[0, 15, 255]), "000fff");
    }
}
