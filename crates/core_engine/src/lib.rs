//! StoryFlow's video renderer: turns an ordered list of (image, narration) segments into one
//! H.264/AAC MP4 with a sub-pixel smooth Ken Burns camera, picture and sound in sync.
//!
//! Table of contents:
//! - [`spec`]: what to render ([`RenderSpec`], [`SegmentSpec`], [`EncoderSettings`]).
//! - [`manifest`]: load a [`RenderSpec`] from a JSON project file.
//! - [`render()`]: the whole job, with [`Progress`] events and a [`CancelToken`].
//! - [`error`]: [`RenderError`], which says what the user has to fix.
//! - Pure math, no I/O: [`ken_burns`] (camera motion), [`timeline`] (frame/sample timing) and
//!   `resample` (the camera's sampler: taps, weights, row kernels).
//! - I/O stages: `image_source` (decode, orient, cover-fit), [`audio`] (decode, probe),
//!   `compositor` (per-frame picture), `pipeline` (GStreamer graph), `verify` (check the file).
//! - Chunks: [`chunk_plan`] (pure: the chunks of a video and their cache keys),
//!   [`chunk_cache`] (the on-disk cache of encoded chunks), [`encoder`] (encode one chunk in
//!   a process of its own), [`splice`] (join chunks and the narration into the MP4 losslessly).
//! - Housekeeping: [`init`], [`check_elements`], [`is_temporary_output`]; `benchmark` (behind
//!   the `bench` feature) and [`stats`] ([`render_with`]) for `storyflow bench`.

pub mod audio;
#[cfg(feature = "bench")]
pub mod benchmark;
pub mod cancel;
pub mod chunk_cache;
pub mod chunk_plan;
mod compositor;
pub mod encoder;
pub mod error;
mod image_source;
pub mod ken_burns;
pub mod logo;
pub mod manifest;
pub mod overlay;
mod pipeline;
pub mod progress;
mod render;
mod resample;
pub mod sidecar;
pub mod spec;
pub mod splice;
pub mod stats;
pub mod subtitles;
mod temp_output;
pub mod text_overlay;
pub mod timeline;
pub mod transition;
mod verify;

pub use audio::probe_audio_duration;
pub use cancel::CancelToken;
pub use error::RenderError;
pub use image_source::{validate_image, MAX_IMAGE_PIXELS};
pub use pipeline::{check_elements, init};
pub use progress::Progress;
pub use render::{default_jobs, render, render_with, RenderOptions, RenderOutput};
pub use sidecar::SubtitleFiles;
pub use spec::{EncoderSettings, RenderSpec, SegmentSpec};
pub use stats::RenderStats;
pub use temp_output::{is_temporary_output, TEMP_OUTPUT_MARKER};
