//! The sound: each narration decoded and resampled to the timeline's rate, and its length
//! probed, which decides how long its picture is shown ([`audio`]).

pub mod audio;
