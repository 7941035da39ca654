//! The sound track: each narration decoded and resampled to the timeline's rate, and its
//! length probed, which decides how long its picture is shown ([`audio`]); the background
//! music's gain over the timeline, faded and ducked under the narration ([`envelope`]), and
//! the music itself, looped (`music`); the two mixed into fixed-size blocks (`track`); and
//! the loudness step, EBU R128 measurement, gain and true-peak limiter ([`loudness`]).
//!
//! The splice's sound pass (`render::narration`) runs the track twice when it has a loudness
//! target: once to measure, once to push, gained and limited. No pass holds more than a few
//! blocks, whatever the length of the video. Nothing here is part of a chunk's key, so
//! changing the music or the loudness re-runs only this pass.

pub mod audio;
pub mod envelope;
pub mod loudness;
pub(crate) mod music;
pub(crate) mod track;

/// The highest true peak a loudness-normalised sound track may reach, in dBTP (EBU R128's
/// delivery ceiling).
pub const TRUE_PEAK_CEILING_DBTP: f64 = -1.0;
