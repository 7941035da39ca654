//! Crossfades between consecutive segments: where each blend sits on the frame timeline and
//! what every frame shows.
//!
//! Pure arithmetic on a [`Timeline`]. The sound track is not touched: a blend of `n` frames
//! is centred on the frame where the next narration starts, its first `n / 2` frames inside
//! the outgoing segment's picture time and the rest inside the incoming one's, so the video
//! lasts exactly as long as without transitions. Each segment's picture is on screen from the
//! start of the blend into it to the end of the blend out of it, and its Ken Burns move spans
//! that whole time, so both pictures keep moving through a blend.

use std::ops::Range;

use crate::plan::timeline::Timeline;

/// The blend from one segment's picture into the next one's over `frames` frames from
/// `start`. Zero frames is a hard cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Crossfade {
    pub start: u64,
    pub frames: u64,
}

impl Crossfade {
    pub fn end(&self) -> u64 {
        self.start + self.frames
    }

    pub fn contains(&self, frame: u64) -> bool {
        (self.start..self.end()).contains(&frame)
    }

    /// How much of the incoming picture frame `frame` shows: sampled at the middle of the
    /// frame, so a blend is symmetric and never shows a pure picture (`(k + 0.5) / frames`).
    pub fn weight(&self, frame: u64) -> f64 {
        (frame.saturating_sub(self.start) as f64 + 0.5) / self.frames as f64
    }
}

/// What one output frame shows.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum FrameContent {
    /// Segment `0`'s picture alone (0-based position in the render order).
    Single(usize),
    /// Segment `from`'s picture blended into segment `from + 1`'s; `weight` is the share of
    /// the incoming picture, in (0, 1).
    Blend { from: usize, weight: f64 },
}

/// The crossfades of a whole render: one per boundary between consecutive segments.
#[derive(Debug, Clone, PartialEq)]
pub struct Transitions {
    /// `fades[i]` leads from segment `i` into segment `i + 1`.
    fades: Vec<Crossfade>,
    /// Each segment's own frames, `start_frame..end_frame`.
    own: Vec<Range<u64>>,
}

impl Transitions {
    /// Crossfades of `seconds` (rounded to whole frames) at every boundary of `timeline`.
    /// A blend never takes more frames than either of its segments has, so the blends into
    /// and out of a segment cannot overlap; each shortened blend adds a warning.
    pub fn plan(timeline: &Timeline, seconds: f64) -> (Transitions, Vec<String>) {
        let fps = f64::from(timeline.fps());
        let wanted = (seconds.max(0.0) * fps).round() as u64;
        let segments = timeline.segments();
        let mut warnings = Vec::new();
        let fades = segments
            .windows(2)
            .enumerate()
            .map(|(i, pair)| {
                let (out, into) = (pair[0], pair[1]);
                let frames = wanted.min(out.frames()).min(into.frames());
                if frames < wanted {
                    let (short, len) = if out.frames() <= into.frames() {
                        (i + 1, out.frames())
                    } else {
                        (i + 2, into.frames())
                    };
                    warnings.push(format!(
                        "the transition between segments {} and {} was shortened to {:.2} s: \
                         segment {short} is on screen for only {:.2} s",
                        i + 1,
                        i + 2,
                        frames as f64 / fps,
                        len as f64 / fps,
                    ));
                }
                Crossfade {
                    start: into.start_frame - frames / 2,
                    frames,
                }
            })
            .collect();
        let own = segments
            .iter()
            .map(|s| s.start_frame..s.end_frame)
            .collect();
        (Transitions { fades, own }, warnings)
    }

    /// Hard cuts everywhere.
    pub fn none(timeline: &Timeline) -> Transitions {
        Transitions::plan(timeline, 0.0).0
    }

    pub fn crossfades(&self) -> &[Crossfade] {
        &self.fades
    }

    /// The frames on which segment `segment`'s picture is seen (empty for a segment shorter
    /// than a frame): its own frames widened by the blends into and out of it.
    pub fn visible(&self, segment: usize) -> Range<u64> {
        let own = self.own[segment].clone();
        if own.is_empty() {
            return own;
        }
        let start = segment
            .checked_sub(1)
            .map_or(own.start, |i| self.fades[i].start.min(own.start));
        let end = self
            .fades
            .get(segment)
            .map_or(own.end, |fade| fade.end().max(own.end));
        start..end
    }

    /// What frame `frame` shows, given `segment`, the segment whose own frames contain it.
    pub fn content(&self, frame: u64, segment: usize) -> FrameContent {
        let into = segment
            .checked_sub(1)
            .map(|i| (i, self.fades[i]))
            .filter(|(_, fade)| fade.contains(frame));
        let out = self
            .fades
            .get(segment)
            .filter(|fade| fade.contains(frame))
            .map(|fade| (segment, *fade));
        match into.or(out) {
            Some((from, fade)) => FrameContent::Blend {
                from,
                weight: fade.weight(frame),
            },
            None => FrameContent::Single(segment),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::timeline::Timeline;

    /// 10 fps and 1 kHz "audio": 100 samples per frame, no silence gap.
    fn timeline(frames: &[u64]) -> Timeline {
        let samples: Vec<u64> = frames.iter().map(|f| f * 100).collect();
        Timeline::new(10, 1000, 0.0, &samples)
    }

    #[test]
    fn blends_are_centred_on_the_boundaries() {
        let t = timeline(&[20, 30, 25]);
        let (plan, warnings) = Transitions::plan(&t, 0.5);
        assert!(warnings.is_empty());
        assert_eq!(
            plan.crossfades(),
            [
                Crossfade {
                    start: 18,
                    frames: 5
                },
                Crossfade {
                    start: 48,
                    frames: 5
                }
            ]
        );
        assert_eq!(plan.visible(0), 0..23);
        assert_eq!(plan.visible(1), 18..53);
        assert_eq!(plan.visible(2), 48..75);
    }

    #[test]
    fn frames_show_one_picture_or_a_symmetric_blend() {
        let t = timeline(&[20, 30]);
        let (plan, _) = Transitions::plan(&t, 0.4);
        assert_eq!(plan.content(17, 0), FrameContent::Single(0));
        assert_eq!(
            plan.content(18, 0),
            FrameContent::Blend {
                from: 0,
                weight: 0.125
            }
        );
        assert_eq!(
            plan.content(19, 0),
            FrameContent::Blend {
                from: 0,
                weight: 0.375
            }
        );
        assert_eq!(
            plan.content(20, 1),
            FrameContent::Blend {
                from: 0,
                weight: 0.625
            }
        );
        assert_eq!(
            plan.content(21, 1),
            FrameContent::Blend {
                from: 0,
                weight: 0.875
            }
        );
        assert_eq!(plan.content(22, 1), FrameContent::Single(1));
    }

    #[test]
    fn zero_seconds_is_hard_cuts() {
        let t = timeline(&[20, 30]);
        let plan = Transitions::none(&t);
        assert_eq!(plan.crossfades()[0].frames, 0);
        assert_eq!(plan.visible(0), 0..20);
        assert_eq!(plan.visible(1), 20..50);
        assert_eq!(plan.content(19, 0), FrameContent::Single(0));
        assert_eq!(plan.content(20, 1), FrameContent::Single(1));
    }

    #[test]
    fn a_blend_longer_than_a_segment_is_shortened_with_a_warning() {
        // 2 s wanted = 20 frames; the middle segment has only 6.
        let t = timeline(&[40, 6, 40]);
        let (plan, warnings) = Transitions::plan(&t, 2.0);
        assert_eq!(
            plan.crossfades(),
            [
                Crossfade {
                    start: 37,
                    frames: 6
                },
                Crossfade {
                    start: 43,
                    frames: 6
                }
            ]
        );
        // The blends into and out of the short segment touch but do not overlap.
        assert_eq!(plan.visible(1), 37..49);
        assert_eq!(
            warnings,
            [
                "the transition between segments 1 and 2 was shortened to 0.60 s: segment 2 \
                 is on screen for only 0.60 s",
                "the transition between segments 2 and 3 was shortened to 0.60 s: segment 2 \
                 is on screen for only 0.60 s",
            ]
        );
        assert_eq!(
            plan.content(42, 1),
            FrameContent::Blend {
                from: 0,
                weight: 5.5 / 6.0
            }
        );
        assert_eq!(
            plan.content(43, 1),
            FrameContent::Blend {
                from: 1,
                weight: 0.5 / 6.0
            }
        );
    }

    #[test]
    fn a_segment_shorter_than_a_frame_is_never_shown() {
        let samples = [2000, 40, 2000]; // the middle one is 0.04 frames long
        let t = Timeline::new(10, 1000, 0.0, &samples);
        let (plan, warnings) = Transitions::plan(&t, 0.5);
        assert_eq!(plan.visible(1), 20..20);
        assert_eq!(warnings.len(), 2);
        assert_eq!(plan.content(19, 0), FrameContent::Single(0));
        assert_eq!(plan.content(20, 2), FrameContent::Single(2));
    }
}
