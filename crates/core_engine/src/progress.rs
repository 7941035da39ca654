//! Progress events: what the render is doing and how far it got, throttled for the caller.

use std::time::{Duration, Instant};

/// One progress report. `percentage` (0–100) never goes down and reaches 100 only once the
/// finished file is verified and in place.
#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    /// 1-based segment being worked on (0 before the first).
    pub current_segment: u32,
    pub total_segments: u32,
    /// Human-readable stage, e.g. "Rendering segment 3/12" or "Finalising".
    pub phase: String,
    /// Frames the H.264 encoder has produced so far.
    pub encoded_frames: u64,
    pub total_frames: u64,
    pub percentage: f64,
}

/// How the 0–100 range is shared between the stages.
pub(crate) mod share {
    /// Decoding every narration once to learn its exact length.
    pub const ANALYSIS_END: f64 = 2.0;
    /// Encoding frames (reused chunks count at once), driven by the encoders' output.
    pub const ENCODING_END: f64 = 92.0;
    /// Joining the chunks and the narration into one file.
    pub const SPLICED: f64 = 97.0;
    /// Writing the index (moov) and closing the file.
    pub const FINALISED: f64 = 98.0;
    /// Checked by the discoverer; only the rename remains.
    pub const VERIFIED: f64 = 99.0;

    /// Percentage for `done` of `total` narrations analysed.
    pub fn analysis(done: usize, total: usize) -> f64 {
        fraction(done as f64, total as f64) * ANALYSIS_END
    }

    /// Percentage for `encoded` of `total` frames out of the encoder.
    pub fn encoding(encoded: u64, total: u64) -> f64 {
        ANALYSIS_END + fraction(encoded as f64, total as f64) * (ENCODING_END - ANALYSIS_END)
    }

    /// Percentage for `spliced` of `total` frames joined into the output.
    pub fn splicing(spliced: u64, total: u64) -> f64 {
        ENCODING_END + fraction(spliced as f64, total as f64) * (SPLICED - ENCODING_END)
    }

    fn fraction(done: f64, total: f64) -> f64 {
        if total <= 0.0 {
            1.0
        } else {
            (done / total).clamp(0.0, 1.0)
        }
    }
}

/// Forwards progress to the caller at most once per `interval` within a phase (a new phase
/// is always told, so a quick one like "Reusing segment 3/20" is not lost), keeping the
/// percentage monotonic and below 100 until [`Reporter::finish`].
pub(crate) struct Reporter<'a> {
    callback: &'a mut dyn FnMut(&Progress),
    interval: Duration,
    last_emit: Option<Instant>,
    last_phase: String,
    highest: f64,
}

impl<'a> Reporter<'a> {
    /// The default: ten events a second at most.
    pub fn new(callback: &'a mut dyn FnMut(&Progress)) -> Self {
        Self::with_interval(callback, Duration::from_millis(100))
    }

    pub fn with_interval(callback: &'a mut dyn FnMut(&Progress), interval: Duration) -> Self {
        Self {
            callback,
            interval,
            last_emit: None,
            last_phase: String::new(),
            highest: 0.0,
        }
    }

    /// Emits `progress` unless the last event, in the same phase, was less than `interval`
    /// ago.
    pub fn update(&mut self, mut progress: Progress, now: Instant) {
        if let Some(last) = self.last_emit {
            if now.duration_since(last) < self.interval && progress.phase == self.last_phase {
                return;
            }
        }
        self.last_phase.clone_from(&progress.phase);
        progress.percentage = progress.percentage.clamp(self.highest, 99.9);
        self.highest = progress.percentage;
        self.last_emit = Some(now);
        (self.callback)(&progress);
    }

    /// The final 100 %, always emitted.
    pub fn finish(&mut self, mut progress: Progress) {
        progress.percentage = 100.0;
        self.highest = 100.0;
        (self.callback)(&progress);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(percentage: f64) -> Progress {
        Progress {
            current_segment: 1,
            total_segments: 2,
            phase: "Rendering segment 1/2".into(),
            encoded_frames: 0,
            total_frames: 10,
            percentage,
        }
    }

    #[test]
    fn throttles_keeps_monotonic_and_always_finishes() {
        let mut seen = Vec::new();
        let mut callback = |p: &Progress| seen.push(p.percentage);
        let mut reporter = Reporter::with_interval(&mut callback, Duration::from_millis(100));
        let t0 = Instant::now();
        reporter.update(at(10.0), t0);
        reporter.update(at(20.0), t0 + Duration::from_millis(50)); // too soon
        reporter.update(at(5.0), t0 + Duration::from_millis(150)); // would go down
        reporter.update(at(100.0), t0 + Duration::from_millis(300)); // not finished yet
        reporter.finish(at(99.0));
        assert_eq!(seen, vec![10.0, 10.0, 99.9, 100.0]);
    }

    #[test]
    fn a_new_phase_is_told_at_once() {
        let mut seen = Vec::new();
        let mut callback = |p: &Progress| seen.push(p.phase.clone());
        let mut reporter = Reporter::new(&mut callback);
        let t0 = Instant::now();
        let phase = |name: &str| Progress {
            phase: name.into(),
            ..at(10.0)
        };
        reporter.update(phase("Reusing segment 1/2"), t0);
        reporter.update(phase("Reusing segment 1/2"), t0); // a repeat, too soon
        reporter.update(phase("Reusing segment 2/2"), t0);
        assert_eq!(seen, ["Reusing segment 1/2", "Reusing segment 2/2"]);
    }

    #[test]
    fn shares_cover_zero_to_the_splice_end() {
        assert_eq!(share::analysis(0, 4), 0.0);
        assert_eq!(share::analysis(4, 4), share::ANALYSIS_END);
        assert_eq!(share::encoding(0, 100), share::ANALYSIS_END);
        assert_eq!(share::encoding(50, 100), 47.0);
        assert_eq!(share::encoding(120, 100), share::ENCODING_END);
        assert_eq!(share::encoding(0, 0), share::ENCODING_END);
        assert_eq!(share::splicing(0, 100), share::ENCODING_END);
        assert_eq!(share::splicing(50, 100), 94.5);
        assert_eq!(share::splicing(100, 100), share::SPLICED);
    }
}
