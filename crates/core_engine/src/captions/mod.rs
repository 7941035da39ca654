//! Captions: the subtitle cues of each segment, timed by the voice's word timings or spread
//! over its narration ([`subtitles`]), and the `.srt`/`.vtt` files written beside the video
//! ([`sidecar`]). Drawing them onto frames is [`crate::frame::text_overlay`]'s job.

pub mod sidecar;
pub mod subtitles;
