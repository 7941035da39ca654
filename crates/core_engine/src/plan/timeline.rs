//! Where every segment starts and ends, in audio samples and in video frames.
//!
//! Pure arithmetic, no I/O. The decoded narration length is authoritative. Frame boundaries
//! come from the *cumulative* sample position (`frame = round(samples * fps / rate)`), never
//! from per-segment rounding, so picture and sound stay within half a frame of each other
//! however long the project is.

/// The audio rate every narration is decoded and resampled to.
pub const SAMPLE_RATE: u32 = 48_000;

/// One segment's place on the timeline. Sample positions are in frames of stereo audio
/// (one sample per channel); `frames` are video frames, `end_frame` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SegmentTiming {
    pub start_sample: u64,
    pub narration_samples: u64,
    pub gap_samples: u64,
    pub start_frame: u64,
    pub end_frame: u64,
}

impl SegmentTiming {
    pub fn end_sample(&self) -> u64 {
        self.start_sample + self.narration_samples + self.gap_samples
    }

    pub fn frames(&self) -> u64 {
        self.end_frame - self.start_frame
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    fps: u32,
    sample_rate: u32,
    segments: Vec<SegmentTiming>,
}

impl Timeline {
    /// Lays out segments of the given narration lengths (in samples at `sample_rate`), each
    /// followed by `gap_seconds` of silence, the last one included.
    pub fn new(fps: u32, sample_rate: u32, gap_seconds: f64, narration_samples: &[u64]) -> Self {
        let gap_samples = (gap_seconds.max(0.0) * f64::from(sample_rate)).round() as u64;
        let mut segments = Vec::with_capacity(narration_samples.len());
        let mut position = 0u64;
        for &narration in narration_samples {
            let end = position + narration + gap_samples;
            segments.push(SegmentTiming {
                start_sample: position,
                narration_samples: narration,
                gap_samples,
                start_frame: frame_at_sample(position, fps, sample_rate),
                end_frame: frame_at_sample(end, fps, sample_rate),
            });
            position = end;
        }
        Self {
            fps,
            sample_rate,
            segments,
        }
    }

    pub fn segments(&self) -> &[SegmentTiming] {
        &self.segments
    }

    pub fn fps(&self) -> u32 {
        self.fps
    }

    pub fn sample_rate(&self) -> u32 {
        self.sample_rate
    }

    pub fn total_samples(&self) -> u64 {
        self.segments.last().map_or(0, SegmentTiming::end_sample)
    }

    pub fn total_frames(&self) -> u64 {
        self.segments.last().map_or(0, |s| s.end_frame)
    }

    /// The length of the sound track, in seconds.
    pub fn duration_seconds(&self) -> f64 {
        self.total_samples() as f64 / f64::from(self.sample_rate)
    }

    /// The 0-based position of the segment showing frame `frame` (the last for frames past
    /// the end).
    pub fn segment_of_frame(&self, frame: u64) -> usize {
        let after = self.segments.partition_point(|s| s.end_frame <= frame);
        after.min(self.segments.len().saturating_sub(1))
    }

    /// Presentation time of video frame `frame`, in nanoseconds (see [`frame_time_ns`]).
    pub fn frame_time_ns(&self, frame: u64) -> u64 {
        frame_time_ns(frame, self.fps)
    }

    /// Presentation time of audio sample `sample`, in nanoseconds.
    pub fn sample_time_ns(&self, sample: u64) -> u64 {
        scale(sample, 1_000_000_000, u64::from(self.sample_rate))
    }
}

/// Presentation time of frame `frame` at `fps`, in nanoseconds, rounded down: the one
/// formula for frame times, used by the timeline and by the splice's re-timing.
pub fn frame_time_ns(frame: u64, fps: u32) -> u64 {
    scale(frame, 1_000_000_000, u64::from(fps.max(1)))
}

/// The frame whose time is nearest to `ns` at `fps` (the inverse of [`frame_time_ns`]).
pub fn nearest_frame(ns: u64, fps: u32) -> u64 {
    ((2 * u128::from(ns) * u128::from(fps) + 1_000_000_000) / 2_000_000_000) as u64
}

/// The video frame nearest to a sample position (half rounds up), in exact integer math.
pub fn frame_at_sample(sample: u64, fps: u32, sample_rate: u32) -> u64 {
    let numerator = 2 * u128::from(sample) * u128::from(fps) + u128::from(sample_rate);
    (numerator / (2 * u128::from(sample_rate))) as u64
}

fn scale(value: u64, num: u64, den: u64) -> u64 {
    (u128::from(value) * u128::from(num) / u128::from(den)) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_include_their_gap_and_follow_each_other() {
        // 2.5 s and 1 s of narration with 0.3 s gaps at 30 fps.
        let t = Timeline::new(30, SAMPLE_RATE, 0.3, &[120_000, 48_000]);
        let s = t.segments();
        assert_eq!(s[0].gap_samples, 14_400);
        assert_eq!((s[0].start_sample, s[0].end_sample()), (0, 134_400));
        assert_eq!((s[0].start_frame, s[0].end_frame), (0, 84));
        assert_eq!((s[1].start_sample, s[1].end_sample()), (134_400, 196_800));
        assert_eq!((s[1].start_frame, s[1].end_frame), (84, 123));
        assert_eq!(t.total_frames(), 123);
        assert_eq!(t.total_samples(), 196_800);
        assert_eq!(t.duration_seconds(), 4.1);
    }

    #[test]
    fn frames_round_to_nearest() {
        // 1600 samples = one frame at 30 fps; 800 is exactly half.
        assert_eq!(frame_at_sample(799, 30, 48_000), 0);
        assert_eq!(frame_at_sample(800, 30, 48_000), 1);
        assert_eq!(frame_at_sample(2399, 30, 48_000), 1);
        assert_eq!(frame_at_sample(48_000 * 3600, 24, 48_000), 86_400);
    }

    /// 200 segments of awkward lengths at common frame rates: every boundary stays within
    /// half a frame of the sound, and segments follow each other without gaps.
    #[test]
    fn no_drift_over_two_hundred_odd_segments() {
        let lengths: Vec<u64> = (0..200u64)
            .map(|i| 96_000 + 7_919 * i % 44_111 + 817)
            .collect();
        for fps in [24, 25, 30, 60] {
            let t = Timeline::new(fps, SAMPLE_RATE, 0.3, &lengths);
            let frame = 1.0 / f64::from(fps);
            for (i, s) in t.segments().iter().enumerate() {
                let audio_start = s.start_sample as f64 / f64::from(SAMPLE_RATE);
                let video_start = s.start_frame as f64 * frame;
                assert!(
                    (audio_start - video_start).abs() <= frame / 2.0 + 1e-12,
                    "segment {i}"
                );
                if i > 0 {
                    assert_eq!(s.start_frame, t.segments()[i - 1].end_frame);
                }
            }
            let video = t.total_frames() as f64 * frame;
            assert!((video - t.duration_seconds()).abs() <= frame / 2.0);
        }
    }

    /// 200 segments of 1.02 s at 30 fps are 30.6 frames each: rounding every segment would
    /// give 6200 frames (2.7 s too long); the cumulative timeline gives exactly 6120.
    #[test]
    fn cumulative_rounding_beats_per_segment_rounding() {
        let t = Timeline::new(30, SAMPLE_RATE, 0.3, &[34_560; 200]);
        assert_eq!(t.duration_seconds(), 204.0);
        assert_eq!(t.total_frames(), 6120);
        let frames: Vec<u64> = t.segments().iter().map(SegmentTiming::frames).collect();
        assert!(frames.contains(&30) && frames.contains(&31));
    }

    #[test]
    fn segment_lookup_and_timestamps() {
        let t = Timeline::new(30, SAMPLE_RATE, 0.0, &[48_000, 48_000, 48_000]);
        assert_eq!(t.segment_of_frame(0), 0);
        assert_eq!(t.segment_of_frame(29), 0);
        assert_eq!(t.segment_of_frame(30), 1);
        assert_eq!(t.segment_of_frame(89), 2);
        assert_eq!(t.segment_of_frame(500), 2);
        assert_eq!(t.frame_time_ns(1), 33_333_333);
        assert_eq!(t.frame_time_ns(30), 1_000_000_000);
        assert_eq!(t.sample_time_ns(24_000), 500_000_000);
    }

    #[test]
    fn frame_times_are_exact_and_round_trip() {
        assert_eq!(frame_time_ns(1, 30), 33_333_333);
        assert_eq!(frame_time_ns(2, 15), 133_333_333);
        assert_eq!(frame_time_ns(30, 30), 1_000_000_000);
        assert_eq!(frame_time_ns(86_400 * 60, 60), 86_400_000_000_000);
        assert_eq!(nearest_frame(133_333_333, 15), 2);
        assert_eq!(nearest_frame(133_333_334, 15), 2);
        assert_eq!(nearest_frame(33_333_333 / 2, 30), 0);
        assert_eq!(nearest_frame(33_333_334 / 2, 30), 1);
        for fps in [1, 15, 24, 25, 30, 60, 120] {
            for frame in [0, 1, 2, 29, 1_000_003] {
                assert_eq!(nearest_frame(frame_time_ns(frame, fps), fps), frame);
            }
        }
    }

    #[test]
    fn a_segment_shorter_than_a_frame_gets_no_frames_but_keeps_time() {
        let t = Timeline::new(30, SAMPLE_RATE, 0.0, &[48_000, 100, 48_000]);
        assert_eq!(t.segments()[1].frames(), 0);
        assert_eq!(t.total_samples(), 96_100);
        assert_eq!(t.total_frames(), 60);
    }
}
