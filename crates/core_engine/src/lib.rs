//! StoryFlow's video renderer: turns an ordered list of (image, narration) segments into one
//! H.264/AAC MP4 with a sub-pixel smooth Ken Burns camera, picture and sound in sync.
//!
//! Table of contents, one folder per stage of the pipeline:
//! - [`plan`]: what to render. The [`RenderSpec`] (from code or a JSON [`manifest`]), the
//!   timeline of frames and samples, the crossfades, and the chunks the video is cut into.
//! - [`frame`]: drawing one frame. Pictures decoded and cover-fit, the Ken Burns camera and
//!   its sampler, and the overlays (subtitles, logo) composited on top.
//! - [`chunks`]: frames to file. Each chunk encoded by libx264 in this process, the cache of
//!   encoded chunks, the lossless splice into the MP4, and its verification.
//! - [`sound`]: the narrations decoded and probed, the background music looped, faded and
//!   ducked under them, the loudness measured and brought to its target under a true-peak
//!   ceiling, a block at a time ([`render_sound`] runs that pass alone).
//! - [`captions`]: the subtitle cues and the `.srt`/`.vtt` sidecars.
//! - [`render()`]: the whole job across those stages, with [`Progress`] events and a
//!   [`CancelToken`]; [`error`]: [`RenderError`], which says what the user has to fix.
//! - Housekeeping: [`init`], [`check_elements`], [`is_temporary_output`]; `benchmark` (behind
//!   the `bench` feature) and [`stats`] ([`render_with`]) for `storyflow bench`.

pub mod captions;
pub mod chunks;
pub mod frame;
pub mod plan;
pub mod sound;

#[cfg(feature = "bench")]
pub mod benchmark;
pub mod cancel;
pub mod error;
pub mod progress;
mod render;
pub mod stats;

// The module paths users outside the crate have always had; inside it, modules are named by
// their folder.
pub use captions::{sidecar, subtitles};
pub use chunks::{chunk_cache, encoder, exchange, remote, splice};
pub use frame::{ken_burns, logo, overlay, text_overlay};
pub use plan::{chunk_plan, manifest, spec, timeline, transition};
pub use sound::audio;

pub use cancel::CancelToken;
pub use captions::sidecar::SubtitleFiles;
pub use chunks::pipeline::{check_elements, init};
pub use chunks::temp_output::{is_temporary_output, TEMP_OUTPUT_MARKER};
pub use error::RenderError;
pub use frame::image_source::{validate_image, MAX_IMAGE_PIXELS};
pub use plan::spec::{EncoderSettings, MusicSpec, RenderSpec, SegmentSpec, SoundSettings};
pub use progress::Progress;
pub use render::sound_pass::render_sound;
pub use render::{
    default_jobs, render, render_with, ChunkCounts, PlannedRender, RenderOptions, RenderOutput,
};
pub use sound::audio::probe_audio_duration;
pub use stats::RenderStats;
