//! Frames to file: the GStreamer plumbing ([`pipeline`]), libx264 in this process ([`x264`]),
//! each chunk encoded by an x264 encode of its own ([`encoder`]), the on-disk cache of encoded
//! chunks ([`chunk_cache`]) with its seam to a store other machines share ([`remote`]), the
//! seam that shares a render's chunks with other processes ([`exchange`]), the lossless splice
//! of the chunks and the narration into one MP4 ([`splice`]), written under a temporary name
//! ([`temp_output`]) and checked before it replaces the output ([`verify`]).

pub mod chunk_cache;
pub mod encoder;
pub mod exchange;
pub(crate) mod pipeline;
pub mod remote;
pub mod splice;
pub(crate) mod temp_output;
pub(crate) mod verify;
pub mod x264;
