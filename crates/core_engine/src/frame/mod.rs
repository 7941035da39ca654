//! Drawing one frame: the picture decoded, oriented and cover-fit ([`image_source`]), moved by
//! the Ken Burns camera ([`ken_burns`]) through its sampler ([`resample`]), composited into an
//! I420 frame or a crossfade of two ([`compositor`]), with the overlays on top: subtitles
//! ([`text_overlay`]) and the logo ([`logo`]), both drawn once into an [`overlay`].

pub(crate) mod compositor;
pub(crate) mod image_source;
pub mod ken_burns;
pub mod logo;
pub mod overlay;
pub(crate) mod resample;
pub mod text_overlay;
