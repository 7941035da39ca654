//! The sound: each narration decoded and resampled to the timeline's rate, and its length
//! probed, which decides how long its picture is shown ([`audio`]).

pub mod audio;

/// The highest true peak a loudness-normalised sound track may reach, in dBTP (EBU R128's
/// delivery ceiling).
pub const TRUE_PEAK_CEILING_DBTP: f64 = -1.0;
