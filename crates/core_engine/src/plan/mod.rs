//! What to render, worked out before any pixel is drawn: the [`spec`] (or the JSON
//! [`manifest`] it is read from), the [`timeline`] that places every segment in frames and
//! audio samples, the crossfades between segments ([`transition`]), and the chunks the video
//! is cut into, with the keys that name them in the cache ([`chunk_plan`]). Pure: no I/O
//! besides reading the manifest.

pub mod chunk_plan;
pub mod manifest;
pub mod spec;
pub mod timeline;
pub mod transition;
