//! The background music's gain at every sample of the timeline: its volume, a fade in at the
//! start and a fade out at the end, and the ducking under each narration. Pure arithmetic,
//! no I/O.

use crate::plan::spec::MusicSpec;
use crate::plan::timeline::Timeline;

/// The music rises from silence over the video's first second...
pub const FADE_IN_SECONDS: f64 = 1.0;
/// ...and falls back to silence over its last two.
pub const FADE_OUT_SECONDS: f64 = 2.0;
/// The music is lowered over this long before each narration and raised over this long
/// after it: short enough to leave the gaps audible, long enough not to pump.
pub const DUCK_RAMP_SECONDS: f64 = 0.25;

/// The music's gain over a timeline.
#[derive(Debug, Clone, PartialEq)]
pub struct Envelope {
    volume: f64,
    ducking_db: f64,
    /// The timeline's length, in samples.
    total: u64,
    fade_in: u64,
    fade_out: u64,
    ramp: u64,
    /// Where narration speaks, `[start, end)` in samples, in order; spans whose ramps would
    /// meet are merged, so the music stays down between them instead of bobbing up.
    spans: Vec<(u64, u64)>,
}

impl Envelope {
    /// The envelope of `music` under the narrations of `timeline`.
    pub fn new(music: &MusicSpec, timeline: &Timeline) -> Self {
        let spans = timeline
            .segments()
            .iter()
            .map(|s| (s.start_sample, s.start_sample + s.narration_samples));
        Self::from_spans(
            music.volume,
            music.ducking_db,
            timeline.total_samples(),
            timeline.sample_rate(),
            spans,
        )
    }

    /// The envelope of a timeline of `total` samples at `rate` with narration `spans`
    /// (`[start, end)` samples, in order).
    pub fn from_spans(
        volume: f64,
        ducking_db: f64,
        total: u64,
        rate: u32,
        spans: impl IntoIterator<Item = (u64, u64)>,
    ) -> Self {
        let samples = |seconds: f64| (seconds * f64::from(rate)).round() as u64;
        let ramp = samples(DUCK_RAMP_SECONDS);
        let mut merged: Vec<(u64, u64)> = Vec::new();
        for (start, end) in spans.into_iter().filter(|(start, end)| end > start) {
            match merged.last_mut() {
                Some(last) if start < last.1 + 2 * ramp => last.1 = last.1.max(end),
                _ => merged.push((start, end)),
            }
        }
        Self {
            volume,
            ducking_db,
            total,
            fade_in: samples(FADE_IN_SECONDS),
            fade_out: samples(FADE_OUT_SECONDS),
            ramp,
            spans: merged,
        }
    }

    /// The music's linear gain at sample `n`.
    pub fn gain(&self, n: u64) -> f64 {
        self.volume * self.fade(n) * self.duck(n)
    }

    /// Writes the gain of samples `start..start + out.len()` into `out`.
    pub fn fill(&self, start: u64, out: &mut [f32]) {
        for (n, gain) in (start..).zip(out.iter_mut()) {
            *gain = self.gain(n) as f32;
        }
    }

    /// The fades: 0 at the first and after the last sample, 1 in between.
    fn fade(&self, n: u64) -> f64 {
        let rising = ramp_share(n, self.fade_in);
        let falling = ramp_share(self.total.saturating_sub(n), self.fade_out);
        rising.min(falling)
    }

    /// The ducking: 1 away from narration, `-ducking_db` under it, moving in dB over the
    /// ramps.
    fn duck(&self, n: u64) -> f64 {
        // The first span whose ramp up has not ended by `n`: no later span's ramp down has
        // begun (spans are at least two ramps apart).
        let next = self.spans.partition_point(|&(_, end)| end + self.ramp <= n);
        let Some(&(start, end)) = self.spans.get(next) else {
            return 1.0;
        };
        let depth = if n + self.ramp < start {
            return 1.0;
        } else if n < start {
            1.0 - ramp_share(start - n, self.ramp)
        } else if n < end {
            1.0
        } else {
            1.0 - ramp_share(n - end, self.ramp)
        };
        db_to_gain(-self.ducking_db * depth)
    }
}

/// How far along a ramp of `length` samples a point `along` samples in is (0–1); a ramp of
/// no length is already done.
fn ramp_share(along: u64, length: u64) -> f64 {
    if length == 0 {
        1.0
    } else {
        (along as f64 / length as f64).min(1.0)
    }
}

/// A level change in dB as a linear gain.
pub fn db_to_gain(db: f64) -> f64 {
    10f64.powf(db / 20.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RATE: u32 = 48_000;

    fn at(seconds: f64) -> u64 {
        (seconds * f64::from(RATE)).round() as u64
    }

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-12
    }

    /// 10 s, one narration from 2 s to 4 s, volume 0.5, ducking 12 dB.
    fn one_narration() -> Envelope {
        Envelope::from_spans(0.5, 12.0, at(10.0), RATE, [(at(2.0), at(4.0))])
    }

    #[test]
    fn fades_in_over_one_second_and_out_over_the_last_two() {
        let e = one_narration();
        assert_eq!(e.gain(0), 0.0);
        assert!(close(e.gain(at(0.5)), 0.25));
        assert!(close(e.gain(at(1.0)), 0.5));
        assert!(close(e.gain(at(1.5)), 0.5));
        assert!(close(e.gain(at(8.0)), 0.5));
        assert!(close(e.gain(at(9.0)), 0.25));
        assert!(close(e.gain(at(9.5)), 0.125));
        assert!(close(e.gain(at(10.0) - 1), 0.5 / 96_000.0));
        assert_eq!(e.gain(at(10.0)), 0.0);
    }

    #[test]
    fn ducks_under_narration_with_quarter_second_ramps_in_db() {
        let e = one_narration();
        let ducked = 0.5 * 0.251_188_643_150_958; // -12 dB
        let halfway = 0.5 * 0.501_187_233_627_272_2; // -6 dB
        assert!(close(e.gain(at(1.75)), 0.5));
        assert!(close(e.gain(at(1.875)), halfway));
        assert!(close(e.gain(at(2.0)), ducked));
        assert!(close(e.gain(at(3.0)), ducked));
        assert!(close(e.gain(at(4.0)), ducked));
        assert!(close(e.gain(at(4.125)), halfway));
        assert!(close(e.gain(at(4.25)), 0.5));
        assert!(close(e.gain(at(6.0)), 0.5));
    }

    #[test]
    fn narrations_closer_than_two_ramps_stay_ducked_between() {
        // 0.4 s apart: merged, the music stays down.
        let e = Envelope::from_spans(
            1.0,
            12.0,
            at(10.0),
            RATE,
            [(at(2.0), at(3.0)), (at(3.4), at(5.0))],
        );
        assert!(close(e.gain(at(3.2)), 0.251_188_643_150_958));
        // 0.6 s apart: the music comes back up in the middle.
        let e = Envelope::from_spans(
            1.0,
            12.0,
            at(10.0),
            RATE,
            [(at(2.0), at(3.0)), (at(3.6), at(5.0))],
        );
        assert!(close(e.gain(at(3.3)), 1.0));
        assert!(close(e.gain(at(3.125)), 0.501_187_233_627_272_2));
        assert!(close(e.gain(at(3.475)), 0.501_187_233_627_272_2));
    }

    #[test]
    fn a_narration_at_the_very_start_ducks_from_the_first_sample() {
        let e = Envelope::from_spans(1.0, 6.0, at(4.0), RATE, [(0, at(1.0))]);
        assert_eq!(e.gain(0), 0.0);
        assert!(close(e.gain(at(0.5)), 0.5 * 0.501_187_233_627_272_2));
        let mut block = [0f32; 3];
        e.fill(at(0.5), &mut block);
        assert_eq!(block[0], (0.5 * 0.501_187_233_627_272_2) as f32);
    }

    #[test]
    fn the_envelope_follows_the_timeline_narrations() {
        // 1 s narrations with 1.5 s gaps: spans at 0–1 s and 2.5–3.5 s of a 5 s timeline.
        let timeline = Timeline::new(30, RATE, 1.5, &[at(1.0), at(1.0)]);
        let e = Envelope::new(&MusicSpec::new("m.mp3"), &timeline);
        assert_eq!(e.spans, vec![(0, at(1.0)), (at(2.5), at(3.5))]);
        assert!(close(e.gain(at(1.8)), 0.25));
        assert!(close(e.gain(at(3.0)), 0.25 * 0.251_188_643_150_958 * 1.0));
    }
}
